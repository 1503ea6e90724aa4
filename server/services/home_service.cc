#include "server/services/home_service.h"

#include <algorithm>

namespace custos::services {

using domain::Role;

namespace {

bool IsOneOf(Role r, std::initializer_list<Role> roles) {
  return std::find(roles.begin(), roles.end(), r) != roles.end();
}

// Does the loan (or its pending renewal) wait for `who`'s approval? The
// rules of LoanService::Approve: an approver of the loan's department,
// never the borrower, each approver once.
bool WaitsForApprover(const Principal& who, const domain::Loan& loan, domain::Time now) {
  if (who.role != Role::kApprover || who.department != loan.department) return false;
  if (loan.borrower == who.username.value) return false;
  domain::LoanState state = domain::EffectiveState(loan, now);
  const std::vector<domain::LoanApproval>* approvals = nullptr;
  if (state == domain::LoanState::kRequested) {
    approvals = &loan.approvals;
  } else if (loan.renewal &&
             (state == domain::LoanState::kApproved || state == domain::LoanState::kCheckedOut)) {
    approvals = &loan.renewal->approvals;
  } else {
    return false;
  }
  return std::none_of(approvals->begin(), approvals->end(),
                      [&](const domain::LoanApproval& a) { return a.by == who.username.value; });
}

}  // namespace

HomeService::HomeService(AuthService& auth, RecordService& records, LoanService& loans,
                         RetentionService& retention, DestructionService& destruction,
                         const VerifySchedule* verification)
    : auth_(auth),
      records_(records),
      loans_(loans),
      retention_(retention),
      destruction_(destruction),
      verification_(verification) {}

StatusOr<HomeSummary> HomeService::Summary(const Principal& who) const {
  HomeSummary s;
  const Role role = who.role;
  if (IsOneOf(role, {Role::kApprover, Role::kLegal, Role::kSecurityOfficer, Role::kSysAdmin})) {
    CUSTOS_ASSIGN_OR_RETURN(s.approvals, Approvals(who));
  }
  if (!IsNonBusiness(role)) {
    CUSTOS_ASSIGN_OR_RETURN(s.my_loans, MyLoans(who));
    CUSTOS_ASSIGN_OR_RETURN(Alerts alerts, loans_.GetAlerts(who));
    s.expiring_certificates = alerts.certificates.size();
    if (role != Role::kStaff) {
      domain::Time now = loans_.Now();
      s.overdue_originals = static_cast<uint64_t>(
          std::count_if(alerts.overdue_loans.begin(), alerts.overdue_loans.end(),
                        [&](const domain::Loan& l) { return domain::IsOverdue(l, now); }));
    }
  }
  if (IsOneOf(role, {Role::kArchivist, Role::kLegal, Role::kAuditor})) {
    CUSTOS_ASSIGN_OR_RETURN(s.disposition_queue, DispositionQueue(who));
    CUSTOS_ASSIGN_OR_RETURN(std::vector<RetentionChange> pending,
                            retention_.Changes(who, "pending"));
    s.pending_retention_changes = pending.size();
  }
  if (IsOneOf(role, {Role::kAuditor, Role::kSysAdmin, Role::kSecurityAuditor})) {
    s.last_verification = Verification(who);
  }
  return s;
}

StatusOr<ApprovalCounts> HomeService::Approvals(const Principal& who) const {
  ApprovalCounts c;
  if (who.role == Role::kApprover) {
    CUSTOS_ASSIGN_OR_RETURN(c.loans, LoansToApprove(who));
  }
  if (who.role == Role::kApprover || who.role == Role::kLegal) {
    CUSTOS_ASSIGN_OR_RETURN(c.destructions, DestructionsToApprove(who));
  }
  if (who.role == Role::kLegal) {
    CUSTOS_ASSIGN_OR_RETURN(c.retention_changes, RetentionChangesToApprove(who));
  }
  if (who.role == Role::kSecurityOfficer || who.role == Role::kSysAdmin) {
    CUSTOS_ASSIGN_OR_RETURN(c.grants, GrantsToConfirm(who));
  }
  return c;
}

StatusOr<uint64_t> HomeService::LoansToApprove(const Principal& who) const {
  CUSTOS_ASSIGN_OR_RETURN(std::vector<domain::Loan> loans, loans_.List(who, LoanFilter{}));
  domain::Time now = loans_.Now();
  return static_cast<uint64_t>(
      std::count_if(loans.begin(), loans.end(),
                    [&](const domain::Loan& l) { return WaitsForApprover(who, l, now); }));
}

StatusOr<uint64_t> HomeService::DestructionsToApprove(const Principal& who) const {
  CUSTOS_ASSIGN_OR_RETURN(std::vector<DestructionBatch> batches, destruction_.List(who));
  const std::string role(domain::Name(who.role));
  return static_cast<uint64_t>(
      std::count_if(batches.begin(), batches.end(), [&](const DestructionBatch& b) {
        if (b.state != domain::BatchState::kProposed || b.proposed_by == who.username.value)
          return false;
        if (b.hidden_records > 0) return false;  // Approve would refuse: batch_records_hidden
        return std::none_of(b.approvals.begin(), b.approvals.end(),
                            [&](const DestructionApproval& a) {
                              return a.by == who.username.value || a.role == role;
                            });
      }));
}

StatusOr<uint64_t> HomeService::RetentionChangesToApprove(const Principal& who) const {
  CUSTOS_ASSIGN_OR_RETURN(std::vector<RetentionChange> pending, retention_.Changes(who, "pending"));
  return static_cast<uint64_t>(std::count_if(
      pending.begin(), pending.end(),
      [&](const RetentionChange& c) { return c.requested_by != who.username.value; }));
}

StatusOr<uint64_t> HomeService::GrantsToConfirm(const Principal& who) const {
  CUSTOS_ASSIGN_OR_RETURN(std::vector<Grant> grants, auth_.Grants(who, "proposed"));
  return static_cast<uint64_t>(std::count_if(grants.begin(), grants.end(), [&](const Grant& g) {
    return g.proposed_by != who.username.value && g.username != who.username.value;
  }));
}

StatusOr<std::vector<MyLoan>> HomeService::MyLoans(const Principal& who) const {
  LoanFilter mine;
  mine.mine = true;
  CUSTOS_ASSIGN_OR_RETURN(std::vector<domain::Loan> loans, loans_.List(who, mine));
  domain::Time now = loans_.Now();
  std::vector<MyLoan> out;
  for (const domain::Loan& l : loans) {
    if (!domain::IsOpen(l, now)) continue;
    out.push_back({l.id, l.record_id.value, l.record_title, domain::EffectiveState(l, now),
                   l.due_at, domain::IsOverdue(l, now)});
  }
  std::sort(out.begin(), out.end(), [](const MyLoan& a, const MyLoan& b) {
    return a.due_at != b.due_at ? a.due_at < b.due_at : a.id < b.id;
  });
  if (out.size() > kMyLoansLimit) out.resize(kMyLoansLimit);
  return out;
}

StatusOr<uint64_t> HomeService::DispositionQueue(const Principal& who) const {
  domain::RecordQuery q;
  q.state = domain::RecordState::kDispositionDue;
  q.page_size = 1;
  CUSTOS_ASSIGN_OR_RETURN(domain::RecordPage page, records_.Search(who, q));
  return page.total;
}

LastVerification HomeService::Verification(const Principal& who) const {
  LastVerification v;
  if (!verification_) return v;
  std::optional<VerificationState> state = verification_->StateFor(who);
  if (!state) return v;
  if (state->latest) {
    v.at = state->latest->finished_at;
    v.findings = state->latest->finding_count;
    v.result = v.findings == 0 ? "clean" : "findings";
  }
  if (state->running) v.result = "running";
  return v;
}

}  // namespace custos::services
