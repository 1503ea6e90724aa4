// Routes of the borrowing workflow (DESIGN §4 "loans"): /v1/loans…,
// /v1/loans/register (JSON or CSV) and /v1/alerts.
#pragma once

#include <Poco/JSON/Object.h>

#include <string>
#include <string_view>
#include <vector>

#include "server/http/json_codec.h"  // LoanJson
#include "server/http/router.h"
#include "server/services/auth_service.h"
#include "server/services/loan_service.h"
#include "server/services/checkpoint_attester.h"
#include "server/services/fresh_reads.h"
#include "server/services/row_integrity.h"
#include "server/services/verify_schedule.h"

namespace custos::http {

// The borrowing register as CSV (RFC 4180, CRLF, a header row; every cell
// for which LooksLikeFormula holds is prefixed with a single quote, so a
// spreadsheet shows it as text).
std::string RegisterCsv(const std::vector<domain::Loan>& loans, domain::Time now);

// Could a spreadsheet run `text` (UTF-8) as a formula? True when it starts
// with a tab or CR, or when its first character that is not whitespace —
// ASCII (space, tab, CR, LF, VT, FF) or Unicode (U+3000 ideographic space,
// no-break and U+2000 spaces, NEL, line/paragraph separators, zero-width
// space, BOM) — is = + - @, a full-width ＝ ＋ － ＠, a small form
// ﹦ ﹢ ﹣ ﹫ or the minus sign U+2212. The one defusing rule of the register.
bool LooksLikeFormula(std::string_view text);

// `verification` (may be null: no scheduled verification),
// `row_integrity` and `fresh_reads` (may be null) add their alerts to
// GET /v1/alerts; they must outlive the router.
void AddLoanRoutes(Router& router, services::AuthService& auth, services::LoanService& loans,
                   const services::VerifySchedule* verification,
                   const services::RowIntegrityMonitor* row_integrity = nullptr,
                   const services::FreshReadLog* fresh_reads = nullptr,
                   const services::CheckpointAttester* attester = nullptr);

}  // namespace custos::http
