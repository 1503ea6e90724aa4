// Row seals (storage/row_seal.h) on real SQLite files: every row the
// repositories write carries its seal, a row changed, forged or copied
// with SQL is refused on read (kDataLoss row_integrity, reported to the
// observer) and named by the whole-table check; an archive made before
// seals is sealed once at its first open with a key, and refuses a key
// that did not make its seals (row_seal_key_missing).
#include "storage/row_seal.h"

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "crypto/random.h"
#include "storage/seal_check.h"
#include "storage/sql_util.h"
#include "storage/sqlite_store.h"
#include "tests/storage/store_test_util.h"
#include "tests/testutil/testutil.h"

namespace custos::storage {
namespace {

using testing::Event;
using testing::MakeRecord;
using testing::TestSigner;

domain::Time Now() { return domain::TruncateToMillis(std::chrono::system_clock::now()); }

std::unique_ptr<RowSealer> RandomSealer() {
  return std::make_unique<RowSealer>(crypto::RandomBytes(RowSealer::kKeySize).value());
}

// Collects what the process-wide observer is told, for one test.
class ObserverSpy {
 public:
  ObserverSpy() {
    SetRowIntegrityObserver([this](const std::string& table, const std::string& key) {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.emplace_back(table, key);
    });
  }
  ~ObserverSpy() { SetRowIntegrityObserver({}); }
  std::vector<std::pair<std::string, std::string>> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> seen_;
};

class RowSealTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteStore> Open(const RowSealer* sealer, bool seal_existing = false) {
    SqliteOptions o;
    o.path = tmp_.Sub("custos.db");
    o.durable = false;
    o.sealer = sealer;
    o.seal_existing_rows = seal_existing;
    auto s = SqliteStore::Open(o, &signer_.checkpoint);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  // Users bob (staff) and 李娜 (legal), a session of bob's, a record with
  // one version of two files, a loan and an export.
  void Seed(MetadataStore& store) {
    Status s = store.Write([&](Transaction& tx) -> Status {
      CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({"法务部", Now()}));
      for (auto [name, role] : {std::pair{"bob", domain::Role::kStaff}, std::pair{"李娜", domain::Role::kLegal}}) {
        domain::User u;
        u.username = domain::Username{name};
        u.password_hash = std::string("$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$") + name;
        u.role = role;
        u.department = "法务部";
        u.password_changed_at = u.created_at = Now();
        CUSTOS_RETURN_IF_ERROR(tx.users().Insert(u));
      }
      CUSTOS_RETURN_IF_ERROR(
          tx.sessions().Insert({"token-bob", domain::Username{"bob"}, Now(), Now(), Now() + std::chrono::hours(1)}));
      domain::Record r = MakeRecord("CT-2026-000001", "供货合同 supply contract");
      r.salt = NewRecordSalt().value();
      CUSTOS_RETURN_IF_ERROR(tx.records().Insert(r));
      domain::Version v;
      v.record_id = r.id;
      v.number = 1;
      v.created_at = Now();
      v.created_by = "archivist";
      for (const char* id : {"F1", "F2"}) {
        domain::StoredFile f;
        f.id = domain::FileId{id};
        f.name = std::string("合同-") + id + ".pdf";
        f.blob_id = domain::BlobId{std::string("blob-") + id};
        f.kek_id = "kek1";
        f.wrapped_dek = {static_cast<uint8_t>(id[1]), 1, 2, 3};
        v.files.push_back(f);
      }
      CUSTOS_RETURN_IF_ERROR(tx.versions().Insert(v));
      Document loan;
      loan.kind = "loan";
      loan.id = "LN-2026-000001";
      loan.subject = r.id.value;
      loan.owner = "bob";
      loan.state = "requested";
      loan.created_at = loan.updated_at = Now();
      loan.body = "{\"approver\":\"carol\"}";
      CUSTOS_RETURN_IF_ERROR(tx.documents().Insert(loan));
      StoredExport e;
      e.id = "EX-1";
      e.owner = "bob";
      e.format = "zip";
      e.created_at = e.expires_at = Now();
      e.blob_id = domain::BlobId{"blob-ex"};
      e.records = {{r.id, true}};
      CUSTOS_RETURN_IF_ERROR(tx.exports().Insert(e));
      return tx.log().Append(Event("record.checkin", r.id.value)).status();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // Runs `statement` on the database file, as someone with the file in
  // hand would.
  void Sql(const std::string& statement) {
    auto c = sql::OpenSqlite(tmp_.Sub("custos.db"));
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    Status s = (*c)->Script(statement);
    EXPECT_TRUE(s.ok()) << statement << ": " << s.ToString();
  }

  // The status of reading every kind of row the seed holds.
  static Status ReadAll(MetadataStore& store) {
    return store.Read([](Transaction& tx) -> Status {
      CUSTOS_RETURN_IF_ERROR(tx.departments().List().status());
      CUSTOS_RETURN_IF_ERROR(tx.users().List().status());
      CUSTOS_RETURN_IF_ERROR(tx.sessions().Find("token-bob").status());
      CUSTOS_RETURN_IF_ERROR(tx.records().Find(domain::RecordId{"CT-2026-000001"}).status());
      CUSTOS_RETURN_IF_ERROR(tx.versions().List(domain::RecordId{"CT-2026-000001"}).status());
      CUSTOS_RETURN_IF_ERROR(tx.documents().Find("loan", "LN-2026-000001").status());
      return tx.exports().List().status();
    });
  }

  // A store sealed under sealer_, seeded.
  std::unique_ptr<SqliteStore> OpenSeeded() {
    auto store = Open(sealer_.get());
    if (store != nullptr) Seed(*store);
    return store;
  }

  custos::testing::TempDir tmp_;
  TestSigner signer_;
  std::unique_ptr<RowSealer> sealer_ = RandomSealer();
};

TEST_F(RowSealTest, EveryRowWrittenIsSealedAndReadsBack) {
  auto store = OpenSeeded();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(ReadAll(*store).ok()) << ReadAll(*store).ToString();
  // Partial updates reseal: a session touched, a file rewrapped, an export
  // shredded, a user updated.
  Status s = store->Write([&](Transaction& tx) -> Status {
    CUSTOS_RETURN_IF_ERROR(tx.sessions().Touch("token-bob", Now() + std::chrono::minutes(5)));
    CUSTOS_RETURN_IF_ERROR(tx.versions().SetFileKey(domain::FileId{"F1"}, "kek2", {9, 9, 9}));
    CUSTOS_RETURN_IF_ERROR(tx.exports().Shred("EX-1", "destruction DB-1"));
    CUSTOS_ASSIGN_OR_RETURN(auto bob, tx.users().Find(domain::Username{"bob"}));
    bob->failed_logins = 2;
    CUSTOS_RETURN_IF_ERROR(tx.users().Update(*bob));
    return tx.log().Append(Event("user.update", "bob")).status();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(ReadAll(*store).ok()) << ReadAll(*store).ToString();
  uint64_t checked = 0;
  auto findings = CheckRowSeals(*store, {}, &checked);
  ASSERT_TRUE(findings.ok()) << findings.status().ToString();
  EXPECT_TRUE(findings->empty());
  EXPECT_EQ(checked, 10u);  // 1 department, 2 users, 1 session, 1 record, 1 version, 2 files, 1 loan, 1 export
}

TEST_F(RowSealTest, RoleRaisedBySqlIsRefusedReportedAndNamed) {
  auto store = OpenSeeded();
  ASSERT_NE(store, nullptr);
  Sql("UPDATE users SET role = 'archivist' WHERE username = 'bob'");
  ObserverSpy spy;
  Status s = store->Read([](Transaction& tx) { return tx.users().Find(domain::Username{"bob"}).status(); });
  EXPECT_EQ(s.code(), ErrorCode::kDataLoss);
  EXPECT_EQ(s.reason(), "row_integrity");
  EXPECT_NE(s.message().find("users"), std::string::npos) << s.message();
  EXPECT_EQ(spy.seen(), (std::vector<std::pair<std::string, std::string>>{{"users", "bob"}}));
  // The other user still reads; a list that holds bob does not.
  EXPECT_TRUE(store->Read([](Transaction& tx) { return tx.users().Find(domain::Username{"李娜"}).status(); }).ok());
  EXPECT_EQ(store->Read([](Transaction& tx) { return tx.users().List().status(); }).reason(), "row_integrity");
  auto findings = CheckRowSeals(*store, StartupSealTables());
  ASSERT_TRUE(findings.ok());
  ASSERT_EQ(findings->size(), 1u);
  EXPECT_EQ((*findings)[0].object, "row users bob");
  EXPECT_EQ((*findings)[0].code, "row_seal_invalid");
}

TEST_F(RowSealTest, RowCopiedWithItsMacUnderAnotherKeyIsRefused) {
  auto store = OpenSeeded();
  ASSERT_NE(store, nullptr);
  // bob's session row, seal and all, under a token the forger knows.
  Sql("INSERT INTO sessions(token_hash, username, created_at, last_seen_at, expires_at, mac) "
      "SELECT 'token-forged', username, created_at, last_seen_at, expires_at, mac FROM sessions "
      "WHERE token_hash = 'token-bob'");
  Status s = store->Read([](Transaction& tx) { return tx.sessions().Find("token-forged").status(); });
  EXPECT_EQ(s.reason(), "row_integrity") << s.ToString();
  EXPECT_TRUE(store->Read([](Transaction& tx) { return tx.sessions().Find("token-bob").status(); }).ok());
}

TEST_F(RowSealTest, ForgedDepartmentLoanStateExportOwnerAndClassificationAreEachNamed) {
  auto store = OpenSeeded();
  ASSERT_NE(store, nullptr);
  Sql("INSERT INTO departments(name, created_at) VALUES ('影子部门', '2026-01-01T00:00:00.000Z')");
  Sql("UPDATE documents SET state = 'checked_out' WHERE id = 'LN-2026-000001'");
  Sql("UPDATE exports SET owner = '李娜' WHERE id = 'EX-1'");
  Sql("UPDATE records SET classification = 'public' WHERE id = 'CT-2026-000001'");
  auto findings = CheckRowSeals(*store, {});
  ASSERT_TRUE(findings.ok());
  std::vector<std::string> objects;
  for (const Finding& f : *findings) objects.push_back(f.object);
  EXPECT_EQ(objects, (std::vector<std::string>{"row departments 影子部门", "row records CT-2026-000001",
                                               "row documents loan/LN-2026-000001", "row exports EX-1"}));
  // The start-up tables leave records to the reads and to verify.
  auto startup = CheckRowSeals(*store, StartupSealTables());
  ASSERT_TRUE(startup.ok());
  EXPECT_EQ(startup->size(), 3u);
  EXPECT_EQ(store->Read([](Transaction& tx) { return tx.departments().Exists("影子部门").status(); }).reason(),
            "row_integrity");
  EXPECT_EQ(store->Read([](Transaction& tx) { return tx.documents().Find("loan", "LN-2026-000001").status(); })
                .reason(),
            "row_integrity");
  EXPECT_EQ(store->Read([](Transaction& tx) { return tx.exports().Find("EX-1").status(); }).reason(),
            "row_integrity");
  EXPECT_EQ(store->Read([](Transaction& tx) {
                  return tx.records().Find(domain::RecordId{"CT-2026-000001"}).status();
                }).reason(),
            "row_integrity");
  // Verification reads on past them.
  EXPECT_TRUE(store->ReadUnchecked([](Transaction& tx) { return tx.exports().List().status(); }).ok());
}

TEST_F(RowSealTest, WrappedKeysSwappedBetweenFilesAreRefused) {
  auto store = OpenSeeded();
  ASSERT_NE(store, nullptr);
  Sql("UPDATE files SET wrapped_dek = (SELECT wrapped_dek FROM files WHERE id = 'F2') WHERE id = 'F1'");
  Status s = store->Read([](Transaction& tx) { return tx.versions().List(domain::RecordId{"CT-2026-000001"}).status(); });
  EXPECT_EQ(s.reason(), "row_integrity") << s.ToString();
  s = store->Read([](Transaction& tx) {
    return tx.versions().ForEachFile([](const domain::StoredFile&) { return Status::Ok(); });
  });
  EXPECT_EQ(s.reason(), "row_integrity") << s.ToString();
}

TEST_F(RowSealTest, AnArchiveFromBeforeSealsIsSealedOnceAndRefusesAnotherKey) {
  {
    auto unsealed = Open(nullptr);  // as a version without seals wrote it
    ASSERT_NE(unsealed, nullptr);
    Seed(*unsealed);
  }
  auto sealer = RandomSealer();
  {
    auto store = Open(sealer.get());  // a key, but the rows carry no seal yet
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(ReadAll(*store).reason(), "row_integrity");
  }
  {
    auto store = Open(sealer.get(), /*seal_existing=*/true);
    ASSERT_NE(store, nullptr);
    EXPECT_TRUE(ReadAll(*store).ok()) << ReadAll(*store).ToString();
  }
  auto again = Open(sealer.get(), /*seal_existing=*/true);  // an interrupted first open runs again
  ASSERT_NE(again, nullptr);
  again.reset();
  auto other = RandomSealer();
  SqliteOptions o;
  o.path = tmp_.Sub("custos.db");
  o.sealer = other.get();
  o.seal_existing_rows = true;
  auto refused = SqliteStore::Open(o, &signer_.checkpoint);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().reason(), "row_seal_key_missing") << refused.status().ToString();
  auto store = Open(sealer.get());
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(ReadAll(*store).ok());  // the refusal changed nothing
}

TEST_F(RowSealTest, LogTailAgreesUntilItsCheckpointIsReplaced) {
  auto store = OpenSeeded();
  ASSERT_NE(store, nullptr);
  auto tail = CheckLogTail(*store, testing::kOrigin, signer_.verifiers());
  ASSERT_TRUE(tail.ok()) << tail.status().ToString();
  EXPECT_TRUE(tail->empty());
  TestSigner stranger;
  auto foreign = CheckLogTail(*store, testing::kOrigin, stranger.verifiers());
  ASSERT_TRUE(foreign.ok());
  ASSERT_EQ(foreign->size(), 1u);
  EXPECT_EQ((*foreign)[0].code, "checkpoint_signature");
  Sql("DELETE FROM log_checkpoints");
  Sql("INSERT INTO log_leaves(seq, leaf, subject) VALUES (1, '{}', 'x')");
  auto cut = CheckLogTail(*store, testing::kOrigin, signer_.verifiers());
  ASSERT_TRUE(cut.ok());
  ASSERT_EQ(cut->size(), 1u);
  EXPECT_EQ((*cut)[0].code, "log_tail_size");
}

}  // namespace
}  // namespace custos::storage
