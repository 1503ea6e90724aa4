#include "server/services/principal.h"

#include "server/services/account_state.h"

namespace custos::services {

using domain::Classification;
using domain::Role;

Status Forbidden(const std::string& action) {
  return PermissionDenied("your role may not " + action, "forbidden");
}

bool MaySeeRecord(const Principal& p, const domain::Record& r) {
  switch (p.role) {
    case Role::kArchivist:
    case Role::kLegal:
    case Role::kAuditor:
      return true;
    case Role::kApprover:
      return r.classification <= Classification::kConfidential || r.department == p.department;
    case Role::kStaff:
      return r.classification <= Classification::kInternal ||
             (r.classification == Classification::kConfidential && r.department == p.department);
    case Role::kSysAdmin:
    case Role::kSecurityOfficer:
    case Role::kSecurityAuditor:
    case Role::kLegacyAdmin:
      return false;
  }
  return false;
}

bool MaySeeLoan(const Principal& p, const domain::Loan& loan) {
  switch (p.role) {
    case Role::kArchivist:
    case Role::kLegal:
    case Role::kAuditor:
      return true;
    case Role::kApprover:
      return p.department == loan.department || p.username.value == loan.borrower;
    case Role::kStaff:
      return p.username.value == loan.borrower;
    case Role::kSysAdmin:
    case Role::kSecurityOfficer:
    case Role::kSecurityAuditor:
    case Role::kLegacyAdmin:
      return false;
  }
  return false;
}

void RestrictToVisible(const Principal& p, domain::RecordQuery& q) {
  using C = Classification;
  q.allowed_classifications.clear();
  q.own_department = p.department;
  q.own_department_classifications.clear();
  switch (p.role) {
    case Role::kArchivist:
    case Role::kLegal:
    case Role::kAuditor:
      return;  // everything
    case Role::kApprover:
      q.allowed_classifications = {C::kPublic, C::kInternal, C::kConfidential};
      q.own_department_classifications = {C::kSecret};
      return;
    case Role::kStaff:
      q.allowed_classifications = {C::kPublic, C::kInternal};
      q.own_department_classifications = {C::kConfidential};
      return;
    case Role::kSysAdmin:
    case Role::kSecurityOfficer:
    case Role::kSecurityAuditor:
    case Role::kLegacyAdmin:
      // Callers refuse admins before searching; should one get here, an
      // unmatchable department keeps the result empty.
      q.allowed_classifications = {C::kPublic};
      q.own_department_classifications.clear();
      q.department = std::string(1, '\0');
      return;
  }
}

bool MayReadContentDirectly(const Principal& p, const domain::Record& r) {
  if (p.role == Role::kArchivist) return r.classification < Classification::kSecret;
  if (p.role == Role::kLegal) return r.type == domain::RecordType::kContract;
  return false;
}

Status RequireArchivist(const Principal& p) {
  return p.role == Role::kArchivist ? Status::Ok() : Forbidden("check in or change records");
}

Status RequireAdmin(const Principal& p) {
  return p.role == Role::kSysAdmin ? Status::Ok() : Forbidden("manage users and departments");
}

Status RequireSecurityOfficer(const Principal& p) {
  return p.role == Role::kSecurityOfficer ? Status::Ok()
                                          : Forbidden("grant roles, issue set-up codes or unlock accounts");
}

Status RequireAdministrative(const Principal& p) {
  return domain::IsAdministrative(p.role) ? Status::Ok() : Forbidden("read accounts and grants");
}

Status RequireLogReader(const Principal& p) {
  return (p.role == Role::kAuditor || p.role == Role::kArchivist || p.role == Role::kSecurityAuditor)
             ? Status::Ok()
             : Forbidden("read log entries and proofs");
}

bool IsNonBusiness(Role r) { return domain::IsAdministrative(r) || r == Role::kLegacyAdmin; }

Status CheckApproverCooling(storage::Transaction& tx, const Principal& who, domain::Time now,
                            const AccountPolicyOptions& options, std::string_view action) {
  if (options.cooling.count() <= 0) return Status::Ok();  // the rule is off
  CUSTOS_ASSIGN_OR_RETURN(std::optional<domain::User> u, tx.users().Find(who.username));
  if (!u) {
    return PermissionDenied("there is no account " + who.username.value + " to " + std::string(action),
                            "forbidden");
  }
  return CheckCoolingPeriod(*u, now, options, action);
}

StatusOr<std::optional<domain::Time>> FreshAccountSince(storage::Transaction& tx, const Principal& who,
                                                        domain::Time now,
                                                        const AccountPolicyOptions& options) {
  CUSTOS_ASSIGN_OR_RETURN(std::optional<domain::User> u, tx.users().Find(who.username));
  if (!u || !IsFreshAccount(*u, now, options)) return std::optional<domain::Time>();
  domain::Time since = u->created_at;
  StatusOr<Provenance> p = ParseProvenance(u->provenance);
  if (p.ok()) {
    for (const std::optional<domain::Time>& t : {p->setup_at, p->reset_at, p->role_granted_at}) {
      if (t && *t > since) since = *t;
    }
  }
  return std::optional<domain::Time>(since);
}

StatusOr<bool> MayReadContentNow(storage::Transaction& tx, const Principal& who, const domain::Record& r,
                                 domain::Time now, std::string* via_loan) {
  if (MayReadContentDirectly(who, r)) return true;
  CUSTOS_ASSIGN_OR_RETURN(std::vector<domain::Loan> loans,
                          LoansOfRecord(tx, r.id, who.username.value, {domain::LoanState::kCheckedOut}));
  for (const domain::Loan& l : loans) {
    if (domain::GrantsContentAccess(l, who.username.value, now)) {
      if (via_loan != nullptr) *via_loan = l.id;
      return true;
    }
  }
  return false;
}

}  // namespace custos::services
