// `custosctl verify --data DIR [--json]`: offline check of a whole archive
// (storage/verifier.h), printed for people or as JSON.
#pragma once

#include <ostream>
#include <string>

#include "storage/verifier.h"

namespace custos::admin {

// Human report: one line per finding, then a summary line.
void PrintReport(const storage::VerifyReport& report, std::ostream& out);
// {"clean":bool,"findings":[{"object","problem","code"}],"counts":{…}}
std::string ReportJson(const storage::VerifyReport& report);

}  // namespace custos::admin
