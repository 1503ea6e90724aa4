// custosctl verify replays the log's row images (storage/replay.h) against
// the authority tables of a stopped copy edited with SQL, as someone with
// the database file in hand would: every changed field, forged row and
// deleted row is a finding naming the table, the key, the column and both
// values, and verify exits 1. A seed archive is made once — custosctl init
// and user add, two records checked in through the services (one with a
// second version), a loan requested and a legal hold placed — and each test
// edits its own copy.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "server/services/clock.h"
#include "server/services/loan_service.h"
#include "server/services/principal.h"
#include "server/services/record_service.h"
#include "server/services/retention.h"
#include "server/services/retention_service.h"
#include "tests/admin/in_process.h"
#include "tests/admin/live_archive.h"
#include "tests/admin/verdict.h"
#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"

namespace custos::testing {
namespace {

constexpr char kDepartment[] = "法务部";

struct Seed {
  std::string data;
  std::string a, b;       // a: versions 1 and 2; b: one version, under the hold
  std::string loan;       // requested by the archivist for a
  std::string hold;       // on b
  std::string b_file;     // b's only file
  std::string a_v2_file;  // the file of a's version 2
};

bool AddUser(const TempDir& tmp, const std::string& data, const std::string& name, const std::string& role) {
  const std::string pw = tmp.Sub(name + "-password");
  WriteFile(pw, "correct horse battery staple 42\n");
  RunResult add = RunProgram({Ctl(), "user", "add", name, "--role", role, "--department", kDepartment, "--data",
                              data, "--password-file", pw, "--no-force-change"});
  if (add.exit_code != 0) ADD_FAILURE() << "user add " << name << ": " << add.err;
  return add.exit_code == 0;
}

std::vector<live::SeedFile> OneFile(uint32_t seed) {
  return {{"合同-" + std::to_string(seed) + ".bin", live::PatternBytes(3000, seed)}};
}

bool MakeSeed(const TempDir& tmp, Seed& seed) {
  seed.data = tmp.Sub("data");
  if (!live::InitWithArchivist(tmp, seed.data)) return false;
  if (!AddUser(tmp, seed.data, "bob", "staff") || !AddUser(tmp, seed.data, "legal1", "legal")) return false;
  services::SystemClock clock;
  std::unique_ptr<live::OpenedArchive> archive = live::OpenedArchive::Open(seed.data, clock);
  if (!archive) return false;
  const services::Principal archivist = live::Archivist();
  auto a1 = live::Commit(archive->records().BeginCheckIn(archivist, live::GeneralRecord("采购合同")), OneFile(1));
  auto b1 = live::Commit(archive->records().BeginCheckIn(archivist, live::GeneralRecord("供应商名录")), OneFile(2));
  if (!a1 || !b1) return false;
  seed.a = a1->detail.record.id.value;
  seed.b = b1->detail.record.id.value;
  auto a2 = live::Commit(
      archive->records().BeginVersion(archivist, domain::RecordId{seed.a}, "amendment", "补充协议"), OneFile(3));
  if (!a2) return false;

  storage::MetadataStore& store = archive->storage().store();
  services::LoanService loans(store, clock);
  services::LoanRequest request;
  request.record_id = seed.a;
  request.kind = "digital";
  request.purpose = "年度审计抽查";
  request.due_at = clock.Now() + std::chrono::hours(24 * 7);
  auto loan = loans.Request(archivist, request);
  if (!loan.ok()) {
    ADD_FAILURE() << "loan: " << loan.status().ToString();
    return false;
  }
  seed.loan = loan->id;
  services::RetentionService retention(store, clock);
  const services::Principal legal{domain::Username{"legal1"}, domain::Role::kLegal, kDepartment};
  auto hold = retention.CreateHold(legal, {"诉讼保全 2026-01", "合同纠纷", "(2026)沪01民初123号", {seed.b}});
  if (!hold.ok()) {
    ADD_FAILURE() << "hold: " << hold.status().ToString();
    return false;
  }
  seed.hold = hold->id;
  Status s = store.Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto vb, tx.versions().List(domain::RecordId{seed.b}));
    CUSTOS_ASSIGN_OR_RETURN(auto va, tx.versions().List(domain::RecordId{seed.a}));
    if (vb.size() != 1 || va.size() != 2) return Internal("the seed records lack their versions");
    seed.b_file = vb[0].files.at(0).id.value;
    seed.a_v2_file = va[1].files.at(0).id.value;
    return Status::Ok();
  });
  if (!s.ok()) ADD_FAILURE() << s.ToString();
  return s.ok();
}

void ExecSql(const std::string& data, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((data + "/custos.db").c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

Verdict Verify(const std::string& data) { return RunVerdict({Ctl(), "verify", "--data", data, "--json"}, "object"); }

// A finding with exactly this object and code whose problem contains each
// of `parts`.
bool Names(const Verdict& v, const std::string& object, const std::string& code,
           const std::vector<std::string>& parts = {}) {
  for (const Finding& f : v.findings) {
    if (f.object != object || f.code != code) continue;
    bool all = true;
    for (const std::string& p : parts) all = all && f.problem.find(p) != std::string::npos;
    if (all) return true;
  }
  return false;
}

class ReplayTamper : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { seed_.Make(MakeSeed); }
  static void TearDownTestSuite() { seed_.Clear(); }

  // A copy of the seed, edited with `sql`, verified.
  Verdict Tampered(const std::string& sql) {
    const std::string data = seed_.CopyData(tmp_);
    ExecSql(data, sql);
    return Verify(data);
  }

  static inline live::SuiteSeed<Seed> seed_;
  TempDir tmp_;
};

#define REQUIRE_SEED() \
  if (!seed_.made()) GTEST_SKIP() << "the seed archive could not be made (see the suite's failure)"

TEST_F(ReplayTamper, UntouchedCopyIsClean) {
  REQUIRE_SEED();
  Verdict v = Verify(seed_.CopyData(tmp_));
  EXPECT_EQ(v.exit_code, 0) << Dump(v);
  EXPECT_TRUE(v.clean) << Dump(v);
  ASSERT_TRUE(v.counts);
  EXPECT_GT(v.counts->getValue<int>("stateRows"), 10);
}

TEST_F(ReplayTamper, UserRoleRaisedIsNamed) {
  REQUIRE_SEED();
  Verdict v = Tampered("UPDATE users SET role = 'archivist' WHERE username = 'bob'");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_TRUE(Names(v, "row users bob", "row_differs", {"column role is 'archivist', the log implies 'staff'", "entry "}))
      << Dump(v);
}

TEST_F(ReplayTamper, PasswordHashReplacedIsNamed) {
  REQUIRE_SEED();
  Verdict v = Tampered(
      "UPDATE users SET password_hash = '$argon2id$v=19$m=19456,t=2,p=1$a25vd24$a25vd24' WHERE username = 'legal1'");
  EXPECT_EQ(v.exit_code, 1);
  // The log holds the hash's SHA-256 only: both sides shown as such.
  EXPECT_TRUE(Names(v, "row users legal1", "row_differs", {"column password_hash is 'sha256:", "the log implies 'sha256:"}))
      << Dump(v);
}

TEST_F(ReplayTamper, UserDepartmentChangedIsNamed) {
  REQUIRE_SEED();
  Verdict v = Tampered("UPDATE users SET department = '财务部' WHERE username = 'bob'");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_TRUE(Names(v, "row users bob", "row_differs", {"column department is '财务部', the log implies '法务部'"}))
      << Dump(v);
}

TEST_F(ReplayTamper, ForgedSessionIsNotInTheLog) {
  REQUIRE_SEED();
  Verdict v = Tampered(
      "INSERT INTO sessions(token_hash, username, created_at, last_seen_at, expires_at) VALUES ('0123abcd', "
      "'bob', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', '2099-01-01T00:00:00.000Z')");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_TRUE(Names(v, "row sessions 0123abcd", "row_not_in_log")) << Dump(v);
}

TEST_F(ReplayTamper, ForgedDepartmentIsNotInTheLog) {
  REQUIRE_SEED();
  Verdict v = Tampered("INSERT INTO departments(name, created_at) VALUES ('影子部门', '2026-01-01T00:00:00.000Z')");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_TRUE(Names(v, "row departments 影子部门", "row_not_in_log")) << Dump(v);
}

TEST_F(ReplayTamper, LoanStateForgedIsNamed) {
  REQUIRE_SEED();
  Verdict v = Tampered("UPDATE documents SET state = 'checked_out' WHERE kind = 'loan' AND id = '" + seed_->loan + "'");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_TRUE(Names(v, "row documents loan/" + seed_->loan, "row_differs",
                    {"column state is 'checked_out', the log implies 'requested'"}))
      << Dump(v);
}

TEST_F(ReplayTamper, LoanBodyChangedIsNamedWithBothValues) {
  REQUIRE_SEED();
  Verdict v = Tampered("UPDATE documents SET body = replace(body, '年度审计抽查', '私人用途') WHERE kind = 'loan'");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_TRUE(Names(v, "row documents loan/" + seed_->loan, "row_differs", {"column body is", "私人用途", "年度审计抽查"}))
      << Dump(v);
}

TEST_F(ReplayTamper, HoldReleasedBySqlIsNamed) {
  REQUIRE_SEED();
  Verdict v = Tampered("UPDATE documents SET state = 'released' WHERE kind = 'hold' AND id = '" + seed_->hold + "'");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_TRUE(Names(v, "row documents hold/" + seed_->hold, "row_differs",
                    {"column state is 'released', the log implies 'active'"}))
      << Dump(v);
}

TEST_F(ReplayTamper, DeletedLoanIsMissing) {
  REQUIRE_SEED();
  Verdict v = Tampered("DELETE FROM documents WHERE kind = 'loan'");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_TRUE(Names(v, "row documents loan/" + seed_->loan, "row_missing")) << Dump(v);
}

TEST_F(ReplayTamper, DeletedUserIsMissing) {
  REQUIRE_SEED();
  Verdict v = Tampered("DELETE FROM users WHERE username = 'legal1'");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_TRUE(Names(v, "row users legal1", "row_missing")) << Dump(v);
}

TEST_F(ReplayTamper, DeletedWholeRecordIsMissing) {
  REQUIRE_SEED();
  const std::string b = seed_->b;
  Verdict v = Tampered("DELETE FROM files WHERE record_id = '" + b + "'; DELETE FROM versions WHERE record_id = '" + b +
                       "'; DELETE FROM records WHERE id = '" + b + "'");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_TRUE(Names(v, "row records " + b, "row_missing")) << Dump(v);
  EXPECT_TRUE(Names(v, "row versions " + b + "/1", "row_missing")) << Dump(v);
  EXPECT_TRUE(Names(v, "row files " + seed_->b_file, "row_missing")) << Dump(v);
}

TEST_F(ReplayTamper, DeletedNewestVersionIsMissing) {
  REQUIRE_SEED();
  const std::string a = seed_->a;
  Verdict v = Tampered("DELETE FROM files WHERE record_id = '" + a + "' AND version = 2; DELETE FROM versions WHERE "
                       "record_id = '" + a + "' AND number = 2");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_TRUE(Names(v, "row versions " + a + "/2", "row_missing")) << Dump(v);
  EXPECT_TRUE(Names(v, "row files " + seed_->a_v2_file, "row_missing")) << Dump(v);
}

TEST_F(ReplayTamper, RecordClassificationLoweredIsNamed) {
  REQUIRE_SEED();
  Verdict v = Tampered("UPDATE records SET classification = 'public' WHERE id = '" + seed_->a + "'");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_TRUE(Names(v, "row records " + seed_->a, "row_differs",
                    {"column classification is 'public', the log implies 'internal'"}))
      << Dump(v);
}

TEST_F(ReplayTamper, MovedLogSubjectIsNamed) {
  REQUIRE_SEED();
  Verdict v = Tampered("UPDATE log_leaves SET subject = 'nobody' WHERE subject = '" + seed_->b + "'");
  EXPECT_EQ(v.exit_code, 1);
  bool named = false;
  for (const Finding& f : v.findings) {
    named = named || (f.code == "log_subject_mismatch" && f.problem.find("'nobody'") != std::string::npos &&
                      f.problem.find(seed_->b) != std::string::npos);
  }
  EXPECT_TRUE(named) << Dump(v);
}

}  // namespace
}  // namespace custos::testing
