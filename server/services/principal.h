// Who is acting, and the authorization rules every service checks before it
// acts (DESIGN §1). Policy lives here, in one place, not in handlers.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "server/services/account_policy.h"
#include "server/services/loan.h"
#include "domain/model.h"
#include "storage/metadata_store.h"

namespace custos::services {

// An authenticated user, as established by AuthService::Authenticate.
struct Principal {
  domain::Username username;
  domain::Role role = domain::Role::kStaff;
  std::string department;
};

// May `p` see `r` in the catalogue (metadata, not content)? Admins see no
// catalogue at all.
//   archivist, legal, auditor: everything;
//   approver: up to confidential, and every record of their own department
//             (they approve its loans, secret ones included);
//   staff: up to internal, and confidential records of their own department.
bool MaySeeRecord(const Principal& p, const domain::Record& r);

// May `p` see `loan` (borrower, purpose, dates)? The one rule for the loan
// list, a record's view of its open loans and a record's history:
//   archivist, legal, auditor: every loan;
//   approver: loans of their department's records, and their own;
//   staff: their own;
//   admin: none.
bool MaySeeLoan(const Principal& p, const domain::Loan& loan);

// Restricts a catalogue query to the records MaySeeRecord lets `p` see.
void RestrictToVisible(const Principal& p, domain::RecordQuery& q);

// May `p` read the content of `r` without a loan? Archivists read everything
// below secret; legal reads contracts; everyone else needs an active digital
// loan (domain/loan.h, GrantsContentAccess).
bool MayReadContentDirectly(const Principal& p, const domain::Record& r);

// May `who` read `r`'s content at `now`, as every content read decides it
// in the transaction that logs it: directly (MayReadContentDirectly) or
// through a checked-out digital loan that grants it at `now`, whose id
// goes to `*via_loan` (when not nullptr).
StatusOr<bool> MayReadContentNow(storage::Transaction& tx, const Principal& who, const domain::Record& r,
                                 domain::Time now, std::string* via_loan);

// Check in records and add versions: archivists.
Status RequireArchivist(const Principal& p);
// Accounts, departments and configuration: the system administrator.
Status RequireAdmin(const Principal& p);
// Grants, set-up codes, unlocks: the security officer.
Status RequireSecurityOfficer(const Principal& p);
// Reading accounts and grants: any of the three administrative roles.
Status RequireAdministrative(const Principal& p);
// Log entries and proofs: auditors, archivists and the security auditor.
Status RequireLogReader(const Principal& p);

// The administrative roles and the pre-split kLegacyAdmin: accounts that
// read no content, catalogue, loans, holds or destruction batches and
// approve nothing (docs/security.md).
bool IsNonBusiness(domain::Role r);

// The cooling period on approvals (account_policy.h), read in the caller's
// transaction `tx` from `who`'s users row: Ok, or kConflict
// "approver_cooling_period" (CheckCoolingPeriod's message and params, naming
// `action`), or kPermissionDenied "forbidden" when `who` has no account
// (an approval is never made by a name the store does not know). Ok
// without reading anything when options.cooling is zero (the rule is off).
Status CheckApproverCooling(storage::Transaction& tx, const Principal& who, domain::Time now,
                            const AccountPolicyOptions& options, std::string_view action);

// When `who`'s account is fresh (account_policy.h IsFreshAccount), read in
// `tx`: the newest of its creation, set-up, reset and role grant; nullopt
// when it is not fresh or has no users row (nothing to flag). Content reads
// (RecordService) and export packages (PackageExporter) flag with it.
StatusOr<std::optional<domain::Time>> FreshAccountSince(storage::Transaction& tx, const Principal& who,
                                                        domain::Time now,
                                                        const AccountPolicyOptions& options);

// PermissionDenied with reason "forbidden" naming the action.
Status Forbidden(const std::string& action);

}  // namespace custos::services
