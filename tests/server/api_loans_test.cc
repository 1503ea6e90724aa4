// Borrowing over the real HTTPS API (DESIGN §2 "Loan", §4 "loans"): a
// digital loan opens a record's content to its borrower from approval until
// return; a physical loan hands the paper original out and the record shows
// who holds it; renewals, revocations, rejections and the two-approver rule
// for secret records; the refusals a client meets; the borrowing register in
// JSON and CSV, each of whose log indices leads to the loan's own audit
// event; certificate alerts; and the "my loans" filter.
//
// One server serves the whole suite (starting one costs seconds); every test
// checks in its own records, so each assertion holds whatever ran before it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "server/http/loan_routes.h"
#include "server/services/loan.h"
#include "domain/model.h"
#include "tests/server/api_fixture.h"

namespace custos::testing::api {
namespace {

// A second approver of "sales", for the records that need two.
constexpr char kSecondApprover[] = "approver-b";

// An RFC 3339 instant `hours` from now (negative: in the past).
std::string HoursFromNow(int hours) {
  return domain::FormatTime(std::chrono::system_clock::now() + std::chrono::hours(hours));
}

// YYYY-MM-DD of the UTC day `days` from today.
std::string DayFromToday(int days) {
  return domain::FormatTime(std::chrono::system_clock::now() + std::chrono::hours(24) * days)
      .substr(0, 10);
}

std::string LoanBody(const std::string& record_id, const std::string& kind,
                     const std::string& due_at, const std::string& purpose = "") {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("recordId", record_id);
  o->set("kind", kind);
  if (!purpose.empty()) o->set("purpose", purpose);
  o->set("dueAt", due_at);
  return Stringify(o);
}

// Metadata of a qualification certificate check-in.
std::string QualificationJson(const std::string& title, const std::string& certificate_number,
                              const std::string& valid_until) {
  Poco::JSON::Object::Ptr meta = new Poco::JSON::Object;
  meta->set("issuer", "China Quality Certification Centre");
  meta->set("certificateNumber", certificate_number);
  meta->set("validUntil", valid_until);
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("type", "qualification");
  o->set("title", title);
  o->set("department", "sales");
  o->set("classification", "internal");
  o->set("metadata", meta);
  return Stringify(o);
}

std::vector<Poco::JSON::Object::Ptr> Objects(const Poco::JSON::Array::Ptr& arr) {
  std::vector<Poco::JSON::Object::Ptr> out;
  for (size_t i = 0; arr && i < arr->size(); ++i) {
    out.push_back(arr->getObject(static_cast<unsigned>(i)));
  }
  return out;
}

std::vector<uint64_t> Indices(const Poco::JSON::Object::Ptr& loan) {
  std::vector<uint64_t> out;
  if (!loan || !loan->has("logIndices")) return out;
  Poco::JSON::Array::Ptr arr = loan->getArray("logIndices");
  for (size_t i = 0; i < arr->size(); ++i) {
    out.push_back(arr->get(static_cast<unsigned>(i)).convert<uint64_t>());
  }
  return out;
}

std::vector<std::string> Actions(const Poco::JSON::Object::Ptr& loan) {
  std::vector<std::string> out;
  if (!loan || !loan->has("events")) return out;
  for (const auto& e : Objects(loan->getArray("events"))) out.push_back(Str(e, "action"));
  return out;
}

std::vector<std::string> SplitCsvLines(const std::string& text) {
  std::vector<std::string> lines;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find("\r\n", at);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(at, end - at));
    at = end + 2;
  }
  return lines;
}

class ApiLoans : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::vector<std::string> roles = kUserRoles;
    roles.push_back(kSecurityAuditor);
    // Borrowers read the originals here: stamped loan copies, the default
    // for confidential and secret records, are api_loan_copy_test.cc's.
    server_ = ApiServer::Create("loans.stamp_classifications =\n", roles).release();
    if (server_ == nullptr) return;
    second_approver_token_ = new std::string(server_->AddUserAndSignIn(
        kSecondApprover, "approver-b-password-01", "approver", "sales"));
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete second_approver_token_;
    second_approver_token_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr) << "the server did not come up";
    ASSERT_FALSE(second_approver_token_->empty()) << "the second approver could not sign in";
  }

  ApiServer& S() { return *server_; }

  // Checks in a record with one file as the archivist; its id, the path of
  // that file's content, or empty strings on failure.
  struct Checked {
    std::string id;
    std::string content_path;
  };
  Checked CheckIn(const std::string& metadata, const std::string& bytes) {
    Poco::JSON::Object::Ptr rec =
        S().CheckInOk("archivist", metadata, {FilePart("doc.pdf", bytes)});
    if (!rec) return {};
    Poco::JSON::Object::Ptr v1 = rec->getArray("versions")->getObject(0);
    Poco::JSON::Object::Ptr f = v1->getArray("files")->getObject(0);
    return {Str(rec, "id"), "/v1/records/" + Str(rec, "id") + "/versions/1/files/" + Str(f, "id")};
  }

  // POST /v1/loans as `role`; the loan, or null after a failure.
  Poco::JSON::Object::Ptr RequestOk(const std::string& role, const std::string& record_id,
                                    const std::string& kind, const std::string& purpose = "") {
    HttpResult r = S().As(role, "POST", "/v1/loans",
                          LoanBody(record_id, kind, HoursFromNow(72), purpose), kJson);
    if (r.status != 201) {
      ADD_FAILURE() << "loan request by " << role << ": " << Describe(r);
      return {};
    }
    return JsonObject(r.body);
  }

  // POST /v1/loans/{id}/{action} as `role` (token: that role's).
  HttpResult Act(const std::string& role, const std::string& id, const std::string& action,
                 const std::string& body = "") {
    return S().As(role, "POST", "/v1/loans/" + id + "/" + action, body, body.empty() ? "" : kJson);
  }
  HttpResult ActAsSecondApprover(const std::string& id, const std::string& action) {
    return S().Call(*second_approver_token_, "POST", "/v1/loans/" + id + "/" + action);
  }

  // The loan after an action that must succeed; null after a failure.
  Poco::JSON::Object::Ptr ActOk(const std::string& role, const std::string& id,
                                const std::string& action, const std::string& body = "") {
    HttpResult r = Act(role, id, action, body);
    if (r.status != 200) {
      ADD_FAILURE() << action << " by " << role << ": " << Describe(r);
      return {};
    }
    return JsonObject(r.body);
  }

  Poco::JSON::Object::Ptr Record(const std::string& id, const std::string& role = "staff") {
    HttpResult r = S().As(role, "GET", "/v1/records/" + id);
    EXPECT_EQ(r.status, 200) << Describe(r);
    return JsonObject(r.body);
  }

  // The loans of GET /v1/loans<query> as `role`.
  std::vector<Poco::JSON::Object::Ptr> List(const std::string& role, const std::string& query) {
    HttpResult r = S().As(role, "GET", "/v1/loans" + query);
    EXPECT_EQ(r.status, 200) << Describe(r);
    Poco::JSON::Object::Ptr o = JsonObject(r.body);
    return o ? Objects(o->getArray("loans")) : std::vector<Poco::JSON::Object::Ptr>{};
  }

  // The audit event at log index `i`, read as the auditor.
  Poco::JSON::Object::Ptr LogEvent(uint64_t i) {
    HttpResult r =
        S().As("auditor", "GET",
               "/v1/log/entries?start=" + std::to_string(i) + "&end=" + std::to_string(i + 1));
    EXPECT_EQ(r.status, 200) << Describe(r);
    Poco::JSON::Array::Ptr arr = JsonArray(r.body);
    if (!arr || arr->size() != 1) {
      ADD_FAILURE() << "log entry " << i << ": " << r.body.substr(0, 200);
      return {};
    }
    Poco::JSON::Object::Ptr entry = arr->getObject(0);
    EXPECT_EQ(Int(entry, "index"), static_cast<int64_t>(i));
    return entry->getObject("event");
  }

  static ApiServer* server_;
  static std::string* second_approver_token_;
};

ApiServer* ApiLoans::server_ = nullptr;
std::string* ApiLoans::second_approver_token_ = nullptr;

void ExpectError(const HttpResult& r, int status, const std::string& code) {
  EXPECT_EQ(r.status, status) << Describe(r);
  EXPECT_EQ(ErrorCode(r), code) << Describe(r);
}

// The flow: request, no access yet, approval opens the content, the
// return closes it again, and a second return is a state conflict.
TEST_F(ApiLoans, DigitalLoanOpensContentFromApprovalUntilReturn) {
  const std::string bytes = PatternBytes(5000, 101);
  Checked rec = CheckIn(ContractJson("Distribution agreement Ningbo", "Ningbo Ports"), bytes);
  ASSERT_NE(rec.id, "");

  const std::string due = HoursFromNow(96);
  HttpResult created =
      S().As("staff", "POST", "/v1/loans", LoanBody(rec.id, "digital", due, "tender"), kJson);
  ASSERT_EQ(created.status, 201) << Describe(created);
  Poco::JSON::Object::Ptr loan = JsonObject(created.body);
  const std::string id = Str(loan, "id");
  EXPECT_EQ(id.rfind("LN-", 0), 0u) << id;
  EXPECT_EQ(Str(loan, "state"), "requested");
  EXPECT_EQ(Str(loan, "kind"), "digital");
  EXPECT_EQ(Str(loan, "borrower"), "staff");
  EXPECT_EQ(Str(loan, "recordId"), rec.id);
  EXPECT_EQ(Str(loan, "department"), "sales");
  EXPECT_EQ(Str(loan, "purpose"), "tender");
  EXPECT_EQ(Int(loan, "approvalsNeeded"), 1);
  EXPECT_EQ(Str(loan, "dueAt"), domain::FormatTime(*domain::ParseTime(due)));
  EXPECT_TRUE(loan->isNull("checkedOutAt"));
  EXPECT_EQ(Actions(loan), std::vector<std::string>{"loan.request"});

  HttpResult early = S().As("staff", "GET", rec.content_path);
  ExpectError(early, 403, "content_forbidden");

  Poco::JSON::Object::Ptr approved = ActOk("approver", id, "approve");
  ASSERT_TRUE(approved);
  EXPECT_EQ(Str(approved, "state"), "checked_out");
  EXPECT_FALSE(approved->isNull("checkedOutAt"));
  Poco::JSON::Array::Ptr approvals = approved->getArray("approvals");
  ASSERT_EQ(approvals->size(), 1u);
  EXPECT_EQ(Str(approvals->getObject(0), "by"), "approver");

  HttpResult read = S().As("staff", "GET", rec.content_path);
  ASSERT_EQ(read.status, 200) << Describe(read);
  EXPECT_EQ(read.body, bytes);
  // The read's audit event names the loan that allowed it.
  Poco::JSON::Object::Ptr read_event = LogEvent(std::stoull(read.headers["X-Custos-Log-Index"]));
  ASSERT_TRUE(read_event);
  EXPECT_EQ(Str(read_event, "action"), "content.read");
  EXPECT_EQ(Str(read_event, "actor"), "staff");
  EXPECT_EQ(Str(read_event->getObject("details"), "loan"), id);

  Poco::JSON::Object::Ptr returned = ActOk("staff", id, "return");
  ASSERT_TRUE(returned);
  EXPECT_EQ(Str(returned, "state"), "returned");
  EXPECT_EQ(Str(returned, "returnedBy"), "staff");
  EXPECT_FALSE(returned->isNull("returnedAt"));
  EXPECT_EQ(Actions(returned),
            (std::vector<std::string>{"loan.request", "loan.approve", "loan.return"}));

  HttpResult after = S().As("staff", "GET", rec.content_path);
  ExpectError(after, 403, "content_forbidden");
  EXPECT_EQ(after.body.find(bytes.substr(0, 16)), std::string::npos);

  HttpResult again = Act("staff", id, "return");
  ExpectError(again, 409, "invalid_loan_state");
  EXPECT_NE(ErrorMessage(again).find("is returned"), std::string::npos) << ErrorMessage(again);

  HttpResult got = S().As("staff", "GET", "/v1/loans/" + id);
  ASSERT_EQ(got.status, 200) << Describe(got);
  EXPECT_EQ(Str(JsonObject(got.body), "state"), "returned");
}

// A paper original: approval alone hands nothing out; only an archivist
// does, once per original, and the record shows who has it until it is back.
TEST_F(ApiLoans, PhysicalOriginalIsHandedOutAndTakenBackByArchivist) {
  Checked rec = CheckIn(ContractJson("Framework agreement Dalian", "Dalian Shipyard"),
                        PatternBytes(800, 102));
  ASSERT_NE(rec.id, "");
  Poco::JSON::Object::Ptr loan = RequestOk("staff", rec.id, "physical");
  ASSERT_TRUE(loan);
  const std::string id = Str(loan, "id");
  Poco::JSON::Object::Ptr approved = ActOk("approver", id, "approve");
  ASSERT_TRUE(approved);
  EXPECT_EQ(Str(approved, "state"), "approved");
  // A physical loan does not open the content.
  ExpectError(S().As("staff", "GET", rec.content_path), 403, "content_forbidden");

  ExpectError(Act("staff", id, "checkout"), 403, "forbidden");
  ExpectError(Act("approver", id, "checkout"), 403, "forbidden");
  Poco::JSON::Object::Ptr before = Record(rec.id);
  ASSERT_TRUE(before);
  EXPECT_TRUE(before->isNull("originalHeldBy"));

  // Legal asks for the same original; it is approved but must wait.
  Poco::JSON::Object::Ptr other = RequestOk("legal", rec.id, "physical");
  ASSERT_TRUE(other);
  const std::string other_id = Str(other, "id");
  ASSERT_TRUE(ActOk("approver", other_id, "approve"));

  Poco::JSON::Object::Ptr out = ActOk("archivist", id, "checkout");
  ASSERT_TRUE(out);
  EXPECT_EQ(Str(out, "state"), "checked_out");
  EXPECT_EQ(Str(out, "checkedOutBy"), "archivist");

  Poco::JSON::Object::Ptr held = Record(rec.id);
  ASSERT_TRUE(held);
  ASSERT_FALSE(held->isNull("originalHeldBy")) << Stringify(held);
  Poco::JSON::Object::Ptr holder = held->getObject("originalHeldBy");
  EXPECT_EQ(Str(holder, "borrower"), "staff");
  EXPECT_EQ(Str(holder, "loanId"), id);
  EXPECT_EQ(Str(holder, "since"), Str(out, "checkedOutAt"));
  EXPECT_TRUE(domain::ParseTime(Str(holder, "since")).ok()) << Str(holder, "since");
  EXPECT_FALSE(held->getValue<bool>("overdue"));
  // Staff see their own loans only (MaySeeLoan); the archivist sees both.
  auto open_loans = [](const Poco::JSON::Object::Ptr& view) {
    std::set<std::string> open;
    for (const auto& l : Objects(view->getArray("loans"))) open.insert(Str(l, "id"));
    return open;
  };
  EXPECT_EQ(open_loans(held), (std::set<std::string>{id}));
  EXPECT_EQ(open_loans(Record(rec.id, "archivist")), (std::set<std::string>{id, other_id}));

  HttpResult second = Act("archivist", other_id, "checkout");
  ExpectError(second, 409, "original_out");
  EXPECT_NE(ErrorMessage(second).find(id), std::string::npos) << ErrorMessage(second);
  ExpectError(Act("archivist", id, "checkout"), 409, "invalid_loan_state");
  // An original that is out is taken back, not revoked; nor does its
  // borrower return it alone.
  ExpectError(Act("approver", id, "revoke", "{\"reason\":\"needed back\"}"), 409, "original_out");
  ExpectError(Act("staff", id, "return"), 403, "forbidden");

  Poco::JSON::Object::Ptr back = ActOk("archivist", id, "return");
  ASSERT_TRUE(back);
  EXPECT_EQ(Str(back, "state"), "returned");
  EXPECT_EQ(Str(back, "returnedBy"), "archivist");
  Poco::JSON::Object::Ptr vault = Record(rec.id);
  ASSERT_TRUE(vault);
  EXPECT_TRUE(vault->isNull("originalHeldBy")) << Stringify(vault->get("originalHeldBy"));

  // Now the waiting loan can go out.
  Poco::JSON::Object::Ptr next = ActOk("archivist", other_id, "checkout");
  ASSERT_TRUE(next);
  Poco::JSON::Object::Ptr held_by_legal = Record(rec.id, "legal");
  ASSERT_TRUE(held_by_legal && !held_by_legal->isNull("originalHeldBy"));
  EXPECT_EQ(Str(held_by_legal->getObject("originalHeldBy"), "borrower"), "legal");
  ASSERT_TRUE(ActOk("archivist", other_id, "return"));
  // A digital loan has nothing to hand out.
  Poco::JSON::Object::Ptr digital = RequestOk("staff", rec.id, "digital");
  ASSERT_TRUE(digital);
  ExpectError(Act("archivist", Str(digital, "id"), "checkout"), 409, "not_physical");
}

TEST_F(ApiLoans, RefusalsCarryTheirStatusAndCode) {
  Checked rec = CheckIn(GeneralJson("Sales plan 2027"), PatternBytes(300, 103));
  Checked confidential =
      CheckIn(GeneralJson("Key account pricing", "confidential"), PatternBytes(300, 104));
  Checked foreign =
      CheckIn(GeneralJson("Litigation strategy", "confidential", "legal"), PatternBytes(300, 112));
  ASSERT_NE(rec.id, "");
  ASSERT_NE(confidential.id, "");
  ASSERT_NE(foreign.id, "");

  // Nobody approves their own loan, and only approvers approve.
  Poco::JSON::Object::Ptr own = RequestOk("approver", rec.id, "digital");
  ASSERT_TRUE(own);
  ExpectError(Act("approver", Str(own, "id"), "approve"), 403, "self_approval");
  ExpectError(Act("approver", Str(own, "id"), "reject"), 403, "self_approval");
  Poco::JSON::Object::Ptr staffs = RequestOk("staff", rec.id, "digital");
  ASSERT_TRUE(staffs);
  const std::string staff_loan = Str(staffs, "id");
  ExpectError(Act("staff", staff_loan, "approve"), 403, "forbidden");
  ExpectError(Act("archivist", staff_loan, "approve"), 403, "forbidden");
  for (const char* administrative : {kAdmin, kSecurity, kSecurityAuditor}) {
    ExpectError(Act(administrative, staff_loan, "approve"), 403, "forbidden");
  }
  // Another person's loan is invisible to staff.
  ExpectError(Act("staff", Str(own, "id"), "approve"), 404, "loan_not_found");
  ExpectError(S().As("staff", "GET", "/v1/loans/" + Str(own, "id")), 404, "loan_not_found");
  ExpectError(
      S().As("staff", "POST", "/v1/loans", LoanBody(rec.id, "digital", HoursFromNow(24)), kJson),
      409, "loan_exists");
  for (const char* administrative : {kAdmin, kSecurity, kSecurityAuditor}) {
    ExpectError(S().As(administrative, "POST", "/v1/loans",
                       LoanBody(rec.id, "digital", HoursFromNow(24)), kJson),
                403, "forbidden");
  }
  ExpectError(Act("staff", staff_loan, "approve", "{\"note\":\"x\"}"), 400, "unknown_field");
  ASSERT_TRUE(ActOk("approver", staff_loan, "approve", "{}"));
  HttpResult twice = Act("approver", staff_loan, "approve");
  ExpectError(twice, 409, "invalid_loan_state");
  EXPECT_NE(ErrorMessage(twice).find("checked_out"), std::string::npos) << ErrorMessage(twice);

  // Request bodies.
  ExpectError(S().As("approver", "POST", "/v1/loans",
                     LoanBody(confidential.id, "digital", HoursFromNow(24)), kJson),
              422, "purpose_required");
  ExpectError(S().As("approver", "POST", "/v1/loans",
                     LoanBody(confidential.id, "digital", HoursFromNow(24), "  "), kJson),
              422, "purpose_required");
  ExpectError(S().As("staff", "POST", "/v1/loans", "{\"recordId\": \"" + rec.id + "\",", kJson),
              400, "malformed_json");
  ExpectError(S().As("staff", "POST", "/v1/loans",
                     "{\"recordId\":\"" + rec.id + "\",\"kind\":\"physical\",\"dueAt\":\"" +
                         HoursFromNow(24) + "\",\"copies\":2}",
                     kJson),
              400, "unknown_field");
  ExpectError(
      S().As("staff", "POST", "/v1/loans", LoanBody(rec.id, "physical", HoursFromNow(-24)), kJson),
      422, "invalid_due_date");
  ExpectError(
      S().As("staff", "POST", "/v1/loans", LoanBody(rec.id, "physical", "next friday"), kJson), 422,
      "invalid_due_date");
  ExpectError(S().As("staff", "POST", "/v1/loans",
                     LoanBody(rec.id, "physical", HoursFromNow(24 * 365)), kJson),
              422, "invalid_due_date");
  ExpectError(S().As("staff", "POST", "/v1/loans",
                     "{\"recordId\":\"" + rec.id + "\",\"kind\":\"physical\"}", kJson),
              422, "invalid_due_date");
  ExpectError(
      S().As("staff", "POST", "/v1/loans", LoanBody(rec.id, "borrowed", HoursFromNow(24)), kJson),
      422, "invalid_kind");
  ExpectError(S().As("staff", "POST", "/v1/loans",
                     LoanBody("GN-2026-999999", "digital", HoursFromNow(24)), kJson),
              404, "record_not_found");
  // A record above the caller's clearance (another department's
  // confidential one, for staff) is not found either.
  ExpectError(S().As("staff", "POST", "/v1/loans",
                     LoanBody(foreign.id, "digital", HoursFromNow(24), "why"), kJson),
              404, "record_not_found");

  // Unknown ids and malformed filters.
  ExpectError(S().As("archivist", "GET", "/v1/loans/LN-2026-999999"), 404, "loan_not_found");
  ExpectError(Act("approver", "LN-2026-999999", "approve"), 404, "loan_not_found");
  ExpectError(S().As("archivist", "GET", "/v1/loans?state=lent"), 400, "invalid_parameter");
  ExpectError(S().As("archivist", "GET", "/v1/loans?overdue=yes"), 400, "invalid_parameter");
  for (const char* administrative : {kAdmin, kSecurity, kSecurityAuditor}) {
    ExpectError(S().As(administrative, "GET", "/v1/loans"), 403, "forbidden");
  }
  ExpectError(S().As(kAnonymous, "GET", "/v1/loans"), 401, "not_signed_in");
}

// Renewal needs approval again; revocation and rejection close a loan with
// a reason; a secret record needs two distinct approvers.
TEST_F(ApiLoans, RenewRevokeRejectAndTwoApproversForSecret) {
  const std::string bytes = PatternBytes(1200, 105);
  Checked rec = CheckIn(GeneralJson("Distributor list"), bytes);
  ASSERT_NE(rec.id, "");
  Poco::JSON::Object::Ptr loan = RequestOk("staff", rec.id, "digital");
  ASSERT_TRUE(loan);
  const std::string id = Str(loan, "id");
  ASSERT_TRUE(ActOk("approver", id, "approve"));

  const std::string old_due = Str(loan, "dueAt");
  ExpectError(Act("staff", id, "renew", "{\"dueAt\":\"" + HoursFromNow(1) + "\"}"), 422,
              "invalid_due_date");
  ExpectError(Act("staff", id, "renew"), 422, "invalid_due_date");
  ExpectError(Act("approver", id, "renew", "{\"dueAt\":\"" + HoursFromNow(240) + "\"}"), 403,
              "forbidden");
  const std::string new_due = domain::FormatTime(*domain::ParseTime(HoursFromNow(240)));
  Poco::JSON::Object::Ptr pending = ActOk("staff", id, "renew", "{\"dueAt\":\"" + new_due + "\"}");
  ASSERT_TRUE(pending);
  ASSERT_FALSE(pending->isNull("renewal"));
  EXPECT_EQ(Str(pending->getObject("renewal"), "dueAt"), new_due);
  EXPECT_EQ(Str(pending, "dueAt"), old_due);  // until approved
  ExpectError(Act("staff", id, "renew", "{\"dueAt\":\"" + HoursFromNow(300) + "\"}"), 409,
              "renewal_pending");
  Poco::JSON::Object::Ptr renewed = ActOk("approver", id, "approve");
  ASSERT_TRUE(renewed);
  EXPECT_EQ(Str(renewed, "dueAt"), new_due);
  EXPECT_EQ(Int(renewed, "renewals"), 1);
  EXPECT_TRUE(renewed->isNull("renewal"));
  EXPECT_EQ(Str(renewed, "state"), "checked_out");
  ASSERT_EQ(S().As("staff", "GET", rec.content_path).status, 200);

  ExpectError(Act("staff", id, "revoke"), 403, "forbidden");
  Poco::JSON::Object::Ptr revoked =
      ActOk("approver", id, "revoke", "{\"reason\":\"project cancelled\"}");
  ASSERT_TRUE(revoked);
  EXPECT_EQ(Str(revoked, "state"), "revoked");
  EXPECT_EQ(Str(revoked, "reason"), "project cancelled");
  ExpectError(S().As("staff", "GET", rec.content_path), 403, "content_forbidden");
  HttpResult again = Act("archivist", id, "revoke");
  ExpectError(again, 409, "invalid_loan_state");
  EXPECT_NE(ErrorMessage(again).find("is revoked"), std::string::npos) << ErrorMessage(again);

  Poco::JSON::Object::Ptr asked = RequestOk("staff", rec.id, "physical");
  ASSERT_TRUE(asked);
  Poco::JSON::Object::Ptr rejected =
      ActOk("approver", Str(asked, "id"), "reject", "{\"reason\":\"use the digital copy\"}");
  ASSERT_TRUE(rejected);
  EXPECT_EQ(Str(rejected, "state"), "rejected");
  EXPECT_EQ(Str(rejected, "reason"), "use the digital copy");
  ExpectError(Act("approver", Str(asked, "id"), "approve"), 409, "invalid_loan_state");

  // Secret: legal (who may see it, but not read a non-contract directly)
  // borrows it; one approver is not enough, and not twice the same one.
  const std::string secret_bytes = PatternBytes(900, 106);
  Checked secret = CheckIn(GeneralJson("Merger negotiation notes", "secret"), secret_bytes);
  ASSERT_NE(secret.id, "");
  ExpectError(S().As("legal", "GET", secret.content_path), 403, "content_forbidden");
  Poco::JSON::Object::Ptr s = RequestOk("legal", secret.id, "digital", "due diligence");
  ASSERT_TRUE(s);
  EXPECT_EQ(Int(s, "approvalsNeeded"), 2);
  Poco::JSON::Object::Ptr half = ActOk("approver", Str(s, "id"), "approve");
  ASSERT_TRUE(half);
  EXPECT_EQ(Str(half, "state"), "requested");
  ExpectError(S().As("legal", "GET", secret.content_path), 403, "content_forbidden");
  ExpectError(Act("approver", Str(s, "id"), "approve"), 409, "already_approved");
  HttpResult full = ActAsSecondApprover(Str(s, "id"), "approve");
  ASSERT_EQ(full.status, 200) << Describe(full);
  EXPECT_EQ(Str(JsonObject(full.body), "state"), "checked_out");
  HttpResult read = S().As("legal", "GET", secret.content_path);
  ASSERT_EQ(read.status, 200) << Describe(read);
  EXPECT_EQ(read.body, secret_bytes);
}

// The register lists every loan with the indices of its audit events; each
// index leads to an entry about that loan, so the register can be checked
// line by line against the signed log.
TEST_F(ApiLoans, RegisterRowsLeadToTheirLogEntries) {
  Checked rec =
      CheckIn(ContractJson("Agency contract Shenzhen", "Shenzhen Optics"), PatternBytes(700, 107));
  ASSERT_NE(rec.id, "");
  Poco::JSON::Object::Ptr a = RequestOk("staff", rec.id, "digital", "=HYPERLINK(\"x\")");
  ASSERT_TRUE(a);
  ASSERT_TRUE(ActOk("approver", Str(a, "id"), "approve"));
  ASSERT_TRUE(ActOk("staff", Str(a, "id"), "return"));
  Poco::JSON::Object::Ptr b = RequestOk("staff", rec.id, "physical");
  ASSERT_TRUE(b);
  const std::set<std::string> ours = {Str(a, "id"), Str(b, "id")};

  HttpResult json = S().As("auditor", "GET", "/v1/loans/register");
  ASSERT_EQ(json.status, 200) << Describe(json);
  EXPECT_EQ(json.headers["Content-Type"].rfind("application/json", 0), 0u)
      << json.headers["Content-Type"];
  Poco::JSON::Object::Ptr reg = JsonObject(json.body);
  ASSERT_TRUE(reg);
  std::vector<Poco::JSON::Object::Ptr> rows = Objects(reg->getArray("loans"));
  std::set<std::string> seen;
  std::string previous_request;
  for (const auto& row : rows) {
    EXPECT_LE(previous_request, Str(row, "requestedAt")) << "register not oldest first";
    previous_request = Str(row, "requestedAt");
    const std::string id = Str(row, "id");
    if (!ours.count(id)) continue;
    seen.insert(id);
    std::vector<uint64_t> indices = Indices(row);
    std::vector<std::string> actions = Actions(row);
    ASSERT_EQ(indices.size(), actions.size()) << id;
    ASSERT_FALSE(indices.empty()) << id;
    for (size_t i = 0; i < indices.size(); ++i) {
      Poco::JSON::Object::Ptr event = LogEvent(indices[i]);
      ASSERT_TRUE(event) << id << " index " << indices[i];
      EXPECT_EQ(Str(event->getObject("details"), "loan"), id) << "index " << indices[i];
      EXPECT_EQ(Str(event, "subject"), rec.id);
      EXPECT_EQ(Str(event, "action"), actions[i]);
    }
  }
  EXPECT_EQ(seen, ours);
  Poco::JSON::Object::Ptr returned_row;
  for (const auto& row : rows) {
    if (Str(row, "id") == Str(a, "id")) returned_row = row;
  }
  ASSERT_TRUE(returned_row);
  EXPECT_EQ(Actions(returned_row),
            (std::vector<std::string>{"loan.request", "loan.approve", "loan.return"}));

  HttpResult csv = S().As("auditor", "GET", "/v1/loans/register?format=csv");
  ASSERT_EQ(csv.status, 200) << Describe(csv);
  EXPECT_EQ(csv.headers["Content-Type"].rfind("text/csv", 0), 0u) << csv.headers["Content-Type"];
  std::vector<std::string> lines = SplitCsvLines(csv.body);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0],
            "loan,record,recordTitle,kind,borrower,department,purpose,approvers,requestedAt,"
            "checkedOutAt,dueAt,returnedAt,state,logIndices");
  EXPECT_EQ(lines.size(), rows.size() + 1) << "one row per loan";
  std::string row_a;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].rfind(Str(a, "id") + ",", 0) == 0) row_a = lines[i];
  }
  ASSERT_NE(row_a, "") << csv.body.substr(0, 400);
  std::string indices_a;
  for (uint64_t i : Indices(returned_row))
    indices_a += (indices_a.empty() ? "" : " ") + std::to_string(i);
  EXPECT_NE(row_a.find(",returned," + indices_a), std::string::npos) << row_a;
  EXPECT_NE(row_a.find(",\"'=HYPERLINK(\"\"x\"\")\","), std::string::npos)
      << "a formula in a cell must be defused: " << row_a;
  EXPECT_NE(row_a.find(",approver " + Str(returned_row->getArray("approvals")->getObject(0), "at")),
            std::string::npos)
      << row_a;

  HttpResult accept =
      S().As("legal", "GET", "/v1/loans/register", "", "", {{"Accept", "text/csv"}});
  ASSERT_EQ(accept.status, 200) << Describe(accept);
  EXPECT_EQ(accept.headers["Content-Type"].rfind("text/csv", 0), 0u);
  EXPECT_EQ(SplitCsvLines(accept.body).size(), lines.size());

  // A period after every loan holds none; a reversed one is refused.
  HttpResult later = S().As("archivist", "GET", "/v1/loans/register?from=" + HoursFromNow(1));
  ASSERT_EQ(later.status, 200) << Describe(later);
  EXPECT_EQ(JsonObject(later.body)->getArray("loans")->size(), 0u);
  ExpectError(S().As("archivist", "GET",
                     "/v1/loans/register?from=" + HoursFromNow(1) + "&to=" + HoursFromNow(-1)),
              400, "invalid_range");
  ExpectError(S().As("auditor", "GET", "/v1/loans/register?format=xlsx"), 400, "invalid_parameter");
  ExpectError(S().As("staff", "GET", "/v1/loans/register"), 403, "forbidden");
  ExpectError(S().As("approver", "GET", "/v1/loans/register?format=csv"), 403, "forbidden");
}

TEST_F(ApiLoans, AlertsListExpiredAndExpiringCertificates) {
  Checked expired =
      CheckIn(QualificationJson("ISO 9001 certificate", "CQC-9001-A", DayFromToday(-10)),
              PatternBytes(200, 108));
  Checked expiring =
      CheckIn(QualificationJson("CCC product certificate", "CQC-CCC-B", DayFromToday(20)),
              PatternBytes(200, 109));
  Checked distant = CheckIn(QualificationJson("Export licence", "CQC-EXP-C", DayFromToday(400)),
                            PatternBytes(200, 110));
  ASSERT_NE(expired.id, "");
  ASSERT_NE(expiring.id, "");
  ASSERT_NE(distant.id, "");

  HttpResult r = S().As("archivist", "GET", "/v1/alerts");
  ASSERT_EQ(r.status, 200) << Describe(r);
  Poco::JSON::Object::Ptr alerts = JsonObject(r.body);
  ASSERT_TRUE(alerts);
  EXPECT_TRUE(alerts->has("overdueLoans"));
  std::vector<Poco::JSON::Object::Ptr> certs = Objects(alerts->getArray("certificates"));
  Poco::JSON::Object::Ptr old_cert, soon_cert;
  int64_t last_days = std::numeric_limits<int64_t>::min();
  for (const auto& c : certs) {
    EXPECT_LE(last_days, Int(c, "daysLeft")) << "certificates not soonest first";
    last_days = Int(c, "daysLeft");
    if (Str(c, "recordId") == expired.id) old_cert = c;
    if (Str(c, "recordId") == expiring.id) soon_cert = c;
    EXPECT_NE(Str(c, "recordId"), distant.id) << "a certificate valid for a year is no alert";
  }
  ASSERT_TRUE(old_cert) << r.body.substr(0, 600);
  ASSERT_TRUE(soon_cert) << r.body.substr(0, 600);
  EXPECT_TRUE(old_cert->getValue<bool>("expired"));
  EXPECT_LT(Int(old_cert, "daysLeft"), 0);
  EXPECT_TRUE(old_cert->isNull("horizonDays"));
  EXPECT_EQ(Str(old_cert, "validUntil"), DayFromToday(-10));
  EXPECT_EQ(Str(old_cert, "title"), "ISO 9001 certificate");
  EXPECT_FALSE(soon_cert->getValue<bool>("expired"));
  EXPECT_GT(Int(soon_cert, "daysLeft"), 0);
  EXPECT_EQ(Int(soon_cert, "horizonDays"), 30);
  EXPECT_EQ(Str(soon_cert, "department"), "sales");

  // Staff see them too (the records are internal); the admin sees none
  // (only a scheduled verification's findings, scheduled_verify_test.cc).
  HttpResult staff = S().As("staff", "GET", "/v1/alerts");
  ASSERT_EQ(staff.status, 200) << Describe(staff);
  EXPECT_NE(staff.body.find(expiring.id), std::string::npos);
  HttpResult admin = S().As(kAdmin, "GET", "/v1/alerts");
  ASSERT_EQ(admin.status, 200) << Describe(admin);
  EXPECT_EQ(JsonObject(admin.body)->getArray("overdueLoans")->size(), 0u) << admin.body;
  EXPECT_EQ(JsonObject(admin.body)->getArray("certificates")->size(), 0u) << admin.body;
  // Nothing here is overdue: no original is out past its due date.
  for (const auto& l : List("archivist", "?overdue=true")) {
    EXPECT_TRUE(l->getValue<bool>("overdue")) << Stringify(l);
  }
}

TEST_F(ApiLoans, MineListsOnlyTheCallersLoans) {
  Checked rec = CheckIn(GeneralJson("Trade fair budget"), PatternBytes(300, 111));
  ASSERT_NE(rec.id, "");
  Poco::JSON::Object::Ptr staffs = RequestOk("staff", rec.id, "digital");
  Poco::JSON::Object::Ptr approvers = RequestOk("approver", rec.id, "digital");
  Poco::JSON::Object::Ptr legals = RequestOk("legal", rec.id, "physical");
  ASSERT_TRUE(staffs && approvers && legals);

  auto ids = [](const std::vector<Poco::JSON::Object::Ptr>& loans) {
    std::set<std::string> out;
    for (const auto& l : loans) out.insert(Str(l, "id"));
    return out;
  };
  std::vector<Poco::JSON::Object::Ptr> mine = List("staff", "?mine=true");
  ASSERT_FALSE(mine.empty());
  for (const auto& l : mine) EXPECT_EQ(Str(l, "borrower"), "staff") << Stringify(l);
  EXPECT_TRUE(ids(mine).count(Str(staffs, "id")));
  // Staff see only their own loans even without asking.
  EXPECT_EQ(ids(List("staff", "")), ids(mine));

  std::vector<Poco::JSON::Object::Ptr> approver_mine = List("approver", "?mine=true");
  for (const auto& l : approver_mine) EXPECT_EQ(Str(l, "borrower"), "approver") << Stringify(l);
  EXPECT_TRUE(ids(approver_mine).count(Str(approvers, "id")));
  // Without `mine` an approver sees the department's loans.
  std::set<std::string> department = ids(List("approver", "?recordId=" + rec.id));
  EXPECT_EQ(department,
            (std::set<std::string>{Str(staffs, "id"), Str(approvers, "id"), Str(legals, "id")}));

  // Filters combine.
  EXPECT_EQ(ids(List("archivist", "?recordId=" + rec.id + "&state=requested")), department);
  ASSERT_TRUE(ActOk("approver", Str(staffs, "id"), "approve"));
  EXPECT_EQ(ids(List("staff", "?mine=true&state=checked_out&recordId=" + rec.id)),
            std::set<std::string>{Str(staffs, "id")});
  EXPECT_EQ(ids(List("archivist", "?recordId=" + rec.id + "&state=requested")),
            (std::set<std::string>{Str(approvers, "id"), Str(legals, "id")}));
}

// One rule decides who sees a loan (its borrower and purpose): the loan list,
// the record view and the record's history. Staff saw other people's loans
// through the record view and /history although GET /v1/loans hid them.
TEST_F(ApiLoans, StaffSawOtherPeoplesLoansInRecordViewAndHistory) {
  Checked rec = CheckIn(GeneralJson("客户拜访纪要 Customer visit notes", "confidential"),
                        PatternBytes(400, 505));
  ASSERT_NE(rec.id, "");
  const std::string purpose = "诉讼准备 litigation preparation against 华东贸易";
  Poco::JSON::Object::Ptr legals = RequestOk("legal", rec.id, "digital", purpose);
  Poco::JSON::Object::Ptr staffs = RequestOk("staff", rec.id, "digital", "我的用途 my own purpose");
  ASSERT_TRUE(legals && staffs);
  const std::string legal_id = Str(legals, "id"), staff_id = Str(staffs, "id");
  ASSERT_TRUE(ActOk("approver", legal_id, "approve"));
  ASSERT_EQ(S().As("legal", "GET", rec.content_path).status, 200);  // a read under legal's loan

  auto loan_ids = [](const Poco::JSON::Object::Ptr& view) {
    std::set<std::string> out;
    for (const auto& l : Objects(view->getArray("loans"))) out.insert(Str(l, "id"));
    return out;
  };
  auto history = [&](const std::string& role) {
    HttpResult r = S().As(role, "GET", "/v1/records/" + rec.id + "/history");
    EXPECT_EQ(r.status, 200) << Describe(r);
    return r.body;
  };
  auto listed = [&](const std::string& role) {
    std::set<std::string> out;
    for (const auto& l : List(role, "?recordId=" + rec.id)) out.insert(Str(l, "id"));
    return out;
  };

  // Staff: their own loan everywhere, legal's nowhere.
  EXPECT_EQ(listed("staff"), std::set<std::string>{staff_id});
  EXPECT_EQ(loan_ids(Record(rec.id, "staff")), std::set<std::string>{staff_id});
  const std::string staff_history = history("staff");
  EXPECT_EQ(staff_history.find(legal_id), std::string::npos) << staff_history.substr(0, 600);
  EXPECT_EQ(staff_history.find("litigation"), std::string::npos);
  EXPECT_EQ(staff_history.find("\"actor\":\"legal\""), std::string::npos);
  EXPECT_NE(staff_history.find(staff_id), std::string::npos);
  EXPECT_NE(staff_history.find("record.checkin"), std::string::npos);

  // The department's approver and the auditor see both, in all three places.
  const std::set<std::string> both{legal_id, staff_id};
  for (const std::string role : {"approver", "auditor"}) {
    EXPECT_EQ(listed(role), both) << role;
    EXPECT_EQ(loan_ids(Record(rec.id, role)), both) << role;
    const std::string h = history(role);
    EXPECT_NE(h.find(legal_id), std::string::npos) << role;
    EXPECT_NE(h.find(staff_id), std::string::npos) << role;
  }
}

// An approver of another department does not see the department's loans
// (MaySeeLoan), so approving one is 404 loan_not_found, like a loan that
// does not exist, and changes nothing; 403 wrong_department is for a loan
// they may see: their own loan of another department's record.
TEST_F(ApiLoans, ApproverOfAnotherDepartmentGets404ForTheLoan) {
  const std::string outsider =
      S().AddUserAndSignIn("approver-legal", "approver-legal-pass", "approver", "legal");
  ASSERT_FALSE(outsider.empty());
  Checked rec = CheckIn(GeneralJson("展会预算 Trade fair budget 2027"), PatternBytes(200, 77));
  ASSERT_NE(rec.id, "");
  Poco::JSON::Object::Ptr staffs = RequestOk("staff", rec.id, "digital");
  ASSERT_TRUE(staffs);
  const std::string id = Str(staffs, "id");
  ExpectError(S().Call(outsider, "GET", "/v1/loans/" + id), 404, "loan_not_found");
  ExpectError(S().Call(outsider, "POST", "/v1/loans/" + id + "/approve"), 404, "loan_not_found");
  HttpResult still = S().As("archivist", "GET", "/v1/loans/" + id);
  ASSERT_EQ(still.status, 200) << Describe(still);
  EXPECT_EQ(Str(JsonObject(still.body), "state"), "requested");

  HttpResult own = S().Call(outsider, "POST", "/v1/loans",
                            LoanBody(rec.id, "digital", HoursFromNow(48)), kJson);
  ASSERT_EQ(own.status, 201) << Describe(own);
  ExpectError(S().Call(outsider, "POST", "/v1/loans/" + Str(JsonObject(own.body), "id") + "/approve"),
              403, "wrong_department");
}

// ------------------------------------------------------------ CSV defusing

// The rows of an RFC 4180 text (quoted cells may hold commas, quotes, CR, LF).
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string cell;
  bool quoted = false, was_quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        cell += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c == '"' && cell.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == ',') {
      rows.back().push_back(cell);
      cell.clear();
      was_quoted = false;
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      rows.back().push_back(cell);
      cell.clear();
      was_quoted = false;
      rows.emplace_back();
      ++i;
    } else {
      cell += c;
    }
  }
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

// Cells a spreadsheet would run as a formula: each must come out of the
// register CSV as one cell, prefixed with a single quote. Before the one
// rule (http::LooksLikeFormula) 8 of the first 22 got through.
const std::vector<std::string> kFormulaCells = {
    "=1+1",                                   // 1 plain
    "+86 21 5555",                            // 2
    "-2+3",                                   // 3
    "@SUM(A1:A2)",                            // 4
    " =1+1",                                  // 5 leading space
    "\u3000=HYPERLINK(\"http://x\",\"点这里\")",  // 6 ideographic space
    "\uFF1D1+1",                              // 7 full-width ＝
    "\uFF0BCMD|' /C calc'!A0",                // 8 full-width ＋
    "\uFF0D1+1",                              // 9 full-width －
    "\uFF20SUM(1,2)",                         // 10 full-width ＠
    "\t=1+1",                                 // 11 tab
    "\r=1+1",                                 // 12 CR
    "\n=1+1",                                 // 13 LF
    "\r\n=1+1",                               // 14 CRLF
    "\t",                                     // 15 a lone tab
    "\r借阅",                                 // 16 CR then Chinese
    "\u00A0=1+1",                             // 17 no-break space
    "\u2003\u3000 \t=cmd|'/c calc'!A1",       // 18 mixed spaces
    "\uFEFF=1+1",                             // 19 byte order mark
    "\u200B@x",                               // 20 zero-width space
    "\u3000\uFF1D合同金额*2",                 // 21 ideographic space, full-width ＝
    "   \uFF0B借阅用途",                       // 22 spaces, full-width ＋
    "\uFE66SUM(1)",                           // 23 small ﹦
    "\u2212" "1",                             // 24 minus sign
    "\v-1",                                   // 25 vertical tab
};

// Text that must come out unchanged (no quote added).
const std::vector<std::string> kPlainCells = {
    "合同正本 2026", "项目-2026", "a=b", "报价单（2026）", " 普通用途", "\u3000审计", "", "1-2",
};

TEST(RegisterCsvTest, FormulaCellsGotThroughUndefused) {
  std::vector<domain::Loan> loans;
  std::vector<std::string> cells = kFormulaCells;
  cells.insert(cells.end(), kPlainCells.begin(), kPlainCells.end());
  for (size_t i = 0; i < cells.size(); ++i) {
    domain::Loan l;
    l.id = "LN-2026-" + std::to_string(100000 + i);
    l.record_id = domain::RecordId{"GN-2026-000001"};
    l.record_title = cells[i];
    l.borrower = "staff";
    l.department = "销售部";
    l.purpose = cells[i];
    loans.push_back(l);
  }
  const std::string csv = http::RegisterCsv(loans, std::chrono::system_clock::now());
  std::vector<std::vector<std::string>> rows = ParseCsv(csv);
  ASSERT_EQ(rows.size(), cells.size() + 1) << csv;
  int undefused = 0;
  for (size_t i = 0; i < cells.size(); ++i) {
    const std::vector<std::string>& row = rows[i + 1];
    ASSERT_EQ(row.size(), 14u) << "row " << i;
    const bool formula = i < kFormulaCells.size();
    const std::string want = formula ? "'" + cells[i] : cells[i];
    for (size_t column : {2u, 6u}) {  // recordTitle, purpose
      if (row[column] != want) ++undefused;
      EXPECT_EQ(row[column], want) << "cell " << i + 1 << " column " << column;
    }
    EXPECT_EQ(http::LooksLikeFormula(cells[i]), formula) << "cell " << i + 1;
  }
  EXPECT_EQ(undefused, 0);
}

// The same rule through the real server: purposes that start with a
// formula behind spaces (ASCII, U+3000, no-break) or in full-width form
// leave GET /v1/loans/register?format=csv defused.
TEST_F(ApiLoans, RegisterCsvLetFormulasBehindSpacesThrough) {
  Checked rec = CheckIn(GeneralJson("借阅登记测试 Register cells"), PatternBytes(100, 9));
  ASSERT_NE(rec.id, "");
  const std::vector<std::string> purposes = {
      " =1+1", "\u3000=HYPERLINK(\"http://x\")", "\uFF1D1+1", "\uFF0B借阅", "\uFF0D1",
      "\uFF20SUM(1)", "\u00A0@x", "\t=1+1", "\u3000\uFF1D合同*2", "合同正本 normal purpose"};
  const std::vector<std::string> roles = {"staff", "approver", "legal", "auditor", "archivist"};
  std::map<std::string, std::string> purpose_of;  // loan id → purpose
  for (size_t i = 0; i < purposes.size(); ++i) {
    Poco::JSON::Object::Ptr l =
        RequestOk(roles[i % roles.size()], rec.id, i < roles.size() ? "digital" : "physical", purposes[i]);
    ASSERT_TRUE(l) << i;
    purpose_of[Str(l, "id")] = purposes[i];
  }
  HttpResult csv = S().As("auditor", "GET", "/v1/loans/register?format=csv");
  ASSERT_EQ(csv.status, 200) << Describe(csv);
  size_t seen = 0;
  for (const auto& row : ParseCsv(csv.body)) {
    auto it = row.empty() ? purpose_of.end() : purpose_of.find(row[0]);
    if (it == purpose_of.end()) continue;
    ++seen;
    ASSERT_EQ(row.size(), 14u);
    const bool plain = it->second == purposes.back();
    EXPECT_EQ(row[6], (plain ? "" : "'") + it->second) << it->first;
  }
  EXPECT_EQ(seen, purposes.size());
}

}  // namespace
}  // namespace custos::testing::api
