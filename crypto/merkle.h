// RFC 6962 / RFC 9162 Merkle tree algorithms for the audit log (DESIGN §5).
//
// The tree, hash rules, node numbering, proof layout and verification rules
// are specified in docs/formats/audit-log.md, section "Merkle tree".
//
//   leaf hash   = SHA-256(0x00 ‖ leaf)
//   node hash   = SHA-256(0x01 ‖ left ‖ right)
//   empty root  = SHA-256("")
//
// Storage keeps the hash of every *perfect* subtree: NodeId{level, index} is
// the root of leaves [index·2^level, (index+1)·2^level), written once when its
// last leaf is appended and never changed afterwards. Every proof and every
// historical root is built from O(log n) such nodes:
//
//   * Appending: CompactRange holds the O(log n) "frontier" nodes of a tree
//     and reports every node that an append completes, so the caller can
//     store it. A CompactRange is rebuilt from storage with FrontierIds().
//   * Proofs: PlanInclusion / PlanConsistency / PlanRoot say which nodes to
//     read (ProofPlan::ids(), one batch) and ProofPlan::Assemble() turns their
//     hashes into the RFC 9162 proof. InclusionProof / ConsistencyProof /
//     RootAt do both steps over a NodeReader.
//   * Verification: VerifyInclusion / VerifyConsistency implement RFC 9162
//     §2.1.3.2 and §2.1.4.2 step by step, plus the stricter rules listed on
//     each function.
//
// Failures are Status values with one of these stable reasons:
//   proof_index_out_of_range  leaf index >= tree size           (kInvalidArgument)
//   proof_bad_sizes           consistency sizes not 0 < a <= b  (kInvalidArgument)
//   proof_bad_hash_length     a hash that is not kHashSize bytes (kInvalidArgument)
//   proof_wrong_size          proof has too few or too many hashes (kInvalidArgument)
//   proof_root_mismatch       the proof does not lead to the given root (kDataLoss)
// plus, for proof generation, whatever the NodeReader returns (MemoryTree
// returns kNotFound / "merkle_node_missing" for a node it does not hold).
//
// Thread safety: the free functions are pure and may run concurrently.
// ProofPlan and CompactRange are values (one object, one thread at a time).
// MemoryTree is not thread-safe. NodeReader implementations state their own
// rule; the functions here call the reader from the calling thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "crypto/bytes.h"

namespace custos::crypto::merkle {

// Domain-separation prefix of a leaf hash (RFC 6962 §2.1).
inline constexpr uint8_t kLeafHashPrefix = 0x00;
// Domain-separation prefix of an interior node hash (RFC 6962 §2.1).
inline constexpr uint8_t kNodeHashPrefix = 0x01;
// Size in bytes of every hash in the tree (SHA-256).
inline constexpr size_t kHashSize = 32;
// Highest level a node of a tree with a 64-bit size can have.
inline constexpr uint32_t kMaxLevel = 63;

// ---------------------------------------------------------------------------
// Hashing. These cannot fail; they abort the process only if the SHA-256
// primitive itself reports an error (which OpenSSL does not do for SHA-256).

// SHA-256(0x00 ‖ leaf). `p` may be null when `n` is 0.
[[nodiscard]] Digest32 HashLeaf(const uint8_t* p, size_t n);
[[nodiscard]] Digest32 HashLeaf(std::string_view leaf);
// SHA-256(0x01 ‖ left ‖ right).
[[nodiscard]] Digest32 HashChildren(const Digest32& left, const Digest32& right);
// SHA-256("") — the root of the tree with no leaves.
[[nodiscard]] Digest32 EmptyRoot();

// Copies a hash received as bytes (from JSON, a receipt, a database column)
// into a Digest32. Fails with proof_bad_hash_length unless exactly kHashSize
// bytes.
[[nodiscard]] StatusOr<Digest32> HashFromBytes(const Bytes& bytes);

// ---------------------------------------------------------------------------
// Node numbering.

// The perfect subtree whose root sits `level` levels above the leaves and is
// the `index`-th node on that level: it covers leaves
// [index·2^level, (index+1)·2^level). Level 0 nodes are leaf hashes.
struct NodeId {
  uint32_t level = 0;
  uint64_t index = 0;

  // First leaf covered. Precondition: the result fits in 64 bits.
  uint64_t Begin() const { return index << level; }
  // One past the last leaf covered. Precondition: the result fits in 64 bits.
  uint64_t End() const { return (index + 1) << level; }

  friend bool operator==(const NodeId&, const NodeId&) = default;
};

// The perfect subtrees that exactly cover leaves [begin, end), from left to
// right, each as large as alignment allows. For begin == 0 these are the
// frontier of a tree of size `end`: one node per set bit of `end`, highest
// level first. Empty when begin >= end.
[[nodiscard]] std::vector<NodeId> RangeNodes(uint64_t begin, uint64_t end);

// Gives the stored hash of perfect subtrees. Storage implements this over its
// node table; MemoryTree implements it in memory.
class NodeReader {
 public:
  virtual ~NodeReader() = default;

  // The hash of node `id`. Returns an error (implementation's choice of code;
  // kNotFound suggested) if the node is not stored.
  virtual StatusOr<Digest32> Node(NodeId id) = 0;

  // The hashes of `ids`, in the same order. The default calls Node() once per
  // id; storage overrides it to read all of them in one query. Must return
  // exactly ids.size() hashes or an error.
  virtual StatusOr<std::vector<Digest32>> Nodes(const std::vector<NodeId>& ids);
};

// ---------------------------------------------------------------------------
// Proof generation.

// How to build one proof (or root) from stored nodes. Each element of the
// result is the hash of one subtree of the RFC 6962 tree; a subtree that is
// not perfect (on the ragged right edge of the tree) is covered by several
// perfect nodes, which Assemble() folds from right to left:
// h = HashChildren(h[j], h) for j descending.
class ProofPlan {
 public:
  ProofPlan() = default;

  // Every node to read, in the order Assemble() expects their hashes. May
  // contain no ids (e.g. an inclusion proof in a one-leaf tree).
  const std::vector<NodeId>& ids() const { return ids_; }
  // Number of hashes the assembled proof will have.
  size_t proof_size() const { return group_ends_.size(); }

  // Builds the proof from the hashes of ids() (same order). Fails with
  // kInternal / "merkle_plan_hash_count" if hashes.size() != ids().size().
  [[nodiscard]] StatusOr<std::vector<Digest32>> Assemble(
      const std::vector<Digest32>& hashes) const;

 private:
  friend StatusOr<ProofPlan> PlanInclusion(uint64_t index, uint64_t size);
  friend StatusOr<ProofPlan> PlanConsistency(uint64_t from, uint64_t to);
  friend ProofPlan PlanRoot(uint64_t size);

  // Appends one proof element: the subtree covering leaves [begin, end),
  // which must be a node of the RFC 6962 tree (begin a multiple of the
  // smallest power of two >= end - begin).
  void AddSubtree(uint64_t begin, uint64_t end);
  // Reverses the order of the proof elements (the planners collect them
  // top-down; proofs list them bottom-up).
  void ReverseElements();

  std::vector<NodeId> ids_;
  // Element i folds ids_[group_ends_[i-1] (or 0) .. group_ends_[i]).
  std::vector<size_t> group_ends_;
};

// The plan of the RFC 9162 §2.1.3.1 inclusion proof (PATH) of leaf `index` in
// the tree of `size` leaves, hashes ordered from the leaf upwards. Needs at
// most 2·ceil(log2(size)) nodes. Fails with proof_index_out_of_range if
// index >= size.
[[nodiscard]] StatusOr<ProofPlan> PlanInclusion(uint64_t index, uint64_t size);

// The plan of the RFC 9162 §2.1.4.1 consistency proof (PROOF) from the tree of
// `from` leaves to the tree of `to` leaves. Empty when from == to. Needs at
// most 2·ceil(log2(to)) nodes. Fails with
// proof_bad_sizes unless 0 < from <= to (a proof from the empty tree is
// meaningless and is never issued).
[[nodiscard]] StatusOr<ProofPlan> PlanConsistency(uint64_t from, uint64_t to);

// The plan of the root of the tree of `size` leaves: one element folding the
// frontier nodes, or no element when size == 0 (the root is EmptyRoot()).
[[nodiscard]] ProofPlan PlanRoot(uint64_t size);

// PlanInclusion + one reader.Nodes() call (none if the plan is empty) +
// Assemble. The reader must hold every perfect node of a tree of at least
// `size` leaves. Fails as PlanInclusion, or with the reader's error.
[[nodiscard]] StatusOr<std::vector<Digest32>> InclusionProof(uint64_t index, uint64_t size,
                                                             NodeReader& reader);
// PlanConsistency + one reader.Nodes() call + Assemble. Fails as
// PlanConsistency, or with the reader's error.
[[nodiscard]] StatusOr<std::vector<Digest32>> ConsistencyProof(uint64_t from, uint64_t to,
                                                               NodeReader& reader);
// The root of the tree of `size` leaves (EmptyRoot() for 0), from exactly
// popcount(size) node reads. Fails only with the reader's error.
[[nodiscard]] StatusOr<Digest32> RootAt(uint64_t size, NodeReader& reader);

// ---------------------------------------------------------------------------
// Appending.

// The frontier of a tree: the hashes of RangeNodes(0, size), i.e. one perfect
// subtree per set bit of size, largest first. Enough to append leaves and to
// compute the root without reading anything else. A value type.
class CompactRange {
 public:
  // Called with every node that an append completes, in increasing level:
  // first the new leaf hash itself (level 0), then each new parent.
  using NodeVisitor = std::function<void(NodeId id, const Digest32& hash)>;

  // The empty tree.
  CompactRange() = default;

  // Node ids whose hashes FromFrontier() needs, in the order it needs them.
  [[nodiscard]] static std::vector<NodeId> FrontierIds(uint64_t size) {
    return RangeNodes(0, size);
  }
  // Rebuilds the range of a tree of `size` leaves from the hashes of
  // FrontierIds(size), same order. Fails with kInvalidArgument /
  // "merkle_frontier_size" if the count is not popcount(size).
  [[nodiscard]] static StatusOr<CompactRange> FromFrontier(uint64_t size,
                                                           std::vector<Digest32> hashes);

  uint64_t size() const { return size_; }
  // The hashes of FrontierIds(size()), same order.
  const std::vector<Digest32>& frontier() const { return frontier_; }

  // Adds leaf number size() with hash `leaf_hash`, reporting every node
  // completed (always at least the leaf itself) to `visitor` if it is set.
  // Precondition: size() < UINT64_MAX.
  void Append(const Digest32& leaf_hash, const NodeVisitor& visitor = nullptr);

  // The RFC 6962 root of the leaves appended so far (EmptyRoot() if none).
  [[nodiscard]] Digest32 Root() const;

 private:
  uint64_t size_ = 0;
  std::vector<Digest32> frontier_;
};

// ---------------------------------------------------------------------------
// Verification (RFC 9162 §2.1.3.2 and §2.1.4.2). Proof hashes are taken as
// Bytes so that a hash of the wrong length is reported, not silently cut.
//
// A proof binds the leaf to the root, not to the tree size: trees of sizes
// whose paths have the same shape (e.g. leaf 5 in trees of 12 and 13 leaves)
// accept the same proof. Callers must take each size and its root from the
// same signed checkpoint, never combine a size from one source with a root
// from another.

// The root that the inclusion proof leads to for leaf `index` with hash
// `leaf_hash` in a tree of `size` leaves. Fails with:
//   proof_index_out_of_range if index >= size;
//   proof_bad_hash_length    if any proof hash is not kHashSize bytes;
//   proof_wrong_size         if the proof has too few or too many hashes.
[[nodiscard]] StatusOr<Digest32> RootFromInclusionProof(uint64_t index, uint64_t size,
                                                        const Digest32& leaf_hash,
                                                        const std::vector<Bytes>& proof);

// OK iff the proof shows that leaf `index` with hash `leaf_hash` is in the
// tree of `size` leaves with root `root`. Failures as RootFromInclusionProof,
// plus proof_root_mismatch.
[[nodiscard]] Status VerifyInclusion(uint64_t index, uint64_t size, const Digest32& leaf_hash,
                                     const std::vector<Bytes>& proof, const Digest32& root);

// OK iff the proof shows that the tree of `size1` leaves with root `root1` is
// a prefix of the tree of `size2` leaves with root `root2`. Rules, in order:
//   size1 == 0 or size1 > size2           -> proof_bad_sizes (even if both 0);
//   size1 == size2: the proof must be empty (else proof_wrong_size) and the
//     roots equal (else proof_root_mismatch); nothing else is checked;
//   any proof hash not kHashSize bytes    -> proof_bad_hash_length;
//   empty proof, too few or too many hashes -> proof_wrong_size;
//   computed first or second root differs -> proof_root_mismatch.
[[nodiscard]] Status VerifyConsistency(uint64_t size1, uint64_t size2,
                                       const std::vector<Bytes>& proof, const Digest32& root1,
                                       const Digest32& root2);

// Converts generated proof hashes to the Bytes form the verifiers take.
[[nodiscard]] std::vector<Bytes> ProofToBytes(const std::vector<Digest32>& proof);

// ---------------------------------------------------------------------------
// In-memory tree: a NodeReader holding every perfect node of an append-only
// tree in one vector per level. Used by tests, as the reference the stores'
// trees and proofs are compared with.
// Memory: about 2·32 bytes per leaf. Not thread-safe.
class MemoryTree final : public NodeReader {
 public:
  MemoryTree() = default;

  // Pre-allocates room for `leaves` leaves (optional; avoids regrowth).
  void Reserve(uint64_t leaves);

  // Appends a leaf given its bytes (hashed with HashLeaf) or its leaf hash.
  void Append(const uint8_t* p, size_t n) { AppendLeafHash(HashLeaf(p, n)); }
  void Append(std::string_view leaf) { AppendLeafHash(HashLeaf(leaf)); }
  void AppendLeafHash(const Digest32& leaf_hash);

  uint64_t size() const { return range_.size(); }
  // The current root (EmptyRoot() when empty).
  [[nodiscard]] Digest32 Root() const { return range_.Root(); }
  const CompactRange& range() const { return range_; }

  // The hash of a completed perfect node; kNotFound / "merkle_node_missing"
  // if the node is not complete yet (or the level is out of range).
  StatusOr<Digest32> Node(NodeId id) override;

 private:
  std::vector<std::vector<Digest32>> levels_;  // levels_[L][i] = NodeId{L, i}
  CompactRange range_;
};

}  // namespace custos::crypto::merkle
