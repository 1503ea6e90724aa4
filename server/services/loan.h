// Loans (DESIGN §2): the value type, its stored form and the rules that do
// not need the store — which state a loan is really in at an instant, and
// whether it lets its borrower read content.
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
#pragma once

#include <Poco/JSON/Object.h>

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "storage/metadata_store.h"
#include "domain/model.h"

namespace custos::services {

enum class LoanKind { kDigital, kPhysical };
enum class LoanState { kRequested, kApproved, kCheckedOut, kReturned, kRejected, kRevoked, kExpired };

std::string_view Name(LoanKind k);
std::string_view Name(LoanState s);
StatusOr<LoanKind> ParseLoanKind(std::string_view s);    // kUnprocessable "invalid_kind"
StatusOr<LoanState> ParseLoanState(std::string_view s);  // kUnprocessable "invalid_state"

// The document kind and id prefix loans are stored under.
inline constexpr const char* kLoanDocument = "loan";
inline constexpr const char* kLoanIdPrefix = "LN";

struct LoanApproval {
  std::string by;
  domain::Time at;
  uint64_t log_index = 0;
};

// One audit event of the loan, as the register prints it.
struct LoanEvent {
  std::string action;  // "loan.request", "loan.approve", …
  std::string by;
  domain::Time at;
  uint64_t log_index = 0;
};

struct LoanRenewal {
  domain::Time due_at;
  domain::Time requested_at;
  std::vector<LoanApproval> approvals;
};

struct Loan {
  std::string id;  // LN-YYYY-NNNNNN
  domain::RecordId record_id;
  std::string record_title;  // at request time, for the register
  std::string department;    // the record's owning department
  domain::Classification classification = domain::Classification::kInternal;
  LoanKind kind = LoanKind::kDigital;
  LoanState state = LoanState::kRequested;  // as stored; see EffectiveState
  std::string borrower;
  std::string purpose;
  domain::Time requested_at;
  domain::Time due_at;
  int approvals_needed = 1;
  std::vector<LoanApproval> approvals;
  std::optional<domain::Time> checked_out_at;
  std::string checked_out_by;
  std::optional<domain::Time> returned_at;
  std::string returned_by;
  std::optional<domain::Time> closed_at;  // rejected, revoked or expired
  std::string closed_by;
  std::string reason;  // of a rejection or revocation
  std::optional<LoanRenewal> renewal;  // pending
  int renewals = 0;
  std::vector<LoanEvent> events;
};

// The state the loan is in at `now`: the stored one, or kExpired when the
// due date has passed on a loan that time ends (see the file comment).
LoanState EffectiveState(const Loan& loan, domain::Time now);
// A physical original still out after its due date.
bool IsOverdue(const Loan& loan, domain::Time now);
// Still able to change: requested, approved or checked out (at `now`).
bool IsOpen(const Loan& loan, domain::Time now);
// Does the loan let `username` read the content of its record at `now`?
bool GrantsContentAccess(const Loan& loan, const std::string& username, domain::Time now);

// The one JSON codec of a loan. LoanObject is the loan's stored body
// (camelCase fields, the stored state, absent times and renewal left out);
// the API shows the same object with the state at the time of reading (see
// server/http/loan_routes.h LoanJson). ToDocument stores it as canonical
// JSON; LoanFromDocument reads it back (kDataLoss "loan_corrupt" for a body
// that does not decode).
Poco::JSON::Object::Ptr LoanObject(const Loan& loan);
storage::Document ToDocument(const Loan& loan, domain::Time updated_at);
StatusOr<Loan> LoanFromDocument(const storage::Document& d);

// Loans of a record read inside `tx`, oldest first, all of them: only those
// of `borrower` when set, and only those stored in one of `states` when
// given (stored states: a loan past its due date is still "checked_out"
// here; apply EffectiveState).
StatusOr<std::vector<Loan>> LoansOfRecord(storage::Transaction& tx, const domain::RecordId& id,
                                          const std::string& borrower = "",
                                          const std::vector<LoanState>& states = {});
// The stored states of loans that are still open (requested, approved,
// checked out), for LoansOfRecord.
const std::vector<LoanState>& OpenStates();

}  // namespace custos::services
