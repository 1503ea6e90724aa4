// Loans as stored: the workflow document a loan is kept in, and reading a
// record's loans inside a transaction. The loan itself — its value type,
// states, JSON codec and the rules that need no store — is domain/loan.h;
// changing loans is LoanService (loan_service.h).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "domain/loan.h"
#include "domain/model.h"
#include "storage/metadata_store.h"

namespace custos::services {

// The document kind and id prefix loans are stored under.
inline constexpr const char* kLoanDocument = "loan";
inline constexpr const char* kLoanIdPrefix = "LN";

// The loan as a stored document: its body is domain::LoanObject as
// canonical JSON, its state column the stored state. LoanFromDocument reads
// it back (kDataLoss "loan_corrupt" for a body that does not decode or that
// names another id).
storage::Document ToDocument(const domain::Loan& loan, domain::Time updated_at);
StatusOr<domain::Loan> LoanFromDocument(const storage::Document& d);

// Loans of a record read inside `tx`, oldest first, all of them: only those
// of `borrower` when set, and only those stored in one of `states` when
// given (stored states: a loan past its due date is still "checked_out"
// here; apply domain::EffectiveState). domain::OpenStates() lists the
// states of loans still open.
StatusOr<std::vector<domain::Loan>> LoansOfRecord(storage::Transaction& tx, const domain::RecordId& id,
                                                  const std::string& borrower = "",
                                                  const std::vector<domain::LoanState>& states = {});

}  // namespace custos::services
