#include "domain/loan.h"

#include <Poco/JSON/Array.h>

#include <utility>

#include "domain/workflow.h"

namespace custos::domain {

namespace {

constexpr EnumNames<LoanKind, 2> kKinds{{{
    {LoanKind::kDigital, "digital"},
    {LoanKind::kPhysical, "physical"},
}}};

constexpr EnumNames<LoanState, 7> kStates{{{
    {LoanState::kRequested, "requested"},
    {LoanState::kApproved, "approved"},
    {LoanState::kCheckedOut, "checked_out"},
    {LoanState::kReturned, "returned"},
    {LoanState::kRejected, "rejected"},
    {LoanState::kRevoked, "revoked"},
    {LoanState::kExpired, "expired"},
}}};

// ---- JSON helpers for the stored body (written by us, read strictly).

Poco::JSON::Object::Ptr ApprovalJson(const LoanApproval& a) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("by", a.by);
  o->set("at", FormatTime(a.at));
  o->set("logIndex", static_cast<Poco::Int64>(a.log_index));
  return o;
}

Poco::JSON::Array::Ptr ApprovalsJson(const std::vector<LoanApproval>& list) {
  Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
  for (const LoanApproval& a : list) arr->add(ApprovalJson(a));
  return arr;
}

void SetTime(Poco::JSON::Object& o, const std::string& key, const std::optional<Time>& t) {
  if (t) o.set(key, FormatTime(*t));
}

struct Reader {
  Poco::JSON::Object::Ptr o;
  bool ok = true;

  std::string Str(const std::string& key) {
    if (!o->has(key)) return "";
    try {
      return o->getValue<std::string>(key);
    } catch (...) {
      ok = false;
      return "";
    }
  }
  int64_t Int(const std::string& key) {
    if (!o->has(key)) return 0;
    try {
      return o->getValue<Poco::Int64>(key);
    } catch (...) {
      ok = false;
      return 0;
    }
  }
  std::optional<Time> OptTime(const std::string& key) {
    if (!o->has(key)) return std::nullopt;
    auto t = ParseTime(Str(key));
    if (!t.ok()) {
      ok = false;
      return std::nullopt;
    }
    return *t;
  }
  Time MustTime(const std::string& key) {
    auto t = OptTime(key);
    if (!t) ok = false;
    return t.value_or(Time{});
  }
  Poco::JSON::Array::Ptr Arr(const std::string& key) {
    if (!o->has(key)) return new Poco::JSON::Array;
    Poco::JSON::Array::Ptr a = o->getArray(key);
    if (!a) {
      ok = false;
      return new Poco::JSON::Array;
    }
    return a;
  }
  Poco::JSON::Object::Ptr Obj(const std::string& key) { return o->has(key) ? o->getObject(key) : nullptr; }
};

std::vector<LoanApproval> ReadApprovals(Reader& r, const std::string& key) {
  std::vector<LoanApproval> out;
  Poco::JSON::Array::Ptr arr = r.Arr(key);
  for (size_t i = 0; i < arr->size(); ++i) {
    Reader a{arr->getObject(i)};
    if (!a.o) {
      r.ok = false;
      continue;
    }
    out.push_back({a.Str("by"), a.MustTime("at"), static_cast<uint64_t>(a.Int("logIndex"))});
    r.ok = r.ok && a.ok;
  }
  return out;
}

}  // namespace

std::string_view Name(LoanKind k) { return kKinds.Name(k); }
std::string_view Name(LoanState s) { return kStates.Name(s); }
StatusOr<LoanKind> ParseLoanKind(std::string_view s) { return kKinds.Parse(s, "loan kind", "invalid_kind"); }
StatusOr<LoanState> ParseLoanState(std::string_view s) { return kStates.Parse(s, "loan state", "invalid_state"); }

LoanState EffectiveState(const Loan& loan, Time now) {
  if (now < loan.due_at) return loan.state;
  switch (loan.state) {
    case LoanState::kRequested:
    case LoanState::kApproved:
      return LoanState::kExpired;
    case LoanState::kCheckedOut:
      return loan.kind == LoanKind::kDigital ? LoanState::kExpired : LoanState::kCheckedOut;
    default:
      return loan.state;
  }
}

bool IsOverdue(const Loan& loan, Time now) {
  return loan.kind == LoanKind::kPhysical && loan.state == LoanState::kCheckedOut &&
         now >= loan.due_at;
}

bool IsOpen(const Loan& loan, Time now) {
  LoanState s = EffectiveState(loan, now);
  return s == LoanState::kRequested || s == LoanState::kApproved || s == LoanState::kCheckedOut;
}

bool GrantsContentAccess(const Loan& loan, const std::string& username, Time now) {
  return loan.kind == LoanKind::kDigital && loan.borrower == username &&
         EffectiveState(loan, now) == LoanState::kCheckedOut;
}

Poco::JSON::Object::Ptr LoanObject(const Loan& loan) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("id", loan.id);
  o->set("recordId", loan.record_id.value);
  o->set("recordTitle", loan.record_title);
  o->set("department", loan.department);
  o->set("classification", std::string(Name(loan.classification)));
  o->set("kind", std::string(Name(loan.kind)));
  o->set("state", std::string(Name(loan.state)));
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
  o->set("closedBy", loan.closed_by);
  o->set("reason", loan.reason);
  if (loan.renewal) {
    Poco::JSON::Object::Ptr r = new Poco::JSON::Object;
    r->set("dueAt", FormatTime(loan.renewal->due_at));
    r->set("requestedAt", FormatTime(loan.renewal->requested_at));
    r->set("approvals", ApprovalsJson(loan.renewal->approvals));
    o->set("renewal", r);
  }
  o->set("renewals", loan.renewals);
  Poco::JSON::Array::Ptr events = new Poco::JSON::Array;
  for (const LoanEvent& e : loan.events) {
    Poco::JSON::Object::Ptr x = new Poco::JSON::Object;
    x->set("action", e.action);
    x->set("by", e.by);
    x->set("at", FormatTime(e.at));
    x->set("logIndex", static_cast<Poco::Int64>(e.log_index));
    events->add(x);
  }
  o->set("events", events);
  return o;
}

StatusOr<Loan> LoanFromObject(const Poco::JSON::Object::Ptr& o) {
  Loan l;
  auto corrupt = [&] { return DataLoss("loan " + l.id + " does not decode", "loan_corrupt"); };
  if (!o) return corrupt();
  Reader r{o};
  l.id = r.Str("id");
  l.record_id = RecordId{r.Str("recordId")};
  l.record_title = r.Str("recordTitle");
  l.department = r.Str("department");
  auto classification = ParseClassification(r.Str("classification"));
  auto kind = ParseLoanKind(r.Str("kind"));
  auto state = ParseLoanState(r.Str("state"));
  if (!classification.ok() || !kind.ok() || !state.ok()) return corrupt();
  l.classification = *classification;
  l.kind = *kind;
  l.state = *state;
  l.borrower = r.Str("borrower");
  l.purpose = r.Str("purpose");
  l.requested_at = r.MustTime("requestedAt");
  l.due_at = r.MustTime("dueAt");
  l.approvals_needed = static_cast<int>(r.Int("approvalsNeeded"));
  l.approvals = ReadApprovals(r, "approvals");
  l.checked_out_at = r.OptTime("checkedOutAt");
  l.checked_out_by = r.Str("checkedOutBy");
  l.returned_at = r.OptTime("returnedAt");
  l.returned_by = r.Str("returnedBy");
  l.closed_at = r.OptTime("closedAt");
  l.closed_by = r.Str("closedBy");
  l.reason = r.Str("reason");
  if (Poco::JSON::Object::Ptr renewal = r.Obj("renewal")) {
    Reader rr{renewal};
    LoanRenewal x;
    x.due_at = rr.MustTime("dueAt");
    x.requested_at = rr.MustTime("requestedAt");
    x.approvals = ReadApprovals(rr, "approvals");
    r.ok = r.ok && rr.ok;
    l.renewal = x;
  }
  l.renewals = static_cast<int>(r.Int("renewals"));
  Poco::JSON::Array::Ptr events = r.Arr("events");
  for (size_t i = 0; i < events->size(); ++i) {
    Reader e{events->getObject(i)};
    if (!e.o) return corrupt();
    l.events.push_back({e.Str("action"), e.Str("by"), e.MustTime("at"),
                        static_cast<uint64_t>(e.Int("logIndex"))});
    r.ok = r.ok && e.ok;
  }
  if (!r.ok) return corrupt();
  return l;
}

const std::vector<LoanState>& OpenStates() {
  static const std::vector<LoanState> open = {LoanState::kRequested, LoanState::kApproved,
                                              LoanState::kCheckedOut};
  return open;
}

}  // namespace custos::domain
