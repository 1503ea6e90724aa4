// Authorization of every v1 endpoint for every role, against the real server
// (rules: server/services/principal.cc). Each cell sends a valid request, so
// an "allowed" cell must succeed (2xx) and a "denied" one must be refused:
// 401 without a session, 403 or 404 with one.
#include <gtest/gtest.h>

#include <functional>
#include <iomanip>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/server/api_fixture.h"

namespace custos::testing::api {
namespace {

// Matrix columns.
const std::vector<std::string> kColumns = {kAnonymous, kAdmin,  "archivist", "staff",
                                           "approver", "legal", "auditor"};
const std::set<std::string> kEveryone = {kAnonymous, kAdmin,  "archivist", "staff",
                                         "approver", "legal", "auditor"};
const std::set<std::string> kSignedIn = {kAdmin,     "archivist", "staff",
                                         "approver", "legal",     "auditor"};
const std::set<std::string> kCatalogue = {"archivist", "staff", "approver", "legal", "auditor"};
const std::set<std::string> kLogReaders = {"archivist", "auditor"};
const std::set<std::string> kAdminOnly = {kAdmin};
const std::set<std::string> kArchivistOnly = {"archivist"};

// One request of a cell. `token` overrides the column's own session token.
struct Request {
  std::string body;
  std::string content_type;
  std::optional<std::string> token;
};

struct Row {
  std::string method;
  std::string path;
  std::set<std::string> allowed;
  // Builds the (valid) request for a column; null: no body.
  std::function<Request(const std::string& role)> make;
  // Sees the answer of an allowed cell (to keep state such as new tokens).
  std::function<void(const std::string& role, const HttpResult&)> after;
};

bool CellOk(bool allowed, const std::string& role, int status) {
  if (allowed) return status >= 200 && status < 300;
  if (role == kAnonymous) return status == 401;
  return status == 403 || status == 404;
}

class ApiAuthz : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = ApiServer::Create().release();
    if (server_ == nullptr) return;
    Poco::JSON::Object::Ptr rec =
        server_->CheckInOk("archivist", ContractJson("Matrix contract", "Matrix Counterparty"),
                           {FilePart("matrix.pdf", PatternBytes(600, 7))});
    if (!rec) return;
    record_id_ = new std::string(Str(rec, "id"));
    file_id_ = new std::string(
        Str(rec->getArray("versions")->getObject(0)->getArray("files")->getObject(0), "id"));
    HttpResult target =
        server_->CreateUser("matrix-target", "matrix-target-pass", "staff", "sales", false);
    EXPECT_EQ(target.status, 201) << Describe(target);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete record_id_;
    delete file_id_;
    record_id_ = file_id_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr) << "the server did not come up";
    ASSERT_NE(record_id_, nullptr) << "the matrix record was not checked in";
  }

  ApiServer& S() { return *server_; }

  static ApiServer* server_;
  static std::string* record_id_;
  static std::string* file_id_;
};

ApiServer* ApiAuthz::server_ = nullptr;
std::string* ApiAuthz::record_id_ = nullptr;
std::string* ApiAuthz::file_id_ = nullptr;

TEST_F(ApiAuthz, EveryEndpointForEveryRole) {
  const std::string rec = "/v1/records/" + *record_id_;
  const uint64_t log_size = S().LogSize();
  ASSERT_GT(log_size, 1u);
  const std::string n = std::to_string(log_size);
  std::map<std::string, std::string> fresh_tokens;  // from the sign-in row, ended by the last row

  auto json = [](const std::string& text) { return Request{text, kJson, std::nullopt}; };
  auto none = [](const std::string&) { return Request{}; };
  auto upload = [](const std::vector<Part>& parts) {
    return Request{MultipartBody(parts), MultipartType(), std::nullopt};
  };

  std::vector<Row> rows = {
      {"POST", "/v1/session", kEveryone,
       [&](const std::string& role) {
         // Anyone may sign in; the anonymous column signs in as matrix-target
         // (whose password no other cell changes).
         if (role == kAnonymous)
           return json(R"({"username":"matrix-target","password":"matrix-target-pass"})");
         const Account& a = S().account(role);
         return json("{\"username\":\"" + a.username + "\",\"password\":\"" + a.password + "\"}");
       },
       [&](const std::string& role, const HttpResult& r) {
         if (role != kAnonymous) fresh_tokens[role] = Str(JsonObject(r.body), "token");
       }},
      {"GET", "/v1/me", kSignedIn, none, nullptr},
      {"GET", "/v1/users", kAdminOnly, none, nullptr},
      {"POST", "/v1/users", kAdminOnly,
       [&](const std::string& role) {
         return json(
             "{\"username\":\"mx-" + role + "\",\"password\":\"mx-password-" + role +
             "\",\"role\":\"staff\",\"department\":\"sales\",\"mustChangePassword\":false}");
       },
       nullptr},
      {"PATCH", "/v1/users/matrix-target", kAdminOnly,
       [&](const std::string&) { return json("{\"department\":\"legal\"}"); }, nullptr},
      {"GET", "/v1/departments", kSignedIn, none, nullptr},
      {"POST", "/v1/departments", kAdminOnly,
       [&](const std::string& role) { return json("{\"name\":\"dept-" + role + "\"}"); }, nullptr},
      {"POST", "/v1/records", kArchivistOnly,
       [&](const std::string& role) {
         return upload({MetadataPart(GeneralJson("Matrix check-in by " + role)),
                        FilePart("m.txt", "matrix", "text/plain")});
       },
       nullptr},
      {"GET", "/v1/records?q=Matrix", kCatalogue, none, nullptr},
      {"GET", rec, kCatalogue, none, nullptr},
      {"PATCH", rec, kArchivistOnly,
       [&](const std::string& role) {
         return json("{\"description\":\"patched by " + role + "\"}");
       },
       nullptr},
      {"POST", rec + "/versions", kArchivistOnly,
       [&](const std::string&) {
         return upload({MetadataPart("{\"kind\":\"copy\",\"note\":\"scan\"}"),
                        FilePart("copy.pdf", PatternBytes(300, 8))});
       },
       nullptr},
      {"GET", rec + "/versions", kCatalogue, none, nullptr},
      {"GET", rec + "/versions/1", kCatalogue, none, nullptr},
      {"GET", rec + "/versions/1/files/" + *file_id_, {"archivist", "legal"}, none, nullptr},
      {"GET", rec + "/versions/1/receipt", kCatalogue, none, nullptr},
      {"GET", rec + "/history", kCatalogue, none, nullptr},
      {"GET", "/v1/log/checkpoint", kEveryone, none, nullptr},
      {"GET", "/v1/log/key", kEveryone, none, nullptr},
      {"GET", "/v1/log/entries?start=0&end=" + n, kLogReaders, none, nullptr},
      {"GET", "/v1/log/proof/inclusion?index=0&size=" + n, kLogReaders, none, nullptr},
      {"GET", "/v1/log/proof/consistency?from=1&to=" + n, kLogReaders, none, nullptr},
      // Ends the sessions the first row opened (the suite's own tokens stay).
      {"DELETE", "/v1/session", kSignedIn,
       [&](const std::string& role) {
         Request r;
         if (role != kAnonymous) r.token = fresh_tokens[role];
         return r;
       },
       nullptr},
      // Last: a password change ends every other session of the user, so it
      // comes after the row that needs the first row's sessions.
      {"POST", "/v1/me/password", kSignedIn,
       [&](const std::string& role) {
         if (role == kAnonymous) return json("{\"currentPassword\":\"x\",\"newPassword\":\"y\"}");
         const Account& a = S().account(role);
         return json("{\"currentPassword\":\"" + a.password + "\",\"newPassword\":\"" + a.password +
                     "-changed\"}");
       },
       [&](const std::string& role, const HttpResult&) {
         S().account(role).password += "-changed";
       }},
  };

  // Columns run side by side (sign-ins and password changes cost an Argon2id
  // hash each); within a column the rows run in order.
  struct Cell {
    int status = 0;
    std::string code;
  };
  std::vector<std::vector<Cell>> cells(rows.size(), std::vector<Cell>(kColumns.size()));
  for (const std::string& role : kColumns) fresh_tokens[role] = "";  // no insertions below
  std::vector<std::thread> threads;
  for (size_t c = 0; c < kColumns.size(); ++c) {
    threads.emplace_back([&, c] {
      const std::string& role = kColumns[c];
      std::unique_ptr<HttpsClient> client = S().NewClient();
      for (size_t i = 0; i < rows.size(); ++i) {
        const Row& row = rows[i];
        Request req = row.make(role);
        std::string token = req.token ? *req.token : role == kAnonymous ? "" : S().token(role);
        std::map<std::string, std::string> headers;
        if (!token.empty()) headers["Authorization"] = "Bearer " + token;
        HttpResult r = client->Request(row.method, row.path, req.body, req.content_type, headers);
        if (row.allowed.count(role) && CellOk(true, role, r.status) && row.after)
          row.after(role, r);
        cells[i][c] = {r.status, ErrorCode(r)};
      }
    });
  }
  for (auto& t : threads) t.join();

  std::ostringstream table;
  table << std::left << std::setw(62) << "endpoint";
  for (const auto& c : kColumns) table << std::setw(11) << c;
  table << "\n";
  int mismatches = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    table << std::setw(62) << (rows[i].method + " " + rows[i].path).substr(0, 61);
    for (size_t c = 0; c < kColumns.size(); ++c) {
      bool allowed = rows[i].allowed.count(kColumns[c]) > 0;
      const Cell& cell = cells[i][c];
      std::string text = std::string(allowed ? "+" : "-") + std::to_string(cell.status);
      if (!CellOk(allowed, kColumns[c], cell.status)) {
        ++mismatches;
        text += "!" + cell.code;
      }
      table << std::setw(11) << text;
    }
    table << "\n";
  }
  EXPECT_EQ(mismatches, 0) << "cells: +allowed/-denied and the status; '!' marks a wrong answer\n"
                           << table.str();
}

// Catalogue visibility by classification and department: archivist, legal
// and auditor see everything; approvers up to confidential plus every record
// of their own department; staff up to internal plus confidential records of
// their own department; the admin sees no catalogue at all (403), and a
// hidden record is a 404. The fixture's staff and approver work in "sales".
TEST_F(ApiAuthz, RecordVisibilityFollowsClassification) {
  const std::vector<std::string> levels = {"public", "internal", "confidential", "secret"};
  for (const std::string department : {"sales", "audit"}) {
    std::map<std::string, std::string> ids;
    for (const auto& level : levels) {
      auto rec = S().CheckInOk("archivist",
                               GeneralJson("Visibility " + department + " " + level, level, department),
                               {FilePart("v.txt", level, "text/plain")});
      ASSERT_TRUE(rec);
      ids[level] = Str(rec, "id");
    }
    const bool own = department == "sales";
    const std::map<std::string, int> highest = {{"archivist", 3},
                                                {"legal", 3},
                                                {"auditor", 3},
                                                {"approver", own ? 3 : 2},
                                                {"staff", own ? 2 : 1}};
    for (size_t lv = 0; lv < levels.size(); ++lv) {
      for (const auto& [role, top] : highest) {
        HttpResult r = S().As(role, "GET", "/v1/records/" + ids[levels[lv]]);
        int expected = static_cast<int>(lv) <= top ? 200 : 404;
        EXPECT_EQ(r.status, expected) << role << " reading a " << department << " "
                                      << levels[lv] << " record: " << Describe(r);
      }
      HttpResult admin = S().As(kAdmin, "GET", "/v1/records/" + ids[levels[lv]]);
      EXPECT_EQ(admin.status, 403) << Describe(admin);
      EXPECT_EQ(ErrorCode(admin), "forbidden");
    }
    // Search applies the same rule.
    const std::string q = "q=Visibility%20" + department;
    EXPECT_EQ(S().SearchTotal("staff", q), own ? 3 : 2) << department;
    EXPECT_EQ(S().SearchTotal("approver", q), own ? 4 : 3) << department;
    EXPECT_EQ(S().SearchTotal("auditor", q), 4) << department;
  }
}

// Direct content reads: archivists below secret, legal for contracts only.
TEST_F(ApiAuthz, ContentReadsFollowRoleAndRecordType) {
  auto file_path = [](const Poco::JSON::Object::Ptr& rec) {
    return "/v1/records/" + Str(rec, "id") + "/versions/1/files/" +
           Str(rec->getArray("versions")->getObject(0)->getArray("files")->getObject(0), "id");
  };
  auto secret_contract =
      S().CheckInOk("archivist", ContractJson("Secret settlement", "Opponent Co", "secret"),
                    {FilePart("s.pdf", "settlement")});
  auto confidential_general = S().CheckInOk(
      "archivist", GeneralJson("Salary bands", "confidential"), {FilePart("g.pdf", "bands")});
  ASSERT_TRUE(secret_contract && confidential_general);
  const std::string contract = file_path(secret_contract),
                    general = file_path(confidential_general);

  HttpResult r = S().As("archivist", "GET", contract);
  EXPECT_EQ(r.status, 403) << "archivist, secret: " << Describe(r);
  EXPECT_EQ(ErrorCode(r), "content_forbidden");
  EXPECT_EQ(S().As("archivist", "GET", general).status, 200);
  EXPECT_EQ(S().As("legal", "GET", contract).status, 200);
  r = S().As("legal", "GET", general);
  EXPECT_EQ(r.status, 403) << "legal, not a contract: " << Describe(r);
  EXPECT_EQ(ErrorCode(r), "content_forbidden");
  EXPECT_EQ(S().As("auditor", "GET", general).status, 403);
  EXPECT_EQ(S().As("approver", "GET", general).status, 403);
  EXPECT_EQ(S().As(kAdmin, "GET", general).status, 403);
}

// POST /v1/me/password with one of two sessions: the other ends (a stolen
// token dies with the old password), the one in use goes on.
TEST_F(ApiAuthz, PasswordChangeLeftOtherSessionsAlive) {
  ASSERT_EQ(S().CreateUser("two-sessions", "two-sessions-pass-1", "staff", "sales", false).status,
            201);
  const std::string stolen = S().SignIn("two-sessions", "two-sessions-pass-1");
  const std::string in_use = S().SignIn("two-sessions", "two-sessions-pass-1");
  ASSERT_FALSE(stolen.empty() || in_use.empty());
  HttpResult changed = S().Call(
      in_use, "POST", "/v1/me/password",
      R"({"currentPassword":"two-sessions-pass-1","newPassword":"新的口令 two-sessions-2"})", kJson);
  ASSERT_EQ(changed.status, 204) << Describe(changed);
  HttpResult old_session = S().Call(stolen, "GET", "/v1/me");
  EXPECT_EQ(old_session.status, 401) << Describe(old_session);
  EXPECT_EQ(ErrorCode(old_session), "session_invalid");
  EXPECT_EQ(S().Call(in_use, "GET", "/v1/me").status, 200);
  EXPECT_EQ(S().Call(in_use, "GET", "/v1/records").status, 200);
  EXPECT_FALSE(S().SignIn("two-sessions", "新的口令 two-sessions-2").empty());
}

// Destruction batches follow catalogue visibility: an approver of "audit"
// may not see a secret "sales" record (404 on GET /v1/records/{id}), so a
// batch view leaves it out (counted in hiddenRecords), a batch of nothing
// but such records is a 404, and approving or reading the certificate of
// a batch that holds one is 403 batch_records_hidden. The destroyed
// content's 410 names the record's own rule, which applied here.
TEST_F(ApiAuthz, DestructionBatchShowedHiddenRecordsToAnotherDepartmentsApprover) {
  ASSERT_EQ(S().CreateUser("approver-audit", "approver-audit-pass", "approver", "audit", false).status,
            201);
  const std::string outsider = S().SignIn("approver-audit", "approver-audit-pass");
  ASSERT_FALSE(outsider.empty());
  const std::string secret_file = "销售底价表-secret-floor-prices.pdf";
  const std::string secret_bytes = "底价 floor prices " + PatternBytes(300, 31);
  auto check_in = [&](const std::string& title, const std::string& level, const std::string& dept,
                      const std::string& file, const std::string& bytes) -> std::string {
    auto rec = S().CheckInOk("archivist", GeneralJson(title, level, dept), {FilePart(file, bytes)});
    if (!rec) return "";
    // The record's own rule: destroy on the day of check-in (shortening: legal approves).
    HttpResult put = S().As("archivist", "PUT", "/v1/records/" + Str(rec, "id") + "/retention",
                            R"({"trigger":"created","period":"P0D","action":"destroy"})", kJson);
    if (put.status == 202) {
      HttpResult ok = S().As("legal", "POST",
                             "/v1/retention/changes/" + Str(JsonObject(put.body), "id") + "/approve");
      EXPECT_EQ(ok.status, 200) << Describe(ok);
    } else {
      EXPECT_EQ(put.status, 200) << Describe(put);
    }
    return Str(rec, "id");
  };
  const std::string secret1 = check_in("华东区底价 Secret floor prices", "secret", "sales",
                                       secret_file, secret_bytes);
  const std::string secret2 = check_in("华南区底价 Secret floor prices 2", "secret", "sales",
                                       "华南底价.pdf", "south " + secret_bytes);
  const std::string open_rec = check_in("审计访客登记 Audit visitor log", "internal", "audit",
                                        "访客登记.pdf", "visitors");
  ASSERT_FALSE(secret1.empty() || secret2.empty() || open_rec.empty());
  ASSERT_EQ(S().Call(outsider, "GET", "/v1/records/" + secret1).status, 404);

  auto propose = [&](const std::vector<std::string>& ids) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    for (const auto& id : ids) arr->add(id);
    o->set("recordIds", arr);
    o->set("reason", "到期销毁 due");
    HttpResult r = S().As("archivist", "POST", "/v1/destructions", Stringify(o), kJson);
    EXPECT_EQ(r.status, 201) << Describe(r);
    return r.status == 201 ? Str(JsonObject(r.body), "id") : std::string();
  };
  const std::string mixed = propose({secret1, open_rec});
  const std::string hidden = propose({secret2});
  ASSERT_FALSE(mixed.empty() || hidden.empty());
  auto leaks = [&](const std::string& body) {
    return body.find("底价") != std::string::npos || body.find(secret1) != std::string::npos ||
           body.find(secret2) != std::string::npos || body.find(Sha256Hex(secret_bytes)) != std::string::npos;
  };

  // Views and lists.
  HttpResult view = S().Call(outsider, "GET", "/v1/destructions/" + mixed);
  ASSERT_EQ(view.status, 200) << Describe(view);
  EXPECT_FALSE(leaks(view.body)) << view.body;
  EXPECT_EQ(JsonObject(view.body)->getArray("records")->size(), 1u);
  EXPECT_EQ(Int(JsonObject(view.body), "hiddenRecords"), 1);
  HttpResult none = S().Call(outsider, "GET", "/v1/destructions/" + hidden);
  EXPECT_EQ(none.status, 404) << Describe(none);
  EXPECT_EQ(ErrorCode(none), "destruction_not_found");
  HttpResult list = S().Call(outsider, "GET", "/v1/destructions");
  ASSERT_EQ(list.status, 200) << Describe(list);
  EXPECT_FALSE(leaks(list.body)) << list.body;
  EXPECT_NE(list.body.find(mixed), std::string::npos);
  EXPECT_EQ(list.body.find(hidden), std::string::npos);
  HttpResult insider = S().As("approver", "GET", "/v1/destructions/" + mixed);
  ASSERT_EQ(insider.status, 200) << Describe(insider);
  EXPECT_EQ(JsonObject(insider.body)->getArray("records")->size(), 2u);
  EXPECT_EQ(Int(JsonObject(insider.body), "hiddenRecords"), 0);

  // Approval needs every record visible; nothing changes on a refusal.
  HttpResult refused = S().Call(outsider, "POST", "/v1/destructions/" + mixed + "/approve");
  EXPECT_EQ(refused.status, 403) << Describe(refused);
  EXPECT_EQ(ErrorCode(refused), "batch_records_hidden");
  EXPECT_FALSE(leaks(refused.body)) << refused.body;
  HttpResult refused_hidden = S().Call(outsider, "POST", "/v1/destructions/" + hidden + "/approve");
  EXPECT_EQ(refused_hidden.status, 404) << Describe(refused_hidden);
  EXPECT_EQ(JsonObject(S().As("legal", "GET", "/v1/destructions/" + mixed).body)
                ->getArray("approvals")->size(), 0u);

  // The department's own approver and legal approve; the archivist executes.
  ASSERT_EQ(S().As("approver", "POST", "/v1/destructions/" + mixed + "/approve").status, 200);
  ASSERT_EQ(S().As("legal", "POST", "/v1/destructions/" + mixed + "/approve").status, 200);
  HttpResult executed = S().As("archivist", "POST", "/v1/destructions/" + mixed + "/execute");
  ASSERT_EQ(executed.status, 200) << Describe(executed);
  HttpResult cert = S().Call(outsider, "GET", "/v1/destructions/" + mixed + "/certificate");
  EXPECT_EQ(cert.status, 403) << Describe(cert);
  EXPECT_EQ(ErrorCode(cert), "batch_records_hidden");
  EXPECT_EQ(S().As("auditor", "GET", "/v1/destructions/" + mixed + "/certificate").status, 200);

  // 410 names the basis that applied: the record's own rule, not the schedule.
  auto rec = JsonObject(S().As("archivist", "GET", "/v1/records/" + open_rec).body);
  ASSERT_TRUE(rec);
  const std::string file_id =
      Str(rec->getArray("versions")->getObject(0)->getArray("files")->getObject(0), "id");
  HttpResult gone =
      S().As("archivist", "GET", "/v1/records/" + open_rec + "/versions/1/files/" + file_id);
  EXPECT_EQ(gone.status, 410) << Describe(gone);
  EXPECT_EQ(ErrorCode(gone), "content_destroyed");
  EXPECT_NE(ErrorMessage(gone).find("record's own retention rule"), std::string::npos)
      << ErrorMessage(gone);
  EXPECT_EQ(ErrorMessage(gone).find("schedule"), std::string::npos) << ErrorMessage(gone);
  EXPECT_NE(ErrorMessage(gone).find(mixed), std::string::npos) << ErrorMessage(gone);
}

}  // namespace
}  // namespace custos::testing::api
