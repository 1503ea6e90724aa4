// Audit packages (docs/formats/audit-package.md): a BagIt 1.0 bag (RFC
// 8493) of chosen records — their files, metadata, the whole log up to one
// signed checkpoint, the log key and a receipt per version — written as
// .tar.gz or .zip with UTF-8 names (server/services/package_writer.h), so
// that an auditor can check it offline with nothing but the package and the
// log's verifier key (custosctl verify-package).
//
//   <name>/bagit.txt
//   <name>/bag-info.txt              Payload-Oxum, checkpoint size and root,
//                                    the files withheld and why
//   <name>/manifest-sha256.txt       every payload file
//   <name>/tagmanifest-sha256.txt    every tag file
//   <name>/data/                     always, empty when no content is included
//   <name>/data/<record>/v<n>/<file id>-<file name>
//   <name>/metadata/<record>.json    record (its catalogue values and
//                                    salt), versions and files
//   <name>/log/entries.jsonl         {"index","leaf"} for every entry < size
//                                    ({"index","leafHash","redacted"} for
//                                    an entry a destruction redacted)
//   <name>/log/checkpoint            the signed checkpoint
//   <name>/log/key                   the verifier key(s)
//   <name>/receipts/<record>-v<n>.tlog-proof
//   <name>/receipts/<record>.tlog-proof   the entry with the record's
//                                    newest recordHash, which binds its
//                                    catalogue values (storage/integrity.h)
//
// Everything comes from one read snapshot, so the entries, checkpoint and
// receipts agree. A file's content is included only where the caller may
// read it (directly or through an active digital loan); otherwise, and for
// destroyed files, only its metadata is (the package says which and why).
// Catalogue values are never withheld: a record the caller may see is
// exported with all of them and its salt, which the binding needs whole.
// An export by a signed-in user is an audit event, committed before the
// first byte is written; the operator's offline export (custosctl) reads
// with filesystem rights and is not.
#pragma once

#include <Poco/JSON/Object.h>

#include <optional>
#include <string>
#include <vector>

#include "common/byte_stream.h"
#include "server/services/clock.h"
#include "server/services/fresh_reads.h"
#include "server/services/package_writer.h"
#include "server/services/principal.h"
#include "storage/content_store.h"
#include "storage/metadata_store.h"

namespace custos::services {

// A record's catalogue values and salt as metadata/<record>.json gives them
// (without versions, logIndex and receipt): what storage::RecordDigest binds
// (docs/formats/audit-package.md, "Catalogue values").
Poco::JSON::Object::Ptr CatalogueJson(const domain::Record& r);

StatusOr<PackageFormat> ParsePackageFormat(std::string_view s);  // "tar.gz" | "zip"
std::string_view Extension(PackageFormat f);                     // ".tar.gz" | ".zip"

struct ExportRequest {
  std::vector<std::string> record_ids;     // these records, or
  std::optional<domain::RecordQuery> query;  // the records a search finds (all pages)
  bool include_content = true;
  PackageFormat format = PackageFormat::kTarGz;
  std::string name;  // the bag's folder name; generated when empty
};

// A file whose content a package leaves out, and why.
struct WithheldFile {
  std::string record_id;
  int version = 0;
  std::string file_id;
  std::string name;
  // "destroyed" (crypto-shredded), "not_requested" (the export asked for
  // metadata only) or "not_permitted" (the exporter may not read it now).
  std::string reason;
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
  std::vector<WithheldFile> withheld;  // every file left out, in package order
  // The records whose content (at least one file) the package holds: the
  // package must die when any of them is destroyed.
  std::vector<std::string> records_with_content;
};

// Largest number of records one package holds.
inline constexpr size_t kMaxExportRecords = 10000;

// The limits of a request before anything is read: kPermissionDenied
// "forbidden" for an administrator; kUnprocessable "invalid_export" (param
// rule "empty" when it names no record and gives no query, "too_many" past
// kMaxExportRecords ids). `who` null means the operator.
[[nodiscard]] Status CheckExportRequest(const Principal* who, const ExportRequest& request);

class PackageExporter {
 public:
  PackageExporter(storage::MetadataStore& store, storage::ContentStore& content,
                  std::string verifier_keys, Clock& clock);

  // Writes the package to `path` (created 0600 through a temporary file and
  // renamed; never half-written). `who` null means the operator: every
  // record, every readable content, and no audit event.
  StatusOr<ExportSummary> Write(const Principal* who, const ExportRequest& request,
                                const std::string& path);

  // The same package, every byte written to `out` in order; nothing else is
  // written anywhere. The caller decides where the bytes rest (an API export
  // encrypts them). On failure `out` holds a partial package to be
  // abandoned; a failure of `out` is returned unchanged.
  StatusOr<ExportSummary> WriteTo(const Principal* who, const ExportRequest& request,
                                  ByteSink& out);

  // An export that includes content is a content read: by a fresh account
  // (account_policy.h) its export.create event says "freshAccount": true
  // and each included file goes to `fresh_reads` (may be null) for the
  // security auditor, like RecordService's reads. Call before use.
  void FlagFreshReads(const AccountPolicyOptions& policy, FreshReadLog* fresh_reads) {
    policy_ = policy;
    fresh_reads_ = fresh_reads;
  }

 private:
  storage::MetadataStore& store_;
  storage::ContentStore& content_;
  const std::string verifier_keys_;
  Clock& clock_;
  AccountPolicyOptions policy_;
  FreshReadLog* fresh_reads_ = nullptr;
};

}  // namespace custos::services
