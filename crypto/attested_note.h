// Checking the attestations on a checkpoint: the witness cosignatures
// (crypto/cosignature.h, docs/formats/cosignature.md) and RFC 3161 timestamp
// lines (crypto/timestamp.h, docs/formats/timestamp.md) appended to the log's
// signed note, against a policy ("at least N of these witnesses").
//
// The log's own signature is NOT checked here (note::Open / OpenCheckpoint
// with the log's key does that); CheckAttestations looks only at the lines it
// can identify:
//   * a cosignature: name and key ID of a witness in the policy;
//   * a timestamp: key ID == tsa::TimestampKeyId(name of the line).
// Every other line (the log's, unknown witnesses') is ignored, as signed-note
// verifiers do.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/cosignature.h"
#include "crypto/timestamp.h"

namespace custos::crypto {

// Finding codes that start each AttestationReport::problems entry.
inline constexpr std::string_view kProblemWitnessPolicy = "checkpoint_witness_policy";
inline constexpr std::string_view kProblemCosignatureInvalid = "checkpoint_cosignature_invalid";
inline constexpr std::string_view kProblemTimestampInvalid = "checkpoint_timestamp_invalid";
inline constexpr std::string_view kProblemNoteMalformed = "checkpoint_malformed";

struct AttestationPolicy {
  std::vector<cosig::WitnessKey> witnesses;  // the witnesses the verifier trusts
  size_t min_cosignatures = 0;  // distinct trusted witnesses that must have cosigned
  // PEM roots for timestamp tokens; empty: timestamp lines are not checked
  // (and do not count).
  std::string tsa_ca_pem;
  bool require_timestamp = false;  // at least one timestamp line must verify
};

struct AttestationReport {
  size_t cosignatures_ok = 0;                  // distinct trusted witnesses with a valid line
  std::vector<std::string> witness_names_ok;   // their names, in line order
  std::vector<tsa::TokenInfo> timestamps;      // verified timestamp tokens, in line order
  // Each "<code>: <what>", code one of the kProblem* constants above:
  //   checkpoint_witness_policy       fewer than min_cosignatures valid
  //                                   cosignatures, or no verified timestamp
  //                                   when require_timestamp
  //   checkpoint_cosignature_invalid  a trusted witness's line that does not
  //                                   verify (or is malformed)
  //   checkpoint_timestamp_invalid    a timestamp line whose token fails
  //                                   tsa::VerifyToken against tsa_ca_pem
  //   checkpoint_malformed            not a signed note at all
  std::vector<std::string> problems;
  bool ok() const { return problems.empty(); }
};

// Checks `attested_note` (the log's signed note followed by any cosignature
// and timestamp lines) against `policy`. Never fails: what is wrong is in
// problems.
[[nodiscard]] AttestationReport CheckAttestations(std::string_view attested_note,
                                                  const AttestationPolicy& policy);

// The code of a problem string ("checkpoint_witness_policy" from
// "checkpoint_witness_policy: …").
[[nodiscard]] std::string_view ProblemCode(std::string_view problem);

}  // namespace custos::crypto
