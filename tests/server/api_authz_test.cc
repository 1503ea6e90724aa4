// Authorization of every v1 endpoint for every role, against the real server
// (rules: server/services/principal.cc). Each cell sends a valid request, so
// an "allowed" cell must succeed (2xx) and a "denied" one must be refused:
// 401 without a session, 403 or 404 with one.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <functional>
#include <iomanip>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "crypto/totp.h"
#include "domain/model.h"
#include "tests/server/api_fixture.h"

namespace custos::testing::api {
namespace {

// Matrix columns: the three administrative roles (the system administrator
// "admin" and the security officer "security" that custosctl init makes,
// and a security auditor), then the business roles.
const std::vector<std::string> kColumns = {kAnonymous, kAdmin,  kSecurity, kSecurityAuditor,
                                           "archivist", "staff", "approver", "legal",
                                           "auditor"};
const std::set<std::string> kEveryone(kColumns.begin(), kColumns.end());
const std::set<std::string> kSignedIn(kColumns.begin() + 1, kColumns.end());
const std::set<std::string> kAdministrative = {kAdmin, kSecurity, kSecurityAuditor};
const std::set<std::string> kCatalogue = {"archivist", "staff", "approver", "legal", "auditor"};
const std::set<std::string> kLogReaders = {kSecurityAuditor, "archivist", "auditor"};
const std::set<std::string> kAdminOnly = {kAdmin};
const std::set<std::string> kSecurityOnly = {kSecurity};
// Grants are confirmed or rejected by a security officer or the system
// administrator (neither proposer nor holder: the matrix's grants are
// proposed by a second security officer).
const std::set<std::string> kGrantDeciders = {kAdmin, kSecurity};
const std::set<std::string> kArchivistOnly = {"archivist"};
const std::set<std::string> kRetentionReaders = {"archivist", "legal", "auditor"};
const std::set<std::string> kBatchReaders = {"archivist", "approver", "legal", "auditor"};

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
  // What an allowed cell answers when that is not a 2xx: the request got
  // past authorization and was judged on its content (0: any 2xx).
  int allowed_status = 0;
  std::string allowed_code;
};

bool CellOk(const Row& row, bool allowed, const std::string& role, const HttpResult& r) {
  if (allowed && row.allowed_status != 0) {
    return r.status == row.allowed_status && ErrorCode(r) == row.allowed_code;
  }
  if (allowed) return r.status >= 200 && r.status < 300;
  if (role == kAnonymous) return r.status == 401;
  return r.status == 403 || r.status == 404;
}

// The TOTP code (RFC 6238: HMAC-SHA1, 6 digits, 30 s) of a base32 secret
// now, or "" if the secret is not base32.
std::string TotpNow(const std::string& secret) {
  std::optional<crypto::Bytes> key = crypto::Base32Decode(secret);
  if (!key) return "";
  return crypto::Totp(*key, static_cast<int64_t>(std::time(nullptr)));
}

class ApiAuthz : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::vector<std::string> roles = kUserRoles;
    roles.push_back(kSecurityAuditor);
    server_ = ApiServer::Create("", roles).release();
    if (server_ == nullptr) return;
    Poco::JSON::Object::Ptr rec =
        server_->CheckInOk("archivist", ContractJson("Matrix contract", "Matrix Counterparty"),
                           {FilePart("matrix.pdf", PatternBytes(600, 7))});
    if (!rec) return;
    if (!PrepareMatrixAccounts()) return;
    record_id_ = new std::string(Str(rec, "id"));
    file_id_ = new std::string(
        Str(rec->getArray("versions")->getObject(0)->getArray("files")->getObject(0), "id"));
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete record_id_;
    delete file_id_;
    record_id_ = file_id_ = nullptr;
    delete matrix_;
    matrix_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr) << "the server did not come up";
    ASSERT_NE(record_id_, nullptr) << "the matrix record or accounts were not made";
  }

  // What the matrix's rows act on, made before it runs: accounts for the
  // sign-in, set-up code, unlock and grant rows, and per column a set-up
  // code and two grants proposed by a second security officer (one to
  // confirm, one to reject), so that every allowed cell has something of
  // its own to act on.
  struct MatrixState {
    std::map<std::string, std::string> setup_codes;     // column → code for mx-setup-<column>
    std::map<std::string, std::string> confirm_grants;  // column → grant id
    std::map<std::string, std::string> reject_grants;   // column → grant id
  };

  static bool PrepareMatrixAccounts() {
    ApiServer& s = *server_;
    auto ok = [](const std::string& failed) {
      if (!failed.empty()) ADD_FAILURE() << failed;
      return failed.empty();
    };
    auto created = [&s](const std::string& name) {
      HttpResult r = s.PostUser(name, "sales");
      if (r.status != 201) ADD_FAILURE() << "create " << name << ": " << Describe(r);
      return r.status == 201;
    };
    if (!ok(s.AddUser("matrix-target", "matrix-target-pass", "staff", "sales")) ||
        !ok(s.AddUser("mx-locked", "mx-locked-password", "staff", "sales")) ||
        !created("mx-code-target") || !created("mx-grant-target")) {
      return false;
    }
    // A locked account for the unlock row (auth.max_failed_logins = 5).
    for (int i = 0; i < 5; ++i) s.SignIn("mx-locked", "wrong-guess-" + std::to_string(i));
    if (!s.SignIn("mx-locked", "mx-locked-password").empty()) {
      ADD_FAILURE() << "mx-locked is not locked after five wrong passwords";
      return false;
    }
    const std::string second_officer =
        s.AddUserAndSignIn("security-2", "security-2-password", "security_officer", kAdministration);
    if (second_officer.empty()) return false;
    matrix_ = new MatrixState;
    for (const std::string& column : kColumns) {
      for (const char* kind : {"setup", "confirm", "reject"}) {
        if (!created(std::string("mx-") + kind + "-" + column)) return false;
      }
      HttpResult code = s.IssueSetupCode("mx-setup-" + column);
      if (code.status != 201) {
        ADD_FAILURE() << "set-up code for mx-setup-" << column << ": " << Describe(code);
        return false;
      }
      matrix_->setup_codes[column] = Str(JsonObject(code.body), "code");
      for (const char* kind : {"confirm", "reject"}) {
        HttpResult g = s.Call(second_officer, "POST", "/v1/grants",
                              std::string("{\"username\":\"mx-") + kind + "-" + column +
                                  "\",\"role\":\"archivist\"}",
                              kJson);
        if (g.status != 201) {
          ADD_FAILURE() << "grant for mx-" << kind << "-" << column << ": " << Describe(g);
          return false;
        }
        (std::string(kind) == "confirm" ? matrix_->confirm_grants
                                        : matrix_->reject_grants)[column] =
            Str(JsonObject(g.body), "id");
      }
    }
    return true;
  }

  ApiServer& S() { return *server_; }

  static ApiServer* server_;
  static std::string* record_id_;
  static std::string* file_id_;
  static MatrixState* matrix_;
};

ApiServer* ApiAuthz::server_ = nullptr;
std::string* ApiAuthz::record_id_ = nullptr;
std::string* ApiAuthz::file_id_ = nullptr;
ApiAuthz::MatrixState* ApiAuthz::matrix_ = nullptr;

TEST_F(ApiAuthz, EveryEndpointForEveryRole) {
  const std::string rec = "/v1/records/" + *record_id_;
  const uint64_t log_size = S().LogSize();
  ASSERT_GT(log_size, 1u);
  const std::string n = std::to_string(log_size);
  // Filled before the columns start (no insertions while they run); each
  // column writes its own entries.
  std::map<std::string, std::string> fresh_tokens;  // from the sign-in row, ended by DELETE /v1/session
  std::map<std::string, std::string> totp_secrets;  // from POST /v1/me/totp
  for (const std::string& role : kColumns) fresh_tokens[role] = totp_secrets[role] = "";

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
      // The holder's set-up is anonymous: every column sets up its own
      // account with the code issued for it.
      {"POST", "/v1/setup", kEveryone,
       [&](const std::string& role) {
         return json("{\"username\":\"mx-setup-" + role + "\",\"code\":\"" +
                     matrix_->setup_codes.at(role) + "\",\"password\":\"设置口令 mx-setup-" + role +
                     "\"}");
       },
       nullptr},
      {"GET", "/v1/me", kSignedIn, none, nullptr},
      // Accounts and departments: the system administrator.
      {"GET", "/v1/users", kAdministrative, none, nullptr},
      {"POST", "/v1/users", kAdminOnly,
       [&](const std::string& role) {
         return json("{\"username\":\"mx-" + role + "\",\"department\":\"sales\"}");
       },
       nullptr},
      {"PATCH", "/v1/users/matrix-target", kAdminOnly,
       [&](const std::string&) { return json("{\"department\":\"legal\"}"); }, nullptr},
      {"GET", "/v1/departments", kSignedIn, none, nullptr},
      {"POST", "/v1/departments", kAdminOnly,
       [&](const std::string& role) { return json("{\"name\":\"dept-" + role + "\"}"); }, nullptr},
      // Set-up codes, unlocks and grants: the security officer; grants are
      // confirmed by a second person; the security auditor reads them.
      {"POST", "/v1/users/mx-code-target/setup-code", kSecurityOnly, none, nullptr},
      {"POST", "/v1/users/mx-locked/unlock", kSecurityOnly, none, nullptr},
      {"GET", "/v1/grants", kAdministrative, none, nullptr},
      {"GET", "/v1/grants?state=proposed", kAdministrative, none, nullptr},
      {"POST", "/v1/grants", kSecurityOnly,
       [&](const std::string&) {
         return json(R"({"username":"mx-grant-target","role":"archivist"})");
       },
       nullptr},
      {"POST", "/v1/grants/{confirm}/confirm", kGrantDeciders, none, nullptr},
      {"POST", "/v1/grants/{reject}/reject", kGrantDeciders,
       [&](const std::string&) { return json(R"({"reason":"离职交接 handover"})"); }, nullptr},
      // The catalogue and content: business roles only.
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
      // Loans, batches, retention and holds: business roles only.
      {"GET", "/v1/loans", kCatalogue, none, nullptr},
      {"GET", "/v1/loans/register?format=json", kRetentionReaders, none, nullptr},
      {"GET", "/v1/destructions", kBatchReaders, none, nullptr},
      {"GET", "/v1/retention/schedules", kRetentionReaders, none, nullptr},
      {"GET", "/v1/retention/changes", kRetentionReaders, none, nullptr},
      {"GET", "/v1/holds", kRetentionReaders, none, nullptr},
      {"GET", "/v1/disposition/due", kRetentionReaders, none, nullptr},
      // Everyone signed in has alerts: each role sees its own kind.
      {"GET", "/v1/alerts", kSignedIn, none, nullptr},
      // The log: public checkpoint and key; entries and proofs for log readers.
      {"GET", "/v1/log/checkpoint", kEveryone, none, nullptr},
      {"GET", "/v1/log/key", kEveryone, none, nullptr},
      {"GET", "/v1/log/entries?start=0&end=" + n, kLogReaders, none, nullptr},
      {"GET", "/v1/log/proof/inclusion?index=0&size=" + n, kLogReaders, none, nullptr},
      {"GET", "/v1/log/proof/consistency?from=1&to=" + n, kLogReaders, none, nullptr},
      // A second factor: anyone signed in may enrol one.
      {"POST", "/v1/me/totp", kSignedIn, none,
       [&](const std::string& role, const HttpResult& r) {
         totp_secrets[role] = Str(JsonObject(r.body), "secret");
       }},
      {"POST", "/v1/me/totp/confirm", kSignedIn,
       [&](const std::string& role) {
         return json("{\"code\":\"" + TotpNow(totp_secrets[role]) + "\"}");
       },
       nullptr},
      // The matrix's client presents no certificate: an allowed cell gets
      // past authorization and is told so.
      {"POST", "/v1/me/certificate", kSignedIn, none, nullptr, 422, "certificate_required"},
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

  // A column's own grant in the confirm and reject rows.
  auto path_for = [&](const Row& row, const std::string& role) {
    std::string path = row.path;
    for (const auto& [marker, ids] : {std::pair{std::string("{confirm}"), &matrix_->confirm_grants},
                                      std::pair{std::string("{reject}"), &matrix_->reject_grants}}) {
      size_t at = path.find(marker);
      if (at != std::string::npos) path.replace(at, marker.size(), ids->at(role));
    }
    return path;
  };

  // Columns run side by side (sign-ins, set-ups and password changes cost
  // an Argon2id hash each); within a column the rows run in order.
  struct Cell {
    int status = 0;
    std::string code;
  };
  std::vector<std::vector<Cell>> cells(rows.size(), std::vector<Cell>(kColumns.size()));
  std::vector<std::thread> threads;
  for (size_t c = 0; c < kColumns.size(); ++c) {
    threads.emplace_back([&, c] {
      const std::string& role = kColumns[c];
      std::unique_ptr<HttpsClient> client = S().NewClient();
      for (size_t i = 0; i < rows.size(); ++i) {
        const Row& row = rows[i];
        Request req = row.make ? row.make(role) : Request{};
        std::string token = req.token ? *req.token : role == kAnonymous ? "" : S().token(role);
        std::map<std::string, std::string> headers;
        if (!token.empty()) headers["Authorization"] = "Bearer " + token;
        HttpResult r =
            client->Request(row.method, path_for(row, role), req.body, req.content_type, headers);
        if (row.allowed.count(role) && CellOk(row, true, role, r) && row.after) row.after(role, r);
        cells[i][c] = {r.status, ErrorCode(r)};
      }
    });
  }
  for (auto& t : threads) t.join();

  std::ostringstream table;
  table << std::left << std::setw(52) << "endpoint";
  for (const auto& c : kColumns) table << std::setw(11) << c.substr(0, 10);
  table << "\n";
  int mismatches = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    table << std::setw(52) << (rows[i].method + " " + rows[i].path).substr(0, 51);
    for (size_t c = 0; c < kColumns.size(); ++c) {
      bool allowed = rows[i].allowed.count(kColumns[c]) > 0;
      const Cell& cell = cells[i][c];
      HttpResult seen;
      seen.status = cell.status;
      seen.body = cell.code.empty() ? "" : "{\"error\":{\"code\":\"" + cell.code + "\"}}";
      std::string text = std::string(allowed ? "+" : "-") + std::to_string(cell.status);
      if (!CellOk(rows[i], allowed, kColumns[c], seen)) {
        ++mismatches;
        text += "!" + cell.code;
      }
      table << std::setw(11) << text;
    }
    table << "\n";
  }
  EXPECT_EQ(mismatches, 0) << "cells: +allowed/-denied and the status; '!' marks a wrong answer\n"
                           << table.str();

  // What the allowed cells did, seen from outside.
  HttpResult grants = S().As(kSecurityAuditor, "GET", "/v1/grants");
  ASSERT_EQ(grants.status, 200) << Describe(grants);
  std::map<std::string, std::string> state_of;  // grant id → state
  Poco::JSON::Array::Ptr list = JsonObject(grants.body)->getArray("grants");
  ASSERT_TRUE(list);
  for (size_t i = 0; i < list->size(); ++i) {
    state_of[Str(list->getObject(i), "id")] = Str(list->getObject(i), "state");
  }
  for (const std::string& role : kColumns) {
    const bool decider = kGrantDeciders.count(role) > 0;
    EXPECT_EQ(state_of[matrix_->confirm_grants.at(role)], decider ? "confirmed" : "proposed") << role;
    EXPECT_EQ(state_of[matrix_->reject_grants.at(role)], decider ? "rejected" : "proposed") << role;
    EXPECT_FALSE(S().SignIn("mx-setup-" + role, "设置口令 mx-setup-" + role).empty()) << role;
  }
}

// Catalogue visibility by classification and department: archivist, legal
// and auditor see everything; approvers up to confidential plus every record
// of their own department; staff up to internal plus confidential records of
// their own department; the three administrative roles see no catalogue
// at all (403), and a
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
      for (const std::string& administrative : kAdministrative) {
        HttpResult r = S().As(administrative, "GET", "/v1/records/" + ids[levels[lv]]);
        EXPECT_EQ(r.status, 403) << administrative << ": " << Describe(r);
        EXPECT_EQ(ErrorCode(r), "forbidden") << administrative;
      }
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
  for (const std::string& administrative : kAdministrative) {
    EXPECT_EQ(S().As(administrative, "GET", general).status, 403) << administrative;
    EXPECT_EQ(S().As(administrative, "GET", contract).status, 403) << administrative;
  }
}

// custosd keeps record rows and sessions in caches checked against the
// store's change counts: a reclassification and a sign-out must still take
// effect on the very next request after a run of reads that filled them.
TEST_F(ApiAuthz, CachedRowsGiveWayToAChangeOnTheNextRequest) {
  auto rec = S().CheckInOk("archivist", GeneralJson("Cache probe", "confidential"), {FilePart("p.pdf", "probe")});
  ASSERT_TRUE(rec);
  const std::string id = Str(rec, "id");
  const std::string file = "/v1/records/" + id + "/versions/1/files/" +
                           Str(rec->getArray("versions")->getObject(0)->getArray("files")->getObject(0), "id");
  for (int i = 0; i < 3; ++i) ASSERT_EQ(S().As("archivist", "GET", file).status, 200);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(S().As("staff", "GET", "/v1/records/" + id).status, 200);
  // A loan requested (a document) shows in the record view at once.
  auto loans_in_view = [&] {
    HttpResult v = S().As("archivist", "GET", "/v1/records/" + id);
    Poco::JSON::Object::Ptr o = v.status == 200 ? JsonObject(v.body) : nullptr;
    return o && o->getArray("loans") ? o->getArray("loans")->size() : size_t{999};
  };
  ASSERT_EQ(loans_in_view(), 0u);
  ASSERT_EQ(loans_in_view(), 0u);
  const std::string due =
      domain::FormatTime(std::chrono::system_clock::now() + std::chrono::hours(72));
  HttpResult loan = S().As("staff", "POST", "/v1/loans",
                           "{\"recordId\":\"" + id + "\",\"kind\":\"digital\",\"purpose\":\"audit\",\"dueAt\":\"" + due + "\"}", kJson);
  ASSERT_EQ(loan.status, 201) << Describe(loan);
  EXPECT_EQ(loans_in_view(), 1u);
  ASSERT_EQ(S().As("archivist", "PATCH", "/v1/records/" + id, "{\"classification\":\"secret\"}", kJson).status, 200);
  HttpResult r = S().As("archivist", "GET", file);
  EXPECT_EQ(r.status, 403) << "archivist, now secret: " << Describe(r);
  EXPECT_EQ(ErrorCode(r), "content_forbidden");
  EXPECT_EQ(S().As("staff", "GET", "/v1/records/" + id).status, 404);

  // A session signed out is refused at once, though it was just used.
  const std::string token = S().AddUserAndSignIn("cacheprobe", "cache probe passphrase", "staff", "sales");
  ASSERT_FALSE(token.empty());
  for (int i = 0; i < 3; ++i) ASSERT_EQ(S().Call(token, "GET", "/v1/departments").status, 200);
  ASSERT_EQ(S().Call(token, "DELETE", "/v1/session").status, 204);
  HttpResult after = S().Call(token, "GET", "/v1/departments");
  EXPECT_EQ(after.status, 401) << Describe(after);
}

// None of the three administrative roles approves or rejects anything: a
// loan, a shortened retention period or a destruction batch waiting for
// approval stays as it was after each of them tries (403 forbidden).
TEST_F(ApiAuthz, AdministrativeRolesApproveNothing) {
  auto check_in = [&](const std::string& title) {
    auto rec = S().CheckInOk("archivist", GeneralJson(title), {FilePart("a.pdf", title)});
    return rec ? Str(rec, "id") : std::string();
  };
  const std::string lent = check_in("差旅报销制度 Travel policy");
  const std::string shortened = check_in("办公用品台账 Office supplies");
  const std::string due = check_in("旧报价单 Old quotation");
  ASSERT_FALSE(lent.empty() || shortened.empty() || due.empty());

  const std::string due_at =
      domain::FormatTime(std::chrono::system_clock::now() + std::chrono::hours(48));
  HttpResult loan = S().As("staff", "POST", "/v1/loans",
                           "{\"recordId\":\"" + lent + "\",\"kind\":\"digital\",\"purpose\":"
                           "\"核对报销 check\",\"dueAt\":\"" + due_at + "\"}",
                           kJson);
  ASSERT_EQ(loan.status, 201) << Describe(loan);
  const std::string loan_id = Str(JsonObject(loan.body), "id");

  const std::string destroy_now = R"({"trigger":"created","period":"P0D","action":"destroy"})";
  HttpResult change = S().As("archivist", "PUT", "/v1/records/" + shortened + "/retention",
                             destroy_now, kJson);
  ASSERT_EQ(change.status, 202) << Describe(change);
  const std::string change_id = Str(JsonObject(change.body), "id");

  HttpResult due_change =
      S().As("archivist", "PUT", "/v1/records/" + due + "/retention", destroy_now, kJson);
  ASSERT_EQ(due_change.status, 202) << Describe(due_change);
  ASSERT_EQ(S().As("legal", "POST",
                   "/v1/retention/changes/" + Str(JsonObject(due_change.body), "id") + "/approve")
                .status,
            200);
  HttpResult batch = S().As("archivist", "POST", "/v1/destructions",
                            "{\"recordIds\":[\"" + due + "\"],\"reason\":\"到期销毁 due\"}", kJson);
  ASSERT_EQ(batch.status, 201) << Describe(batch);
  const std::string batch_id = Str(JsonObject(batch.body), "id");

  const std::vector<std::string> attempts = {
      "/v1/loans/" + loan_id + "/approve",           "/v1/loans/" + loan_id + "/reject",
      "/v1/retention/changes/" + change_id + "/approve",
      "/v1/retention/changes/" + change_id + "/reject", "/v1/destructions/" + batch_id + "/approve"};
  for (const std::string& administrative : kAdministrative) {
    for (const std::string& path : attempts) {
      const bool reject = path.size() > 7 && path.substr(path.size() - 7) == "/reject";
      HttpResult r = reject ? S().As(administrative, "POST", path,
                                     R"({"reason":"越权 overreach"})", kJson)
                            : S().As(administrative, "POST", path);
      EXPECT_EQ(r.status, 403) << administrative << " " << path << ": " << Describe(r);
      EXPECT_EQ(ErrorCode(r), "forbidden") << administrative << " " << path;
    }
  }
  HttpResult loan_now = S().As("archivist", "GET", "/v1/loans/" + loan_id);
  ASSERT_EQ(loan_now.status, 200) << Describe(loan_now);
  EXPECT_EQ(Str(JsonObject(loan_now.body), "state"), "requested");
  HttpResult pending = S().As("legal", "GET", "/v1/retention/changes?state=pending");
  ASSERT_EQ(pending.status, 200) << Describe(pending);
  EXPECT_NE(pending.body.find(change_id), std::string::npos) << pending.body;
  HttpResult batch_now = S().As("legal", "GET", "/v1/destructions/" + batch_id);
  ASSERT_EQ(batch_now.status, 200) << Describe(batch_now);
  EXPECT_EQ(JsonObject(batch_now.body)->getArray("approvals")->size(), 0u) << batch_now.body;
}

// POST /v1/me/password with one of two sessions: the other ends (a stolen
// token dies with the old password), the one in use goes on.
TEST_F(ApiAuthz, PasswordChangeLeftOtherSessionsAlive) {
  ASSERT_EQ(S().AddUser("two-sessions", "two-sessions-pass-1", "staff", "sales"), "");
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
  const std::string outsider =
      S().AddUserAndSignIn("approver-audit", "approver-audit-pass", "approver", "audit");
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
