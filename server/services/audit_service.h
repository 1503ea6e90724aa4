// Long audit work in the background (DESIGN §5, §9): full verification of
// the archive and audit-package exports, each a job with progress that the
// caller polls.
//
//   * Verification (auditors): runs the same checks as `custosctl verify`
//     against the live archive; when it finishes, the report is stored (a
//     document) and an `audit.verify` event records its outcome and the
//     SHA-256 of the report, so a stored report cannot be edited unseen.
//   * Exports (anyone who may see the records; content as in
//     audit_package.h): the package is encrypted on its way to disk like
//     any file (its own data key, the envelope format: a blob of the blob
//     store; no plaintext byte is ever written) and known to the database
//     (storage::StoredExport: owner, expiry, key, every record it names).
//     It is kept for kExportLifetime. Serving it re-checks, at that moment
//     and in the transaction that logs it, the owner's right to see every
//     record it names and to read every content it holds; each record whose
//     content leaves gets an `export.download` event (in its /history)
//     before the first byte is sent. Destroying a record shreds every
//     stored export naming it (ShredExportsNaming, RemoveShreddedExports).
//   * Each user has at most AuditOptions::max_jobs_per_user jobs queued or
//     running (kConflict "too_many_jobs"), so no one can fill the queue or
//     the disk.
//   * A failed job is written to the server log with its id and error.
// One worker thread runs the jobs one after another (verification reads
// every blob; two at once would only halve each other's speed); between
// jobs it removes expired packages every minute.
// Thread safety: safe for concurrent use.
#pragma once

#include <Poco/JSON/Object.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "domain/workflow.h"
#include "server/services/audit_package.h"
#include "server/services/clock.h"
#include "server/services/principal.h"
#include "storage/blob_store.h"
#include "storage/content_store.h"
#include "storage/metadata_store.h"
#include "storage/verifier.h"

namespace custos::services {

struct AuditJob {
  std::string id;
  std::string kind;   // "verify" or "export"
  // queued, running, done or failed; an export also shredded (a record it
  // names was destroyed) or expired.
  domain::JobState state = domain::JobState::kQueued;
  std::string owner;
  domain::Time created_at;
  std::optional<domain::Time> finished_at;
  std::string phase;
  uint64_t done = 0;
  uint64_t total = 0;
  std::string error;
  // verify: the report JSON (storage::VerifyReportJson) and whether clean.
  std::string report_json;
  bool clean = false;
  std::optional<uint64_t> log_index;  // the audit.verify / export.create event
  // export: what the package holds, withholds and until when it is kept.
  PackageFormat format = PackageFormat::kTarGz;
  std::optional<ExportSummary> summary;
  std::optional<domain::Time> expires_at;
  uint64_t package_bytes = 0;
  std::string shredded_by;  // the destruction batch, for state "shredded"
};

// Is the job still queued or running?
bool IsActive(const AuditJob& j);

// A finished export opened for download: its decrypted stream (every chunk
// authenticated; the package's SHA-256 checked at the end).
struct ExportDownload {
  AuditJob job;
  uint64_t size = 0;
  std::unique_ptr<ByteSource> stream;
  std::vector<uint64_t> log_indices;  // the export.download events
};

using VerifyFn = std::function<StatusOr<storage::VerifyReport>(
    const std::function<void(const storage::VerifyProgress&)>& progress)>;

struct AuditOptions {
  std::chrono::seconds export_lifetime = std::chrono::hours(24);
  size_t max_jobs_per_user = 2;  // queued or running, verifications and exports together
  // How often the worker looks for expired packages while idle.
  std::chrono::seconds sweep_interval = std::chrono::seconds(60);
};

class AuditService {
 public:
  // `packages` encrypts packages into `blobs` (the archive's content store
  // and blob store); `legacy_exports_dir` is where older versions wrote
  // plaintext packages (DATA/exports), emptied by SweepAtStart. Every
  // reference must outlive the service.
  AuditService(storage::MetadataStore& store, VerifyFn verify, PackageExporter& exporter,
               storage::ContentStore& packages, storage::BlobStore& blobs,
               std::string legacy_exports_dir, Clock& clock, Logger& logger,
               AuditOptions options = {});
  ~AuditService();
  AuditService(const AuditService&) = delete;
  AuditService& operator=(const AuditService&) = delete;

  // Before serving: removes every file under the legacy exports folder (and
  // the folder), every expired package and every package that can no
  // longer be decrypted (its KEK was rotated out, its blob is gone).
  // Returns how many files and packages it removed.
  StatusOr<uint64_t> SweepAtStart();
  // Removes expired packages (blob and row); returns how many.
  StatusOr<uint64_t> SweepExpired();

  StatusOr<AuditJob> StartVerify(const Principal& who);
  // A verification job, running or finished (also one finished before a
  // restart: its stored report).
  StatusOr<AuditJob> GetVerify(const Principal& who, const std::string& id);

  StatusOr<AuditJob> StartExport(const Principal& who, const ExportRequest& request);
  // The export job of `who`: while in work from memory, once stored from
  // its row (also after a restart). kNotFound "export_not_found" for an
  // unknown id or another user's export.
  StatusOr<AuditJob> GetExport(const Principal& who, const std::string& id);
  // The finished package, after checking in one write transaction that
  // `who` may still see every record it names and read every content it
  // holds, and logging an `export.download` event per record whose content
  // it holds. Failures: those of GetExport; kConflict "export_not_ready"
  // (queued or running), "export_failed"; kGone "export_shredded",
  // "export_expired", "content_destroyed" (a record destroyed since);
  // kPermissionDenied "export_forbidden" (the right to a record or its
  // content is gone: a revoked or ended loan, a changed role or
  // department); errors of the store and of decryption.
  StatusOr<ExportDownload> OpenExport(const Principal& who, const std::string& id);

 private:
  void Work();
  void RunVerify(const std::string& id);
  void RunExport(const std::string& id, const Principal& who, const ExportRequest& request);
  // Stores the encrypted package of job `id`; on failure nothing remains.
  Status StorePackage(const std::string& id, const Principal& who, const ExportRequest& request,
                      ExportSummary& summary);
  // Removes the stored exports `doomed` picks (row, then blob); returns how
  // many.
  StatusOr<uint64_t> RemoveExports(const std::function<bool(const storage::StoredExport&)>& doomed);
  void Update(const std::string& id, const std::function<void(AuditJob&)>& change);
  void Fail(const std::string& id, const Status& error);
  StatusOr<std::string> NewJobId(const char* prefix);
  // Queues `job` (kConflict "too_many_jobs" when its owner has enough).
  Status Enqueue(const AuditJob& job, std::function<void()> task);

  storage::MetadataStore& store_;
  VerifyFn verify_;
  PackageExporter& exporter_;
  storage::ContentStore& packages_;
  storage::BlobStore& blobs_;
  const std::string legacy_exports_dir_;
  Clock& clock_;
  Logger& logger_;
  const AuditOptions options_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, AuditJob> jobs_;              // GUARDED_BY(mu_)
  std::deque<std::function<void()>> queue_;           // GUARDED_BY(mu_)
  bool stopping_ = false;                             // GUARDED_BY(mu_)
  std::thread worker_;
};

// What a package holds and withholds, as stored with it and as the API
// shows it: {"name","records","files","filesWithContent","payloadBytes",
// "logSize","logRoot","logIndex"?,"withheld":[{"recordId","version",
// "fileId","name","reason"}]}.
Poco::JSON::Object::Ptr ExportSummaryObject(const ExportSummary& summary);

// ---- Destruction and stored exports (used by DestructionService) ----

// Inside the destruction's write transaction: shreds every stored export
// naming `record` (its wrapped data key and summary cleared, shredded_by
// set to `batch`). Returns how many it shredded now.
StatusOr<uint64_t> ShredExportsNaming(storage::Transaction& tx, const domain::RecordId& record,
                                      const std::string& batch);

// After that transaction committed (and again when an interrupted
// destruction is finished): deletes the ciphertext of every export `batch`
// shredded among those naming `records` (already gone is fine). Returns how
// many exports the batch shredded, for its certificate.
StatusOr<uint64_t> RemoveShreddedExports(storage::MetadataStore& store, storage::BlobStore& blobs,
                                         const std::vector<std::string>& records,
                                         const std::string& batch);

}  // namespace custos::services
