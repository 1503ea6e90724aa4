// Routes of the borrowing workflow (DESIGN §4 "loans"): /v1/loans…,
// /v1/loans/register (JSON or CSV) and /v1/alerts.
#pragma once

#include <Poco/JSON/Object.h>

#include "server/http/router.h"
#include "server/services/auth_service.h"
#include "server/services/loan_service.h"

namespace custos::http {

// A loan as the API shows it, with its state and overdue flag at `now`.
Poco::JSON::Object::Ptr LoanJson(const services::Loan& loan, storage::Time now);

// The borrowing register as CSV (RFC 4180, CRLF, a header row; cells that
// a spreadsheet would run as a formula are prefixed with a quote).
std::string RegisterCsv(const std::vector<services::Loan>& loans, storage::Time now);

void AddLoanRoutes(Router& router, services::AuthService& auth, services::LoanService& loans);

}  // namespace custos::http
