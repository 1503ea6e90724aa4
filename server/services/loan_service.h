// Borrowing (DESIGN §2, Loan): requests, approvals, hand-out and return,
// renewal, revocation, expiry, the overdue list, alerts and the borrowing
// register.
//
// Rules, all checked here (never in handlers):
//   * Anyone but an admin may ask to borrow a record they can see.
//     `confidential` and `secret` loans need a purpose. A due date is
//     required, in the future and at most LoanOptions::max_days away. A
//     borrower has at most one open loan of each kind per record.
//   * Approvers of the record's owning department approve or reject;
//     never the borrower; each approver once. `secret` records need two
//     distinct approvers, every other record one.
//   * A digital loan opens access at its last approval (there is nothing to
//     hand out) and ends it at the due date by itself: every content read
//     checks the loan at that instant (GrantsContentAccess), no timer needed.
//   * A physical loan is handed out and taken back by an archivist; one
//     original can be out only once; past its due date it is overdue.
//   * Renewal: the borrower asks for a later due date; it needs the same
//     approvals again. Revocation: an approver of the department or an
//     archivist, for a loan not yet returned (a physical original that is
//     out must be returned instead).
//   * Every transition appends one audit event (subject: the record;
//     details: the loan id and its new state) in the transaction that makes
//     it; the loan keeps the indices of its events for the register.
//   * An illegal transition is kConflict "invalid_loan_state" naming the
//     loan's current state.
// Thread safety: safe for concurrent use.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "server/services/clock.h"
#include "server/services/loan.h"
#include "server/services/principal.h"
#include "storage/metadata_store.h"

namespace custos::services {

struct LoanOptions {
  int max_days = 90;                             // longest loan or renewal from now
  std::vector<int> certificate_horizons = {90, 30, 7};  // days, for alerts
};

struct LoanRequest {
  std::string record_id;
  std::string kind;
  std::string purpose;
  std::optional<domain::Time> due_at;
};

struct LoanFilter {
  std::optional<domain::LoanState> state;  // effective state
  bool overdue = false;
  bool mine = false;
  std::string record_id;
};

// A qualification certificate that expires within the widest horizon, or
// has expired.
struct CertificateAlert {
  domain::Record record;
  std::string valid_until;  // YYYY-MM-DD
  int days_left = 0;        // negative once expired
  int horizon = 0;          // the smallest horizon (days) it falls within; 0 if expired
  bool expired = false;
};

struct Alerts {
  std::vector<domain::Loan> overdue_loans;
  std::vector<CertificateAlert> certificates;
};

class LoanService {
 public:
  LoanService(storage::MetadataStore& store, Clock& clock, LoanOptions options = {});

  StatusOr<domain::Loan> Request(const Principal& who, const LoanRequest& request);
  StatusOr<domain::Loan> Get(const Principal& who, const std::string& id);
  // Loans the caller may see (their own; an approver's department's; all
  // for archivists, legal and auditors), newest first, at most 1,000.
  StatusOr<std::vector<domain::Loan>> List(const Principal& who, const LoanFilter& filter);

  // `reason`: the approver's note (optional, at most 2,000 bytes:
  // kUnprocessable "invalid_reason"), kept in the loan.approve event's
  // details as "reason".
  StatusOr<domain::Loan> Approve(const Principal& who, const std::string& id,
                                 const std::string& reason = "");
  StatusOr<domain::Loan> Reject(const Principal& who, const std::string& id, const std::string& reason);
  StatusOr<domain::Loan> Checkout(const Principal& who, const std::string& id);
  StatusOr<domain::Loan> Return(const Principal& who, const std::string& id);
  StatusOr<domain::Loan> Renew(const Principal& who, const std::string& id,
                       std::optional<domain::Time> due_at);
  StatusOr<domain::Loan> Revoke(const Principal& who, const std::string& id, const std::string& reason);

  // The borrowing register: loans requested in [from, to], oldest first
  // (archivists, legal, auditors).
  StatusOr<std::vector<domain::Loan>> Register(const Principal& who, std::optional<domain::Time> from,
                                       std::optional<domain::Time> to);
  // Overdue loans and expiring or expired qualification certificates the
  // caller may see (none for admins, who see no loans or records).
  StatusOr<Alerts> GetAlerts(const Principal& who);

  // Records `loan.expire` for every loan whose time ran out, as the system
  // actor; returns how many. Access never depends on this having run.
  StatusOr<int> ExpireDue();

  domain::Time Now() { return clock_.Now(); }

 private:
  using Change = std::function<Status(storage::Transaction& tx, domain::Loan& loan,
                                      const domain::Record& record, domain::Time now)>;
  // Loads the loan, checks the caller may see it, applies `change`, stores
  // it and appends event `action` — all in one transaction. A `note` that
  // is not empty goes into the event's details as "reason".
  StatusOr<domain::Loan> Transition(const Principal& who, const std::string& id, const std::string& action,
                            const Change& change, const std::string& note = "");

  storage::MetadataStore& store_;
  Clock& clock_;
  const LoanOptions options_;
};

}  // namespace custos::services
