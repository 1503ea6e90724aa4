// RFC 6962 / RFC 9162 Merkle tree: hashing, proof planning, compact ranges,
// verification. See crypto/merkle.h and docs/formats/audit-log.md.

// The low-level SHA256_* functions are deprecated in OpenSSL 3.0 but remain
// available; they skip the provider dispatch of EVP and hash small messages
// (a 65-byte node, a ~200-byte leaf) markedly faster, which the audit log's
// full re-verification needs.
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "crypto/merkle.h"

#include <openssl/sha.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

namespace custos::crypto::merkle {
namespace {

static_assert(kHashSize == SHA256_DIGEST_LENGTH);
static_assert(sizeof(Digest32) == kHashSize);

// Size of the buffer holding 0x01 ‖ left ‖ right.
constexpr size_t kNodeInputSize = 1 + 2 * kHashSize;

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "custos merkle: %s failed\n", what);
  std::abort();
}

void Check(int openssl_ok, const char* what) {
  if (openssl_ok != 1) Die(what);
}

Status IndexOutOfRange(uint64_t index, uint64_t size) {
  return InvalidArgument("leaf index " + std::to_string(index) + " is not below tree size " +
                             std::to_string(size),
                         "proof_index_out_of_range");
}

Status BadSizes(uint64_t size1, uint64_t size2) {
  return InvalidArgument("consistency needs 0 < size1 <= size2, got " + std::to_string(size1) +
                             " and " + std::to_string(size2),
                         "proof_bad_sizes");
}

Status WrongProofSize(const char* what) {
  return InvalidArgument(std::string("proof has ") + what + " hashes", "proof_wrong_size");
}

Status RootMismatch(const char* which) {
  return DataLoss(std::string("proof does not lead to the ") + which, "proof_root_mismatch");
}

// Fails with proof_bad_hash_length unless every hash is kHashSize bytes.
Status CheckHashLengths(const std::vector<Bytes>& proof) {
  for (size_t i = 0; i < proof.size(); ++i) {
    if (proof[i].size() != kHashSize) {
      return InvalidArgument("proof hash " + std::to_string(i) + " has " +
                                 std::to_string(proof[i].size()) + " bytes, want " +
                                 std::to_string(kHashSize),
                             "proof_bad_hash_length");
    }
  }
  return Status::Ok();
}

// HashChildren over a hash held as Bytes (length already checked) and a
// Digest32, in either order.
Digest32 HashProofLeft(const Bytes& left, const Digest32& right) {
  Digest32 l;
  std::memcpy(l.data(), left.data(), kHashSize);
  return HashChildren(l, right);
}
Digest32 HashProofRight(const Digest32& left, const Bytes& right) {
  Digest32 r;
  std::memcpy(r.data(), right.data(), kHashSize);
  return HashChildren(left, r);
}

// Largest power of two strictly below n. Precondition: n >= 2.
uint64_t SplitPoint(uint64_t n) { return uint64_t{1} << (std::bit_width(n - 1) - 1); }

// Right-shifts fn and sn together while LSB(fn) is clear and fn != 0 — the
// "right-shift both fn and sn equally until either LSB(fn) is set or fn is 0"
// step of RFC 9162 §2.1.3.2 and §2.1.4.2.
void ShiftUntilOddOrZero(uint64_t& fn, uint64_t& sn) {
  while ((fn & 1) == 0 && fn != 0) {
    fn >>= 1;
    sn >>= 1;
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Hashing.

Digest32 HashLeaf(const uint8_t* p, size_t n) {
  SHA256_CTX ctx;
  Check(SHA256_Init(&ctx), "SHA256_Init");
  Check(SHA256_Update(&ctx, &kLeafHashPrefix, 1), "SHA256_Update");
  if (n > 0) Check(SHA256_Update(&ctx, p, n), "SHA256_Update");
  Digest32 out;
  Check(SHA256_Final(out.data(), &ctx), "SHA256_Final");
  return out;
}

Digest32 HashLeaf(std::string_view leaf) {
  return HashLeaf(reinterpret_cast<const uint8_t*>(leaf.data()), leaf.size());
}

Digest32 HashChildren(const Digest32& left, const Digest32& right) {
  uint8_t input[kNodeInputSize];
  input[0] = kNodeHashPrefix;
  std::memcpy(input + 1, left.data(), kHashSize);
  std::memcpy(input + 1 + kHashSize, right.data(), kHashSize);
  SHA256_CTX ctx;
  Check(SHA256_Init(&ctx), "SHA256_Init");
  Check(SHA256_Update(&ctx, input, sizeof(input)), "SHA256_Update");
  Digest32 out;
  Check(SHA256_Final(out.data(), &ctx), "SHA256_Final");
  return out;
}

Digest32 EmptyRoot() {
  SHA256_CTX ctx;
  Check(SHA256_Init(&ctx), "SHA256_Init");
  Digest32 out;
  Check(SHA256_Final(out.data(), &ctx), "SHA256_Final");
  return out;
}

StatusOr<Digest32> HashFromBytes(const Bytes& bytes) {
  if (bytes.size() != kHashSize) {
    return InvalidArgument("hash has " + std::to_string(bytes.size()) + " bytes, want " +
                               std::to_string(kHashSize),
                           "proof_bad_hash_length");
  }
  Digest32 out;
  std::memcpy(out.data(), bytes.data(), kHashSize);
  return out;
}

// ---------------------------------------------------------------------------
// Node numbering.

namespace {

// Appends RangeNodes(begin, end) to `ids`.
void AppendRangeNodes(uint64_t begin, uint64_t end, std::vector<NodeId>& ids) {
  while (begin < end) {
    // The largest perfect subtree starting at `begin` (alignment) that still
    // fits before `end`.
    const uint32_t by_alignment =
        begin == 0 ? kMaxLevel : static_cast<uint32_t>(std::countr_zero(begin));
    const uint32_t by_length = static_cast<uint32_t>(std::bit_width(end - begin) - 1);
    const uint32_t level = std::min(by_alignment, by_length);
    ids.push_back(NodeId{level, begin >> level});
    begin += uint64_t{1} << level;
  }
}

}  // namespace

std::vector<NodeId> RangeNodes(uint64_t begin, uint64_t end) {
  std::vector<NodeId> ids;
  AppendRangeNodes(begin, end, ids);
  return ids;
}

StatusOr<std::vector<Digest32>> NodeReader::Nodes(const std::vector<NodeId>& ids) {
  std::vector<Digest32> out;
  out.reserve(ids.size());
  for (const NodeId& id : ids) {
    CUSTOS_ASSIGN_OR_RETURN(Digest32 hash, Node(id));
    out.push_back(hash);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Proof plans.

void ProofPlan::AddSubtree(uint64_t begin, uint64_t end) {
  AppendRangeNodes(begin, end, ids_);
  group_ends_.push_back(ids_.size());
}

void ProofPlan::ReverseElements() {
  // Rebuild ids_ group by group in reverse group order; each group keeps its
  // internal left-to-right order.
  std::vector<NodeId> ids;
  std::vector<size_t> ends;
  ids.reserve(ids_.size());
  ends.reserve(group_ends_.size());
  for (size_t g = group_ends_.size(); g-- > 0;) {
    const size_t begin = g == 0 ? 0 : group_ends_[g - 1];
    ids.insert(ids.end(), ids_.begin() + begin, ids_.begin() + group_ends_[g]);
    ends.push_back(ids.size());
  }
  ids_ = std::move(ids);
  group_ends_ = std::move(ends);
}

StatusOr<std::vector<Digest32>> ProofPlan::Assemble(const std::vector<Digest32>& hashes) const {
  if (hashes.size() != ids_.size()) {
    return Internal("proof plan needs " + std::to_string(ids_.size()) + " node hashes, got " +
                        std::to_string(hashes.size()),
                    "merkle_plan_hash_count");
  }
  std::vector<Digest32> proof;
  proof.reserve(group_ends_.size());
  size_t begin = 0;
  for (size_t end : group_ends_) {
    // A group is never empty: every element covers at least one leaf.
    Digest32 h = hashes[end - 1];
    for (size_t j = end - 1; j-- > begin;) h = HashChildren(hashes[j], h);
    proof.push_back(h);
    begin = end;
  }
  return proof;
}

StatusOr<ProofPlan> PlanInclusion(uint64_t index, uint64_t size) {
  if (index >= size) return IndexOutOfRange(index, size);
  // RFC 9162 §2.1.3.1 PATH(m, D[b:e]), unrolled from the top: at each step
  // the sibling of the half holding `index` is a proof element.
  ProofPlan plan;
  uint64_t begin = 0;
  uint64_t end = size;
  while (end - begin > 1) {
    const uint64_t mid = begin + SplitPoint(end - begin);
    if (index < mid) {
      plan.AddSubtree(mid, end);
      end = mid;
    } else {
      plan.AddSubtree(begin, mid);
      begin = mid;
    }
  }
  plan.ReverseElements();  // PATH lists hashes from the leaf upwards
  return plan;
}

StatusOr<ProofPlan> PlanConsistency(uint64_t from, uint64_t to) {
  if (from == 0 || from > to) return BadSizes(from, to);
  // RFC 9162 §2.1.4.1 SUBPROOF(m, D[b:e], known), unrolled from the top.
  // `known` stays true while D[b:e] is a prefix subtree whose hash the
  // verifier already has (the old root itself).
  ProofPlan plan;
  uint64_t begin = 0;
  uint64_t end = to;
  bool known = true;
  while (from != end) {
    const uint64_t mid = begin + SplitPoint(end - begin);
    if (from <= mid) {
      plan.AddSubtree(mid, end);
      end = mid;
    } else {
      plan.AddSubtree(begin, mid);
      begin = mid;
      known = false;
    }
  }
  if (!known && begin < end) plan.AddSubtree(begin, end);
  plan.ReverseElements();  // the subtree of the old tree comes first
  return plan;
}

ProofPlan PlanRoot(uint64_t size) {
  ProofPlan plan;
  if (size > 0) plan.AddSubtree(0, size);
  return plan;
}

namespace {

StatusOr<std::vector<Digest32>> Execute(const ProofPlan& plan, NodeReader& reader) {
  if (plan.ids().empty()) return plan.Assemble({});
  CUSTOS_ASSIGN_OR_RETURN(std::vector<Digest32> hashes, reader.Nodes(plan.ids()));
  return plan.Assemble(hashes);
}

}  // namespace

StatusOr<std::vector<Digest32>> InclusionProof(uint64_t index, uint64_t size,
                                               NodeReader& reader) {
  CUSTOS_ASSIGN_OR_RETURN(ProofPlan plan, PlanInclusion(index, size));
  return Execute(plan, reader);
}

StatusOr<std::vector<Digest32>> ConsistencyProof(uint64_t from, uint64_t to,
                                                 NodeReader& reader) {
  CUSTOS_ASSIGN_OR_RETURN(ProofPlan plan, PlanConsistency(from, to));
  return Execute(plan, reader);
}

StatusOr<Digest32> RootAt(uint64_t size, NodeReader& reader) {
  if (size == 0) return EmptyRoot();
  CUSTOS_ASSIGN_OR_RETURN(std::vector<Digest32> root, Execute(PlanRoot(size), reader));
  return root.front();
}

// ---------------------------------------------------------------------------
// Compact range.

StatusOr<CompactRange> CompactRange::FromFrontier(uint64_t size, std::vector<Digest32> hashes) {
  const size_t want = static_cast<size_t>(std::popcount(size));
  if (hashes.size() != want) {
    return InvalidArgument("a tree of size " + std::to_string(size) + " has " +
                               std::to_string(want) + " frontier nodes, got " +
                               std::to_string(hashes.size()),
                           "merkle_frontier_size");
  }
  CompactRange range;
  range.size_ = size;
  range.frontier_ = std::move(hashes);
  return range;
}

void CompactRange::Append(const Digest32& leaf_hash, const NodeVisitor& visitor) {
  const uint64_t index = size_;
  frontier_.push_back(leaf_hash);
  if (visitor) visitor(NodeId{0, index}, leaf_hash);
  // Each set low bit of `index` is a perfect subtree of that level that the
  // new node completes a sibling pair with.
  for (uint32_t level = 0; (index >> level) & 1; ++level) {
    const Digest32 right = frontier_.back();
    frontier_.pop_back();
    frontier_.back() = HashChildren(frontier_.back(), right);
    if (visitor) visitor(NodeId{level + 1, index >> (level + 1)}, frontier_.back());
  }
  ++size_;
}

Digest32 CompactRange::Root() const {
  if (frontier_.empty()) return EmptyRoot();
  Digest32 h = frontier_.back();
  for (size_t j = frontier_.size() - 1; j-- > 0;) h = HashChildren(frontier_[j], h);
  return h;
}

// ---------------------------------------------------------------------------
// Verification.

StatusOr<Digest32> RootFromInclusionProof(uint64_t index, uint64_t size,
                                          const Digest32& leaf_hash,
                                          const std::vector<Bytes>& proof) {
  // RFC 9162 §2.1.3.2, step numbers in comments.
  if (index >= size) return IndexOutOfRange(index, size);  // 1
  CUSTOS_RETURN_IF_ERROR(CheckHashLengths(proof));
  uint64_t fn = index;     // 2
  uint64_t sn = size - 1;
  Digest32 r = leaf_hash;  // 3
  for (const Bytes& p : proof) {  // 4
    if (sn == 0) return WrongProofSize("too many");  // 4a
    if ((fn & 1) == 1 || fn == sn) {                 // 4b
      r = HashProofLeft(p, r);
      if ((fn & 1) == 0) ShiftUntilOddOrZero(fn, sn);
    } else {
      r = HashProofRight(r, p);
    }
    fn >>= 1;  // 4c
    sn >>= 1;
  }
  if (sn != 0) return WrongProofSize("too few");  // 5
  return r;
}

Status VerifyInclusion(uint64_t index, uint64_t size, const Digest32& leaf_hash,
                       const std::vector<Bytes>& proof, const Digest32& root) {
  CUSTOS_ASSIGN_OR_RETURN(Digest32 computed,
                          RootFromInclusionProof(index, size, leaf_hash, proof));
  if (computed != root) return RootMismatch("tree root");
  return Status::Ok();
}

Status VerifyConsistency(uint64_t size1, uint64_t size2, const std::vector<Bytes>& proof,
                         const Digest32& root1, const Digest32& root2) {
  if (size1 == 0 || size1 > size2) return BadSizes(size1, size2);
  if (size1 == size2) {
    if (!proof.empty()) return WrongProofSize("too many");
    if (root1 != root2) return RootMismatch("second root (sizes are equal)");
    return Status::Ok();
  }
  CUSTOS_RETURN_IF_ERROR(CheckHashLengths(proof));
  // RFC 9162 §2.1.4.2, step numbers in comments.
  if (proof.empty()) return WrongProofSize("no");  // 1
  // 2: when size1 is a power of two the old root is the first path element.
  const bool prepend_root1 = std::has_single_bit(size1);
  Digest32 first;
  size_t next = 0;
  if (prepend_root1) {
    first = root1;
  } else {
    std::memcpy(first.data(), proof[0].data(), kHashSize);
    next = 1;
  }
  uint64_t fn = size1 - 1;  // 3
  uint64_t sn = size2 - 1;
  while ((fn & 1) == 1) {  // 4
    fn >>= 1;
    sn >>= 1;
  }
  Digest32 fr = first;  // 5
  Digest32 sr = first;
  for (size_t i = next; i < proof.size(); ++i) {  // 6
    const Bytes& c = proof[i];
    if (sn == 0) return WrongProofSize("too many");  // 6a
    if ((fn & 1) == 1 || fn == sn) {                 // 6b
      fr = HashProofLeft(c, fr);
      sr = HashProofLeft(c, sr);
      if ((fn & 1) == 0) ShiftUntilOddOrZero(fn, sn);
    } else {
      sr = HashProofRight(sr, c);
    }
    fn >>= 1;  // 6c
    sn >>= 1;
  }
  if (sn != 0) return WrongProofSize("too few");  // 7
  if (fr != root1) return RootMismatch("first root");
  if (sr != root2) return RootMismatch("second root");
  return Status::Ok();
}

std::vector<Bytes> ProofToBytes(const std::vector<Digest32>& proof) {
  std::vector<Bytes> out;
  out.reserve(proof.size());
  for (const Digest32& h : proof) out.emplace_back(h.begin(), h.end());
  return out;
}

// ---------------------------------------------------------------------------
// MemoryTree.

void MemoryTree::Reserve(uint64_t leaves) {
  for (uint32_t level = 0; (leaves >> level) > 0; ++level) {
    if (levels_.size() <= level) levels_.emplace_back();
    levels_[level].reserve(static_cast<size_t>(leaves >> level));
  }
}

void MemoryTree::AppendLeafHash(const Digest32& leaf_hash) {
  range_.Append(leaf_hash, [this](NodeId id, const Digest32& hash) {
    if (levels_.size() <= id.level) levels_.resize(id.level + 1);
    levels_[id.level].push_back(hash);  // ids on a level complete in order
  });
}

StatusOr<Digest32> MemoryTree::Node(NodeId id) {
  if (id.level >= levels_.size() || id.index >= levels_[id.level].size()) {
    return NotFound("no completed node at level " + std::to_string(id.level) + " index " +
                        std::to_string(id.index),
                    "merkle_node_missing");
  }
  return levels_[id.level][static_cast<size_t>(id.index)];
}

}  // namespace custos::crypto::merkle
