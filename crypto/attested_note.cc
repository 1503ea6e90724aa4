// Attestation checks on checkpoints: see crypto/attested_note.h.
#include "crypto/attested_note.h"

#include <algorithm>
#include <optional>
#include <span>

#include "crypto/signed_note.h"

namespace custos::crypto {
namespace {

std::string Problem(std::string_view code, const std::string& what) {
  return std::string(code) + ": " + what;
}

struct Line {
  std::string_view text;  // the whole line, without '\n'
  std::string_view name;
  uint32_t key_id = 0;
};

// A signature line's name and key ID; nullopt if it is not one.
std::optional<Line> ParseLine(std::string_view text) {
  if (text.substr(0, note::kSignatureLinePrefix.size()) != note::kSignatureLinePrefix) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(note::kSignatureLinePrefix.size());
  size_t space = rest.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  std::optional<Bytes> payload = Base64Decode(rest.substr(space + 1));
  if (!payload || payload->size() < note::kKeyIdSize) return std::nullopt;
  const Bytes& p = *payload;
  return Line{text, rest.substr(0, space),
              (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]};
}

const cosig::WitnessKey* FindWitness(const AttestationPolicy& policy, const Line& line) {
  for (const cosig::WitnessKey& w : policy.witnesses) {
    if (w.name == line.name && w.key_id == line.key_id) return &w;
  }
  return nullptr;
}

void CheckTimestamp(const Line& line, std::string_view text, const AttestationPolicy& policy,
                    AttestationReport& report) {
  if (policy.tsa_ca_pem.empty()) return;  // no trust anchors: not checked
  const std::string name(line.name);
  auto token = tsa::TokenFromLine(name, line.text);
  if (!token.ok()) {
    report.problems.push_back(Problem(kProblemTimestampInvalid,
                                      "timestamp of " + name + ": " + token.status().ToString()));
    return;
  }
  auto info = tsa::VerifyToken(std::span<const uint8_t>(token->data(), token->size()), text,
                               policy.tsa_ca_pem);
  if (!info.ok()) {
    report.problems.push_back(Problem(kProblemTimestampInvalid,
                                      "timestamp of " + name + ": " + info.status().ToString()));
    return;
  }
  report.timestamps.push_back(*info);
}

}  // namespace

std::string_view ProblemCode(std::string_view problem) {
  return problem.substr(0, problem.find(':'));
}

AttestationReport CheckAttestations(std::string_view attested_note,
                                    const AttestationPolicy& policy) {
  AttestationReport report;
  size_t blank = attested_note.rfind("\n\n");
  if (blank == std::string_view::npos || attested_note.back() != '\n') {
    report.problems.push_back(Problem(kProblemNoteMalformed, "the checkpoint is not a signed note"));
    return report;
  }
  const std::string_view text = attested_note.substr(0, blank + 1);
  std::string_view lines = attested_note.substr(blank + 2);
  while (!lines.empty()) {
    size_t nl = lines.find('\n');
    std::optional<Line> line = ParseLine(lines.substr(0, nl));
    lines.remove_prefix(nl + 1);
    if (!line) {
      report.problems.push_back(
          Problem(kProblemNoteMalformed, "a signature line of the checkpoint does not parse"));
      continue;
    }
    if (const cosig::WitnessKey* w = FindWitness(policy, *line)) {
      auto ts = cosig::VerifyCosignatureLine(*w, text, line->text);
      if (!ts.ok()) {
        report.problems.push_back(Problem(kProblemCosignatureInvalid,
                                          "witness " + w->name + ": " + ts.status().ToString()));
      } else if (std::find(report.witness_names_ok.begin(), report.witness_names_ok.end(),
                           w->name) == report.witness_names_ok.end()) {
        report.witness_names_ok.push_back(w->name);
      }
    } else if (note::IsValidKeyName(line->name) &&
               line->key_id == tsa::TimestampKeyId(line->name)) {
      CheckTimestamp(*line, text, policy, report);
    }
  }
  report.cosignatures_ok = report.witness_names_ok.size();
  if (report.cosignatures_ok < policy.min_cosignatures) {
    report.problems.push_back(Problem(
        kProblemWitnessPolicy, std::to_string(report.cosignatures_ok) + " valid cosignature(s) of " +
                                   std::to_string(policy.min_cosignatures) + " required"));
  }
  if (policy.require_timestamp && report.timestamps.empty()) {
    report.problems.push_back(Problem(kProblemWitnessPolicy, "no verified timestamp"));
  }
  return report;
}

}  // namespace custos::crypto
