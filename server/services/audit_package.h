// Audit packages (docs/formats/audit-package.md): a BagIt 1.0 bag (RFC
// 8493) of chosen records — their files, metadata, the whole log up to one
// signed checkpoint, the log key and a receipt per version — written as
// .tar.gz or .zip, so that an auditor can check it offline with nothing but
// the package and the log's verifier key (custosctl verify-package).
//
//   <name>/bagit.txt
//   <name>/bag-info.txt              Payload-Oxum, checkpoint size and root
//   <name>/manifest-sha256.txt       every payload file
//   <name>/tagmanifest-sha256.txt    every tag file
//   <name>/data/<record>/v<n>/<file id>-<file name>
//   <name>/metadata/<record>.json    record, versions and files
//   <name>/log/entries.jsonl         {"index","leaf"} for every entry < size
//   <name>/log/checkpoint            the signed checkpoint
//   <name>/log/key                   the verifier key(s)
//   <name>/receipts/<record>-v<n>.tlog-proof
//
// Everything comes from one read snapshot, so the entries, checkpoint and
// receipts agree. A file's content is included only where the caller may
// read it (directly or through an active digital loan); otherwise, and for
// destroyed files, only its metadata is (the package says which and why).
// An export by a signed-in user is an audit event, committed before the
// first byte is written; the operator's offline export (custosctl) reads
// with filesystem rights and is not.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/services/clock.h"
#include "server/services/principal.h"
#include "storage/content_store.h"
#include "storage/metadata_store.h"

namespace custos::services {

enum class PackageFormat { kTarGz, kZip };
StatusOr<PackageFormat> ParsePackageFormat(std::string_view s);  // "tar.gz" | "zip"
std::string_view Extension(PackageFormat f);                     // ".tar.gz" | ".zip"

struct ExportRequest {
  std::vector<std::string> record_ids;     // these records, or
  std::optional<storage::RecordQuery> query;  // the records a search finds (all pages)
  bool include_content = true;
  PackageFormat format = PackageFormat::kTarGz;
  std::string name;  // the bag's folder name; generated when empty
};

struct ExportSummary {
  std::string name;
  uint64_t records = 0;
  uint64_t files = 0;
  uint64_t files_with_content = 0;
  uint64_t payload_bytes = 0;
  uint64_t log_size = 0;
  std::string log_root;  // base64
  std::optional<uint64_t> log_index;  // the export.create event, for API exports
};

// Largest number of records one package holds.
inline constexpr size_t kMaxExportRecords = 10000;

class PackageExporter {
 public:
  PackageExporter(storage::MetadataStore& store, storage::ContentStore& content,
                  std::string verifier_keys, Clock& clock);

  // Writes the package to `path` (created 0600 through a temporary file and
  // renamed; never half-written). `who` null means the operator: every
  // record, every readable content, and no audit event.
  StatusOr<ExportSummary> Write(const Principal* who, const ExportRequest& request,
                                const std::string& path);

 private:
  storage::MetadataStore& store_;
  storage::ContentStore& content_;
  const std::string verifier_keys_;
  Clock& clock_;
};

}  // namespace custos::services
