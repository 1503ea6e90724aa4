// Loans (DESIGN §2): the value type, its states, its one JSON codec and the
// rules that do not need the store — which state a loan is really in at an
// instant, and whether it lets its borrower read content. How loans are
// stored (a workflow document) and changed lives in
// server/services/loan.h and loan_service.h.
//
// State machine (stored states; `expired` is also reached by time alone):
//
//   requested ──approve (enough approvers)──▶ approved ──checkout──▶ checked_out ──return──▶ returned
//       │  (digital loans skip `approved`: the last approval opens access)  │
//       ├──reject──▶ rejected                                                 │
//       └──revoke──▶ revoked ◀──revoke (not a physical original that is out)──┘
//
//   requested / approved past the due date        → expired
//   digital checked_out past the due date         → expired (access ends)
//   physical checked_out past the due date        → still checked_out, overdue
//
// Renewal: the borrower asks for a later due date on an approved or
// checked-out loan; it takes effect when it has as many approvals as the
// loan itself needed.
//
// Thread safety: values and pure functions; they may be used from any thread.
#pragma once

#include <Poco/JSON/Object.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "domain/model.h"

namespace custos::domain {

enum class LoanKind { kDigital, kPhysical };
enum class LoanState { kRequested, kApproved, kCheckedOut, kReturned, kRejected, kRevoked, kExpired };

std::string_view Name(LoanKind k);
std::string_view Name(LoanState s);
StatusOr<LoanKind> ParseLoanKind(std::string_view s);    // kUnprocessable "invalid_kind"
StatusOr<LoanState> ParseLoanState(std::string_view s);  // kUnprocessable "invalid_state"

struct LoanApproval {
  std::string by;
  Time at;
  uint64_t log_index = 0;
};

// One audit event of the loan, as the register prints it.
struct LoanEvent {
  std::string action;  // "loan.request", "loan.approve", …
  std::string by;
  Time at;
  uint64_t log_index = 0;
};

struct LoanRenewal {
  Time due_at;
  Time requested_at;
  std::vector<LoanApproval> approvals;
};

struct Loan {
  std::string id;  // LN-YYYY-NNNNNN
  RecordId record_id;
  std::string record_title;  // at request time, for the register
  std::string department;    // the record's owning department
  Classification classification = Classification::kInternal;
  LoanKind kind = LoanKind::kDigital;
  LoanState state = LoanState::kRequested;  // as stored; see EffectiveState
  std::string borrower;
  std::string purpose;
  Time requested_at;
  Time due_at;
  int approvals_needed = 1;
  std::vector<LoanApproval> approvals;
  std::optional<Time> checked_out_at;
  std::string checked_out_by;
  std::optional<Time> returned_at;
  std::string returned_by;
  std::optional<Time> closed_at;  // rejected, revoked or expired
  std::string closed_by;
  std::string reason;  // of a rejection or revocation
  std::optional<LoanRenewal> renewal;  // pending
  int renewals = 0;
  std::vector<LoanEvent> events;
};

// The state the loan is in at `now`: the stored one, or kExpired when the
// due date has passed on a loan that time ends (see the file comment).
LoanState EffectiveState(const Loan& loan, Time now);
// A physical original still out after its due date.
bool IsOverdue(const Loan& loan, Time now);
// Still able to change: requested, approved or checked out (at `now`).
bool IsOpen(const Loan& loan, Time now);
// Does the loan let `username` read the content of its record at `now`?
bool GrantsContentAccess(const Loan& loan, const std::string& username, Time now);
// The stored states of loans that are still open (requested, approved,
// checked out).
const std::vector<LoanState>& OpenStates();

// The one JSON codec of a loan. LoanObject is the loan's stored body
// (camelCase fields, the stored state, absent times and renewal left out);
// the API shows the same object with the state at the time of reading (see
// server/http/json_codec.h LoanJson). LoanFromObject reads such an object
// back strictly: kDataLoss "loan_corrupt" when a member has the wrong type,
// a time or enum does not parse, or a required time is missing.
Poco::JSON::Object::Ptr LoanObject(const Loan& loan);
StatusOr<Loan> LoanFromObject(const Poco::JSON::Object::Ptr& o);

}  // namespace custos::domain
