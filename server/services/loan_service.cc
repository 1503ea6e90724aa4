#include "server/services/loan_service.h"

#include <algorithm>
#include <chrono>

#include "server/services/events.h"
#include "storage/integrity.h"

namespace custos::services {

using domain::Classification;
using storage::Document;
using storage::DocumentQuery;
using domain::Record;
using domain::RecordId;
using domain::Role;
using domain::Time;
using storage::Transaction;

namespace {

constexpr size_t kMaxPurpose = 2000;
constexpr size_t kMaxReason = 2000;
constexpr size_t kListLimit = 1000;
constexpr size_t kRegisterLimit = 100000;

Status InvalidState(const domain::Loan& loan, domain::LoanState state, const std::string& action) {
  return Conflict("loan " + loan.id + " is " + std::string(Name(state)) + "; it cannot be " + action,
                  "invalid_loan_state")
      .WithParam("loanId", loan.id)
      .WithParam("state", std::string(Name(state)));
}

bool IsDepartmentApprover(const Principal& who, const domain::Loan& loan) {
  return who.role == Role::kApprover && who.department == loan.department;
}

// Checks `who` may approve or reject `approvals` of `loan`.
Status CheckApprover(const Principal& who, const domain::Loan& loan,
                     const std::vector<domain::LoanApproval>& approvals, const std::string& action) {
  if (who.role != Role::kApprover) return Forbidden(action + " loans");
  if (who.department != loan.department) {
    return PermissionDenied("only approvers of the " + loan.department + " department may " + action +
                                " loans of its records",
                            "wrong_department");
  }
  if (who.username.value == loan.borrower) {
    return PermissionDenied("nobody may " + action + " their own loan", "self_approval");
  }
  for (const domain::LoanApproval& a : approvals) {
    if (a.by == who.username.value) {
      return Conflict("you have already approved loan " + loan.id, "already_approved");
    }
  }
  return Status::Ok();
}

StatusOr<domain::Loan> LoadLoan(Transaction& tx, const std::string& id) {
  CUSTOS_ASSIGN_OR_RETURN(std::optional<Document> d, tx.documents().Find(kLoanDocument, id));
  if (!d) return NotFound("no loan " + id, "loan_not_found");
  return LoanFromDocument(*d);
}

Status CheckText(const std::string& text, size_t max, const std::string& what) {
  if (text.size() > max) {
    return Unprocessable(what + " must be at most " + std::to_string(max) + " bytes",
                         "invalid_" + what)
        .WithParam("field", what).WithParam("rule", "too_long").WithParam("maxBytes", max);
  }
  return Status::Ok();
}

}  // namespace

LoanService::LoanService(storage::MetadataStore& store, Clock& clock, LoanOptions options)
    : store_(store), clock_(clock), options_(std::move(options)) {}

StatusOr<domain::Loan> LoanService::Request(const Principal& who, const LoanRequest& request) {
  if (IsNonBusiness(who.role)) return Forbidden("borrow records");
  CUSTOS_ASSIGN_OR_RETURN(domain::LoanKind kind, domain::ParseLoanKind(request.kind));
  CUSTOS_RETURN_IF_ERROR(CheckText(request.purpose, kMaxPurpose, "purpose"));
  if (request.record_id.empty()) return Unprocessable("recordId is required", "invalid_record_id");
  Time now = clock_.Now();
  if (!request.due_at) {
    return Unprocessable("dueAt is required", "invalid_due_date")
        .WithParam("field", "dueAt")
        .WithParam("rule", "required");
  }
  // Compare what will be stored (whole milliseconds), so a loan is never
  // born expired.
  const Time due = domain::TruncateToMillis(*request.due_at);
  if (due <= now) {
    return Unprocessable("dueAt must be in the future", "invalid_due_date")
        .WithParam("field", "dueAt")
        .WithParam("rule", "future");
  }
  if (due > now + std::chrono::hours(24) * options_.max_days) {
    return Unprocessable("a loan may last at most " + std::to_string(options_.max_days) + " days",
                         "invalid_due_date")
        .WithParam("field", "dueAt")
        .WithParam("rule", "max_days")
        .WithParam("maxDays", options_.max_days);
  }
  domain::Loan loan;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(std::optional<Record> r, tx.records().Find(RecordId{request.record_id}));
    if (!r || !MaySeeRecord(who, *r)) {
      return NotFound("no record " + request.record_id, "record_not_found");
    }
    if (r->state == domain::RecordState::kDestroyed) {
      return Conflict("record " + r->id.value + " is destroyed", "record_destroyed");
    }
    bool needs_purpose = r->classification >= Classification::kConfidential;
    if (needs_purpose && request.purpose.find_first_not_of(" \t\r\n") == std::string::npos) {
      return Unprocessable("a loan of a " + std::string(domain::Name(r->classification)) +
                               " record needs a purpose",
                           "purpose_required");
    }
    CUSTOS_ASSIGN_OR_RETURN(std::vector<domain::Loan> existing,
                            LoansOfRecord(tx, r->id, who.username.value, domain::OpenStates()));
    for (const domain::Loan& l : existing) {
      if (l.kind == kind && domain::IsOpen(l, now)) {
        return Conflict("you already have an open " + std::string(Name(kind)) + " loan of " +
                            r->id.value + ": " + l.id,
                        "loan_exists")
            .WithParam("recordId", r->id.value)
            .WithParam("loanId", l.id);
      }
    }
    CUSTOS_ASSIGN_OR_RETURN(loan.id, NextDocumentId(tx, kLoanIdPrefix, now));
    loan.record_id = r->id;
    loan.record_title = r->title;
    loan.department = r->department;
    loan.classification = r->classification;
    loan.kind = kind;
    loan.state = domain::LoanState::kRequested;
    loan.borrower = who.username.value;
    loan.purpose = request.purpose;
    loan.requested_at = now;
    loan.due_at = due;
    loan.approvals_needed = r->classification == Classification::kSecret ? 2 : 1;
    storage::LogEvent e = MakeEvent("loan.request", who, r->id.value, now);
    e.details.Set("loan", loan.id);
    e.details.Set("kind", std::string(Name(kind)));
    e.details.Set("state", std::string(Name(loan.state)));
    e.details.Set("dueAt", domain::FormatTime(loan.due_at));
    e.details.Set("purpose", loan.purpose);
    CUSTOS_ASSIGN_OR_RETURN(uint64_t index, tx.log().Append(e));
    loan.events.push_back({"loan.request", who.username.value, now, index});
    return tx.documents().Insert(ToDocument(loan, now));
  }));
  return loan;
}

StatusOr<domain::Loan> LoanService::Get(const Principal& who, const std::string& id) {
  if (IsNonBusiness(who.role)) return Forbidden("read loans");
  std::optional<domain::Loan> loan;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(loan, LoadLoan(tx, id));
    return Status::Ok();
  }));
  if (!MaySeeLoan(who, *loan)) return NotFound("no loan " + id, "loan_not_found");
  return *loan;
}

StatusOr<std::vector<domain::Loan>> LoanService::List(const Principal& who, const LoanFilter& filter) {
  if (IsNonBusiness(who.role)) return Forbidden("read loans");
  Time now = clock_.Now();
  DocumentQuery q;
  q.kind = kLoanDocument;
  q.subject = filter.record_id;
  if (filter.mine || who.role == Role::kStaff) q.owner = who.username.value;
  if (filter.overdue) {
    q.states = {std::string(Name(domain::LoanState::kCheckedOut))};
    q.due_before = now + std::chrono::milliseconds(1);
  }
  std::vector<domain::Loan> out;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    for (;;) {
      CUSTOS_ASSIGN_OR_RETURN(std::vector<Document> docs, tx.documents().List(q));
      for (const Document& d : docs) {
        CUSTOS_ASSIGN_OR_RETURN(domain::Loan l, LoanFromDocument(d));
        if (!MaySeeLoan(who, l)) continue;
        if (filter.overdue && !domain::IsOverdue(l, now)) continue;
        if (filter.state && domain::EffectiveState(l, now) != *filter.state) continue;
        out.push_back(std::move(l));
      }
      if (docs.size() < q.limit) return Status::Ok();
      q.after_id = docs.back().id;
    }
  }));
  std::reverse(out.begin(), out.end());  // newest first
  if (out.size() > kListLimit) out.resize(kListLimit);
  return out;
}

StatusOr<domain::Loan> LoanService::Transition(const Principal& who, const std::string& id,
                                       const std::string& action, const Change& change,
                                       const std::string& note) {
  if (IsNonBusiness(who.role)) return Forbidden("act on loans");
  Time now = clock_.Now();
  domain::Loan loan;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(loan, LoadLoan(tx, id));
    if (!MaySeeLoan(who, loan)) return NotFound("no loan " + id, "loan_not_found");
    CUSTOS_ASSIGN_OR_RETURN(std::optional<Record> r, tx.records().Find(loan.record_id));
    if (!r) return DataLoss("loan " + id + " names a missing record", "loan_corrupt");
    CUSTOS_RETURN_IF_ERROR(change(tx, loan, *r, now));
    storage::LogEvent e = MakeEvent(action, who, loan.record_id.value, now);
    e.details.Set("loan", loan.id);
    e.details.Set("state", std::string(Name(loan.state)));
    e.details.Set("dueAt", domain::FormatTime(loan.renewal ? loan.renewal->due_at : loan.due_at));
    if (!loan.reason.empty() && (action == "loan.reject" || action == "loan.revoke")) {
      e.details.Set("reason", loan.reason);
    }
    if (!note.empty()) e.details.Set("reason", note);
    CUSTOS_ASSIGN_OR_RETURN(uint64_t index, tx.log().Append(e));
    loan.events.push_back({action, who.username.value, now, index});
    // An approval's index is known only now.
    auto stamp = [&](std::vector<domain::LoanApproval>& list) {
      if (!list.empty() && list.back().by == who.username.value && list.back().log_index == 0) {
        list.back().log_index = index;
      }
    };
    stamp(loan.approvals);
    if (loan.renewal) stamp(loan.renewal->approvals);
    return tx.documents().Update(ToDocument(loan, now));
  }));
  return loan;
}

StatusOr<domain::Loan> LoanService::Approve(const Principal& who, const std::string& id,
                                            const std::string& reason) {
  CUSTOS_RETURN_IF_ERROR(CheckText(reason, kMaxReason, "reason"));
  return Transition(who, id, "loan.approve", [&](Transaction&, domain::Loan& loan, const Record& record,
                                                 Time now) -> Status {
    // The rules of the record as it is now: a record made secret after the
    // request needs two approvers, one made confidential needs a purpose.
    if (record.classification == Classification::kSecret) {
      loan.approvals_needed = std::max(loan.approvals_needed, 2);
    }
    if (record.classification >= Classification::kConfidential &&
        loan.purpose.find_first_not_of(" \t\r\n") == std::string::npos) {
      return Unprocessable("record " + record.id.value + " is now " +
                               std::string(domain::Name(record.classification)) +
                               "; its loans need a purpose: the borrower must ask again with one",
                           "purpose_required");
    }
    domain::LoanState state = domain::EffectiveState(loan, now);
    if (loan.renewal && (state == domain::LoanState::kApproved || state == domain::LoanState::kCheckedOut)) {
      CUSTOS_RETURN_IF_ERROR(CheckApprover(who, loan, loan.renewal->approvals, "approve"));
      loan.renewal->approvals.push_back({who.username.value, now, 0});
      if (static_cast<int>(loan.renewal->approvals.size()) >= loan.approvals_needed) {
        loan.due_at = loan.renewal->due_at;
        // The renewal's approvals join the loan's for the register.
        for (const domain::LoanApproval& a : loan.renewal->approvals) loan.approvals.push_back(a);
        loan.renewal.reset();
        ++loan.renewals;
      }
      return Status::Ok();
    }
    if (state != domain::LoanState::kRequested) return InvalidState(loan, state, "approved");
    CUSTOS_RETURN_IF_ERROR(CheckApprover(who, loan, loan.approvals, "approve"));
    loan.approvals.push_back({who.username.value, now, 0});
    if (static_cast<int>(loan.approvals.size()) >= loan.approvals_needed) {
      if (loan.kind == domain::LoanKind::kDigital) {
        loan.state = domain::LoanState::kCheckedOut;  // access opens now
        loan.checked_out_at = now;
        loan.checked_out_by = who.username.value;
      } else {
        loan.state = domain::LoanState::kApproved;
      }
    }
    return Status::Ok();
  }, reason);
}

StatusOr<domain::Loan> LoanService::Reject(const Principal& who, const std::string& id,
                                   const std::string& reason) {
  CUSTOS_RETURN_IF_ERROR(CheckText(reason, kMaxReason, "reason"));
  return Transition(who, id, "loan.reject", [&](Transaction&, domain::Loan& loan, const Record&, Time now) -> Status {
    domain::LoanState state = domain::EffectiveState(loan, now);
    if (loan.renewal && (state == domain::LoanState::kApproved || state == domain::LoanState::kCheckedOut)) {
      CUSTOS_RETURN_IF_ERROR(CheckApprover(who, loan, {}, "reject"));
      loan.renewal.reset();  // the loan itself stands
      return Status::Ok();
    }
    if (state != domain::LoanState::kRequested) return InvalidState(loan, state, "rejected");
    CUSTOS_RETURN_IF_ERROR(CheckApprover(who, loan, {}, "reject"));
    loan.state = domain::LoanState::kRejected;
    loan.closed_at = now;
    loan.closed_by = who.username.value;
    loan.reason = reason;
    return Status::Ok();
  });
}

StatusOr<domain::Loan> LoanService::Checkout(const Principal& who, const std::string& id) {
  if (who.role != Role::kArchivist) return Forbidden("hand out originals");
  return Transition(who, id, "loan.checkout",
                    [&](Transaction& tx, domain::Loan& loan, const Record&, Time now) -> Status {
    if (loan.kind != domain::LoanKind::kPhysical) {
      return Conflict("loan " + loan.id + " is digital; its access opened when it was approved",
                      "not_physical");
    }
    domain::LoanState state = domain::EffectiveState(loan, now);
    if (state != domain::LoanState::kApproved) return InvalidState(loan, state, "handed out");
    CUSTOS_ASSIGN_OR_RETURN(std::vector<domain::Loan> others,
                            LoansOfRecord(tx, loan.record_id, "", {domain::LoanState::kCheckedOut}));
    for (const domain::Loan& o : others) {
      if (o.kind == domain::LoanKind::kPhysical) {
        return Conflict("the original of " + loan.record_id.value + " is out with " + o.borrower +
                            " (loan " + o.id + ")",
                        "original_out").WithParam("recordId", loan.record_id.value);
      }
    }
    loan.state = domain::LoanState::kCheckedOut;
    loan.checked_out_at = now;
    loan.checked_out_by = who.username.value;
    return Status::Ok();
  });
}

StatusOr<domain::Loan> LoanService::Return(const Principal& who, const std::string& id) {
  return Transition(who, id, "loan.return",
                    [&](Transaction&, domain::Loan& loan, const Record&, Time now) -> Status {
    if (loan.kind == domain::LoanKind::kPhysical && who.role != Role::kArchivist) {
      return Forbidden("take back originals (an archivist confirms the return)");
    }
    if (loan.kind == domain::LoanKind::kDigital && who.role != Role::kArchivist &&
        who.username.value != loan.borrower) {
      return Forbidden("return another person's loan");
    }
    domain::LoanState state = domain::EffectiveState(loan, now);
    if (state != domain::LoanState::kCheckedOut) return InvalidState(loan, state, "returned");
    loan.state = domain::LoanState::kReturned;
    loan.returned_at = now;
    loan.returned_by = who.username.value;
    loan.renewal.reset();
    return Status::Ok();
  });
}

StatusOr<domain::Loan> LoanService::Renew(const Principal& who, const std::string& id,
                                  std::optional<Time> due_at) {
  if (!due_at) return Unprocessable("dueAt is required", "invalid_due_date");
  return Transition(who, id, "loan.renew",
                    [&](Transaction&, domain::Loan& loan, const Record&, Time now) -> Status {
    if (who.username.value != loan.borrower) return Forbidden("renew another person's loan");
    domain::LoanState state = domain::EffectiveState(loan, now);
    if (state != domain::LoanState::kApproved && state != domain::LoanState::kCheckedOut) {
      return InvalidState(loan, state, "renewed");
    }
    if (loan.renewal) {
      return Conflict("loan " + loan.id + " already has a renewal waiting for approval",
                      "renewal_pending");
    }
    Time due = domain::TruncateToMillis(*due_at);
    if (due <= loan.due_at) {
      return Unprocessable("a renewal must move the due date later than " +
                               domain::FormatTime(loan.due_at),
                           "invalid_due_date")
          .WithParam("field", "dueAt")
          .WithParam("rule", "after_due")
          .WithParam("dueAt", domain::FormatTime(loan.due_at));
    }
    if (due > now + std::chrono::hours(24) * options_.max_days) {
      return Unprocessable("a loan may run at most " + std::to_string(options_.max_days) +
                               " days from today",
                           "invalid_due_date")
          .WithParam("field", "dueAt")
          .WithParam("rule", "max_days")
          .WithParam("maxDays", options_.max_days);
    }
    loan.renewal = domain::LoanRenewal{due, now, {}};
    return Status::Ok();
  });
}

StatusOr<domain::Loan> LoanService::Revoke(const Principal& who, const std::string& id,
                                   const std::string& reason) {
  CUSTOS_RETURN_IF_ERROR(CheckText(reason, kMaxReason, "reason"));
  return Transition(who, id, "loan.revoke",
                    [&](Transaction&, domain::Loan& loan, const Record&, Time now) -> Status {
    if (who.role != Role::kArchivist && !IsDepartmentApprover(who, loan)) {
      return Forbidden("revoke loans (approvers of the record's department and archivists may)");
    }
    domain::LoanState state = domain::EffectiveState(loan, now);
    if (state != domain::LoanState::kRequested && state != domain::LoanState::kApproved &&
        state != domain::LoanState::kCheckedOut) {
      return InvalidState(loan, state, "revoked");
    }
    if (state == domain::LoanState::kCheckedOut && loan.kind == domain::LoanKind::kPhysical) {
      return Conflict("the original of " + loan.record_id.value + " is out with " + loan.borrower +
                          "; record its return instead",
                      "original_out").WithParam("recordId", loan.record_id.value);
    }
    loan.state = domain::LoanState::kRevoked;
    loan.closed_at = now;
    loan.closed_by = who.username.value;
    loan.reason = reason;
    loan.renewal.reset();
    return Status::Ok();
  });
}

StatusOr<std::vector<domain::Loan>> LoanService::Register(const Principal& who, std::optional<Time> from,
                                                  std::optional<Time> to) {
  if (who.role != Role::kArchivist && who.role != Role::kLegal && who.role != Role::kAuditor) {
    return Forbidden("read the borrowing register");
  }
  if (from && to && *to < *from) {
    return InvalidArgument("'to' is before 'from'", "invalid_range");
  }
  DocumentQuery q;
  q.kind = kLoanDocument;
  q.created_from = from;
  q.created_to = to;
  std::vector<domain::Loan> out;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    for (;;) {
      CUSTOS_ASSIGN_OR_RETURN(std::vector<Document> docs, tx.documents().List(q));
      for (const Document& d : docs) {
        CUSTOS_ASSIGN_OR_RETURN(domain::Loan l, LoanFromDocument(d));
        out.push_back(std::move(l));
      }
      if (out.size() > kRegisterLimit) {
        return InvalidArgument("more than " + std::to_string(kRegisterLimit) +
                                   " loans in that period; ask for a shorter one",
                               "range_too_large")
            .WithParam("max", kRegisterLimit);
      }
      if (docs.size() < q.limit) return Status::Ok();
      q.after_id = docs.back().id;
    }
  }));
  std::stable_sort(out.begin(), out.end(),
                   [](const domain::Loan& a, const domain::Loan& b) { return a.requested_at < b.requested_at; });
  return out;
}

StatusOr<Alerts> LoanService::GetAlerts(const Principal& who) {
  if (IsNonBusiness(who.role)) return Alerts{};  // theirs are verification's and row integrity's
  Alerts alerts;
  LoanFilter overdue;
  overdue.overdue = true;
  CUSTOS_ASSIGN_OR_RETURN(alerts.overdue_loans, List(who, overdue));

  Time now = clock_.Now();
  int widest = 0;
  for (int h : options_.certificate_horizons) widest = std::max(widest, h);
  std::vector<int> horizons = options_.certificate_horizons;
  std::sort(horizons.begin(), horizons.end());
  // Whole days between today (UTC) and the date the certificate runs out.
  auto day_number = [](const std::string& yyyy_mm_dd) -> std::optional<int64_t> {
    auto t = domain::ParseTime(yyyy_mm_dd + "T00:00:00Z");
    if (!t.ok()) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::hours>(t->time_since_epoch()).count() / 24;
  };
  std::string today = domain::FormatTime(now).substr(0, 10);
  std::optional<int64_t> today_n = day_number(today);
  domain::RecordQuery q;
  q.type = domain::RecordType::kQualification;
  q.expiring_by = domain::FormatTime(now + std::chrono::hours(24) * widest).substr(0, 10);
  q.page_size = 500;
  RestrictToVisible(who, q);
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    for (q.page = 1;; ++q.page) {
      CUSTOS_ASSIGN_OR_RETURN(domain::RecordPage page, tx.records().Search(q));
      for (const Record& r : page.records) {
        if (r.state == domain::RecordState::kDestroyed || !MaySeeRecord(who, r)) continue;
        CertificateAlert a;
        a.record = r;
        a.valid_until = domain::ExpiresOn(r.metadata_json);
        std::optional<int64_t> until = day_number(a.valid_until);
        if (!until || !today_n) continue;
        a.days_left = static_cast<int>(*until - *today_n);
        a.expired = a.days_left < 0;
        if (!a.expired) {
          for (int h : horizons) {
            if (a.days_left <= h) {
              a.horizon = h;
              break;
            }
          }
        }
        alerts.certificates.push_back(std::move(a));
      }
      if (page.records.size() < static_cast<size_t>(q.page_size)) return Status::Ok();
    }
  }));
  std::sort(alerts.certificates.begin(), alerts.certificates.end(),
            [](const CertificateAlert& a, const CertificateAlert& b) {
              return a.days_left != b.days_left ? a.days_left < b.days_left
                                                : a.record.id < b.record.id;
            });
  return alerts;
}

StatusOr<int> LoanService::ExpireDue() {
  Time now = clock_.Now();
  int expired = 0;
  DocumentQuery q;
  q.kind = kLoanDocument;
  q.states = {std::string(Name(domain::LoanState::kRequested)), std::string(Name(domain::LoanState::kApproved)),
              std::string(Name(domain::LoanState::kCheckedOut))};
  q.due_before = now + std::chrono::milliseconds(1);
  q.limit = 200;
  for (;;) {
    int batch = 0;
    bool more = false;
    CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
      batch = 0;
      CUSTOS_ASSIGN_OR_RETURN(std::vector<Document> docs, tx.documents().List(q));
      more = docs.size() == q.limit;
      if (!docs.empty()) q.after_id = docs.back().id;
      for (const Document& d : docs) {
        CUSTOS_ASSIGN_OR_RETURN(domain::Loan loan, LoanFromDocument(d));
        if (domain::EffectiveState(loan, now) != domain::LoanState::kExpired || loan.state == domain::LoanState::kExpired) {
          continue;  // an overdue physical original stays checked out
        }
        loan.state = domain::LoanState::kExpired;
        loan.closed_at = loan.due_at;
        loan.closed_by = kSystemActor;
        loan.renewal.reset();
        storage::LogEvent e;
        e.action = "loan.expire";
        e.actor = kSystemActor;
        e.subject = loan.record_id.value;
        e.at = now;
        e.details.Set("loan", loan.id);
        e.details.Set("state", std::string(Name(loan.state)));
        e.details.Set("dueAt", domain::FormatTime(loan.due_at));
        CUSTOS_ASSIGN_OR_RETURN(uint64_t index, tx.log().Append(e));
        loan.events.push_back({"loan.expire", kSystemActor, now, index});
        CUSTOS_RETURN_IF_ERROR(tx.documents().Update(ToDocument(loan, now)));
        ++batch;
      }
      return Status::Ok();
    }));
    expired += batch;
    if (!more) return expired;
  }
}

}  // namespace custos::services
