// Row seals against the real custosd (storage/row_seal.h; docs/security.md
// "Row seals"): a stopped archive's database is edited with SQL, as someone
// with the file in hand but not the key directory would, and then
//   * a forged or changed row of the small authority tables (a raised
//     role, a replaced password hash, a session copied under another
//     token, an added department, a loan checked out by SQL) stops custosd
//     from starting, naming each row (the start-up check);
//   * a changed files row (a data key swapped in from another file) lets
//     the server start, but every request that reads it answers 500
//     row_integrity, and the failure shows in /metrics,
//     the server log and the row integrity alert of GET /v1/alerts;
//   * custosctl verify exits 1 naming each row (row_seal_invalid).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>

#include "domain/model.h"
#include "tests/admin/verdict.h"
#include "tests/server/api_fixture.h"
#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"

namespace custos::testing::api {
namespace {

// Runs `statement` on the stopped archive's database file.
void Sql(const std::string& data_dir, const std::string& statement) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((data_dir + "/custos.db").c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << statement << ": " << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

// The first column of the first row `query` selects, or "".
std::string SqlText(const std::string& data_dir, const std::string& query) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open((data_dir + "/custos.db").c_str(), &db) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, query.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return out;
}

Verdict Verify(const std::string& data_dir) {
  return RunVerdict({BinDir() + "/custosctl", "verify", "--data", data_dir, "--json"}, "object");
}

bool Names(const Verdict& v, const std::string& object) {
  for (const Finding& f : v.findings) {
    if (f.object == object && f.code == "row_seal_invalid") return true;
  }
  return false;
}

// The value of the series `series` in exposition `text`, or -1.
double MetricValue(const std::string& text, const std::string& series) {
  for (std::string::size_type at = 0; (at = text.find(series + " ", at)) != std::string::npos; at += series.size()) {
    if (at == 0 || text[at - 1] == '\n') return std::stod(text.substr(at + series.size() + 1));
  }
  return -1;
}

TEST(RowSealServer, ForgedRowsOfTheSmallTablesStopTheServerFromStarting) {
  std::unique_ptr<ApiServer> s = ApiServer::Create("", {"archivist", "staff", "legal"});
  ASSERT_TRUE(s);
  Poco::JSON::Object::Ptr rec = s->CheckInOk("archivist", ContractJson("借阅合同 loan contract", "宁波港务"),
                                             {FilePart("合同.pdf", "第一条 contract text")});
  ASSERT_TRUE(rec);
  Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
  body->set("recordId", Str(rec, "id"));
  body->set("kind", "digital");
  body->set("dueAt", custos::domain::FormatTime(std::chrono::system_clock::now() + std::chrono::hours(72)));
  HttpResult loan = s->As("staff", "POST", "/v1/loans", Stringify(body), kJson);
  ASSERT_EQ(loan.status, 201) << Describe(loan);
  const std::string loan_id = Str(JsonObject(loan.body), "id");
  ASSERT_EQ(s->Stop(), 0);
  const std::string data = s->data_dir();
  // staff raised to archivist; legal's password hash replaced by one whose
  // password is known (the admin's); the staff's session copied, seal and
  // all, under a token the forger knows; a department added; the staff's
  // requested loan checked out, with an approver written into its body.
  Sql(data, "UPDATE documents SET state = 'checked_out', body = replace(body, '}', ',\"approvedBy\":\"quinn\"}') "
            "WHERE kind = 'loan' AND id = '" + loan_id + "'");
  Sql(data, "UPDATE users SET role = 'archivist' WHERE username = 'staff'");
  Sql(data, "UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE username = 'admin') "
            "WHERE username = 'legal'");
  Sql(data, "INSERT INTO sessions(token_hash, username, created_at, last_seen_at, expires_at, mac) "
            "SELECT 'forged-token-hash', username, created_at, last_seen_at, expires_at, mac FROM sessions "
            "WHERE username = 'staff' LIMIT 1");
  Sql(data, "INSERT INTO departments(name, created_at) VALUES ('影子部门', '2026-01-01T00:00:00.000Z')");

  RunResult start = RunProgram({BinDir() + "/custosd", "--data", data, "--listen", "127.0.0.1:0"});
  EXPECT_NE(start.exit_code, 0);
  const std::vector<std::string> rows = {"row users staff", "row users legal", "row sessions forged-token-hash",
                                         "row departments 影子部门", "row documents loan/" + loan_id};
  for (const std::string& row : rows) {
    EXPECT_NE(start.err.find(row + ": "), std::string::npos) << row << "\n" << start.err;
  }
  EXPECT_NE(start.err.find("refusing to start"), std::string::npos) << start.err;

  Verdict v = Verify(data);
  EXPECT_EQ(v.exit_code, 1) << v.output;
  for (const std::string& row : rows) EXPECT_TRUE(Names(v, row)) << row << "\n" << v.output;
}

TEST(RowSealServer, WrappedKeysSwappedBetweenFilesAreRefusedWith500CountedLoggedAndAlerted) {
  std::unique_ptr<ApiServer> s = ApiServer::Create("", {"archivist", "auditor"});
  ASSERT_TRUE(s);
  Poco::JSON::Object::Ptr a = s->CheckInOk("archivist", ContractJson("供货合同 A", "上海某某贸易有限公司"),
                                           {FilePart("合同-A.pdf", "第一条 contract A")});
  Poco::JSON::Object::Ptr b = s->CheckInOk("archivist", ContractJson("供货合同 B", "北京某某科技有限公司"),
                                           {FilePart("合同-B.pdf", "第一条 contract B")});
  ASSERT_TRUE(a && b);
  const std::string id = Str(a, "id");
  ASSERT_EQ(s->Stop(), 0);
  const std::string file = SqlText(s->data_dir(), "SELECT id FROM files WHERE record_id = '" + id + "'");
  ASSERT_FALSE(file.empty());
  // A's file would open with B's data key, were the row believed.
  Sql(s->data_dir(), "UPDATE files SET wrapped_dek = (SELECT wrapped_dek FROM files WHERE record_id = '" +
                         Str(b, "id") + "') WHERE record_id = '" + id + "'");

  ASSERT_TRUE(s->Restart());  // files are checked on each read, not at start
  HttpResult read = s->As("archivist", "GET", "/v1/records/" + id + "/versions/1/files/" + file);
  EXPECT_EQ(read.status, 500) << Describe(read);
  EXPECT_EQ(ErrorCode(read), "row_integrity") << Describe(read);

  HttpResult metrics = s->NewClient()->Request("GET", "/metrics");
  EXPECT_GE(MetricValue(metrics.body, "custos_row_integrity_failures_total{table=\"files\"}"), 1) << metrics.body;
  HttpResult alerts = s->As("auditor", "GET", "/v1/alerts");
  ASSERT_EQ(alerts.status, 200) << Describe(alerts);
  Poco::JSON::Object::Ptr alert = JsonObject(alerts.body)->getObject("rowIntegrity");
  ASSERT_TRUE(alert) << alerts.body;
  EXPECT_GE(Int(alert, "count"), 1) << alerts.body;
  Poco::JSON::Object::Ptr row = alert->getArray("rows")->getObject(0);
  EXPECT_EQ(Str(row, "table"), "files") << alerts.body;
  EXPECT_EQ(Str(row, "key"), file) << alerts.body;
  HttpResult archivist = s->As("archivist", "GET", "/v1/alerts");
  ASSERT_EQ(archivist.status, 200) << Describe(archivist);
  EXPECT_TRUE(JsonObject(archivist.body)->isNull("rowIntegrity")) << archivist.body;
  const std::string log = s->process().Log();
  EXPECT_NE(log.find("\"msg\":\"row integrity failure\",\"table\":\"files\",\"key\":\"" + file + "\""),
            std::string::npos)
      << log;

  ASSERT_EQ(s->Stop(), 0);
  Verdict v = Verify(s->data_dir());
  EXPECT_EQ(v.exit_code, 1) << v.output;
  EXPECT_TRUE(Names(v, "row files " + file)) << v.output;
}

}  // namespace
}  // namespace custos::testing::api
