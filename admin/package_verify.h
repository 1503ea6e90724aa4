// `custosctl verify-package PKG --vkey KEY`: checks an audit package
// (docs/formats/audit-package.md) offline — no server, no data directory,
// only the package and the log's verifier key obtained independently:
//   1. BagIt fixity: bagit.txt, every payload file against
//      manifest-sha256.txt (and no unlisted payload), every tag file against
//      tagmanifest-sha256.txt, Payload-Oxum;
//   2. log/checkpoint is signed by KEY;
//   3. log/entries.jsonl: every leaf decodes, the hash chain links, and the
//      leaves give the checkpoint's size and root;
//   4. every receipt verifies against KEY and the package checkpoint, and
//      its leaf is the entry at its index;
//   5. every data file's SHA-256 equals the hash its version's receipt leaf
//      records for that file;
//   6. each metadata/<record>.json: its versions and files are what their
//      receipt leaves record (each version's values give the manifest hash
//      its entry logged, through storage::ManifestHash), and its catalogue
//      values (title, description,
//      metadata, …) with its salt give, through storage::RecordDigest, the
//      recordHash of the record's newest such entry in the log, whose
//      receipt it names ("record <id>: catalogue values do not match the
//      log" otherwise).
// Each finding names the file of the package it concerns.
#pragma once

#include <Poco/JSON/Object.h>

#include <ostream>
#include <string>
#include <vector>

#include "common/status.h"
#include "crypto/attested_note.h"
#include "domain/model.h"

namespace custos::admin {

struct PackageFinding {
  std::string file;     // path inside the bag ("data/…", "log/checkpoint", …)
  std::string problem;
};

struct PackageReport {
  std::vector<PackageFinding> findings;
  uint64_t payload_files = 0;
  uint64_t payload_bytes = 0;
  uint64_t tag_files = 0;
  uint64_t log_entries = 0;
  uint64_t receipts = 0;
  bool clean() const { return findings.empty(); }
};

// Limits on what a package may make the verifier hold in memory.
inline constexpr uint64_t kMaxTagFileBytes = 1ULL << 30;

// Reads the package (tar, tar.gz or zip) and checks it with the verifier
// key text (one or more vkey lines). A package that cannot be read at all
// is an error status; everything wrong inside it is a finding.
// `policy`: the checkpoint attestations to require (admin/verify.h,
// CheckPackageAttestations); the default requires none.
StatusOr<PackageReport> VerifyPackage(const std::string& package_path, const std::string& vkey_text,
                                      const crypto::AttestationPolicy& policy = {});

// The record row that a metadata object (metadata/<record>.json of a
// package, record.json of an evidence bundle) describes, as
// storage::RecordDigest reads it (docs/formats/audit-package.md, "Catalogue
// values"); kInvalidArgument naming the first member that is missing or not
// in its exact form.
StatusOr<domain::Record> CatalogueRow(const Poco::JSON::Object::Ptr& o);

void PrintPackageReport(const PackageReport& report, std::ostream& out);
std::string PackageReportJson(const PackageReport& report);

// custosctl verify-package PKG --vkey KEY [--json]: exit 0 clean, 1
// findings, 2 could not run.
int RunVerifyPackage(const std::vector<std::string>& args);

}  // namespace custos::admin
