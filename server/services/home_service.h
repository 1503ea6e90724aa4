// What is waiting for the signed-in user: the home page's summary
// (GET /v1/me/summary, docs/api.md "Home summary"), composed from the
// services that own each part, so every part follows the same rules as the
// page it links to.
//
// Each part is present only for the roles that may see it (decided here,
// by role, before any service is asked):
//   approvals.loans             approver: loans of their department that are
//                               requested (or have a renewal pending), not
//                               their own and not yet approved by them;
//   approvals.destructions      approver, legal: proposed batches they did
//                               not propose, whose approval by their role is
//                               still missing, with every record visible;
//   approvals.retentionChanges  legal: pending changes others asked for;
//   approvals.grants            security officer, system administrator:
//                               proposed grants neither proposed by them nor
//                               for their own account;
//   myLoans                     every business role: their open loans
//                               (requested, approved, checked out), soonest
//                               due first, at most kMyLoansLimit;
//   expiringCertificates        every business role: the certificates of the
//                               alerts page (GET /v1/alerts) it may see;
//   overdueOriginals            archivist, approver, legal, auditor: paper
//                               originals out past their due date;
//   dispositionQueue            archivist, legal, auditor: records in state
//                               disposition_due (the housekeeping sweep sets
//                               it; the disposition page sweeps first);
//   pendingRetentionChanges     archivist, legal, auditor;
//   lastVerification            auditor, system administrator, security
//                               auditor: the latest scheduled verification.
// Administrative roles read no loans, records or retention; business roles
// no grants or verification.
//
// Thread safety: safe for concurrent use (every part is read through a
// service that is). Cheap to copy: it holds references only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "domain/loan.h"
#include "server/services/auth_service.h"
#include "server/services/destruction_service.h"
#include "server/services/loan_service.h"
#include "server/services/principal.h"
#include "server/services/record_service.h"
#include "server/services/retention_service.h"
#include "server/services/verify_schedule.h"

namespace custos::services {

struct ApprovalCounts {
  std::optional<uint64_t> loans;
  std::optional<uint64_t> destructions;
  std::optional<uint64_t> retention_changes;
  std::optional<uint64_t> grants;
};

struct MyLoan {
  std::string id;
  std::string record_id;
  std::string title;                                        // the record's title at request time
  domain::LoanState state = domain::LoanState::kRequested;  // effective state
  domain::Time due_at;   // a pending renewal's due date is not shown here
  bool overdue = false;  // a paper original still out past due_at
};

// "clean" | "findings" | "running" | "none" (no pass has finished, or
// verification is not scheduled).
struct LastVerification {
  std::optional<domain::Time> at;  // end of the latest finished pass
  std::string result = "none";
  uint64_t findings = 0;  // of the latest finished pass
};

struct HomeSummary {
  std::optional<ApprovalCounts> approvals;  // roles that approve something
  std::optional<std::vector<MyLoan>> my_loans;
  std::optional<uint64_t> expiring_certificates;
  std::optional<uint64_t> overdue_originals;
  std::optional<uint64_t> disposition_queue;
  std::optional<uint64_t> pending_retention_changes;
  std::optional<LastVerification> last_verification;
};

class HomeService {
 public:
  static constexpr size_t kMyLoansLimit = 50;

  // Every reference must outlive the service; `verification` may be null
  // (verification is not scheduled: lastVerification says "none").
  HomeService(AuthService& auth, RecordService& records, LoanService& loans,
              RetentionService& retention, DestructionService& destruction,
              const VerifySchedule* verification);

  // The parts `who` may see (above). Errors: those of the services read
  // (a store failure); never kPermissionDenied, since a part the role may
  // not see is left out rather than refused.
  [[nodiscard]] StatusOr<HomeSummary> Summary(const Principal& who) const;

 private:
  StatusOr<ApprovalCounts> Approvals(const Principal& who) const;
  StatusOr<uint64_t> LoansToApprove(const Principal& who) const;
  StatusOr<uint64_t> DestructionsToApprove(const Principal& who) const;
  StatusOr<uint64_t> RetentionChangesToApprove(const Principal& who) const;
  StatusOr<uint64_t> GrantsToConfirm(const Principal& who) const;
  StatusOr<std::vector<MyLoan>> MyLoans(const Principal& who) const;
  StatusOr<uint64_t> DispositionQueue(const Principal& who) const;
  LastVerification Verification(const Principal& who) const;

  AuthService& auth_;
  RecordService& records_;
  LoanService& loans_;
  RetentionService& retention_;
  DestructionService& destruction_;
  const VerifySchedule* verification_;
};

}  // namespace custos::services
