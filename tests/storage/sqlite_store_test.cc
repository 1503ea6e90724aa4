// SqliteStore against real SQLite files: migrations, repositories, the
// one-transaction rule, group commit, and the audit log's tree and proofs.
#include "storage/sqlite_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "crypto/merkle.h"
#include "tests/storage/store_test_util.h"
#include "tests/testutil/testutil.h"

namespace custos::storage {
namespace {

using testing::Event;
using testing::MakeRecord;
using testing::TestSigner;
namespace merkle = crypto::merkle;

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteStore> Open() {
    auto s = SqliteStore::Open({tmp_.Sub("custos.db")}, &signer_.checkpoint);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }
  custos::testing::TempDir tmp_;
  TestSigner signer_;
};

TEST_F(SqliteStoreTest, MigrationsApplyOnceAndFileIsPrivate) {
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->schema_version(), 12);
  }
  auto again = Open();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->schema_version(), 12);
  struct stat st {};
  ASSERT_EQ(::stat(tmp_.Sub("custos.db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(SqliteStoreTest, RowsAndEventsCommitTogether) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  uint64_t index = 99;
  Status s = store->Write([&](Transaction& tx) -> Status {
    CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({"sales", domain::TruncateToMillis(std::chrono::system_clock::now())}));
    CUSTOS_RETURN_IF_ERROR(tx.records().Insert(MakeRecord("CT-2026-000001", "Supply contract")));
    CUSTOS_ASSIGN_OR_RETURN(index, tx.log().Append(Event("record.checkin", "CT-2026-000001")));
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(index, 0u);
  s = store->Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto rec, tx.records().Find(domain::RecordId{"CT-2026-000001"}));
    EXPECT_TRUE(rec.has_value());
    if (rec) EXPECT_EQ(rec->title, "Supply contract");
    CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
    EXPECT_EQ(size, 1u);
    CUSTOS_ASSIGN_OR_RETURN(StoredCheckpoint cp, tx.log().LatestCheckpoint());
    EXPECT_EQ(cp.size, 1u);
    auto opened = crypto::OpenCheckpoint(cp.note, signer_.verifiers());
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
}

TEST_F(SqliteStoreTest, ChangeCountGrowsOnlyForTablesAWriteChanged) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto now = domain::TruncateToMillis(std::chrono::system_clock::now());
  auto count = [&](const char* table) { return store->ChangeCount(table).value_or(999); };
  ASSERT_TRUE(store->ChangeCount("sessions").has_value());
  ASSERT_TRUE(store->ChangeCount("records").has_value());
  EXPECT_FALSE(store->ChangeCount("search_postings").has_value());  // WITHOUT ROWID: not watched
  EXPECT_FALSE(store->ChangeCount("no_such_table").has_value());
  const uint64_t sessions0 = count("sessions"), records0 = count("records");
  ASSERT_TRUE(store->Write([&](Transaction& tx) -> Status {
                     CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({"sales", now}));
                     return tx.records().Insert(MakeRecord("CT-2026-000001", "Supply contract"));
                   }).ok());
  EXPECT_EQ(count("records"), records0 + 1);
  EXPECT_EQ(count("sessions"), sessions0);
  // A read changes nothing; a write that only reads changes nothing.
  ASSERT_TRUE(store->Read([&](Transaction& tx) { return tx.records().Find(domain::RecordId{"CT-2026-000001"}).status(); }).ok());
  ASSERT_TRUE(store->Write([&](Transaction& tx) { return tx.records().Find(domain::RecordId{"CT-2026-000001"}).status(); }).ok());
  EXPECT_EQ(count("records"), records0 + 1);
  // A write that fails after changing a row still counts (nothing stale can be kept).
  Status failed = store->Write([&](Transaction& tx) -> Status {
    domain::Record r = MakeRecord("CT-2026-000001", "Changed");
    CUSTOS_RETURN_IF_ERROR(tx.records().Update(r));
    return Internal("refused after the update");
  });
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(count("records"), records0 + 2);
  EXPECT_EQ(count("sessions"), sessions0);
}

TEST_F(SqliteStoreTest, FailedFunctionLeavesNoRowNoEventNoSequence) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Status s = store->Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(uint64_t seq, tx.records().NextSequence(domain::RecordType::kContract, 2026));
    EXPECT_EQ(seq, 1u);
    CUSTOS_RETURN_IF_ERROR(tx.records().Insert(MakeRecord("CT-2026-000001", "x")));
    CUSTOS_RETURN_IF_ERROR(tx.log().Append(Event("record.checkin", "CT-2026-000001")).status());
    return Conflict("changed my mind", "test_abort");
  });
  EXPECT_EQ(s.reason(), "test_abort");
  s = store->Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto rec, tx.records().Find(domain::RecordId{"CT-2026-000001"}));
    EXPECT_FALSE(rec.has_value());
    CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
    EXPECT_EQ(size, 0u);
    EXPECT_EQ(tx.log().LatestCheckpoint().status().reason(), "no_checkpoint");
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok());
  // The sequence number was returned with the rollback: no gap.
  s = store->Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(uint64_t seq, tx.records().NextSequence(domain::RecordType::kContract, 2026));
    EXPECT_EQ(seq, 1u);
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok());
}

// Appends are buffered and written as multi-row INSERTs: a write function
// sees its own appends (more than one INSERT's worth), and a failing one
// leaves none of them, flushed or still buffered.
TEST_F(SqliteStoreTest, BufferedAppendsAreVisibleInsideAndGoneAfterAFailure) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  for (bool fail : {true, false}) {
    Status s = store->Write([&](Transaction& tx) -> Status {
      for (int i = 0; i < 100; ++i) {
        CUSTOS_RETURN_IF_ERROR(tx.log().Append(Event("test.append", "buffered", i)).status());
      }
      CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(0, 100, 100));
      EXPECT_EQ(entries.size(), 100u);
      CUSTOS_ASSIGN_OR_RETURN(auto proof, tx.log().InclusionProof(99, 100));
      EXPECT_FALSE(proof.empty());
      CUSTOS_RETURN_IF_ERROR(tx.log().Append(Event("test.append", "buffered", 100)).status());
      return fail ? Conflict("planned failure", "test_abort") : Status::Ok();
    });
    EXPECT_EQ(s.ok(), !fail) << s.ToString();
    s = store->Read([&](Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
      EXPECT_EQ(size, fail ? 0u : 101u);
      CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(0, 1000, 1000));
      EXPECT_EQ(entries.size(), size);
      return Status::Ok();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
}

TEST_F(SqliteStoreTest, ConcurrentWritersAreGroupCommittedAndFailuresIsolated) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 16, kPerThread = 100;
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        bool fail = (i % 10) == 7;
        Status s = store->Write([&](Transaction& tx) -> Status {
          CUSTOS_RETURN_IF_ERROR(
              tx.log().Append(Event("test.append", "t" + std::to_string(t), i)).status());
          return fail ? Conflict("planned failure") : Status::Ok();
        });
        (s.ok() ? ok : failed)++;
        EXPECT_EQ(s.ok(), !fail) << s.ToString();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed.load(), kThreads * kPerThread / 10);
  Status s = store->Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
    EXPECT_EQ(size, static_cast<uint64_t>(ok.load()));
    CUSTOS_ASSIGN_OR_RETURN(auto checkpoints, tx.log().Checkpoints());
    // Fewer checkpoints than successful writes: batches were shared.
    EXPECT_LT(checkpoints.size(), static_cast<size_t>(ok.load()));
    // The chain is unbroken and every checkpoint's root is the tree's root.
    CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(0, size, size));
    merkle::MemoryTree tree;
    std::optional<crypto::Digest32> prev;
    size_t cp = 0;
    for (const LogEntry& e : entries) {
      CUSTOS_ASSIGN_OR_RETURN(DecodedLeaf leaf, DecodeLeaf(e.leaf));
      CUSTOS_RETURN_IF_ERROR(CheckChainLink(leaf, tree.size(), prev));
      EXPECT_EQ(merkle::HashLeaf(e.leaf), e.leaf_hash);
      tree.AppendLeafHash(e.leaf_hash);
      prev = e.leaf_hash;
      while (cp < checkpoints.size() && checkpoints[cp].size == tree.size()) {
        EXPECT_EQ(checkpoints[cp].root, tree.Root());
        ++cp;
      }
    }
    EXPECT_EQ(cp, checkpoints.size());
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
}

TEST_F(SqliteStoreTest, ProofsFromStoredNodesVerifyAndSurviveReopen) {
  constexpr int kLeaves = 77;
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 40; ++i) {
      ASSERT_TRUE(store->Write([&](Transaction& tx) {
        return tx.log().Append(Event("test.append", "s", i)).status();
      }).ok());
    }
  }
  auto store = Open();  // the tail is reloaded from stored nodes
  ASSERT_NE(store, nullptr);
  for (int i = 40; i < kLeaves; ++i) {
    ASSERT_TRUE(store->Write([&](Transaction& tx) {
      return tx.log().Append(Event("test.append", "s", i)).status();
    }).ok());
  }
  Status s = store->Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(0, kLeaves, 1000));
    EXPECT_EQ(entries.size(), static_cast<size_t>(kLeaves));
    std::vector<crypto::Digest32> roots = {merkle::EmptyRoot()};
    merkle::MemoryTree tree;
    for (const auto& e : entries) {
      tree.AppendLeafHash(e.leaf_hash);
      roots.push_back(tree.Root());
    }
    for (uint64_t size = 1; size <= kLeaves; size += 7) {
      CUSTOS_ASSIGN_OR_RETURN(crypto::Digest32 root, tx.log().RootAt(size));
      EXPECT_EQ(root, roots[size]);
      for (uint64_t index = 0; index < size; index += 5) {
        CUSTOS_ASSIGN_OR_RETURN(auto proof, tx.log().InclusionProof(index, size));
        EXPECT_TRUE(merkle::VerifyInclusion(index, size, entries[index].leaf_hash,
                                            merkle::ProofToBytes(proof), roots[size])
                        .ok());
      }
      CUSTOS_ASSIGN_OR_RETURN(auto consistency, tx.log().ConsistencyProof(size, kLeaves));
      EXPECT_TRUE(merkle::VerifyConsistency(size, kLeaves, merkle::ProofToBytes(consistency),
                                            roots[size], roots[kLeaves])
                      .ok());
    }
    EXPECT_EQ(tx.log().InclusionProof(0, kLeaves + 1).status().reason(), "proof_bad_sizes");
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
}

// Read transactions keep the proofs' upper nodes (level >= 8) in memory:
// a node altered in the file afterwards still gives the stored proofs (they
// are served from memory), while RootAt (which re-verification uses) and a
// store opened afresh read the altered row.
TEST_F(SqliteStoreTest, ProofsKeepUpperNodesInMemoryButRootAtReadsTheFile) {
  constexpr uint64_t kLeaves = 600;  // 512 + 64 + 16 + 8: node (9, 0) is complete
  auto store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Write([&](Transaction& tx) -> Status {
    for (uint64_t i = 0; i < kLeaves; ++i) CUSTOS_RETURN_IF_ERROR(tx.log().Append(Event("test.append", "s", i)).status());
    return Status::Ok();
  }).ok());
  std::vector<crypto::Digest32> leaves;
  crypto::Digest32 root{};
  std::vector<crypto::Digest32> first_proof;
  auto check = [&](Transaction& tx) -> Status {
    for (uint64_t index : {0, 255, 300, 511, 550, 599}) {
      CUSTOS_ASSIGN_OR_RETURN(auto proof, tx.log().InclusionProof(index, kLeaves));
      EXPECT_TRUE(merkle::VerifyInclusion(index, kLeaves, leaves[index], merkle::ProofToBytes(proof), root).ok())
          << index;
    }
    CUSTOS_ASSIGN_OR_RETURN(auto consistency, tx.log().ConsistencyProof(300, kLeaves));
    EXPECT_FALSE(consistency.empty());
    return Status::Ok();
  };
  ASSERT_TRUE(store->Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(0, kLeaves, 1000));
    merkle::MemoryTree tree;
    for (const auto& e : entries) {
      leaves.push_back(e.leaf_hash);
      tree.AppendLeafHash(e.leaf_hash);
    }
    root = tree.Root();
    CUSTOS_ASSIGN_OR_RETURN(crypto::Digest32 stored_root, tx.log().RootAt(kLeaves));
    EXPECT_EQ(stored_root, root);
    return check(tx);
  }).ok());
  {
    auto c = sql::OpenSqlite(tmp_.Sub("custos.db"));
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    ASSERT_TRUE(sql::Exec(**c, "UPDATE log_nodes SET hash = zeroblob(32) WHERE level = 9 AND idx = 0").ok());
  }
  ASSERT_TRUE(store->Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(crypto::Digest32 stored_root, tx.log().RootAt(kLeaves));
    EXPECT_NE(stored_root, root);  // read from the file
    return check(tx);              // (9, 0) from memory (550 and 599 name it)
  }).ok());
  store.reset();
  store = Open();
  ASSERT_NE(store, nullptr);
  // Afresh, the proofs of the leaves beyond 512, which name (9, 0), carry
  // the altered row and no longer verify.
  ASSERT_TRUE(store->Read([&](Transaction& tx) -> Status {
    for (uint64_t index : {0, 300, 550}) {
      CUSTOS_ASSIGN_OR_RETURN(auto proof, tx.log().InclusionProof(index, kLeaves));
      EXPECT_EQ(merkle::VerifyInclusion(index, kLeaves, leaves[index], merkle::ProofToBytes(proof), root).ok(),
                index < 512)
          << index;
    }
    return Status::Ok();
  }).ok());
}

TEST_F(SqliteStoreTest, ReadTransactionsCannotAppend) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Status s = store->Read([](Transaction& tx) {
    EXPECT_FALSE(tx.writable());
    return tx.log().Append(Event("test.append", "s")).status();
  });
  EXPECT_FALSE(s.ok());
}

TEST_F(SqliteStoreTest, UsersSessionsVersionsAndSearch) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  auto now = domain::TruncateToMillis(std::chrono::system_clock::now());
  Status s = store->Write([&](Transaction& tx) -> Status {
    CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({"sales", now}));
    EXPECT_EQ(tx.departments().Insert({"sales", now}).reason(), "department_exists");
    domain::User u;
    u.username = domain::Username{"alice"};
    u.password_hash = "$argon2id$x";
    u.role = domain::Role::kArchivist;
    u.department = "sales";
    u.created_at = u.password_changed_at = now;
    CUSTOS_RETURN_IF_ERROR(tx.users().Insert(u));
    EXPECT_EQ(tx.users().Insert(u).reason(), "user_exists");
    u.failed_logins = 3;
    u.locked_until = now + std::chrono::minutes(15);
    CUSTOS_RETURN_IF_ERROR(tx.users().Update(u));
    CUSTOS_RETURN_IF_ERROR(tx.sessions().Insert({"abc", u.username, now, now, now + std::chrono::hours(8)}));
    domain::Record a = MakeRecord("CT-2026-000001", "Steel supply 100% agreement");
    domain::Record b = MakeRecord("QC-2026-000001", "ISO 9001 certificate");
    b.type = domain::RecordType::kQualification;
    b.classification = domain::Classification::kSecret;
    CUSTOS_RETURN_IF_ERROR(tx.records().Insert(a));
    CUSTOS_RETURN_IF_ERROR(tx.records().Insert(b));
    domain::Version v;
    v.record_id = a.id;
    v.number = 1;
    v.created_at = now;
    v.created_by = "alice";
    v.manifest_hash = "ab";
    domain::StoredFile f;
    f.id = domain::FileId{"f1"};
    f.name = "contract.pdf";
    f.media_type = "application/pdf";
    f.size = 10;
    f.sha256 = "00";
    f.blob_id = domain::BlobId{"b1"};
    f.kek_id = "k";
    f.wrapped_dek = {1, 2, 3};
    f.signature.status = "valid";
    f.signature.signing_time = now;
    v.files.push_back(f);
    CUSTOS_RETURN_IF_ERROR(tx.versions().Insert(v));
    EXPECT_EQ(tx.versions().Insert(v).reason(), "version_exists");
    v.record_id = domain::RecordId{"CT-2026-999999"};
    EXPECT_EQ(tx.versions().Insert(v).reason(), "record_not_found");
    return tx.log().Append(Event("test.setup", "x")).status();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  s = store->Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto u, tx.users().Find(domain::Username{"alice"}));
    EXPECT_TRUE(u && u->failed_logins == 3 && u->locked_until && u->role == domain::Role::kArchivist);
    CUSTOS_ASSIGN_OR_RETURN(auto sess, tx.sessions().Find("abc"));
    EXPECT_TRUE(sess && sess->username.value == "alice");
    CUSTOS_ASSIGN_OR_RETURN(auto versions, tx.versions().List(domain::RecordId{"CT-2026-000001"}));
    EXPECT_EQ(versions.size(), 1u);
    if (!versions.empty()) {
      EXPECT_EQ(versions[0].files.size(), 1u);
      EXPECT_EQ(versions[0].files[0].wrapped_dek, (std::vector<uint8_t>{1, 2, 3}));
      EXPECT_TRUE(versions[0].files[0].signature.signing_time.has_value());
    }
    CUSTOS_ASSIGN_OR_RETURN(bool referenced, tx.versions().BlobReferenced(domain::BlobId{"b1"}));
    EXPECT_TRUE(referenced);
    domain::RecordQuery q;
    q.text = "100%";  // LIKE metacharacters are literal
    CUSTOS_ASSIGN_OR_RETURN(domain::RecordPage page, tx.records().Search(q));
    EXPECT_EQ(page.total, 1u);
    q.text = "ISO";
    q.allowed_classifications = {domain::Classification::kPublic, domain::Classification::kInternal};
    CUSTOS_ASSIGN_OR_RETURN(page, tx.records().Search(q));
    EXPECT_EQ(page.total, 0u);  // secret record hidden from this clearance
    domain::RecordQuery all;
    all.type = domain::RecordType::kQualification;
    CUSTOS_ASSIGN_OR_RETURN(page, tx.records().Search(all));
    EXPECT_EQ(page.total, 1u);
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
}

TEST_F(SqliteStoreTest, FullTextSearchFindsSubstringsInAnyScriptAndFollowsUpdates) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  Status s = store->Write([&](Transaction& tx) -> Status {
    domain::Record a = MakeRecord("CT-2026-000001", "钢材采购合同");
    a.metadata_json = R"({"counterparty":"宝山钢铁","endDate":"2027-03-31"})";
    domain::Record b = MakeRecord("QC-2026-000001", "ISO 9001 certificate");
    b.metadata_json = R"({"validUntil":"2026-12-31"})";
    CUSTOS_RETURN_IF_ERROR(tx.records().Insert(a));
    CUSTOS_RETURN_IF_ERROR(tx.records().Insert(b));
    b.title = "ISO 14001 certificate";
    return tx.records().Update(b);
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto count = [&](domain::RecordQuery q) {
    uint64_t total = 99;
    EXPECT_TRUE(store->Read([&](Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(domain::RecordPage p, tx.records().Search(q));
      total = p.total;
      return Status::Ok();
    }).ok());
    return total;
  };
  domain::RecordQuery q;
  q.text = "采购合";  // inside the title
  EXPECT_EQ(count(q), 1u);
  q.text = "宝山钢";  // inside the metadata
  EXPECT_EQ(count(q), 1u);
  q.text = "14001";  // the updated title
  EXPECT_EQ(count(q), 1u);
  q.text = "9001";  // the old title is gone from the index
  EXPECT_EQ(count(q), 0u);
  q.text = "CT-2026-000001";  // archive numbers are found too
  EXPECT_EQ(count(q), 1u);
  q.text = "\"; DROP";  // quotes are data, not syntax
  EXPECT_EQ(count(q), 0u);
  domain::RecordQuery expiring;
  expiring.expiring_by = "2027-01-01";
  EXPECT_EQ(count(expiring), 1u);  // the certificate, not the contract ending in March
  expiring.expiring_by = "2027-12-31";
  EXPECT_EQ(count(expiring), 2u);
}

}  // namespace
}  // namespace custos::storage
