#include "admin/evidence_command.h"

#include <iostream>
#include <map>

#include "admin/open_archive.h"
#include "server/services/clock.h"
#include "server/services/evidence_bundle.h"

namespace custos::admin {

namespace {

int Fail(const std::string& message) {
  std::cerr << "custosctl: evidence: " << message << "\n";
  return 2;
}

}  // namespace

int RunEvidence(const std::vector<std::string>& args) {
  std::map<std::string, std::string> opts;
  std::string record;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if ((a == "--data" || a == "--out") && i + 1 < args.size() && !opts.count(a)) {
      opts[a] = args[++i];
    } else if (!a.empty() && a[0] != '-' && record.empty()) {
      record = a;
    } else {
      return Fail("unexpected argument '" + a + "'");
    }
  }
  if (record.empty() || !opts.count("--data") || !opts.count("--out")) {
    return Fail("usage: evidence RECORD --data DIR --out FILE");
  }
  auto archive = OpenArchive(opts["--data"]);
  if (!archive.ok()) return Fail(archive.status().message());
  services::SystemClock clock;
  services::EvidenceService evidence((*archive)->store(), (*archive)->content(),
                                     (*archive)->keyring().VerifierKeys(), clock);
  auto result = evidence.Write(nullptr, domain::RecordId{record}, opts["--out"]);
  if (!result.ok()) return Fail(result.status().message());
  std::cout << "wrote " << opts["--out"] << ": " << result->record_id << ", " << result->files_with_content << " of "
            << result->files << " files with their originals (" << result->payload_bytes << " bytes), "
            << result->events << " events with inclusion proofs against the checkpoint of size "
            << result->checkpoint_size << "\n";
  return 0;
}

}  // namespace custos::admin
