#include "admin/export_command.h"

#include <iostream>
#include <map>

#include "admin/open_archive.h"
#include "server/services/audit_package.h"
#include "server/services/clock.h"

namespace custos::admin {

namespace {

int Fail(const std::string& message) {
  std::cerr << "custosctl: export: " << message << "\n";
  return 2;
}

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

int RunExport(const std::vector<std::string>& args) {
  std::map<std::string, std::string> opts;
  bool metadata_only = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--metadata-only") {
      metadata_only = true;
    } else if ((a == "--data" || a == "--out" || a == "--records" || a == "--query" || a == "--type" ||
                a == "--format" || a == "--name") &&
               i + 1 < args.size() && !opts.count(a)) {
      opts[a] = args[++i];
    } else {
      return Fail("unexpected argument '" + a + "'");
    }
  }
  if (!opts.count("--data") || !opts.count("--out")) return Fail("--data DIR and --out FILE are required");
  const std::string out = opts["--out"];
  services::ExportRequest request;
  request.include_content = !metadata_only;
  request.name = opts.count("--name") ? opts["--name"] : "";
  std::string format = opts.count("--format") ? opts["--format"]
                       : out.size() > 4 && out.substr(out.size() - 4) == ".zip" ? "zip"
                                                                               : "tar.gz";
  auto parsed_format = services::ParsePackageFormat(format);
  if (!parsed_format.ok()) return Fail(parsed_format.status().message());
  request.format = *parsed_format;
  if (opts.count("--records")) request.record_ids = SplitCommas(opts["--records"]);
  if (opts.count("--query") || opts.count("--type")) {
    domain::RecordQuery q;
    q.text = opts.count("--query") ? opts["--query"] : "";
    if (opts.count("--type")) {
      auto type = domain::ParseRecordType(opts["--type"]);
      if (!type.ok()) return Fail(type.status().message());
      q.type = *type;
    }
    request.query = q;
  }
  if (request.record_ids.empty() && !request.query) {
    return Fail("choose records with --records ID,… or --query TEXT / --type T");
  }
  auto archive = OpenArchive(opts["--data"]);
  if (!archive.ok()) return Fail(archive.status().message());
  services::SystemClock clock;
  services::PackageExporter exporter((*archive)->store(), (*archive)->content(),
                                     (*archive)->keyring().VerifierKeys(), clock);
  auto summary = exporter.Write(nullptr, request, out);
  if (!summary.ok()) return Fail(summary.status().message());
  std::cout << "wrote " << out << ": " << summary->records << " records, " << summary->files_with_content
            << " of " << summary->files << " files with content (" << summary->payload_bytes
            << " bytes), log size " << summary->log_size << " root " << summary->log_root << "\n";
  if (!summary->withheld.empty()) {
    std::map<std::string, size_t> by_reason;
    for (const services::WithheldFile& f : summary->withheld) ++by_reason[f.reason];
    std::cout << summary->withheld.size() << (summary->withheld.size() == 1 ? " file" : " files") << " withheld (";
    const char* sep = "";
    for (const auto& [reason, n] : by_reason) {
      std::cout << sep << reason << ": " << n;
      sep = ", ";
    }
    std::cout << "), each listed in bag-info.txt\n";
  }
  return 0;
}

}  // namespace custos::admin
