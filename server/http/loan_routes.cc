#include "server/http/loan_routes.h"

#include <Poco/JSON/Array.h>
#include <Poco/Net/HTTPServerRequest.h>

#include "server/http/json_codec.h"
#include "server/http/route_util.h"

namespace custos::http {

using services::Loan;
using services::LoanService;
using domain::FormatTime;
using domain::Time;

namespace {

void SetTime(Poco::JSON::Object& o, const std::string& key, const std::optional<Time>& t) {
  if (t) {
    o.set(key, FormatTime(*t));
  } else {
    o.set(key, Poco::Dynamic::Var());
  }
}

Poco::JSON::Array::Ptr ApprovalsJson(const std::vector<services::LoanApproval>& list) {
  Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
  for (const auto& a : list) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("by", a.by);
    o->set("at", FormatTime(a.at));
    o->set("logIndex", static_cast<Poco::UInt64>(a.log_index));
    arr->add(o);
  }
  return arr;
}

std::vector<uint64_t> LogIndices(const Loan& loan) {
  std::vector<uint64_t> out;
  for (const auto& e : loan.events) out.push_back(e.log_index);
  return out;
}

// Whitespace a spreadsheet may skip before it looks for a formula: ASCII
// (space, tab, LF, VT, FF, CR) and Unicode (NEL, no-break space, the
// U+2000 spaces, line and paragraph separators, U+3000 ideographic space,
// zero-width space and the byte order mark among them).
bool IsSkippedSpace(uint32_t cp) {
  return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200B) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

// = + - @ and the forms a spreadsheet folds into them: full-width
// (＝ ＋ － ＠), small (﹦ ﹢ ﹣ ﹫) and the minus sign U+2212.
bool IsFormulaStart(uint32_t cp) {
  switch (cp) {
    case '=': case '+': case '-': case '@':
    case 0xFF1D: case 0xFF0B: case 0xFF0D: case 0xFF20:
    case 0xFE66: case 0xFE62: case 0xFE63: case 0xFE6B:
    case 0x2212:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool LooksLikeFormula(std::string_view text) {
  if (!text.empty() && (text[0] == '\t' || text[0] == '\r')) return true;
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = domain::NextCodePoint(text, i);
    if (IsSkippedSpace(cp)) continue;
    return IsFormulaStart(cp);
  }
  return false;
}

namespace {

// One CSV cell: defused with a leading apostrophe when LooksLikeFormula,
// then quoted when needed (RFC 4180).
std::string Cell(const std::string& text) {
  std::string v = LooksLikeFormula(text) ? "'" + text : text;
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

StatusOr<services::LoanRequest> DecodeLoanRequest(const Poco::JSON::Object::Ptr& o) {
  CUSTOS_RETURN_IF_ERROR(OnlyKeys(o, {"recordId", "kind", "purpose", "dueAt"}));
  services::LoanRequest r;
  CUSTOS_ASSIGN_OR_RETURN(r.record_id, ReqString(o, "recordId"));
  CUSTOS_ASSIGN_OR_RETURN(r.kind, ReqString(o, "kind"));
  CUSTOS_ASSIGN_OR_RETURN(auto purpose, OptString(o, "purpose"));
  r.purpose = purpose.value_or("");
  CUSTOS_ASSIGN_OR_RETURN(auto due, OptString(o, "dueAt"));
  if (due) {
    auto t = domain::ParseTime(*due);
    if (!t.ok()) return Unprocessable("dueAt must be an RFC 3339 time", "invalid_due_date");
    r.due_at = *t;
  }
  return r;
}

}  // namespace

Poco::JSON::Object::Ptr LoanJson(const Loan& loan, Time now) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("id", loan.id);
  o->set("recordId", loan.record_id.value);
  o->set("recordTitle", loan.record_title);
  o->set("department", loan.department);
  o->set("classification", std::string(domain::Name(loan.classification)));
  o->set("kind", std::string(services::Name(loan.kind)));
  o->set("state", std::string(services::Name(services::EffectiveState(loan, now))));
  o->set("overdue", services::IsOverdue(loan, now));
  o->set("borrower", loan.borrower);
  o->set("purpose", loan.purpose);
  o->set("requestedAt", FormatTime(loan.requested_at));
  o->set("dueAt", FormatTime(loan.due_at));
  o->set("approvalsNeeded", loan.approvals_needed);
  o->set("approvals", ApprovalsJson(loan.approvals));
  SetTime(*o, "checkedOutAt", loan.checked_out_at);
  o->set("checkedOutBy", loan.checked_out_by);
  SetTime(*o, "returnedAt", loan.returned_at);
  o->set("returnedBy", loan.returned_by);
  SetTime(*o, "closedAt", loan.closed_at);
  o->set("reason", loan.reason);
  if (loan.renewal) {
    Poco::JSON::Object::Ptr r = new Poco::JSON::Object;
    r->set("dueAt", FormatTime(loan.renewal->due_at));
    r->set("requestedAt", FormatTime(loan.renewal->requested_at));
    r->set("approvals", ApprovalsJson(loan.renewal->approvals));
    o->set("renewal", r);
  } else {
    o->set("renewal", Poco::Dynamic::Var());
  }
  o->set("renewals", loan.renewals);
  Poco::JSON::Array::Ptr events = new Poco::JSON::Array;
  for (const auto& e : loan.events) {
    Poco::JSON::Object::Ptr x = new Poco::JSON::Object;
    x->set("action", e.action);
    x->set("by", e.by);
    x->set("at", FormatTime(e.at));
    x->set("logIndex", static_cast<Poco::UInt64>(e.log_index));
    events->add(x);
  }
  o->set("events", events);
  Poco::JSON::Array::Ptr indices = new Poco::JSON::Array;
  for (uint64_t i : LogIndices(loan)) indices->add(static_cast<Poco::UInt64>(i));
  o->set("logIndices", indices);
  return o;
}

std::string RegisterCsv(const std::vector<Loan>& loans, Time now) {
  std::string out =
      "loan,record,recordTitle,kind,borrower,department,purpose,approvers,requestedAt,"
      "checkedOutAt,dueAt,returnedAt,state,logIndices\r\n";
  for (const Loan& l : loans) {
    std::string approvers;
    for (const auto& a : l.approvals) {
      approvers += (approvers.empty() ? "" : "; ") + a.by + " " + FormatTime(a.at);
    }
    std::string indices;
    for (uint64_t i : LogIndices(l)) indices += (indices.empty() ? "" : " ") + std::to_string(i);
    auto opt = [](const std::optional<Time>& t) { return t ? FormatTime(*t) : std::string(); };
    std::vector<std::string> cells = {l.id,
                                      l.record_id.value,
                                      l.record_title,
                                      std::string(services::Name(l.kind)),
                                      l.borrower,
                                      l.department,
                                      l.purpose,
                                      approvers,
                                      FormatTime(l.requested_at),
                                      opt(l.checked_out_at),
                                      FormatTime(l.due_at),
                                      opt(l.returned_at),
                                      std::string(services::Name(services::EffectiveState(l, now))),
                                      indices};
    for (size_t i = 0; i < cells.size(); ++i) out += (i ? "," : "") + Cell(cells[i]);
    out += "\r\n";
  }
  return out;
}

void AddLoanRoutes(Router& router, services::AuthService& auth, LoanService& loans) {
  auto one = [&loans](const StatusOr<Loan>& r, int status) {
    Time now = loans.Now();
    return Render<Loan>(r, status, [now](const Loan& l) { return Poco::Dynamic::Var(LoanJson(l, now)); });
  };
  auto many = [&loans](const StatusOr<std::vector<Loan>>& r) {
    Time now = loans.Now();
    return Render<std::vector<Loan>>(r, 200, [now](const std::vector<Loan>& list) {
      Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
      for (const Loan& l : list) arr->add(LoanJson(l, now));
      Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
      o->set("loans", arr);
      return Poco::Dynamic::Var(o);
    });
  };

  router.Add("POST", "/v1/loans", WithSession(auth, [&loans, one](RequestContext& ctx, const services::AuthenticatedSession& s) {
    auto body = JsonBody(ctx);
    if (!body.ok()) return Response::Error(body.status());
    auto request = DecodeLoanRequest(*body);
    if (!request.ok()) return Response::Error(request.status());
    return one(loans.Request(s.principal, *request), 201);
  }));
  router.Add("GET", "/v1/loans", WithSession(auth, [&loans, many](RequestContext& ctx, const services::AuthenticatedSession& s) {
    services::LoanFilter f;
    auto overdue = QueryBool(ctx, "overdue");
    auto mine = QueryBool(ctx, "mine");
    if (!overdue.ok()) return Response::Error(overdue.status());
    if (!mine.ok()) return Response::Error(mine.status());
    f.overdue = *overdue;
    f.mine = *mine;
    if (auto state = ctx.Query("state"); state && !state->empty()) {
      auto parsed = services::ParseLoanState(*state);
      if (!parsed.ok()) return Response::Error(InvalidArgument(parsed.status().message(), "invalid_parameter"));
      f.state = *parsed;
    }
    if (auto record = ctx.Query("recordId")) f.record_id = *record;
    return many(loans.List(s.principal, f));
  }));
  router.Add("GET", "/v1/loans/register", WithSession(auth, [&loans](RequestContext& ctx, const services::AuthenticatedSession& s) {
    auto from = QueryTime(ctx, "from");
    auto to = QueryTime(ctx, "to");
    if (!from.ok()) return Response::Error(from.status());
    if (!to.ok()) return Response::Error(to.status());
    std::string format = ctx.Query("format").value_or("");
    if (format.empty()) {
      format = ctx.request.get("Accept", "").find("text/csv") != std::string::npos ? "csv" : "json";
    }
    if (format != "csv" && format != "json") {
      return Response::Error(InvalidArgument("format must be csv or json", "invalid_parameter"));
    }
    auto rows = loans.Register(s.principal, *from, *to);
    if (!rows.ok()) return Response::Error(rows.status());
    Time now = loans.Now();
    if (format == "csv") {
      Response r = Response::Text(200, RegisterCsv(*rows, now), "text/csv; charset=utf-8");
      r.headers.emplace_back("Content-Disposition", "attachment; filename=\"loan-register.csv\"");
      return r;
    }
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    for (const Loan& l : *rows) arr->add(LoanJson(l, now));
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("from", *from ? Poco::Dynamic::Var(FormatTime(**from)) : Poco::Dynamic::Var());
    o->set("to", *to ? Poco::Dynamic::Var(FormatTime(**to)) : Poco::Dynamic::Var());
    o->set("generatedAt", FormatTime(now));
    o->set("loans", arr);
    return JsonOk(200, o);
  }));
  router.Add("GET", "/v1/loans/{id}", WithSession(auth, [&loans, one](RequestContext& ctx, const services::AuthenticatedSession& s) {
    return one(loans.Get(s.principal, ctx.params.at("id")), 200);
  }));

  using Action = std::function<StatusOr<Loan>(const services::Principal&, const std::string&,
                                              const Poco::JSON::Object::Ptr&)>;
  auto action = [&](const std::string& name, std::vector<std::string> keys, Action act) {
    router.Add("POST", "/v1/loans/{id}/" + name,
               WithSession(auth, [one, keys, act](RequestContext& ctx, const services::AuthenticatedSession& s) {
                 auto body = OptionalJsonBody(ctx, keys);
                 if (!body.ok()) return Response::Error(body.status());
                 return one(act(s.principal, ctx.params.at("id"), *body), 200);
               }));
  };
  auto reason = [](const Poco::JSON::Object::Ptr& o) -> StatusOr<std::string> {
    CUSTOS_ASSIGN_OR_RETURN(auto r, OptString(o, "reason"));
    return r.value_or("");
  };
  action("approve", {}, [&loans](const auto& who, const auto& id, const auto&) { return loans.Approve(who, id); });
  action("reject", {"reason"}, [&loans, reason](const auto& who, const auto& id, const auto& body) -> StatusOr<Loan> {
    CUSTOS_ASSIGN_OR_RETURN(std::string r, reason(body));
    return loans.Reject(who, id, r);
  });
  action("checkout", {}, [&loans](const auto& who, const auto& id, const auto&) { return loans.Checkout(who, id); });
  action("return", {}, [&loans](const auto& who, const auto& id, const auto&) { return loans.Return(who, id); });
  action("renew", {"dueAt"}, [&loans](const auto& who, const auto& id, const auto& body) -> StatusOr<Loan> {
    CUSTOS_ASSIGN_OR_RETURN(auto due, OptString(body, "dueAt"));
    std::optional<Time> t;
    if (due) {
      auto parsed = domain::ParseTime(*due);
      if (!parsed.ok()) return Unprocessable("dueAt must be an RFC 3339 time", "invalid_due_date");
      t = *parsed;
    }
    return loans.Renew(who, id, t);
  });
  action("revoke", {"reason"}, [&loans, reason](const auto& who, const auto& id, const auto& body) -> StatusOr<Loan> {
    CUSTOS_ASSIGN_OR_RETURN(std::string r, reason(body));
    return loans.Revoke(who, id, r);
  });

  router.Add("GET", "/v1/alerts", WithSession(auth, [&loans](RequestContext&, const services::AuthenticatedSession& s) {
    Time now = loans.Now();
    return Render<services::Alerts>(loans.GetAlerts(s.principal), 200, [now](const services::Alerts& a) {
      Poco::JSON::Array::Ptr overdue = new Poco::JSON::Array;
      for (const Loan& l : a.overdue_loans) overdue->add(LoanJson(l, now));
      Poco::JSON::Array::Ptr certs = new Poco::JSON::Array;
      for (const auto& c : a.certificates) {
        Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
        o->set("recordId", c.record.id.value);
        o->set("title", c.record.title);
        o->set("department", c.record.department);
        o->set("validUntil", c.valid_until);
        o->set("daysLeft", c.days_left);
        o->set("expired", c.expired);
        o->set("horizonDays", c.expired ? Poco::Dynamic::Var() : Poco::Dynamic::Var(c.horizon));
        certs->add(o);
      }
      Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
      o->set("overdueLoans", overdue);
      o->set("certificates", certs);
      o->set("generatedAt", FormatTime(now));
      return Poco::Dynamic::Var(o);
    });
  }));
}

}  // namespace custos::http
