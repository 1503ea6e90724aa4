#include "server/http/loan_routes.h"

#include <Poco/JSON/Array.h>
#include <Poco/Net/HTTPServerRequest.h>

#include "server/http/json_codec.h"
#include "server/http/route_util.h"

namespace custos::http {

using domain::Loan;
using services::LoanService;
using domain::FormatTime;
using domain::Time;

namespace {


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

// The optional "dueAt" of a request or renewal; 422 "invalid_due_date" when not a time.
StatusOr<std::optional<Time>> DueAt(const Poco::JSON::Object::Ptr& body) {
  CUSTOS_ASSIGN_OR_RETURN(auto due, OptString(body, "dueAt"));
  if (!due) return std::optional<Time>();
  auto parsed = domain::ParseTime(*due);
  if (!parsed.ok()) return Unprocessable("dueAt must be an RFC 3339 time", "invalid_due_date");
  return std::optional<Time>(*parsed);
}

StatusOr<services::LoanRequest> DecodeLoanRequest(const Poco::JSON::Object::Ptr& o) {
  CUSTOS_RETURN_IF_ERROR(OnlyKeys(o, {"recordId", "kind", "purpose", "dueAt"}));
  services::LoanRequest r;
  CUSTOS_ASSIGN_OR_RETURN(r.record_id, ReqString(o, "recordId"));
  CUSTOS_ASSIGN_OR_RETURN(r.kind, ReqString(o, "kind"));
  CUSTOS_ASSIGN_OR_RETURN(auto purpose, OptString(o, "purpose"));
  r.purpose = purpose.value_or("");
  CUSTOS_ASSIGN_OR_RETURN(r.due_at, DueAt(o));
  return r;
}

}  // namespace


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
    for (uint64_t i : LoanLogIndices(l)) indices += (indices.empty() ? "" : " ") + std::to_string(i);
    auto opt = [](const std::optional<Time>& t) { return t ? FormatTime(*t) : std::string(); };
    std::vector<std::string> cells = {l.id,
                                      l.record_id.value,
                                      l.record_title,
                                      std::string(domain::Name(l.kind)),
                                      l.borrower,
                                      l.department,
                                      l.purpose,
                                      approvers,
                                      FormatTime(l.requested_at),
                                      opt(l.checked_out_at),
                                      FormatTime(l.due_at),
                                      opt(l.returned_at),
                                      std::string(domain::Name(domain::EffectiveState(l, now))),
                                      indices};
    for (size_t i = 0; i < cells.size(); ++i) out += (i ? "," : "") + Cell(cells[i]);
    out += "\r\n";
  }
  return out;
}

namespace {

using services::AuthenticatedSession;

Response OneLoan(LoanService& loans, const StatusOr<Loan>& r, int status) {
  Time now = loans.Now();
  return RenderOne(r, status, [now](const Loan& l) { return LoanJson(l, now); });
}

Response ManyLoans(LoanService& loans, const StatusOr<std::vector<Loan>>& r) {
  Time now = loans.Now();
  return RenderList(r, "loans", [now](const Loan& l) { return LoanJson(l, now); });
}

StatusOr<services::LoanFilter> DecodeLoanFilter(const RequestContext& ctx) {
  services::LoanFilter f;
  CUSTOS_ASSIGN_OR_RETURN(f.overdue, QueryBool(ctx, "overdue"));
  CUSTOS_ASSIGN_OR_RETURN(f.mine, QueryBool(ctx, "mine"));
  if (auto state = ctx.Query("state"); state && !state->empty()) {
    auto parsed = domain::ParseLoanState(*state);
    if (!parsed.ok()) return InvalidArgument(parsed.status().message(), "invalid_parameter");
    f.state = *parsed;
  }
  if (auto record = ctx.Query("recordId")) f.record_id = *record;
  return f;
}

// "csv" or "json": the format parameter, else the Accept header.
StatusOr<std::string> RegisterFormat(const RequestContext& ctx) {
  std::string format = ctx.Query("format").value_or("");
  if (format.empty()) {
    format = ctx.request.get("Accept", "").find("text/csv") != std::string::npos ? "csv" : "json";
  }
  if (format != "csv" && format != "json") {
    return InvalidArgument("format must be csv or json", "invalid_parameter");
  }
  return format;
}

Poco::JSON::Object::Ptr RegisterJson(const std::vector<Loan>& rows, const std::optional<Time>& from,
                                     const std::optional<Time>& to, Time now) {
  Poco::JSON::Object::Ptr o = ListObject("loans", rows, [now](const Loan& l) { return LoanJson(l, now); });
  o->set("from", TimeOrNull(from));
  o->set("to", TimeOrNull(to));
  o->set("generatedAt", FormatTime(now));
  return o;
}



const std::string& LoanIdParam(const RequestContext& ctx) { return ctx.params.at("id"); }

// ---- handlers

Response RequestLoan(LoanService& loans, RequestContext& ctx, const AuthenticatedSession& s) {
  auto body = JsonBody(ctx);
  if (!body.ok()) return Response::Error(body.status());
  auto request = DecodeLoanRequest(*body);
  if (!request.ok()) return Response::Error(request.status());
  return OneLoan(loans, loans.Request(s.principal, *request), 201);
}

Response ListLoans(LoanService& loans, RequestContext& ctx, const AuthenticatedSession& s) {
  auto filter = DecodeLoanFilter(ctx);
  if (!filter.ok()) return Response::Error(filter.status());
  return ManyLoans(loans, loans.List(s.principal, *filter));
}

Response LoanRegister(LoanService& loans, RequestContext& ctx, const AuthenticatedSession& s) {
  auto from = QueryTime(ctx, "from");
  auto to = QueryTime(ctx, "to");
  if (!from.ok()) return Response::Error(from.status());
  if (!to.ok()) return Response::Error(to.status());
  auto format = RegisterFormat(ctx);
  if (!format.ok()) return Response::Error(format.status());
  auto rows = loans.Register(s.principal, *from, *to);
  if (!rows.ok()) return Response::Error(rows.status());
  Time now = loans.Now();
  if (*format == "json") return JsonOk(200, RegisterJson(*rows, *from, *to, now));
  Response r = Response::Text(200, RegisterCsv(*rows, now), "text/csv; charset=utf-8");
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"loan-register.csv\"");
  return r;
}

Response GetLoan(LoanService& loans, RequestContext& ctx, const AuthenticatedSession& s) {
  return OneLoan(loans, loans.Get(s.principal, LoanIdParam(ctx)), 200);
}

Response ApproveLoan(LoanService& loans, RequestContext& ctx, const AuthenticatedSession& s) {
  auto reason = ReasonBody(ctx);
  if (!reason.ok()) return Response::Error(reason.status());
  return OneLoan(loans, loans.Approve(s.principal, LoanIdParam(ctx), *reason), 200);
}

Response RejectLoan(LoanService& loans, RequestContext& ctx, const AuthenticatedSession& s) {
  auto reason = ReasonBody(ctx);
  if (!reason.ok()) return Response::Error(reason.status());
  return OneLoan(loans, loans.Reject(s.principal, LoanIdParam(ctx), *reason), 200);
}

Response CheckoutLoan(LoanService& loans, RequestContext& ctx, const AuthenticatedSession& s) {
  if (auto body = OptionalJsonBody(ctx, {}); !body.ok()) return Response::Error(body.status());
  return OneLoan(loans, loans.Checkout(s.principal, LoanIdParam(ctx)), 200);
}

Response ReturnLoan(LoanService& loans, RequestContext& ctx, const AuthenticatedSession& s) {
  if (auto body = OptionalJsonBody(ctx, {}); !body.ok()) return Response::Error(body.status());
  return OneLoan(loans, loans.Return(s.principal, LoanIdParam(ctx)), 200);
}

Response RenewLoan(LoanService& loans, RequestContext& ctx, const AuthenticatedSession& s) {
  auto body = OptionalJsonBody(ctx, {"dueAt"});
  if (!body.ok()) return Response::Error(body.status());
  auto due = DueAt(*body);
  if (!due.ok()) return Response::Error(due.status());
  return OneLoan(loans, loans.Renew(s.principal, LoanIdParam(ctx), *due), 200);
}

Response RevokeLoan(LoanService& loans, RequestContext& ctx, const AuthenticatedSession& s) {
  auto reason = ReasonBody(ctx);
  if (!reason.ok()) return Response::Error(reason.status());
  return OneLoan(loans, loans.Revoke(s.principal, LoanIdParam(ctx), *reason), 200);
}

Response GetAlerts(LoanService& loans, const services::VerifySchedule* verification,
                   const services::RowIntegrityMonitor* row_integrity,
                   const services::FreshReadLog* fresh_reads, const services::CheckpointAttester* attester,
                   const AuthenticatedSession& s) {
  Time now = loans.Now();
  std::optional<services::VerificationAlert> found;
  if (verification != nullptr) found = verification->AlertFor(s.principal);
  std::optional<services::RowIntegrityAlert> rows;
  if (row_integrity != nullptr) rows = row_integrity->AlertFor(s.principal);
  std::vector<services::FreshRead> fresh;
  if (fresh_reads != nullptr) fresh = fresh_reads->FreshReads(s.principal);
  std::optional<services::AttestationAlert> attestation;
  if (attester != nullptr) attestation = attester->AlertFor(s.principal);
  return RenderOne(loans.GetAlerts(s.principal), 200,
                   [now, &found, &rows, &fresh, &attestation](const services::Alerts& a) {
                     return AlertsJson(a, found, rows, fresh, attestation, now);
                   });
}

}  // namespace

void AddLoanRoutes(Router& router, services::AuthService& auth, LoanService& loans,
                   const services::VerifySchedule* verification,
                   const services::RowIntegrityMonitor* row_integrity,
                   const services::FreshReadLog* fresh_reads,
                   const services::CheckpointAttester* attester) {
  router.Add("GET", "/v1/alerts",
             WithSession(auth, [&loans, verification, row_integrity, fresh_reads, attester](
                                   RequestContext&, const AuthenticatedSession& s) {
               return GetAlerts(loans, verification, row_integrity, fresh_reads, attester, s);
             }));
  AddSignedInRoutes<LoanService>(router, auth, loans, {
      {"POST", "/v1/loans", RequestLoan},
      {"GET", "/v1/loans", ListLoans},
      {"GET", "/v1/loans/register", LoanRegister},
      {"GET", "/v1/loans/{id}", GetLoan},
      {"POST", "/v1/loans/{id}/approve", ApproveLoan},
      {"POST", "/v1/loans/{id}/reject", RejectLoan},
      {"POST", "/v1/loans/{id}/checkout", CheckoutLoan},
      {"POST", "/v1/loans/{id}/return", ReturnLoan},
      {"POST", "/v1/loans/{id}/renew", RenewLoan},
      {"POST", "/v1/loans/{id}/revoke", RevokeLoan},
  });
}

}  // namespace custos::http
