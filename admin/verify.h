// `custosctl verify --data DIR [--json]`: offline check of a whole archive
// (storage/verifier.h), printed for people or as JSON; and the checkpoint
// attestation checks that verify and verify-package share
// (docs/formats/cosignature.md "Verifying").
#pragma once

#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "admin/package_verify.h"
#include "common/config.h"
#include "common/status.h"
#include "crypto/attested_note.h"
#include "storage/metadata_store.h"
#include "storage/verifier.h"

namespace custos::admin {

// The attestation flags of verify and verify-package:
//   --witness VKEY      a trusted witness's cosigner key (repeatable)
//   --witness-policy N  at least N of them must have cosigned
//   --tsa-ca FILE       PEM roots that timestamp tokens must chain to
struct AttestationFlags {
  std::vector<std::string> witnesses;
  std::optional<int> policy;
  std::string tsa_ca_file;
};

// Removes the flags above (and their values) from `args`, leaving the rest
// in order. false with `error` set on a flag without a value or a policy
// that is not a number >= 0.
bool TakeAttestationFlags(std::vector<std::string>& args, AttestationFlags& flags,
                          std::string& error);

// The policy to check with: the flags' witnesses, else `config`'s
// log.witnesses (nullptr: none); the flag's policy, else 1 with --witness,
// else WitnessPolicy(*config), else 0; the --tsa-ca file, else
// config->tsa_ca. kInvalidArgument "witness_key_malformed" etc. for a bad
// key, "witness_policy_too_high" for a policy above the number of
// witnesses; the read error of the CA file.
StatusOr<crypto::AttestationPolicy> MakeAttestationPolicy(const AttestationFlags& flags,
                                                          const Config* config);

// MakeAttestationPolicy with the config of data directory `data_dir` (a
// relative log.tsa_ca is taken from the data directory).
StatusOr<crypto::AttestationPolicy> AttestationPolicyFor(const std::string& data_dir,
                                                         const AttestationFlags& flags);

// Adds to `report`:
//   * for the newest checkpoint with a cosignature (when the policy asks for
//     any), the policy's verdict: checkpoint_witness_policy if short, also
//     when no checkpoint is cosigned at all;
//   * for every stored checkpoint, every added line of a trusted witness
//     that does not verify (checkpoint_cosignature_invalid) and every
//     timestamp whose token fails (checkpoint_timestamp_invalid, only with
//     TSA roots).
// Fails only when the store cannot be read.
Status CheckStoredAttestations(storage::MetadataStore& store,
                               const crypto::AttestationPolicy& policy,
                               storage::VerifyReport& report);

// Human report: one line per finding, then a summary line.
void PrintReport(const storage::VerifyReport& report, std::ostream& out);
// {"clean":bool,"findings":[{"object","problem","code"}],"counts":{…}}
std::string ReportJson(const storage::VerifyReport& report);

// The attestations in a package or evidence bundle (`tags`: tag file path
// inside the bag → bytes): log/checkpoint against `policy` (or, in an
// evidence bundle, one of its older attested checkpoints,
// log/attested/<size>.checkpoint, meeting it), and the
// checkpoint of every receipt (receipts/…, proofs/….tlog-proof) for lines
// of trusted witnesses or timestamps that do not verify. Each finding's
// problem starts with its code (checkpoint_witness_policy,
// checkpoint_cosignature_invalid, checkpoint_timestamp_invalid).
void CheckPackageAttestations(const std::map<std::string, std::string>& tags,
                              const crypto::AttestationPolicy& policy, PackageReport& report);

}  // namespace custos::admin
