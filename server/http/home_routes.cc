#include "server/http/home_routes.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include "server/http/json_codec.h"
#include "server/http/route_util.h"

namespace custos::http {

using services::HomeSummary;

namespace {

Poco::JSON::Object::Ptr ApprovalsJson(const services::ApprovalCounts& c) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  auto put = [&](const char* key, const std::optional<uint64_t>& n) {
    if (n) o->set(key, static_cast<Poco::UInt64>(*n));
  };
  put("loans", c.loans);
  put("destructions", c.destructions);
  put("retentionChanges", c.retention_changes);
  put("grants", c.grants);
  return o;
}

Poco::JSON::Object::Ptr MyLoanJson(const services::MyLoan& l) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("id", l.id);
  o->set("recordId", l.record_id);
  o->set("title", l.title);
  o->set("state", std::string(domain::Name(l.state)));
  o->set("dueAt", domain::FormatTime(l.due_at));
  o->set("overdue", l.overdue);
  return o;
}

Poco::JSON::Object::Ptr VerificationJson(const services::LastVerification& v) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("at", TimeOrNull(v.at));
  o->set("result", v.result);
  o->set("findings", static_cast<Poco::UInt64>(v.findings));
  return o;
}

// Only the parts the summary carries: a part left out is one the role
// may not see.
Poco::JSON::Object::Ptr SummaryJson(const HomeSummary& s) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  auto count = [&](const char* key, const std::optional<uint64_t>& n) {
    if (n) o->set(key, static_cast<Poco::UInt64>(*n));
  };
  if (s.approvals) o->set("approvals", ApprovalsJson(*s.approvals));
  if (s.my_loans) {
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    for (const services::MyLoan& l : *s.my_loans) arr->add(MyLoanJson(l));
    o->set("myLoans", arr);
  }
  count("expiringCertificates", s.expiring_certificates);
  count("overdueOriginals", s.overdue_originals);
  count("dispositionQueue", s.disposition_queue);
  count("pendingRetentionChanges", s.pending_retention_changes);
  if (s.last_verification) o->set("lastVerification", VerificationJson(*s.last_verification));
  return o;
}

}  // namespace

void AddHomeRoutes(Router& router, services::AuthService& auth, const services::HomeService& home) {
  router.Add("GET", "/v1/me/summary",
             WithSession(auth, [home](RequestContext&, const services::AuthenticatedSession& s) {
               return RenderOne(home.Summary(s.principal), 200, SummaryJson);
             }));
}

}  // namespace custos::http
