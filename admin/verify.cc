#include "admin/verify.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <charconv>
#include <optional>
#include <sstream>

#include "admin/open_archive.h"
#include "server/services/receipt.h"
#include "storage/data_dir.h"

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

// ------------------------------------------------------------ attestations

namespace custos::admin {
namespace {

storage::Finding CheckpointFinding(uint64_t size, const std::string& problem) {
  std::string_view code = crypto::ProblemCode(problem);
  std::string what = problem.size() > code.size() + 2 ? problem.substr(code.size() + 2) : problem;
  return {"checkpoint " + std::to_string(size), what, std::string(code)};
}

}  // namespace

bool TakeAttestationFlags(std::vector<std::string>& args, AttestationFlags& flags,
                          std::string& error) {
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a != "--witness" && a != "--witness-policy" && a != "--tsa-ca") {
      rest.push_back(a);
      continue;
    }
    if (i + 1 >= args.size()) {
      error = a + " needs a value";
      return false;
    }
    const std::string& v = args[++i];
    if (a == "--witness") {
      flags.witnesses.push_back(v);
    } else if (a == "--tsa-ca") {
      flags.tsa_ca_file = v;
    } else {
      int n = -1;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || end != v.data() + v.size() || n < 0) {
        error = "--witness-policy needs a number >= 0, not '" + v + "'";
        return false;
      }
      flags.policy = n;
    }
  }
  args = std::move(rest);
  return true;
}

StatusOr<crypto::AttestationPolicy> MakeAttestationPolicy(const AttestationFlags& flags,
                                                          const Config* config) {
  crypto::AttestationPolicy policy;
  std::vector<std::string> vkeys = flags.witnesses;
  if (vkeys.empty() && config != nullptr) {
    for (const std::string& w : config->witnesses) vkeys.push_back(w.substr(0, w.find(' ')));
  }
  for (const std::string& vkey : vkeys) {
    auto key = crypto::cosig::ParseWitnessKey(vkey);
    if (!key.ok()) return key.status().WithContext("witness key '" + vkey + "'");
    policy.witnesses.push_back(*key);
  }
  int min = 0;
  if (flags.policy) {
    min = *flags.policy;
  } else if (!flags.witnesses.empty()) {
    min = 1;
  } else if (config != nullptr) {
    min = WitnessPolicy(*config);
  }
  if (min > static_cast<int>(policy.witnesses.size())) {
    return InvalidArgument("witness policy " + std::to_string(min) + " is above the " +
                               std::to_string(policy.witnesses.size()) + " witness(es) given",
                           "witness_policy_too_high");
  }
  policy.min_cosignatures = static_cast<size_t>(min);
  std::string ca_file = flags.tsa_ca_file;
  if (ca_file.empty() && config != nullptr) ca_file = config->tsa_ca;
  if (!ca_file.empty()) {
    auto pem = storage::ReadSmallFile(ca_file);
    if (!pem.ok()) return pem.status().WithContext("--tsa-ca");
    policy.tsa_ca_pem = *pem;
  }
  return policy;
}

StatusOr<crypto::AttestationPolicy> AttestationPolicyFor(const std::string& data_dir,
                                                         const AttestationFlags& flags) {
  CUSTOS_ASSIGN_OR_RETURN(Config config, LoadDataDirConfig(storage::DataDir(data_dir)));
  // log.tsa_ca is relative to the data directory (docs/operations.md).
  if (!config.tsa_ca.empty() && config.tsa_ca[0] != '/') config.tsa_ca = data_dir + "/" + config.tsa_ca;
  return MakeAttestationPolicy(flags, &config);
}

Status CheckStoredAttestations(storage::MetadataStore& store,
                               const crypto::AttestationPolicy& policy,
                               storage::VerifyReport& report) {
  return store.Read([&](storage::Transaction& tx) -> Status {
    storage::LogRepository& log = tx.log();
    // The lines stored with every checkpoint: those of trusted witnesses
    // and timestamps must verify.
    crypto::AttestationPolicy lines_only = policy;
    lines_only.min_cosignatures = 0;
    lines_only.require_timestamp = false;
    CUSTOS_ASSIGN_OR_RETURN(std::vector<storage::StoredCheckpoint> checkpoints, log.Checkpoints());
    for (const storage::StoredCheckpoint& cp : checkpoints) {
      CUSTOS_ASSIGN_OR_RETURN(auto sigs, log.CheckpointSignatures(cp.size));
      if (sigs.empty()) continue;
      crypto::AttestationReport r =
          crypto::CheckAttestations(storage::AttestedNote(cp, std::move(sigs)), lines_only);
      for (const std::string& p : r.problems) report.findings.push_back(CheckpointFinding(cp.size, p));
    }
    if (policy.min_cosignatures == 0 && !policy.require_timestamp) return Status::Ok();
    // The newest cosigned checkpoint against the policy.
    CUSTOS_ASSIGN_OR_RETURN(auto newest, log.LatestAttestedCheckpoint(storage::kCosignatureKind));
    if (!newest) {
      report.findings.push_back({"checkpoints",
                                 "no checkpoint is cosigned; the policy needs " +
                                     std::to_string(policy.min_cosignatures) + " witness(es)",
                                 std::string(crypto::kProblemWitnessPolicy)});
      return Status::Ok();
    }
    CUSTOS_ASSIGN_OR_RETURN(auto sigs, log.CheckpointSignatures(newest->size));
    crypto::AttestationReport r =
        crypto::CheckAttestations(storage::AttestedNote(*newest, std::move(sigs)), policy);
    for (const std::string& p : r.problems) {
      if (crypto::ProblemCode(p) == crypto::kProblemWitnessPolicy) {
        report.findings.push_back(CheckpointFinding(newest->size, p));
      }
    }
    return Status::Ok();
  });
}

void CheckPackageAttestations(const std::map<std::string, std::string>& tags,
                              const crypto::AttestationPolicy& policy, PackageReport& report) {
  crypto::AttestationPolicy lines_only = policy;
  lines_only.min_cosignatures = 0;
  lines_only.require_timestamp = false;
  // The policy holds when log/checkpoint or one of the older attested
  // checkpoints an evidence bundle carries (log/attested/<size>.checkpoint,
  // a prefix of log/checkpoint by its consistency proof) meets it.
  std::optional<std::string> unmet;
  bool policy_checked = false, met = false;
  for (const auto& [path, text] : tags) {
    const bool receipt = path.rfind("receipts/", 0) == 0 ||
                         (path.size() > 11 && path.compare(path.size() - 11, 11, ".tlog-proof") == 0);
    const bool attested = path.rfind("log/attested/", 0) == 0 && path.size() > 11 &&
                          path.compare(path.size() - 11, 11, ".checkpoint") == 0;
    if (path != "log/checkpoint" && !receipt && !attested) continue;
    std::string note = text;
    if (receipt) {
      auto parsed = services::ParseReceipt(text);
      if (!parsed.ok()) continue;  // the receipt checks report it
      note = parsed->checkpoint_note;
    }
    crypto::AttestationReport r = crypto::CheckAttestations(note, receipt ? lines_only : policy);
    bool short_of_policy = false;
    for (const std::string& p : r.problems) {
      const std::string_view code = crypto::ProblemCode(p);
      if (code == crypto::kProblemNoteMalformed) continue;  // reported elsewhere
      if (code == crypto::kProblemWitnessPolicy) {
        short_of_policy = true;
        if (path == "log/checkpoint") unmet = p;
        continue;
      }
      report.findings.push_back({path, p});
    }
    if (!receipt) {
      policy_checked = true;
      met = met || !short_of_policy;
    }
  }
  if (policy_checked && !met) {
    report.findings.push_back(
        {"log/checkpoint", unmet.value_or(std::string(crypto::kProblemWitnessPolicy) +
                                          ": no checkpoint of the package meets the policy")});
  }
}

}  // namespace custos::admin
