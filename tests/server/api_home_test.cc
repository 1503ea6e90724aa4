// GET /v1/me/summary over the real HTTPS API (docs/api.md "Home summary";
// server/services/home_service.h): each role gets exactly its parts, and
// the counts follow the work as it is done — a loan request waits for the
// department's approver and leaves the count once approved, a paper
// original past its due date is counted overdue, a shortened record rule
// waits for legal, a due record joins the disposition queue, a destruction
// batch waits for one approver and one legal, a role grant waits for the
// second administrator, and the scheduled verification's last result shows
// for the roles that read it.
//
// One server serves the suite, with scheduled verification every second.
// Tests measure counts before and after their own step, so their order
// does not matter.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "domain/model.h"
#include "tests/server/api_fixture.h"

namespace custos::testing::api {
namespace {

std::string InstantFromNow(std::chrono::milliseconds d) {
  return domain::FormatTime(std::chrono::system_clock::now() + d);
}

std::string DayFromToday(int days) {
  return domain::FormatTime(std::chrono::system_clock::now() + std::chrono::hours(24) * days)
      .substr(0, 10);
}

std::string LoanBody(const std::string& record_id, const std::string& kind,
                     const std::string& due_at) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("recordId", record_id);
  o->set("kind", kind);
  o->set("dueAt", due_at);
  return Stringify(o);
}

std::string QualificationJson(const std::string& title, const std::string& valid_until) {
  Poco::JSON::Object::Ptr meta = new Poco::JSON::Object;
  meta->set("issuer", "中国质量认证中心 CQC");
  meta->set("certificateNumber", "CQC-2026-0815");
  meta->set("validUntil", valid_until);
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("type", "qualification");
  o->set("title", title);
  o->set("department", "sales");
  o->set("classification", "internal");
  o->set("metadata", meta);
  return Stringify(o);
}

// The top-level keys of a summary each role must get, and no others.
const std::map<std::string, std::set<std::string>>& PartsByRole() {
  static const std::map<std::string, std::set<std::string>> parts = {
      {"archivist",
       {"myLoans", "expiringCertificates", "overdueOriginals", "dispositionQueue",
        "pendingRetentionChanges"}},
      {"staff", {"myLoans", "expiringCertificates"}},
      {"approver", {"approvals", "myLoans", "expiringCertificates", "overdueOriginals"}},
      {"legal",
       {"approvals", "myLoans", "expiringCertificates", "overdueOriginals", "dispositionQueue",
        "pendingRetentionChanges"}},
      {"auditor",
       {"myLoans", "expiringCertificates", "overdueOriginals", "dispositionQueue",
        "pendingRetentionChanges", "lastVerification"}},
      {kAdmin, {"approvals", "lastVerification"}},
      {kSecurity, {"approvals"}},
      {kSecurityAuditor, {"lastVerification"}},
  };
  return parts;
}

const std::map<std::string, std::set<std::string>>& ApprovalsByRole() {
  static const std::map<std::string, std::set<std::string>> parts = {
      {"approver", {"loans", "destructions"}},
      {"legal", {"destructions", "retentionChanges"}},
      {kAdmin, {"grants"}},
      {kSecurity, {"grants"}},
  };
  return parts;
}

class ApiHome : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::vector<std::string> roles = kUserRoles;
    roles.push_back(kSecurityAuditor);
    server_ =
        ApiServer::Create("audit.verify_interval = 1s\naudit.full_verify_interval = 1s\n", roles)
            .release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr) << "the server did not come up"; }

  ApiServer& S() { return *server_; }

  Poco::JSON::Object::Ptr Summary(const std::string& role) {
    HttpResult r = S().As(role, "GET", "/v1/me/summary");
    EXPECT_EQ(r.status, 200) << role << ": " << Describe(r);
    Poco::JSON::Object::Ptr o = JsonObject(r.body);
    return o ? o : Poco::JSON::Object::Ptr(new Poco::JSON::Object);
  }

  // approvals.<key> of `role`'s summary; -1 when absent.
  int64_t Approvals(const std::string& role, const std::string& key) {
    Poco::JSON::Object::Ptr s = Summary(role);
    return s->has("approvals") ? Int(s->getObject("approvals"), key) : -1;
  }

  int64_t Count(const std::string& role, const std::string& key) { return Int(Summary(role), key); }

  // `role`'s open loan `id` in myLoans, or null.
  Poco::JSON::Object::Ptr MyLoan(const std::string& role, const std::string& id) {
    Poco::JSON::Object::Ptr s = Summary(role);
    if (!s->has("myLoans")) return {};
    Poco::JSON::Array::Ptr arr = s->getArray("myLoans");
    for (size_t i = 0; i < arr->size(); ++i) {
      Poco::JSON::Object::Ptr l = arr->getObject(static_cast<unsigned>(i));
      if (Str(l, "id") == id) return l;
    }
    return {};
  }

  std::string CheckInGeneral(const std::string& title) {
    Poco::JSON::Object::Ptr rec =
        S().CheckInOk("archivist", GeneralJson(title, "internal", "sales"),
                      {FilePart("备忘录 memo.pdf", "%PDF-1.4 备忘录 " + title)});
    return rec ? Str(rec, "id") : "";
  }

  std::string RequestLoan(const std::string& role, const std::string& record_id,
                          const std::string& kind, const std::string& due_at) {
    HttpResult r = S().As(role, "POST", "/v1/loans", LoanBody(record_id, kind, due_at), kJson);
    EXPECT_EQ(r.status, 201) << Describe(r);
    return Str(JsonObject(r.body), "id");
  }

  void ActOk(const std::string& role, const std::string& path, const std::string& body = "") {
    HttpResult r = S().As(role, "POST", path, body, body.empty() ? "" : kJson);
    EXPECT_TRUE(r.status == 200 || r.status == 201) << role << " " << path << ": " << Describe(r);
  }

  // Polls `done` (the server's clock moves on its own) for at most 20 s.
  static bool Eventually(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return done();
  }

  static ApiServer* server_;
};

ApiServer* ApiHome::server_ = nullptr;

TEST_F(ApiHome, EachRoleGetsItsPartsAndNoOthers) {
  for (const auto& [role, want] : PartsByRole()) {
    Poco::JSON::Object::Ptr s = Summary(role);
    std::set<std::string> got;
    for (const auto& [key, value] : *s) got.insert(key);
    EXPECT_EQ(got, want) << role;
    if (s->has("approvals")) {
      std::set<std::string> approvals;
      for (const auto& [key, value] : *s->getObject("approvals")) approvals.insert(key);
      EXPECT_EQ(approvals, ApprovalsByRole().at(role)) << role;
    }
  }
}

TEST_F(ApiHome, AnonymousIsRefused) {
  HttpResult r = S().As(kAnonymous, "GET", "/v1/me/summary");
  EXPECT_EQ(r.status, 401) << Describe(r);
  EXPECT_EQ(ErrorCode(r), "not_signed_in");
}

TEST_F(ApiHome, LoanRequestWaitsForTheApproverUntilApproved) {
  const std::string record = CheckInGeneral("首页借阅 home loan");
  ASSERT_FALSE(record.empty());
  const int64_t before = Approvals("approver", "loans");
  ASSERT_GE(before, 0);
  const std::string loan =
      RequestLoan("staff", record, "digital", InstantFromNow(std::chrono::hours(48)));
  ASSERT_FALSE(loan.empty());

  EXPECT_EQ(Approvals("approver", "loans"), before + 1)
      << "the department's approver has one more to decide";
  Poco::JSON::Object::Ptr mine = MyLoan("staff", loan);
  ASSERT_TRUE(mine) << "the borrower sees the request among their loans";
  EXPECT_EQ(Str(mine, "state"), "requested");
  EXPECT_EQ(Str(mine, "recordId"), record);
  EXPECT_EQ(Str(mine, "title"), "首页借阅 home loan");
  EXPECT_FALSE(mine->getValue<bool>("overdue"));
  EXPECT_FALSE(MyLoan("approver", loan)) << "another's loan is not in the approver's own loans";

  // The approver's own request waits for a colleague, not for them.
  const std::string own =
      RequestLoan("approver", record, "physical", InstantFromNow(std::chrono::hours(48)));
  EXPECT_EQ(Approvals("approver", "loans"), before + 1) << "nobody approves their own loan";

  ActOk("approver", "/v1/loans/" + loan + "/approve");
  EXPECT_EQ(Approvals("approver", "loans"), before) << "an approved loan leaves the count";
  mine = MyLoan("staff", loan);
  ASSERT_TRUE(mine);
  EXPECT_EQ(Str(mine, "state"), "checked_out");

  ActOk("staff", "/v1/loans/" + loan + "/return");
  EXPECT_FALSE(MyLoan("staff", loan)) << "a returned loan is no longer open";
  EXPECT_TRUE(MyLoan("approver", own));
}

// The inbox sends each row's reason with its approval: it is kept in the
// loan.approve event; one too long is refused and approves nothing.
TEST_F(ApiHome, ApprovalReasonIsLoggedAndTooLongOneApprovesNothing) {
  const std::string record = CheckInGeneral("审批理由 approval reason");
  ASSERT_FALSE(record.empty());
  const std::string loan =
      RequestLoan("staff", record, "digital", InstantFromNow(std::chrono::hours(24)));
  ASSERT_FALSE(loan.empty());
  const int64_t waiting = Approvals("approver", "loans");

  Poco::JSON::Object::Ptr too_long = new Poco::JSON::Object;
  too_long->set("reason", std::string(2001, 'x'));
  HttpResult refused =
      S().As("approver", "POST", "/v1/loans/" + loan + "/approve", Stringify(too_long), kJson);
  EXPECT_EQ(refused.status, 422) << Describe(refused);
  EXPECT_EQ(ErrorCode(refused), "invalid_reason");
  EXPECT_EQ(Approvals("approver", "loans"), waiting) << "a refused approval changes nothing";

  HttpResult approved = S().As("approver", "POST", "/v1/loans/" + loan + "/approve",
                               R"({"reason":"项目审计需要 needed for the audit"})", kJson);
  ASSERT_EQ(approved.status, 200) << Describe(approved);
  EXPECT_EQ(Approvals("approver", "loans"), waiting - 1);
  Poco::JSON::Array::Ptr events = JsonObject(approved.body)->getArray("events");
  ASSERT_TRUE(events);
  Poco::JSON::Object::Ptr last = events->getObject(static_cast<unsigned>(events->size() - 1));
  ASSERT_EQ(Str(last, "action"), "loan.approve");
  const int64_t index = Int(last, "logIndex");
  HttpResult entry = S().As(
      "auditor", "GET",
      "/v1/log/entries?start=" + std::to_string(index) + "&end=" + std::to_string(index + 1));
  ASSERT_EQ(entry.status, 200) << Describe(entry);
  Poco::JSON::Array::Ptr arr = JsonArray(entry.body);
  ASSERT_TRUE(arr && arr->size() == 1);
  Poco::JSON::Object::Ptr details = arr->getObject(0)->getObject("event")->getObject("details");
  ASSERT_TRUE(details);
  EXPECT_EQ(Str(details, "reason"), "项目审计需要 needed for the audit");
}

TEST_F(ApiHome, PaperOriginalPastItsDueDateIsOverdue) {
  const std::string record = CheckInGeneral("纸质原件 paper original");
  ASSERT_FALSE(record.empty());
  const int64_t before = Count("archivist", "overdueOriginals");
  ASSERT_GE(before, 0);
  const std::string loan =
      RequestLoan("staff", record, "physical", InstantFromNow(std::chrono::seconds(3)));
  ASSERT_FALSE(loan.empty());
  ActOk("approver", "/v1/loans/" + loan + "/approve");
  ActOk("archivist", "/v1/loans/" + loan + "/checkout");

  ASSERT_TRUE(Eventually([&] { return Count("archivist", "overdueOriginals") == before + 1; }))
      << "the original out past its due date is counted";
  EXPECT_GE(Count("approver", "overdueOriginals"), 1) << "the department's approver sees it";
  EXPECT_GE(Count("auditor", "overdueOriginals"), 1);
  Poco::JSON::Object::Ptr mine = MyLoan("staff", loan);
  ASSERT_TRUE(mine);
  EXPECT_TRUE(mine->getValue<bool>("overdue")) << "the borrower's own loan says overdue";
  EXPECT_FALSE(Summary("staff")->has("overdueOriginals")) << "staff get no overdue list";

  ActOk("archivist", "/v1/loans/" + loan + "/return");
  EXPECT_EQ(Count("archivist", "overdueOriginals"), before) << "taken back: no longer overdue";
}

TEST_F(ApiHome, ShortenedRuleWaitsForLegalThenTheRecordJoinsTheQueue) {
  const std::string record = CheckInGeneral("到期销毁 due for destruction");
  ASSERT_FALSE(record.empty());
  const int64_t legal_before = Approvals("legal", "retentionChanges");
  const int64_t pending_before = Count("archivist", "pendingRetentionChanges");
  const int64_t queue_before = Count("auditor", "dispositionQueue");
  HttpResult put = S().As("archivist", "PUT", "/v1/records/" + record + "/retention",
                          R"({"trigger":"created","period":"P0D","action":"destroy"})", kJson);
  ASSERT_EQ(put.status, 202) << Describe(put);
  const std::string change = Str(JsonObject(put.body), "id");

  EXPECT_EQ(Approvals("legal", "retentionChanges"), legal_before + 1)
      << "legal has a shortening to decide";
  EXPECT_EQ(Count("archivist", "pendingRetentionChanges"), pending_before + 1);
  EXPECT_EQ(Count("legal", "pendingRetentionChanges"), pending_before + 1);
  EXPECT_EQ(Approvals("archivist", "retentionChanges"), -1) << "the archivist approves nothing";

  ActOk("legal", "/v1/retention/changes/" + change + "/approve");
  EXPECT_EQ(Approvals("legal", "retentionChanges"), legal_before);
  EXPECT_EQ(Count("archivist", "pendingRetentionChanges"), pending_before);

  // The disposition page sweeps the states (the housekeeping thread does
  // the same once a minute); the record is due from then on.
  EXPECT_EQ(S().As("archivist", "GET", "/v1/disposition/due").status, 200);
  EXPECT_EQ(Count("auditor", "dispositionQueue"), queue_before + 1);
  EXPECT_EQ(Count("archivist", "dispositionQueue"), queue_before + 1);

  // A batch waits for one approver and one legal; never the proposer.
  const int64_t approver_before = Approvals("approver", "destructions");
  const int64_t legal_batches_before = Approvals("legal", "destructions");
  HttpResult proposed =
      S().As("archivist", "POST", "/v1/destructions",
             R"({"recordIds":[")" + record + R"("],"reason":"保管期满 retention ended"})", kJson);
  ASSERT_EQ(proposed.status, 201) << Describe(proposed);
  const std::string batch = Str(JsonObject(proposed.body), "id");
  EXPECT_EQ(Approvals("approver", "destructions"), approver_before + 1);
  EXPECT_EQ(Approvals("legal", "destructions"), legal_batches_before + 1);
  ActOk("approver", "/v1/destructions/" + batch + "/approve");
  EXPECT_EQ(Approvals("approver", "destructions"), approver_before) << "approved by this approver";
  EXPECT_EQ(Approvals("legal", "destructions"), legal_batches_before + 1)
      << "legal's approval still missing";
  ActOk("legal", "/v1/destructions/" + batch + "/approve");
  EXPECT_EQ(Approvals("legal", "destructions"), legal_batches_before);
}

TEST_F(ApiHome, ProposedGrantWaitsForTheOtherAdministrator) {
  HttpResult user = S().PostUser("home-grantee", "sales");
  ASSERT_EQ(user.status, 201) << Describe(user);
  const int64_t admin_before = Approvals(kAdmin, "grants");
  const int64_t officer_before = Approvals(kSecurity, "grants");
  HttpResult proposed = S().ProposeGrant("home-grantee", "auditor");
  ASSERT_EQ(proposed.status, 201) << Describe(proposed);
  EXPECT_EQ(Approvals(kAdmin, "grants"), admin_before + 1)
      << "the system administrator may confirm it";
  EXPECT_EQ(Approvals(kSecurity, "grants"), officer_before) << "its proposer may not";
  ASSERT_EQ(S().ConfirmGrant(Str(JsonObject(proposed.body), "id")).status, 200);
  EXPECT_EQ(Approvals(kAdmin, "grants"), admin_before);
}

TEST_F(ApiHome, CertificateWithinTheAlertWindowIsCounted) {
  const int64_t before = Count("staff", "expiringCertificates");
  ASSERT_GE(before, 0);
  Poco::JSON::Object::Ptr soon =
      S().CheckInOk("archivist", QualificationJson("ISO 9001 证书 certificate", DayFromToday(20)),
                    {FilePart("证书.pdf", "%PDF-1.4 cert")});
  ASSERT_TRUE(soon);
  Poco::JSON::Object::Ptr later =
      S().CheckInOk("archivist", QualificationJson("远期证书 later certificate", DayFromToday(400)),
                    {FilePart("证书2.pdf", "%PDF-1.4 cert2")});
  ASSERT_TRUE(later);
  EXPECT_EQ(Count("staff", "expiringCertificates"), before + 1) << "only the one within 90 days";
  HttpResult alerts = S().As("staff", "GET", "/v1/alerts");
  ASSERT_EQ(alerts.status, 200);
  EXPECT_EQ(static_cast<int64_t>(JsonObject(alerts.body)->getArray("certificates")->size()),
            Count("staff", "expiringCertificates"))
      << "the same certificates as the alerts page";
}

TEST_F(ApiHome, LastVerificationShowsTheScheduledResult) {
  ASSERT_TRUE(Eventually([&] {
    Poco::JSON::Object::Ptr v = Summary("auditor")->getObject("lastVerification");
    return v && Str(v, "result") == "clean";
  })) << "a scheduled pass runs every second on a clean archive";
  Poco::JSON::Object::Ptr v = Summary(kSecurityAuditor)->getObject("lastVerification");
  ASSERT_TRUE(v);
  EXPECT_TRUE(Str(v, "result") == "clean" || Str(v, "result") == "running") << Str(v, "result");
  EXPECT_EQ(Int(v, "findings"), 0);
  EXPECT_FALSE(Summary("archivist")->has("lastVerification"));
}

}  // namespace
}  // namespace custos::testing::api
