// The checks custosctl verify-package runs on an evidence bundle
// (docs/formats/evidence-bundle.md), after the BagIt fixity checks that
// every package gets (admin/package_verify.h):
//   1. log/checkpoint is signed by one of the given keys, and bag-info.txt
//      names its size and root;
//   2. each events/<i>.json is a log leaf with seq i about the bundle's
//      record, and proofs/<i>.tlog-proof proves exactly that leaf included
//      in log/checkpoint (RFC 9162); no proof without its event;
//   3. consecutive events link by their `prev` hashes;
//   4. each original data/v<n>/<id>-<name> and each
//      signatures/v<n>/<id>.json agrees with the check-in event of version
//      n (its details.files: sha256, name, signature status), and every
//      file has its original or a Custos-Withheld line in bag-info.txt;
//   5. record.json's catalogue values give the recordHash of the newest
//      event that carries one (storage::RecordDigest);
//   6. summary.md is what services::EvidenceSummary makes of the other
//      files.
// Each finding names the bundle file it concerns.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "admin/package_verify.h"
#include "crypto/signed_note.h"

namespace custos::admin {

// Whether the bag is an evidence bundle: its bag-info.txt has the
// services::kEvidenceRecordLabel line. `tags` maps each tag file's path
// inside the bag to its bytes.
bool IsEvidenceBundle(const std::map<std::string, std::string>& tags);

// Adds a finding to `report` for everything wrong in the bundle.
// `payload_sha256` maps each payload path ("data/…") to the SHA-256 (hex)
// of its bytes as read.
void CheckEvidenceBundle(const std::map<std::string, std::string>& tags,
                         const std::map<std::string, std::string>& payload_sha256,
                         const std::vector<const crypto::note::Verifier*>& verifiers, PackageReport& report);

}  // namespace custos::admin
