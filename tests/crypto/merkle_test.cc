// Tests of crypto/merkle: known answers, a differential test against a naive
// recursive transcription of RFC 6962 §2.1 (MTH, PATH, PROOF), read counts of
// proof generation, compact ranges, and tampered proofs. The conformance
// vectors are in merkle_vectors_test.cc. Benchmarks are the disabled
// MerkleBench tests (run with --gtest_also_run_disabled_tests).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <ctime>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/merkle.h"

namespace custos::crypto::merkle {
namespace {

constexpr uint64_t kSeed = 20261122;
constexpr uint64_t kMaxLeaves = 2000;

// ---------------------------------------------------------------------------
// The reference: RFC 6962 §2.1 written as literally as possible, over a list
// of leaf hashes. MTH results are memoized by range to keep it fast; the
// memo does not change what is computed.
class NaiveTree {
 public:
  explicit NaiveTree(std::vector<Digest32> leaf_hashes) : leaves_(std::move(leaf_hashes)) {}

  // MTH(D[b:e])
  Digest32 Mth(uint64_t b, uint64_t e) {
    if (e == b) return EmptyRoot();
    if (e - b == 1) return leaves_[b];
    auto it = memo_.find({b, e});
    if (it != memo_.end()) return it->second;
    const uint64_t k = LargestPowerOfTwoBelow(e - b);
    const Digest32 h = HashChildren(Mth(b, b + k), Mth(b + k, e));
    memo_[{b, e}] = h;
    return h;
  }

  // PATH(m, D[b:e]), m relative to b.
  std::vector<Digest32> Path(uint64_t m, uint64_t b, uint64_t e) {
    if (e - b == 1) return {};
    const uint64_t k = LargestPowerOfTwoBelow(e - b);
    std::vector<Digest32> out;
    if (m < k) {
      out = Path(m, b, b + k);
      out.push_back(Mth(b + k, e));
    } else {
      out = Path(m - k, b + k, e);
      out.push_back(Mth(b, b + k));
    }
    return out;
  }

  // PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true)
  std::vector<Digest32> Proof(uint64_t m, uint64_t n) { return Subproof(m, 0, n, true); }

 private:
  static uint64_t LargestPowerOfTwoBelow(uint64_t n) {
    uint64_t k = 1;
    while (k * 2 < n) k *= 2;
    return k;
  }

  // SUBPROOF(m, D[b:e], known), m relative to b.
  std::vector<Digest32> Subproof(uint64_t m, uint64_t b, uint64_t e, bool known) {
    if (m == e - b) {
      if (known) return {};
      return {Mth(b, e)};
    }
    const uint64_t k = LargestPowerOfTwoBelow(e - b);
    std::vector<Digest32> out;
    if (m <= k) {
      out = Subproof(m, b, b + k, known);
      out.push_back(Mth(b + k, e));
    } else {
      out = Subproof(m - k, b + k, e, false);
      out.push_back(Mth(b, b + k));
    }
    return out;
  }

  std::vector<Digest32> leaves_;
  std::map<std::pair<uint64_t, uint64_t>, Digest32> memo_;
};

// A NodeReader that counts what is read from the tree it wraps.
class CountingReader final : public NodeReader {
 public:
  explicit CountingReader(NodeReader& inner) : inner_(inner) {}
  StatusOr<Digest32> Node(NodeId id) override {
    ++node_reads_;
    return inner_.Node(id);
  }
  StatusOr<std::vector<Digest32>> Nodes(const std::vector<NodeId>& ids) override {
    ++batches_;
    return NodeReader::Nodes(ids);  // counts each id through Node()
  }
  void Reset() { node_reads_ = batches_ = 0; }
  uint64_t node_reads_ = 0;
  uint64_t batches_ = 0;

 private:
  NodeReader& inner_;
};

// Random leaves of 0..300 bytes from a fixed seed, and the tree over them.
struct Fixture {
  std::vector<Bytes> leaves;
  std::vector<Digest32> leaf_hashes;
  MemoryTree tree;
};

Fixture MakeFixture(uint64_t n) {
  Fixture f;
  std::mt19937_64 rng(kSeed);
  std::uniform_int_distribution<size_t> len(0, 300);
  std::uniform_int_distribution<int> byte(0, 255);
  for (uint64_t i = 0; i < n; ++i) {
    Bytes leaf(len(rng));
    for (uint8_t& c : leaf) c = static_cast<uint8_t>(byte(rng));
    f.leaf_hashes.push_back(HashLeaf(leaf.data(), leaf.size()));
    f.tree.Append(leaf.data(), leaf.size());
    f.leaves.push_back(std::move(leaf));
  }
  return f;
}

// Built once for all tests; tests only read from it (NodeReader::Node is not
// const because real readers do I/O).
Fixture& SharedFixture() {
  static Fixture* fixture = new Fixture(MakeFixture(kMaxLeaves));
  return *fixture;
}

MemoryTree& Tree() { return SharedFixture().tree; }

NaiveTree& Naive() {
  static NaiveTree* naive = new NaiveTree(SharedFixture().leaf_hashes);
  return *naive;
}

uint64_t CeilLog2(uint64_t n) { return n <= 1 ? 0 : std::bit_width(n - 1); }

std::vector<Bytes> FlipBit(std::vector<Bytes> proof, size_t element, int bit) {
  proof[element][static_cast<size_t>(bit / 8)] ^= static_cast<uint8_t>(1u << (bit % 8));
  return proof;
}

// ---------------------------------------------------------------------------
// Known answers.

TEST(MerkleHash, EmptyRootIsSha256OfNothing) {
  // FIPS 180-4 SHA-256(""), RFC 6962 §2.1 MTH({}).
  EXPECT_EQ(HexEncode(EmptyRoot()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(MerkleHash, KnownRootsFromCertificateTransparency) {
  // google/certificate-transparency cpp/merkletree/merkle_tree_test.cc
  // (kSHA256Roots over the first N of its 8 leaf inputs).
  const std::vector<std::string> inputs = {
      "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
      "606162636465666768696a6b6c6d6e6f"};
  const std::map<size_t, std::string> roots = {
      {1, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"},
      {3, "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"},
      {5, "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"},
      {8, "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"},
  };
  CompactRange range;
  for (size_t n = 1; n <= inputs.size(); ++n) {
    const Bytes leaf = *HexDecode(inputs[n - 1]);
    range.Append(HashLeaf(leaf.data(), leaf.size()));
    auto it = roots.find(n);
    if (it != roots.end()) {
      EXPECT_EQ(HexEncode(range.Root()), it->second) << "N = " << n;
    }
  }
}

TEST(MerkleHash, WorkedExampleOfFormatDoc) {
  // docs/formats/audit-log.md, "Worked example".
  MemoryTree tree;
  tree.Append("a");
  tree.Append("b");
  tree.Append("c");
  EXPECT_EQ(HexEncode(*tree.Node({0, 0})),
            "022a6979e6dab7aa5ae4c3e5e45f7e977112a7e63593820dbec1ec738a24f93c");
  EXPECT_EQ(HexEncode(*tree.Node({0, 2})),
            "597fcb31282d34654c200d3418fca5705c648ebf326ec73d8ddef11841f876d8");
  EXPECT_EQ(HexEncode(*tree.Node({1, 0})),
            "b137985ff484fb600db93107c77b0365c80d78f5b429ded0fd97361d077999eb");
  EXPECT_EQ(HexEncode(tree.Root()),
            "36642e73c2540ab121e3a6bf9545b0a24982cd830eb13d3cd19de3ce6c021ec1");
  StatusOr<std::vector<Digest32>> incl = InclusionProof(2, 3, tree);
  ASSERT_TRUE(incl.ok());
  EXPECT_EQ(*incl, std::vector<Digest32>{*tree.Node({1, 0})});
  StatusOr<std::vector<Digest32>> cons = ConsistencyProof(2, 3, tree);
  ASSERT_TRUE(cons.ok());
  EXPECT_EQ(*cons, std::vector<Digest32>{*tree.Node({0, 2})});
}

TEST(MerkleHash, LeafAndNodeHashesAreDomainSeparated) {
  const Digest32 l = HashLeaf("left");
  const Digest32 r = HashLeaf("right");
  Bytes concat(l.begin(), l.end());
  concat.insert(concat.end(), r.begin(), r.end());
  EXPECT_NE(HashLeaf(concat.data(), concat.size()), HashChildren(l, r));
  EXPECT_NE(HashChildren(l, r), HashChildren(r, l));
}

TEST(MerkleHash, HashFromBytesRejectsWrongLength) {
  EXPECT_TRUE(HashFromBytes(Bytes(32, 7)).ok());
  for (size_t n : {0, 31, 33}) {
    StatusOr<Digest32> d = HashFromBytes(Bytes(n, 7));
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.status().reason(), "proof_bad_hash_length");
  }
}

// ---------------------------------------------------------------------------
// Node numbering.

TEST(MerkleNodes, RangeNodesCoverExactlyWithPerfectSubtrees) {
  EXPECT_TRUE(RangeNodes(5, 5).empty());
  EXPECT_EQ(RangeNodes(0, 6), (std::vector<NodeId>{{2, 0}, {1, 2}}));
  EXPECT_EQ(RangeNodes(4, 7), (std::vector<NodeId>{{1, 2}, {0, 6}}));
  std::mt19937_64 rng(kSeed);
  for (int t = 0; t < 2000; ++t) {
    uint64_t b = rng() % 5000;
    uint64_t e = b + rng() % 5000;
    uint64_t cursor = b;
    for (const NodeId& id : RangeNodes(b, e)) {
      ASSERT_EQ(id.Begin(), cursor);
      cursor = id.End();
    }
    EXPECT_EQ(cursor, e);
  }
  // The frontier of the largest possible tree.
  EXPECT_EQ(RangeNodes(0, UINT64_MAX).size(), 64u);
}

// ---------------------------------------------------------------------------
// Differential tests against the naive implementation.

TEST(MerkleDiff, RootAtAndCompactRangeMatchMthForEverySize) {
  CompactRange range;
  for (uint64_t n = 0; n <= kMaxLeaves; ++n) {
    const Digest32 want = Naive().Mth(0, n);
    StatusOr<Digest32> at = RootAt(n, Tree());
    ASSERT_TRUE(at.ok()) << n << ": " << at.status().ToString();
    ASSERT_EQ(*at, want) << "RootAt " << n;
    ASSERT_EQ(range.Root(), want) << "CompactRange " << n;
    if (n < kMaxLeaves) range.Append(SharedFixture().leaf_hashes[n]);
  }
  EXPECT_EQ(range.Root(), Tree().Root());
}

void CheckInclusion(uint64_t index, uint64_t size) {
  StatusOr<std::vector<Digest32>> proof = InclusionProof(index, size, Tree());
  ASSERT_TRUE(proof.ok()) << index << "/" << size << ": " << proof.status().ToString();
  ASSERT_EQ(*proof, Naive().Path(index, 0, size)) << "index " << index << " size " << size;
  const Digest32 root = Naive().Mth(0, size);
  const Digest32& leaf = SharedFixture().leaf_hashes[index];
  const Status st = VerifyInclusion(index, size, leaf, ProofToBytes(*proof), root);
  ASSERT_TRUE(st.ok()) << index << "/" << size << ": " << st.ToString();
  StatusOr<Digest32> from_proof = RootFromInclusionProof(index, size, leaf, ProofToBytes(*proof));
  ASSERT_TRUE(from_proof.ok());
  ASSERT_EQ(*from_proof, root);
}

TEST(MerkleDiff, EveryInclusionProofForChosenSizes) {
  for (uint64_t size : {1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 127, 128, 129,
                        255, 256, 257, 1000, 1023, 1024, 1025, 2000}) {
    for (uint64_t index = 0; index < size; ++index) CheckInclusion(index, size);
  }
}

TEST(MerkleDiff, SampledInclusionProofsForEverySize) {
  std::mt19937_64 rng(kSeed + 1);
  for (uint64_t size = 1; size <= kMaxLeaves; ++size) {
    CheckInclusion(0, size);
    CheckInclusion(size - 1, size);
    for (int t = 0; t < 3; ++t) CheckInclusion(rng() % size, size);
  }
}

void CheckConsistency(uint64_t from, uint64_t to) {
  StatusOr<std::vector<Digest32>> proof = ConsistencyProof(from, to, Tree());
  ASSERT_TRUE(proof.ok()) << from << "->" << to << ": " << proof.status().ToString();
  ASSERT_EQ(*proof, Naive().Proof(from, to)) << from << "->" << to;
  const Status st = VerifyConsistency(from, to, ProofToBytes(*proof), Naive().Mth(0, from),
                                      Naive().Mth(0, to));
  ASSERT_TRUE(st.ok()) << from << "->" << to << ": " << st.ToString();
}

TEST(MerkleDiff, EveryConsistencyProofUpTo64) {
  for (uint64_t to = 1; to <= 64; ++to) {
    for (uint64_t from = 1; from <= to; ++from) CheckConsistency(from, to);
  }
}

TEST(MerkleDiff, SampledConsistencyProofsUpTo2000) {
  std::mt19937_64 rng(kSeed + 2);
  for (int t = 0; t < 4000; ++t) {
    const uint64_t to = 1 + rng() % kMaxLeaves;
    const uint64_t from = 1 + rng() % to;
    CheckConsistency(from, to);
  }
  for (uint64_t to : {1024, 1025, 2000}) {
    for (uint64_t from : {1, 2, 3, 512, 513, 1023, 1024}) {
      if (from <= to) CheckConsistency(from, to);
    }
  }
}

// ---------------------------------------------------------------------------
// Read counts: proofs come from O(log n) stored nodes, read in one batch.

TEST(MerkleReads, ProofGenerationReadsLogarithmicallyManyNodes) {
  CountingReader reader(Tree());
  std::mt19937_64 rng(kSeed + 3);
  for (uint64_t size = 1; size <= kMaxLeaves; ++size) {
    const uint64_t bound = 2 * CeilLog2(size);  // as promised in merkle.h
    for (uint64_t index : {uint64_t{0}, size - 1, rng() % size}) {
      reader.Reset();
      ASSERT_TRUE(InclusionProof(index, size, reader).ok());
      ASSERT_LE(reader.node_reads_, bound) << "inclusion " << index << "/" << size;
      ASSERT_LE(reader.batches_, 1u);
    }
    const uint64_t from = 1 + rng() % size;
    reader.Reset();
    ASSERT_TRUE(ConsistencyProof(from, size, reader).ok());
    ASSERT_LE(reader.node_reads_, bound) << "consistency " << from << "->" << size;
    ASSERT_LE(reader.batches_, 1u);
    reader.Reset();
    ASSERT_TRUE(RootAt(size, reader).ok());
    ASSERT_EQ(reader.node_reads_, static_cast<uint64_t>(std::popcount(size)));
  }
}

TEST(MerkleReads, PlansForHugeTreesStaySmall) {
  // No reads needed to check the plan sizes of a tree near 2^63 leaves.
  const uint64_t size = (uint64_t{1} << 62) + 12345;
  StatusOr<ProofPlan> incl = PlanInclusion(size - 2, size);
  ASSERT_TRUE(incl.ok());
  EXPECT_LE(incl->ids().size(), 2 * CeilLog2(size));
  StatusOr<ProofPlan> cons = PlanConsistency(size / 3, size);
  ASSERT_TRUE(cons.ok());
  EXPECT_LE(cons->ids().size(), 2 * CeilLog2(size));
  EXPECT_EQ(PlanRoot(UINT64_MAX).ids().size(), 64u);
}

TEST(MerkleReads, MissingNodeIsReported) {
  MemoryTree tree;
  for (int i = 0; i < 5; ++i) tree.Append(std::to_string(i));
  StatusOr<Digest32> root = RootAt(6, tree);  // the tree has only 5 leaves
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(root.status().reason(), "merkle_node_missing");
  EXPECT_FALSE(tree.Node({1, 2}).ok());  // leaves 4..5 not complete
  EXPECT_FALSE(tree.Node({40, 0}).ok());
}

// ---------------------------------------------------------------------------
// Plans.

TEST(MerklePlan, RejectsImpossibleRequests) {
  StatusOr<ProofPlan> p = PlanInclusion(5, 5);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().reason(), "proof_index_out_of_range");
  EXPECT_EQ(PlanInclusion(0, 0).status().reason(), "proof_index_out_of_range");
  EXPECT_EQ(PlanConsistency(0, 5).status().reason(), "proof_bad_sizes");
  EXPECT_EQ(PlanConsistency(0, 0).status().reason(), "proof_bad_sizes");
  EXPECT_EQ(PlanConsistency(6, 5).status().reason(), "proof_bad_sizes");
  StatusOr<std::vector<Digest32>> same = ConsistencyProof(7, 7, Tree());
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->empty());
  StatusOr<std::vector<Digest32>> single = InclusionProof(0, 1, Tree());
  ASSERT_TRUE(single.ok());
  EXPECT_TRUE(single->empty());
}

TEST(MerklePlan, AssembleRejectsWrongHashCount) {
  StatusOr<ProofPlan> plan = PlanInclusion(0, 7);
  ASSERT_TRUE(plan.ok());
  // [(0,1), (1,1), MTH(D[4:7]) from (1,2) and (0,6)]
  EXPECT_EQ(plan->ids(), (std::vector<NodeId>{{0, 1}, {1, 1}, {1, 2}, {0, 6}}));
  EXPECT_EQ(plan->proof_size(), 3u);
  StatusOr<std::vector<Digest32>> bad = plan->Assemble(std::vector<Digest32>(3));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().reason(), "merkle_plan_hash_count");
}

// ---------------------------------------------------------------------------
// Compact ranges.

TEST(MerkleCompactRange, VisitorReportsEveryPerfectNodeOnce) {
  CompactRange range;
  std::map<std::pair<uint32_t, uint64_t>, Digest32> seen;
  const uint64_t n = 777;
  for (uint64_t i = 0; i < n; ++i) {
    uint32_t last_level = 0;
    bool first = true;
    range.Append(SharedFixture().leaf_hashes[i], [&](NodeId id, const Digest32& h) {
      EXPECT_TRUE(first ? id.level == 0 && id.index == i : id.level == last_level + 1);
      first = false;
      last_level = id.level;
      EXPECT_TRUE(seen.emplace(std::make_pair(id.level, id.index), h).second)
          << "node reported twice: " << id.level << "/" << id.index;
      EXPECT_EQ(id.End(), i + 1) << "a node is complete exactly when its last leaf arrives";
    });
  }
  uint64_t perfect_nodes = 0;
  for (uint64_t l = 0; (n >> l) > 0; ++l) perfect_nodes += n >> l;
  EXPECT_EQ(seen.size(), perfect_nodes);
  for (const auto& [key, hash] : seen) {
    const NodeId id{key.first, key.second};
    ASSERT_EQ(hash, Naive().Mth(id.Begin(), id.End())) << id.level << "/" << id.index;
  }
}

TEST(MerkleCompactRange, ResumesFromFrontierReadFromStorage) {
  for (uint64_t size : {0, 1, 2, 3, 6, 7, 8, 255, 256, 1000, 1999}) {
    StatusOr<std::vector<Digest32>> hashes = Tree().Nodes(CompactRange::FrontierIds(size));
    ASSERT_TRUE(hashes.ok());
    StatusOr<CompactRange> range = CompactRange::FromFrontier(size, *hashes);
    ASSERT_TRUE(range.ok()) << range.status().ToString();
    EXPECT_EQ(range->Root(), Naive().Mth(0, size)) << size;
    for (uint64_t i = size; i < kMaxLeaves; ++i) range->Append(SharedFixture().leaf_hashes[i]);
    EXPECT_EQ(range->size(), kMaxLeaves);
    EXPECT_EQ(range->Root(), Tree().Root()) << "resumed at " << size;
    EXPECT_EQ(range->frontier(), Tree().range().frontier());
  }
}

TEST(MerkleCompactRange, FrontierWithWrongCountIsRejected) {
  StatusOr<CompactRange> r = CompactRange::FromFrontier(6, {Digest32{}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "merkle_frontier_size");
  EXPECT_FALSE(CompactRange::FromFrontier(0, {Digest32{}}).ok());
  EXPECT_TRUE(CompactRange::FromFrontier(6, {Digest32{}, Digest32{}}).ok());
}

// ---------------------------------------------------------------------------
// Tampered inclusion proofs.

struct InclusionCase {
  uint64_t index;
  uint64_t size;
  Digest32 leaf;
  Digest32 root;
  std::vector<Bytes> proof;
};

InclusionCase MakeInclusion(uint64_t index, uint64_t size) {
  InclusionCase c{index, size, SharedFixture().leaf_hashes[index], Naive().Mth(0, size), {}};
  c.proof = ProofToBytes(*InclusionProof(index, size, Tree()));
  return c;
}

std::string Reason(const Status& st) { return st.ok() ? "OK" : st.reason(); }

TEST(MerkleInclusionTamper, BitFlipInAnyProofHash) {
  std::mt19937_64 rng(kSeed + 4);
  for (int t = 0; t < 300; ++t) {
    const uint64_t size = 2 + rng() % (kMaxLeaves - 1);
    const InclusionCase c = MakeInclusion(rng() % size, size);
    for (size_t e = 0; e < c.proof.size(); ++e) {
      const int bit = static_cast<int>(rng() % 256);
      EXPECT_EQ(Reason(VerifyInclusion(c.index, c.size, c.leaf, FlipBit(c.proof, e, bit), c.root)),
                "proof_root_mismatch");
    }
  }
}

TEST(MerkleInclusionTamper, WrongLeafOrRoot) {
  const InclusionCase c = MakeInclusion(700, 1500);
  Digest32 leaf = c.leaf;
  leaf[31] ^= 1;
  EXPECT_EQ(Reason(VerifyInclusion(c.index, c.size, leaf, c.proof, c.root)), "proof_root_mismatch");
  Digest32 root = c.root;
  root[0] ^= 0x80;
  EXPECT_EQ(Reason(VerifyInclusion(c.index, c.size, c.leaf, c.proof, root)), "proof_root_mismatch");
  const Status other_leaf = VerifyInclusion(c.index, c.size, SharedFixture().leaf_hashes[701],
                                            c.proof, c.root);
  EXPECT_FALSE(other_leaf.ok());
}

TEST(MerkleInclusionTamper, TruncatedOrExtendedProof) {
  for (uint64_t size : {2, 3, 7, 8, 9, 1000, 2000}) {
    for (uint64_t index : {uint64_t{0}, size / 2, size - 1}) {
      const InclusionCase c = MakeInclusion(index, size);
      std::vector<Bytes> shorter = c.proof;
      shorter.pop_back();
      EXPECT_EQ(Reason(VerifyInclusion(index, size, c.leaf, shorter, c.root)), "proof_wrong_size");
      std::vector<Bytes> front_dropped(c.proof.begin() + 1, c.proof.end());
      EXPECT_EQ(Reason(VerifyInclusion(index, size, c.leaf, front_dropped, c.root)),
                "proof_wrong_size");
      std::vector<Bytes> longer = c.proof;
      longer.push_back(Bytes(kHashSize, 0));
      EXPECT_EQ(Reason(VerifyInclusion(index, size, c.leaf, longer, c.root)), "proof_wrong_size");
      std::vector<Bytes> root_appended = c.proof;
      root_appended.emplace_back(c.root.begin(), c.root.end());
      EXPECT_EQ(Reason(VerifyInclusion(index, size, c.leaf, root_appended, c.root)),
                "proof_wrong_size");
    }
  }
}

TEST(MerkleInclusionTamper, HashOfWrongLength) {
  const InclusionCase c = MakeInclusion(3, 10);
  for (size_t len : {0, 1, 31, 33, 64}) {
    std::vector<Bytes> bad = c.proof;
    bad[1].resize(len, 0xAB);
    EXPECT_EQ(Reason(VerifyInclusion(c.index, c.size, c.leaf, bad, c.root)),
              "proof_bad_hash_length");
    EXPECT_EQ(Reason(RootFromInclusionProof(c.index, c.size, c.leaf, bad).status()),
              "proof_bad_hash_length");
  }
}

TEST(MerkleInclusionTamper, WrongIndexOrSize) {
  const InclusionCase c = MakeInclusion(5, 13);
  for (uint64_t index : {4, 6, 7, 12}) {
    EXPECT_FALSE(VerifyInclusion(index, c.size, c.leaf, c.proof, c.root).ok()) << index;
  }
  // Sizes whose path to leaf 5 has another shape. (A size with the same
  // shape, e.g. 12 or 14, leads to the same root: the proof does not bind the
  // size, which is why size and root must come from one signed checkpoint.)
  for (uint64_t size : {6, 8, 26}) {
    EXPECT_FALSE(VerifyInclusion(c.index, size, c.leaf, c.proof, c.root).ok()) << size;
  }
  EXPECT_EQ(Reason(VerifyInclusion(13, 13, c.leaf, c.proof, c.root)), "proof_index_out_of_range");
  EXPECT_EQ(Reason(VerifyInclusion(UINT64_MAX, 13, c.leaf, c.proof, c.root)),
            "proof_index_out_of_range");
  EXPECT_EQ(Reason(VerifyInclusion(0, 0, c.leaf, {}, EmptyRoot())), "proof_index_out_of_range");
}

// ---------------------------------------------------------------------------
// Tampered consistency proofs.

struct ConsistencyCase {
  uint64_t from;
  uint64_t to;
  Digest32 root1;
  Digest32 root2;
  std::vector<Bytes> proof;
};

ConsistencyCase MakeConsistency(uint64_t from, uint64_t to) {
  ConsistencyCase c{from, to, Naive().Mth(0, from), Naive().Mth(0, to), {}};
  c.proof = ProofToBytes(*ConsistencyProof(from, to, Tree()));
  return c;
}

Status Verify(const ConsistencyCase& c, const std::vector<Bytes>& proof) {
  return VerifyConsistency(c.from, c.to, proof, c.root1, c.root2);
}

TEST(MerkleConsistencyTamper, BitFlipInAnyProofHash) {
  std::mt19937_64 rng(kSeed + 5);
  for (int t = 0; t < 300; ++t) {
    const uint64_t to = 2 + rng() % (kMaxLeaves - 1);
    const uint64_t from = 1 + rng() % (to - 1);
    const ConsistencyCase c = MakeConsistency(from, to);
    for (size_t e = 0; e < c.proof.size(); ++e) {
      const int bit = static_cast<int>(rng() % 256);
      EXPECT_EQ(Reason(Verify(c, FlipBit(c.proof, e, bit))), "proof_root_mismatch")
          << from << "->" << to << " element " << e;
    }
  }
}

TEST(MerkleConsistencyTamper, WrongOldOrNewRoot) {
  for (auto [from, to] : {std::pair<uint64_t, uint64_t>{4, 9}, {5, 9}, {1, 2000}, {1999, 2000}}) {
    ConsistencyCase c = MakeConsistency(from, to);
    ConsistencyCase bad1 = c;
    bad1.root1[7] ^= 4;
    EXPECT_EQ(Reason(Verify(bad1, c.proof)), "proof_root_mismatch") << from << "->" << to;
    ConsistencyCase bad2 = c;
    bad2.root2[7] ^= 4;
    EXPECT_EQ(Reason(Verify(bad2, c.proof)), "proof_root_mismatch") << from << "->" << to;
    ConsistencyCase swapped = c;
    std::swap(swapped.root1, swapped.root2);
    EXPECT_EQ(Reason(Verify(swapped, c.proof)), "proof_root_mismatch") << from << "->" << to;
  }
}

TEST(MerkleConsistencyTamper, TruncatedOrExtendedProof) {
  for (auto [from, to] : {std::pair<uint64_t, uint64_t>{1, 2}, {2, 5}, {3, 7}, {6, 8}, {4, 9},
                          {700, 1500}, {1024, 2000}}) {
    const ConsistencyCase c = MakeConsistency(from, to);
    std::vector<Bytes> shorter = c.proof;
    shorter.pop_back();
    EXPECT_EQ(Reason(Verify(c, shorter)), "proof_wrong_size") << from << "->" << to;
    std::vector<Bytes> longer = c.proof;
    longer.push_back(Bytes(kHashSize, 1));
    EXPECT_EQ(Reason(Verify(c, longer)), "proof_wrong_size") << from << "->" << to;
    EXPECT_EQ(Reason(Verify(c, {})), "proof_wrong_size") << from << "->" << to;
  }
}

TEST(MerkleConsistencyTamper, HashOfWrongLength) {
  const ConsistencyCase c = MakeConsistency(6, 13);
  for (size_t len : {0, 31, 33}) {
    std::vector<Bytes> bad = c.proof;
    bad.back().resize(len, 0);
    EXPECT_EQ(Reason(Verify(c, bad)), "proof_bad_hash_length");
  }
}

TEST(MerkleConsistencyTamper, SizesOutOfOrderOrFromEmptyTree) {
  const Digest32 r5 = Naive().Mth(0, 5);
  const Digest32 r9 = Naive().Mth(0, 9);
  const std::vector<Bytes> proof = MakeConsistency(5, 9).proof;
  EXPECT_EQ(Reason(VerifyConsistency(9, 5, proof, r9, r5)), "proof_bad_sizes");
  EXPECT_EQ(Reason(VerifyConsistency(0, 9, {}, EmptyRoot(), r9)), "proof_bad_sizes");
  EXPECT_EQ(Reason(VerifyConsistency(0, 0, {}, EmptyRoot(), EmptyRoot())), "proof_bad_sizes");
  EXPECT_EQ(Reason(VerifyConsistency(5, 17, proof, r5, r9)), "proof_wrong_size");
  EXPECT_FALSE(VerifyConsistency(4, 9, proof, r5, r9).ok());
}

TEST(MerkleConsistencyTamper, EqualSizes) {
  const Digest32 r5 = Naive().Mth(0, 5);
  EXPECT_TRUE(VerifyConsistency(5, 5, {}, r5, r5).ok());
  Digest32 other = r5;
  other[3] ^= 1;
  EXPECT_EQ(Reason(VerifyConsistency(5, 5, {}, r5, other)), "proof_root_mismatch");
  const std::vector<Bytes> one_hash = {Bytes(r5.begin(), r5.end())};
  EXPECT_EQ(Reason(VerifyConsistency(5, 5, one_hash, r5, r5)), "proof_wrong_size");
}

// ---------------------------------------------------------------------------
// Benchmarks (disabled; run with --gtest_also_run_disabled_tests
// --gtest_filter='MerkleBench.*').

// CPU time of the calling thread, so that the rates are per core even on a
// busy machine (wall time would count time spent waiting for a core).
struct CpuClock {
  using time_point = double;
  static double now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
};

double Seconds(double since) { return CpuClock::now() - since; }

TEST(MerkleBench, DISABLED_LeafHashAndRootRate) {
  constexpr size_t kLeaves = 1'000'000;
  constexpr size_t kLeafSize = 200;
  std::mt19937_64 rng(kSeed);
  Bytes data(kLeaves * kLeafSize);
  for (size_t i = 0; i + 8 <= data.size(); i += 8) {
    const uint64_t r = rng();
    std::memcpy(data.data() + i, &r, 8);
  }
  // Leaf hashes only.
  auto start = CpuClock::now();
  Digest32 sink{};
  for (size_t i = 0; i < kLeaves; ++i) sink[i % 32] ^= HashLeaf(&data[i * kLeafSize], kLeafSize)[0];
  const double hash_s = Seconds(start);
  // Leaf hashes + compact-range appends + final root: a full re-verification.
  start = CpuClock::now();
  CompactRange range;
  for (size_t i = 0; i < kLeaves; ++i) range.Append(HashLeaf(&data[i * kLeafSize], kLeafSize));
  const Digest32 root = range.Root();
  const double root_s = Seconds(start);
  std::cout << "leaf hashing (" << kLeafSize << "-byte leaves): " << kLeaves / hash_s / 1e6
            << " M leaves/s\n"
            << "leaf hash + root recomputation: " << kLeaves / root_s / 1e6 << " M leaves/s ("
            << root_s << " s for " << kLeaves << ")\n"
            << "(root " << HexEncode(root).substr(0, 16) << ", sink " << int{sink[0]} << ")\n";
  EXPECT_EQ(range.size(), kLeaves);
}

TEST(MerkleBench, DISABLED_ProofsOverTenMillionLeaves) {
  constexpr uint64_t kLeaves = 10'000'000;
  MemoryTree tree;
  tree.Reserve(kLeaves);
  auto start = CpuClock::now();
  for (uint64_t i = 0; i < kLeaves; ++i) {
    tree.Append(reinterpret_cast<const uint8_t*>(&i), sizeof(i));
  }
  const double build_s = Seconds(start);
  const Digest32 root = tree.Root();

  constexpr int kProofs = 100'000;
  std::mt19937_64 rng(kSeed);
  std::vector<uint64_t> indexes(kProofs);
  for (uint64_t& i : indexes) i = rng() % kLeaves;
  size_t hashes = 0;
  start = CpuClock::now();
  for (uint64_t index : indexes) {
    StatusOr<std::vector<Digest32>> proof = InclusionProof(index, kLeaves, tree);
    ASSERT_TRUE(proof.ok());
    hashes += proof->size();
  }
  const double gen_s = Seconds(start);

  const uint64_t leaf_index = indexes[0];
  const Digest32 leaf = *tree.Node({0, leaf_index});
  const std::vector<Bytes> proof = ProofToBytes(*InclusionProof(leaf_index, kLeaves, tree));
  start = CpuClock::now();
  for (int t = 0; t < kProofs; ++t) {
    ASSERT_TRUE(VerifyInclusion(leaf_index, kLeaves, leaf, proof, root).ok());
  }
  const double verify_s = Seconds(start);

  start = CpuClock::now();
  for (int t = 0; t < kProofs; ++t) {
    const uint64_t from = 1 + rng() % kLeaves;
    ASSERT_TRUE(ConsistencyProof(from, kLeaves, tree).ok());
  }
  const double cons_s = Seconds(start);

  std::cout << "MemoryTree of " << kLeaves << " leaves built in " << build_s << " s ("
            << kLeaves / build_s / 1e6 << " M appends/s)\n"
            << "inclusion proof generation: " << gen_s / kProofs * 1e6 << " us/proof ("
            << static_cast<double>(hashes) / kProofs << " hashes/proof)\n"
            << "inclusion proof verification: " << verify_s / kProofs * 1e6 << " us/proof\n"
            << "consistency proof generation: " << cons_s / kProofs * 1e6 << " us/proof\n";
}

}  // namespace
}  // namespace custos::crypto::merkle
