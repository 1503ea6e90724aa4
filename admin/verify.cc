#include "admin/verify.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <sstream>

namespace custos::admin {

void PrintReport(const storage::VerifyReport& r, std::ostream& out) {
  for (const storage::Finding& f : r.findings) {
    out << "FINDING " << f.object << ": " << f.problem << " [" << f.code << "]\n";
  }
  out << (r.clean() ? "clean" : std::to_string(r.findings.size()) + " finding(s)") << ": "
      << r.log_entries << " log entries, " << r.log_nodes << " tree nodes, " << r.checkpoints
      << " checkpoints, " << r.records << " records, " << r.versions << " versions, " << r.files
      << " files (" << r.content_bytes << " bytes decrypted and hashed), " << r.exports
      << " stored exports, " << r.state_rows << " rows replayed from the log\n";
}

std::string ReportJson(const storage::VerifyReport& r) { return storage::VerifyReportJson(r); }

}  // namespace custos::admin
