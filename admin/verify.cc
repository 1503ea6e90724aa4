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
      << " files (" << r.content_bytes << " bytes decrypted and hashed)\n";
}

std::string ReportJson(const storage::VerifyReport& r) {
  Poco::JSON::Object root;
  root.set("clean", r.clean());
  Poco::JSON::Array::Ptr findings = new Poco::JSON::Array;
  for (const storage::Finding& f : r.findings) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("object", f.object);
    o->set("problem", f.problem);
    o->set("code", f.code);
    findings->add(o);
  }
  root.set("findings", findings);
  Poco::JSON::Object::Ptr counts = new Poco::JSON::Object;
  counts->set("logEntries", static_cast<Poco::UInt64>(r.log_entries));
  counts->set("logNodes", static_cast<Poco::UInt64>(r.log_nodes));
  counts->set("checkpoints", static_cast<Poco::UInt64>(r.checkpoints));
  counts->set("records", static_cast<Poco::UInt64>(r.records));
  counts->set("versions", static_cast<Poco::UInt64>(r.versions));
  counts->set("files", static_cast<Poco::UInt64>(r.files));
  counts->set("contentBytes", static_cast<Poco::UInt64>(r.content_bytes));
  root.set("counts", counts);
  std::ostringstream out;
  root.stringify(out);
  return out.str();
}

}  // namespace custos::admin
