// State as a replay of the log (storage/replay.h) on a real SQLite store:
// where the repositories' row images land in the log, and what the
// verifier's replay names after the database was edited with SQL behind the
// store's back.
#include "storage/replay.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

#include "storage/log_leaf.h"
#include "storage/verifier.h"
#include "tests/storage/store_test_util.h"
#include "tests/testutil/scratch_store.h"

namespace custos::storage {
namespace {

using testing::Event;
using testing::MakeRecord;

domain::Time Now() { return domain::TruncateToMillis(std::chrono::system_clock::now()); }

void ExecSql(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

domain::User MakeUser(const std::string& name, domain::Role role, const std::string& department) {
  domain::User u;
  u.username = domain::Username{name};
  u.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
  u.role = role;
  u.department = department;
  u.password_changed_at = u.created_at = Now();
  return u;
}

Document Loan(const std::string& id, const std::string& record, const std::string& approver) {
  Document d;
  d.kind = "loan";
  d.id = id;
  d.subject = record;
  d.owner = "bob";
  d.state = "approved";
  d.created_at = d.updated_at = Now();
  d.body = "{\"approver\":\"" + approver + "\",\"reason\":\"年度审计抽查\"}";
  return d;
}

domain::Version MakeVersion(const domain::RecordId& id, int number, const std::string& file_id) {
  domain::Version v;
  v.record_id = id;
  v.number = number;
  v.created_at = Now();
  v.created_by = "alice";
  v.manifest_hash = "m" + std::to_string(number);
  domain::StoredFile f;
  f.id = domain::FileId{file_id};
  f.record_id = id;
  f.version = number;
  f.name = "合同.pdf";
  f.media_type = "application/pdf";
  f.size = 3;
  f.sha256 = "ab";
  f.blob_id = domain::BlobId{"blob-" + file_id};
  f.kek_id = "k1";
  f.wrapped_dek = {1, 2, 3};
  v.files.push_back(f);
  return v;
}

class ReplayTest : public ::testing::Test {
 protected:
  // The rows of every kind the tests tamper with, written the way the
  // services write them: rows, then (or before) the function's event.
  void Seed() {
    Must([&](Transaction& tx) -> Status {
      CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({"法务部", Now()}));
      CUSTOS_RETURN_IF_ERROR(tx.users().Insert(MakeUser("bob", domain::Role::kStaff, "法务部")));
      CUSTOS_RETURN_IF_ERROR(tx.users().Insert(MakeUser("carol", domain::Role::kArchivist, "法务部")));
      return tx.log().Append(Event("user.create", "bob")).status();
    });
    Must([&](Transaction& tx) -> Status {
      domain::Record r = MakeRecord("CT-2026-000001", "采购合同");
      CUSTOS_RETURN_IF_ERROR(tx.records().Insert(r));
      domain::Version v = MakeVersion(r.id, 1, "f1");
      CUSTOS_ASSIGN_OR_RETURN(v.log_index, tx.log().Append(Event("record.checkin", r.id.value)));
      return tx.versions().Insert(v);
    });
    Must([&](Transaction& tx) -> Status {
      domain::Version v = MakeVersion(domain::RecordId{"CT-2026-000001"}, 2, "f2");
      CUSTOS_ASSIGN_OR_RETURN(v.log_index, tx.log().Append(Event("record.version", "CT-2026-000001")));
      return tx.versions().Insert(v);
    });
    Must([&](Transaction& tx) -> Status {
      CUSTOS_RETURN_IF_ERROR(tx.documents().Insert(Loan("LN-2026-000001", "CT-2026-000001", "carol")));
      return tx.log().Append(Event("loan.approve", "LN-2026-000001")).status();
    });
  }

  void Must(const MetadataStore::TxFn& fn) {
    Status s = store_.Write(fn);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  std::vector<DecodedLeaf> Leaves() {
    std::vector<DecodedLeaf> out;
    Status s = store_.Read([&](Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(0, UINT64_MAX, 100000));
      for (const LogEntry& e : entries) {
        CUSTOS_ASSIGN_OR_RETURN(DecodedLeaf leaf, DecodeLeaf(e.leaf));
        out.push_back(std::move(leaf));
      }
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  VerifyReport Verify() {
    VerifyOptions o;
    o.origin = testing::kOrigin;
    o.verifiers = signer_.verifiers();
    StatusOr<VerifyReport> r = VerifyArchive(store_, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : VerifyReport{};
  }

  // The findings of the replay and the subject check only (this file's
  // rows carry no recordHash or real manifests for the other checks).
  static std::vector<Finding> StateFindings(const VerifyReport& r) {
    std::vector<Finding> out;
    for (const Finding& f : r.findings) {
      if (f.code.rfind("row_", 0) == 0 || f.code.rfind("state_", 0) == 0 || f.code == "log_subject_mismatch") {
        out.push_back(f);
      }
    }
    return out;
  }

  static std::string Dump(const std::vector<Finding>& findings) {
    std::string out;
    for (const Finding& f : findings) out += f.object + ": " + f.problem + " [" + f.code + "]\n";
    return out;
  }

  static bool Has(const std::vector<Finding>& findings, const std::string& object, const std::string& code,
                  const std::string& problem_part = "") {
    for (const Finding& f : findings) {
      if (f.object == object && f.code == code && f.problem.find(problem_part) != std::string::npos) return true;
    }
    return false;
  }

  testing::TestSigner signer_;
  testing::ScratchStore store_{&signer_.checkpoint};
};

TEST_F(ReplayTest, ImagesRideOnTheFunctionsLastEvent) {
  Seed();
  std::vector<DecodedLeaf> leaves = Leaves();
  ASSERT_EQ(leaves.size(), 4u);  // one event per write function, no state.rows
  // The check-in's event was appended before its version was written: the
  // version and its file ride on it all the same.
  const domain::DetailValue::Array* rows = leaves[1].event.details.Array(kDetailRows);
  ASSERT_NE(rows, nullptr);
  std::vector<std::string> keys;
  for (const domain::DetailValue& v : *rows) {
    StatusOr<RowImage> image = ImageFromDetail(v);
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    keys.push_back(image->table + " " + image->key);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"records CT-2026-000001", "versions CT-2026-000001/1", "files f1"}));
  EXPECT_TRUE(StateFindings(Verify()).empty()) << Dump(StateFindings(Verify()));
  EXPECT_GT(Verify().state_rows, 7u);
}

TEST_F(ReplayTest, RowsChangedWithoutAnEventGetAStateRowsEvent) {
  Seed();
  Must([&](Transaction& tx) { return tx.departments().Insert({"档案室", Now()}); });
  std::vector<DecodedLeaf> leaves = Leaves();
  ASSERT_EQ(leaves.size(), 5u);
  EXPECT_EQ(leaves[4].event.action, kStateRowsAction);
  EXPECT_EQ(leaves[4].event.actor, kStateActor);
  EXPECT_EQ(leaves[4].event.subject, "档案室");
  EXPECT_TRUE(StateFindings(Verify()).empty());
}

TEST_F(ReplayTest, RolledBackFunctionLeavesNoImages) {
  Seed();
  Status failed = store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({"临时部门", Now()}));
    return Internal("changed its mind");
  });
  ASSERT_FALSE(failed.ok());
  Must([&](Transaction& tx) { return tx.log().Append(Event("audit.note", "x")).status(); });
  std::vector<DecodedLeaf> leaves = Leaves();
  ASSERT_EQ(leaves.size(), 5u);
  EXPECT_FALSE(leaves[4].event.details.Has(kDetailRows));
  EXPECT_TRUE(StateFindings(Verify()).empty());
}

TEST_F(ReplayTest, ImagesBeyondOneLeafAreSplitIntoStateRowsEvents) {
  Seed();
  const std::string big(200 * 1024, 'x');
  Must([&](Transaction& tx) -> Status {
    for (int i = 0; i < 8; ++i) {
      Document d = Loan("LN-2026-00010" + std::to_string(i), "CT-2026-000001", "carol");
      d.body = "{\"note\":\"" + big + "\"}";
      CUSTOS_RETURN_IF_ERROR(tx.documents().Insert(d));
    }
    return tx.log().Append(Event("loan.bulk", "CT-2026-000001")).status();
  });
  std::vector<DecodedLeaf> leaves = Leaves();
  ASSERT_GT(leaves.size(), 6u);
  EXPECT_EQ(leaves[4].event.action, "loan.bulk");
  for (size_t i = 5; i < leaves.size(); ++i) EXPECT_EQ(leaves[i].event.action, kStateRowsAction);
  VerifyReport r = Verify();
  EXPECT_TRUE(StateFindings(r).empty()) << Dump(StateFindings(r));
}

// The event alone nearly fills a leaf: its images would push it over the
// limit, so all of them follow it on state.rows events.
TEST_F(ReplayTest, ImagesThatWouldOverfillTheirEventFollowIt) {
  Seed();
  Must([&](Transaction& tx) -> Status {
    Document d = Loan("LN-2026-000200", "CT-2026-000001", "carol");
    d.body = "{\"note\":\"" + std::string(100 * 1024, 'y') + "\"}";
    CUSTOS_RETURN_IF_ERROR(tx.documents().Insert(d));
    LogEvent e = Event("loan.note", "LN-2026-000200");
    e.details.Set("text", std::string(kMaxLeafBytes - 50 * 1024, 'z'));
    return tx.log().Append(e).status();
  });
  std::vector<DecodedLeaf> leaves = Leaves();
  ASSERT_EQ(leaves.size(), 6u);
  EXPECT_EQ(leaves[4].event.action, "loan.note");
  EXPECT_FALSE(leaves[4].event.details.Has(kDetailRows));
  EXPECT_EQ(leaves[5].event.action, kStateRowsAction);
  EXPECT_EQ(leaves[5].event.subject, "loan/LN-2026-000200");
  VerifyReport r = Verify();
  EXPECT_TRUE(StateFindings(r).empty()) << Dump(StateFindings(r));
}

// Many ordinary rows in one write (an import, a bulk action): every leaf
// stays within what a tlog-tiles entry bundle carries (kBundleLeafBytes),
// the event's own leaf included, and the replay still accounts for them.
TEST_F(ReplayTest, ManyRowsInOneWriteKeepEveryLeafWithinAnEntryBundle) {
  Seed();
  Must([&](Transaction& tx) -> Status {
    for (int i = 0; i < 200; ++i) {
      Document d = Loan("LN-2026-0" + std::to_string(10000 + i), "CT-2026-000001", "carol");
      d.body = "{\"note\":\"借阅说明 \\\"quoted\\\" " + std::string(900, 'n') + "\"}";
      CUSTOS_RETURN_IF_ERROR(tx.documents().Insert(d));
    }
    return tx.log().Append(Event("loan.bulk", "CT-2026-000001")).status();
  });
  std::vector<DecodedLeaf> leaves = Leaves();
  ASSERT_GT(leaves.size(), 6u);
  EXPECT_EQ(leaves[4].event.action, "loan.bulk");
  std::vector<LogEntry> entries;
  ASSERT_TRUE(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(entries, tx.log().Entries(0, 1000, 1000));
    return Status::Ok();
  }).ok());
  ASSERT_EQ(entries.size(), leaves.size());
  for (const LogEntry& e : entries) EXPECT_LE(e.leaf.size(), kBundleLeafBytes) << "entry " << e.index;
  VerifyReport r = Verify();
  EXPECT_TRUE(StateFindings(r).empty()) << Dump(StateFindings(r));
}

TEST_F(ReplayTest, ChangedUserRoleIsNamedWithBothValues) {
  Seed();
  ExecSql(store_.path(), "UPDATE users SET role = 'archivist' WHERE username = 'bob'");
  std::vector<Finding> f = StateFindings(Verify());
  EXPECT_TRUE(Has(f, "row users bob", "row_differs", "column role is 'archivist', the log implies 'staff' (entry 0)"))
      << Dump(f);
  EXPECT_EQ(f.size(), 1u) << Dump(f);
}

TEST_F(ReplayTest, ChangedLoanApproverIsNamed) {
  Seed();
  ExecSql(store_.path(), "UPDATE documents SET body = replace(body, 'carol', 'quinn') WHERE id = 'LN-2026-000001'");
  std::vector<Finding> f = StateFindings(Verify());
  EXPECT_TRUE(Has(f, "row documents loan/LN-2026-000001", "row_differs", "quinn")) << Dump(f);
  EXPECT_TRUE(Has(f, "row documents loan/LN-2026-000001", "row_differs", "carol")) << Dump(f);
}

TEST_F(ReplayTest, ForgedRowsAreNotInTheLog) {
  Seed();
  ExecSql(store_.path(),
          "INSERT INTO departments(name, created_at) VALUES ('影子部门', '2026-01-01T00:00:00.000Z');"
          "INSERT INTO sessions(token_hash, username, created_at, last_seen_at, expires_at) VALUES "
          "('feedbeef', 'bob', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '2099-01-01T00:00:00.000Z')");
  std::vector<Finding> f = StateFindings(Verify());
  EXPECT_TRUE(Has(f, "row departments 影子部门", "row_not_in_log")) << Dump(f);
  EXPECT_TRUE(Has(f, "row sessions feedbeef", "row_not_in_log")) << Dump(f);
  EXPECT_EQ(f.size(), 2u) << Dump(f);
}

TEST_F(ReplayTest, DeletedWholeRecordIsMissing) {
  Seed();
  ExecSql(store_.path(),
          "DELETE FROM files WHERE record_id = 'CT-2026-000001'; DELETE FROM versions WHERE record_id = "
          "'CT-2026-000001'; DELETE FROM records WHERE id = 'CT-2026-000001'");
  std::vector<Finding> f = StateFindings(Verify());
  EXPECT_TRUE(Has(f, "row records CT-2026-000001", "row_missing", "entry 1")) << Dump(f);
  EXPECT_TRUE(Has(f, "row versions CT-2026-000001/1", "row_missing")) << Dump(f);
  EXPECT_TRUE(Has(f, "row versions CT-2026-000001/2", "row_missing", "entry 2")) << Dump(f);
  EXPECT_TRUE(Has(f, "row files f1", "row_missing")) << Dump(f);
  EXPECT_TRUE(Has(f, "row files f2", "row_missing")) << Dump(f);
}

TEST_F(ReplayTest, DeletedNewestVersionIsMissing) {
  Seed();
  ExecSql(store_.path(), "DELETE FROM files WHERE id = 'f2'; DELETE FROM versions WHERE number = 2");
  std::vector<Finding> f = StateFindings(Verify());
  EXPECT_TRUE(Has(f, "row versions CT-2026-000001/2", "row_missing")) << Dump(f);
  EXPECT_TRUE(Has(f, "row files f2", "row_missing")) << Dump(f);
  EXPECT_EQ(f.size(), 2u) << Dump(f);
}

TEST_F(ReplayTest, DeletedLoanAndUserAreMissing) {
  Seed();
  ExecSql(store_.path(), "DELETE FROM documents WHERE id = 'LN-2026-000001'; DELETE FROM users WHERE username = 'carol'");
  std::vector<Finding> f = StateFindings(Verify());
  EXPECT_TRUE(Has(f, "row documents loan/LN-2026-000001", "row_missing", "entry 3")) << Dump(f);
  EXPECT_TRUE(Has(f, "row users carol", "row_missing", "entry 0")) << Dump(f);
}

TEST_F(ReplayTest, DeletedSessionWithItsEventIsNotMissing) {
  Seed();
  domain::Session s{"cafe", domain::Username{"bob"}, Now(), Now(), Now() + std::chrono::hours(1)};
  Must([&](Transaction& tx) -> Status {
    CUSTOS_RETURN_IF_ERROR(tx.sessions().Insert(s));
    return tx.log().Append(Event("user.signin", "bob")).status();
  });
  Must([&](Transaction& tx) { return tx.sessions().Touch("cafe", Now() + std::chrono::minutes(5)); });
  Must([&](Transaction& tx) { return tx.sessions().DeleteForUser(domain::Username{"bob"}); });
  EXPECT_EQ(Leaves().size(), 6u);  // the touch logs nothing; the deletion a state.rows
  EXPECT_TRUE(StateFindings(Verify()).empty());
}

TEST_F(ReplayTest, MovedLogSubjectIsNamed) {
  Seed();
  ExecSql(store_.path(), "UPDATE log_leaves SET subject = 'elsewhere' WHERE seq = 2");
  std::vector<Finding> f = StateFindings(Verify());
  EXPECT_TRUE(Has(f, "log entry 2", "log_subject_mismatch", "'elsewhere'")) << Dump(f);
}

// An archive written before images existed: its events carry none. It is
// made here with rows written by SQL and events appended without row
// changes, as the old code path left them.
TEST_F(ReplayTest, OldArchiveGetsItsBaselineAndThenVerifies) {
  Must([&](Transaction& tx) { return tx.log().Append(Event("user.create", "bob")).status(); });
  ExecSql(store_.path(),
          "INSERT INTO departments(name, created_at) VALUES ('法务部', '2025-01-01T00:00:00.000Z');"
          "INSERT INTO users(username, password_hash, role, department, must_change_password, "
          "password_changed_at, failed_logins, locked_until, disabled, created_at) VALUES ('bob', 'x', "
          "'staff', '法务部', 0, '2025-01-01T00:00:00.000Z', 0, '', 0, '2025-01-01T00:00:00.000Z')");
  VerifyReport before = Verify();
  EXPECT_TRUE(StateFindings(before).empty()) << Dump(StateFindings(before));
  EXPECT_EQ(before.state_rows, 0u);  // nothing to compare against yet
  ASSERT_TRUE(NeedsStateBaseline(store_).value());

  StatusOr<uint64_t> appended = AppendStateBaseline(store_, Now());
  ASSERT_TRUE(appended.ok()) << appended.status().ToString();
  EXPECT_EQ(*appended, 1u);
  EXPECT_FALSE(NeedsStateBaseline(store_).value());
  EXPECT_EQ(AppendStateBaseline(store_, Now()).value(), 0u);
  std::vector<DecodedLeaf> leaves = Leaves();
  ASSERT_EQ(leaves.size(), 2u);
  EXPECT_EQ(leaves[1].event.action, kStateBaselineAction);
  EXPECT_EQ(leaves[1].event.subject, kStateBaselineSubject);
  VerifyReport after = Verify();
  EXPECT_TRUE(StateFindings(after).empty()) << Dump(StateFindings(after));
  EXPECT_EQ(after.state_rows, 2u);

  ExecSql(store_.path(), "UPDATE users SET department = '财务部' WHERE username = 'bob'");
  std::vector<Finding> f = StateFindings(Verify());
  EXPECT_TRUE(Has(f, "row users bob", "row_differs", "column department is '财务部', the log implies '法务部' (entry 1)"))
      << Dump(f);
}

TEST_F(ReplayTest, NewArchiveNeedsNoBaseline) {
  Seed();
  EXPECT_FALSE(NeedsStateBaseline(store_).value());
  EXPECT_EQ(AppendStateBaseline(store_, Now()).value(), 0u);
}

TEST(StateImages, MalformedRowsAreRefused) {
  domain::EventDetails no_key;
  no_key.Set("table", "users");
  EXPECT_EQ(ImageFromDetail(no_key).status().reason(), "state_image_malformed");
  domain::EventDetails bad_column;
  bad_column.Set("table", "users");
  bad_column.Set("key", "bob");
  domain::EventDetails columns;
  columns.Set("failed_logins", 3);
  bad_column.Set("columns", columns);
  EXPECT_EQ(ImageFromDetail(bad_column).status().reason(), "state_image_malformed");
  RowImage deleted = DeletedImage("sessions", "ab");
  StatusOr<RowImage> back = ImageFromDetail(ImageDetail(deleted));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->deleted);
}

}  // namespace
}  // namespace custos::storage
