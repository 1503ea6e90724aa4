// PostgresStore as several nodes use it: two stores on one database stand
// for two custosd processes. The contract every store keeps is in
// store_contract_test.cc; this file checks what only sharing adds — one log
// from interleaved batches, gap-free numbers, checkpoints consistent across
// stores — and recovery from a dropped connection.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <cstdlib>
#include <set>
#include <thread>

#include "crypto/merkle.h"
#include "crypto/signed_note.h"
#include "storage/postgres_store.h"
#include "storage/sql_util.h"
#include "tests/storage/store_test_util.h"
#include "tests/testutil/testutil.h"

namespace custos::storage {
namespace {

namespace merkle = crypto::merkle;
using testing::Event;
using testing::TestSigner;

std::unique_ptr<PostgresStore> Open(const std::string& dsn, CheckpointSigner* signer) {
  PostgresOptions options;
  options.dsn = dsn;
  options.read_connections = 2;
  auto s = PostgresStore::Open(options, signer);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

std::vector<LogEntry> AllEntries(MetadataStore& store) {
  std::vector<LogEntry> out;
  Status st = store.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
    for (uint64_t at = 0; at < size;) {
      CUSTOS_ASSIGN_OR_RETURN(auto page, tx.log().Entries(at, size, 1000));
      if (page.empty()) return DataLoss("log entries missing");
      at += page.size();
      for (auto& e : page) out.push_back(std::move(e));
    }
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

std::vector<StoredCheckpoint> AllCheckpoints(MetadataStore& store) {
  std::vector<StoredCheckpoint> out;
  Status st = store.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(out, tx.log().Checkpoints());
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

// Terminates every other server connection to the current database, as a
// server restart or failover would.
void DropOtherConnections(const std::string& dsn) {
  PGconn* conn = PQconnectdb(dsn.c_str());
  ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  PGresult* r = PQexec(conn,
                       "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  ASSERT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQresultErrorMessage(r);
  EXPECT_GE(std::atoi(PQgetvalue(r, 0, 0)), 1);
  PQclear(r);
  PQfinish(conn);
}

TEST(PostgresStoreTest, TwoStoresOnOneDatabaseWriteOneLogAndGapFreeNumbers) {
  const std::string dsn = custos::testing::NewPostgresDatabase();
  CUSTOS_REQUIRE_POSTGRES(dsn);
  TestSigner signer;
  auto a = Open(dsn, &signer.checkpoint);
  auto b = Open(dsn, &signer.checkpoint);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);

  // Four writer threads per store; each write takes an archive number and
  // logs it, and some writes fail and must give their number back.
  constexpr int kThreadsPerStore = 4;
  constexpr int kWritesPerThread = 40;
  std::mutex mu;
  std::vector<uint64_t> numbers;  // committed ones
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2 * kThreadsPerStore; ++t) {
    MetadataStore* store = t % 2 == 0 ? a.get() : b.get();
    threads.emplace_back([&, store, t] {
      for (int i = 0; i < kWritesPerThread; ++i) {
        uint64_t n = 0;
        const bool fail = (i % 7) == 3;
        Status s = store->Write([&](Transaction& tx) -> Status {
          CUSTOS_ASSIGN_OR_RETURN(n, tx.records().NextSequence(domain::RecordType::kContract, 2026));
          CUSTOS_RETURN_IF_ERROR(
              tx.log().Append(Event("test.number", "CT-2026-" + std::to_string(n), t)).status());
          if (fail) return Conflict("refused on purpose", "test_refused");
          return Status::Ok();
        });
        if (fail) {
          EXPECT_EQ(s.reason(), "test_refused");
          ++failed;
        } else {
          EXPECT_TRUE(s.ok()) << s.ToString();
          std::lock_guard<std::mutex> lock(mu);
          numbers.push_back(n);
        }
      }
    });
  }
  for (auto& t : threads) t.join();

  // Numbers: exactly 1..N, each once.
  std::sort(numbers.begin(), numbers.end());
  ASSERT_EQ(numbers.size(), static_cast<size_t>(2 * kThreadsPerStore * kWritesPerThread - failed));
  for (size_t i = 0; i < numbers.size(); ++i) ASSERT_EQ(numbers[i], i + 1);

  // One log: one leaf per committed write, the hash chain unbroken, the
  // same entries seen through either store.
  std::vector<LogEntry> entries = AllEntries(*a);
  ASSERT_EQ(entries.size(), numbers.size());
  std::vector<LogEntry> from_b = AllEntries(*b);
  ASSERT_EQ(from_b.size(), entries.size());
  std::set<std::string> subjects;
  merkle::MemoryTree tree;
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].index, i);
    EXPECT_EQ(entries[i].leaf, from_b[i].leaf);
    EXPECT_EQ(entries[i].leaf_hash, merkle::HashLeaf(entries[i].leaf));
    auto leaf = DecodeLeaf(entries[i].leaf);
    ASSERT_TRUE(leaf.ok()) << leaf.status().ToString();
    if (i > 0) {
      ASSERT_TRUE(leaf->prev.has_value());
      EXPECT_EQ(*leaf->prev, entries[i - 1].leaf_hash) << "chain broken at " << i;
    }
    subjects.insert(leaf->event.subject);
    tree.AppendLeafHash(entries[i].leaf_hash);
  }
  EXPECT_EQ(subjects.size(), numbers.size());  // no number logged twice

  // Checkpoints: from batches of both stores, each signed, each the root of
  // its prefix of the one tree, each consistent with the newest.
  std::vector<StoredCheckpoint> checkpoints = AllCheckpoints(*b);
  ASSERT_GE(checkpoints.size(), 2u);
  const StoredCheckpoint& newest = checkpoints.back();
  EXPECT_EQ(newest.size, entries.size());
  for (const StoredCheckpoint& cp : checkpoints) {
    auto opened = crypto::OpenCheckpoint(cp.note, signer.verifiers());
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(opened->checkpoint.size, cp.size);
    EXPECT_EQ(opened->checkpoint.root, cp.root);
    auto root = merkle::RootAt(cp.size, tree);
    ASSERT_TRUE(root.ok());
    EXPECT_EQ(*root, cp.root) << "checkpoint at " << cp.size;
    std::vector<crypto::Digest32> proof;
    ASSERT_TRUE(a->Read([&](Transaction& tx) -> Status {
                   CUSTOS_ASSIGN_OR_RETURN(proof, tx.log().ConsistencyProof(cp.size, newest.size));
                   return Status::Ok();
                 }).ok());
    EXPECT_TRUE(merkle::VerifyConsistency(cp.size, newest.size, merkle::ProofToBytes(proof),
                                          cp.root, newest.root)
                    .ok())
        << cp.size << " -> " << newest.size;
  }
}

TEST(PostgresStoreTest, AStoreThatMissedOtherAppendsContinuesTheSameLog) {
  const std::string dsn = custos::testing::NewPostgresDatabase();
  CUSTOS_REQUIRE_POSTGRES(dsn);
  TestSigner signer;
  auto a = Open(dsn, &signer.checkpoint);
  auto b = Open(dsn, &signer.checkpoint);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  auto append = [](MetadataStore& s, int n) {
    Status st = s.Write([&](Transaction& tx) { return tx.log().Append(Event("test.append", "x", n)).status(); });
    EXPECT_TRUE(st.ok()) << st.ToString();
  };
  append(*a, 0);
  for (int i = 1; i <= 5; ++i) append(*b, i);  // a's tail is now 5 leaves behind
  append(*a, 6);
  std::vector<LogEntry> entries = AllEntries(*a);
  ASSERT_EQ(entries.size(), 7u);
  auto last = DecodeLeaf(entries[6].leaf);
  ASSERT_TRUE(last.ok());
  ASSERT_TRUE(last->prev.has_value());
  EXPECT_EQ(*last->prev, entries[5].leaf_hash);
  EXPECT_EQ(last->seq, 6u);
}

// The proofs' upper nodes are kept in memory on PostgreSQL too, with two
// stores on one database: a proof read by one store after the other
// appended still verifies, RootAt reads the table, and an altered upper
// node is served from memory by the store that cached it but read, and
// caught, by a store opened afterwards.
TEST(PostgresStoreTest, ProofsKeepUpperNodesInMemoryAcrossNodesButRootAtReadsTheTable) {
  const std::string dsn = custos::testing::NewPostgresDatabase();
  CUSTOS_REQUIRE_POSTGRES(dsn);
  TestSigner signer;
  auto a = Open(dsn, &signer.checkpoint);
  auto b = Open(dsn, &signer.checkpoint);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  auto append = [&](uint64_t from, uint64_t to) {
    Status st = a->Write([&](Transaction& tx) -> Status {
      for (uint64_t i = from; i < to; ++i) CUSTOS_RETURN_IF_ERROR(tx.log().Append(Event("test.append", "s", i)).status());
      return Status::Ok();
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
  };
  auto leaves_and_root = [&](uint64_t size, std::vector<crypto::Digest32>& leaves, crypto::Digest32& root) {
    leaves.clear();
    merkle::MemoryTree tree;
    for (const LogEntry& e : AllEntries(*a)) {
      if (leaves.size() == size) break;
      leaves.push_back(e.leaf_hash);
      tree.AppendLeafHash(e.leaf_hash);
    }
    root = tree.Root();
  };
  // Whether each proof `store` serves at `size` verifies against `root`.
  auto proofs_verify = [&](MetadataStore& store, uint64_t size, const std::vector<crypto::Digest32>& leaves,
                           const crypto::Digest32& root, std::initializer_list<uint64_t> indices) {
    std::vector<bool> out;
    Status st = store.Read([&](Transaction& tx) -> Status {
      for (uint64_t index : indices) {
        CUSTOS_ASSIGN_OR_RETURN(auto proof, tx.log().InclusionProof(index, size));
        out.push_back(merkle::VerifyInclusion(index, size, leaves[index], merkle::ProofToBytes(proof), root).ok());
      }
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  };
  constexpr uint64_t kFirst = 600;  // 512 + 64 + 16 + 8: node (9, 0) is complete
  append(0, kFirst);
  std::vector<crypto::Digest32> leaves;
  crypto::Digest32 root{};
  leaves_and_root(kFirst, leaves, root);
  EXPECT_EQ(proofs_verify(*b, kFirst, leaves, root, {0, 300, 511, 550, 599}), std::vector<bool>(5, true));
  const crypto::Digest32 first_root = root;  // its left child is (9, 0)
  // a appends past 1,024 (nodes (9, 1) and (10, 0) complete): b's cached
  // nodes stay right, and the new ones come from the table.
  append(kFirst, 1100);
  leaves_and_root(1100, leaves, root);
  EXPECT_EQ(proofs_verify(*b, 1100, leaves, root, {0, 550, 700, 1023, 1099}), std::vector<bool>(5, true));
  {
    PGconn* conn = PQconnectdb(dsn.c_str());
    ASSERT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
    PGresult* r = PQexec(conn, "UPDATE log_nodes SET hash = decode(repeat('00', 32), 'hex') WHERE level = 9 AND idx = 0");
    ASSERT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQresultErrorMessage(r);
    EXPECT_STREQ(PQcmdTuples(r), "1");
    PQclear(r);
    PQfinish(conn);
  }
  Status st = b->Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(crypto::Digest32 stored_root, tx.log().RootAt(kFirst));
    EXPECT_NE(stored_root, first_root);  // (9, 0) read from the table
    return Status::Ok();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  // b serves (9, 0) from memory; a store opened now reads the altered row,
  // and the proofs that name it (leaves 512 to 1,023 do) fail.
  EXPECT_EQ(proofs_verify(*b, 1100, leaves, root, {0, 700, 1099}), std::vector<bool>(3, true));
  auto c = Open(dsn, &signer.checkpoint);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(proofs_verify(*c, 1100, leaves, root, {0, 700}), (std::vector<bool>{true, false}));
}

TEST(PostgresStoreTest, DroppedConnectionsAreReopenedOnNextUse) {
  const std::string dsn = custos::testing::NewPostgresDatabase();
  CUSTOS_REQUIRE_POSTGRES(dsn);
  TestSigner signer;
  auto store = Open(dsn, &signer.checkpoint);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Write([](Transaction& tx) { return tx.departments().Insert({"sales", {}}); }).ok());

  DropOtherConnections(dsn);
  // Both the writer and the readers lost their connections while idle:
  // nothing was in flight, so the next write and read just work.
  Status w = store->Write([](Transaction& tx) { return tx.departments().Insert({"legal", {}}); });
  EXPECT_TRUE(w.ok()) << w.ToString();
  Status r = store->Read([](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto departments, tx.departments().List());
    EXPECT_EQ(departments.size(), 2u);
    return Status::Ok();
  });
  EXPECT_TRUE(r.ok()) << r.ToString();
}

// The first row of `query` on `dsn`, as text.
std::string QueryOne(const std::string& dsn, const std::string& query) {
  PGconn* conn = PQconnectdb(dsn.c_str());
  EXPECT_EQ(PQstatus(conn), CONNECTION_OK) << PQerrorMessage(conn);
  PGresult* r = PQexec(conn, query.c_str());
  std::string out;
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
  EXPECT_NE(PQresultStatus(r), PGRES_FATAL_ERROR) << query << ": " << PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(conn);
  return out;
}

// Whether the on-disk heap of the files table holds `bytes` (after a
// checkpoint writes every dirty page), read from the test cluster's folder.
bool FilesTableHolds(const std::string& dsn, const std::vector<uint8_t>& bytes) {
  QueryOne(dsn, "CHECKPOINT");
  const std::string relation = QueryOne(dsn, "SELECT pg_relation_filepath('files')");
  const std::string cluster =
      custos::testing::ReadFileOrDie(std::string(std::getenv("CUSTOS_TEST_PG_STATE")) + "/cluster");
  const std::string heap = custos::testing::ReadFileOrDie(
      cluster.substr(0, cluster.find('\n')) + "/data/" + relation);
  return heap.find(std::string(bytes.begin(), bytes.end())) != std::string::npos;
}

TEST(PostgresStoreTest, ScrubLeavesNoCopyOfAShreddedKeyInTheFilesTable) {
  const std::string dsn = custos::testing::NewPostgresDatabase();
  CUSTOS_REQUIRE_POSTGRES(dsn);
  TestSigner signer;
  auto store = Open(dsn, &signer.checkpoint);
  ASSERT_NE(store, nullptr);
  std::vector<uint8_t> key;
  for (int i = 0; i < 4; ++i) {
    for (char c : std::string("wrapped-key-to-shred")) key.push_back(static_cast<uint8_t>(c));
  }
  domain::Version v;
  v.record_id = domain::RecordId{"CT-2026-000001"};
  v.number = 1;
  v.created_by = "alice";
  v.manifest_hash = "ab";
  domain::StoredFile f;
  f.id = domain::FileId{"f-1"};
  f.record_id = v.record_id;
  f.version = 1;
  f.name = "contract.pdf";
  f.sha256 = "00";
  f.blob_id = domain::BlobId{"0123456789abcdef0123456789abcdef"};
  f.kek_id = "kek-1";
  f.wrapped_dek = key;
  v.files.push_back(f);
  ASSERT_TRUE(store->Write([&](Transaction& tx) -> Status {
                     CUSTOS_RETURN_IF_ERROR(tx.records().Insert(testing::MakeRecord("CT-2026-000001", "t")));
                     return tx.versions().Insert(v);
                   }).ok());
  ASSERT_TRUE(store->Write([&](Transaction& tx) { return tx.versions().SetFileKey(f.id, "kek-1", {}); }).ok());
  // The old row version, key and all, is still in the table's file.
  EXPECT_TRUE(FilesTableHolds(dsn, key));

  Status s = store->Scrub();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_FALSE(FilesTableHolds(dsn, key));
  ASSERT_TRUE(store->Read([&](Transaction& tx) -> Status {
                     CUSTOS_ASSIGN_OR_RETURN(auto found, tx.versions().Find(v.record_id, 1));
                     EXPECT_TRUE(found && found->files.size() == 1 && found->files[0].wrapped_dek.empty());
                     return Status::Ok();
                   }).ok());
}

// The write batch's pipelining (sql::Connection::SetDeferred): a deferred
// write that fails is reported by the next statement that waits, the ones
// queued after it do not run, and the COMMIT of the transaction it aborted
// is a failure, not a silent rollback.
TEST(PostgresStoreTest, DeferredWriteFailureIsReportedAndItsTransactionDoesNotCommit) {
  const std::string dsn = custos::testing::NewPostgresDatabase();
  CUSTOS_REQUIRE_POSTGRES(dsn);
  auto normalized = NormalizePostgresDsn(dsn);
  ASSERT_TRUE(normalized.ok()) << normalized.status().ToString();
  auto opened = sql::OpenPostgres(*normalized);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  sql::Connection& c = **opened;
  ASSERT_TRUE(sql::Exec(c, "CREATE TABLE t (x bigint PRIMARY KEY)").ok());

  c.SetDeferred(true);
  ASSERT_TRUE(sql::Exec(c, "BEGIN").ok());
  EXPECT_TRUE(sql::Exec(c, "INSERT INTO t(x) VALUES ($1)", {sql::P(1)}).ok());
  EXPECT_TRUE(sql::Exec(c, "INSERT INTO t(x) VALUES ($1)", {sql::P(1)}).ok());  // queued, fails
  EXPECT_TRUE(sql::Exec(c, "INSERT INTO t(x) VALUES ($1)", {sql::P(2)}).ok());  // queued, not run
  auto counted = sql::Query(c, "SELECT count(*) FROM t");
  ASSERT_FALSE(counted.ok());
  EXPECT_EQ(counted.status().reason(), "database_error");
  EXPECT_NE(counted.status().message().find("duplicate key"), std::string::npos) << counted.status().ToString();
  EXPECT_TRUE(sql::Exec(c, "COMMIT").ok());  // queued
  Status committed = c.Sync();
  EXPECT_FALSE(committed.ok());
  EXPECT_NE(committed.message().find("rolled back"), std::string::npos) << committed.ToString();
  c.SetDeferred(false);

  // Nothing of the transaction stayed; the connection works on.
  auto rows = sql::Query(c, "SELECT count(*) FROM t");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(rows->Int(0, 0), 0);
  // Deferred writes that succeed are in place for the query after them.
  c.SetDeferred(true);
  EXPECT_TRUE(sql::Exec(c, "INSERT INTO t(x) VALUES ($1)", {sql::P(3)}).ok());
  rows = sql::Query(c, "SELECT x FROM t");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->Int(0, 0), 3);
  EXPECT_TRUE(c.Sync().ok());
}

TEST(PostgresStoreTest, UnreachableServerIsUnavailableAndBadStringsAreRefused) {
  // A port nothing listens on.
  PostgresOptions options;
  options.dsn = "host=127.0.0.1 port=1 dbname=custos user=custos connect_timeout=2";
  auto s = PostgresStore::Open(options, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(s.status().reason(), "database_unavailable");

  EXPECT_EQ(NormalizePostgresDsn("host=a nonsense").status().reason(), "dsn_invalid");
  EXPECT_EQ(NormalizePostgresDsn("host=a options='-c x=1'").status().reason(), "dsn_invalid");
  auto uri = NormalizePostgresDsn("postgresql://custos@db.example:5433/archive");
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  EXPECT_NE(uri->find("host=db.example"), std::string::npos);
  EXPECT_NE(uri->find("port=5433"), std::string::npos);
  EXPECT_NE(uri->find("dbname=archive"), std::string::npos);
  EXPECT_NE(uri->find("user=custos"), std::string::npos);
}

}  // namespace
}  // namespace custos::storage
