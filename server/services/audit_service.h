// Long audit work in the background (DESIGN §5, §9): full verification of
// the archive and audit-package exports, each a job with progress that the
// caller polls.
//
//   * Verification (auditors): runs the same checks as `custosctl verify`
//     against the live archive; when it finishes, the report is stored (a
//     document) and an `audit.verify` event records its outcome and the
//     SHA-256 of the report, so a stored report cannot be edited unseen.
//   * Exports (anyone who may see the records; content as in
//     audit_package.h): the package is written under DATA/exports (0600)
//     and served until the server restarts or 24 hours pass.
// One worker thread runs the jobs one after another (verification reads
// every blob; two at once would only halve each other's speed).
// Thread safety: safe for concurrent use.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "server/services/audit_package.h"
#include "server/services/clock.h"
#include "server/services/principal.h"
#include "storage/metadata_store.h"
#include "storage/verifier.h"

namespace custos::services {

struct AuditJob {
  std::string id;
  std::string kind;   // "verify" or "export"
  std::string state;  // "queued", "running", "done", "failed"
  std::string owner;
  storage::Time created_at;
  std::optional<storage::Time> finished_at;
  std::string phase;
  uint64_t done = 0;
  uint64_t total = 0;
  std::string error;
  // verify: the report JSON (storage::VerifyReportJson) and whether clean.
  std::string report_json;
  bool clean = false;
  std::optional<uint64_t> log_index;  // the audit.verify / export.create event
  // export: where the package is and what it holds.
  std::string package_path;
  PackageFormat format = PackageFormat::kTarGz;
  std::optional<ExportSummary> summary;
};

using VerifyFn = std::function<StatusOr<storage::VerifyReport>(
    const std::function<void(const storage::VerifyProgress&)>& progress)>;

class AuditService {
 public:
  AuditService(storage::MetadataStore& store, VerifyFn verify, PackageExporter& exporter,
               std::string exports_dir, Clock& clock);
  ~AuditService();
  AuditService(const AuditService&) = delete;
  AuditService& operator=(const AuditService&) = delete;

  StatusOr<AuditJob> StartVerify(const Principal& who);
  // A verification job, running or finished (also one finished before a
  // restart: its stored report).
  StatusOr<AuditJob> GetVerify(const Principal& who, const std::string& id);

  StatusOr<AuditJob> StartExport(const Principal& who, const ExportRequest& request);
  StatusOr<AuditJob> GetExport(const Principal& who, const std::string& id);

 private:
  void Work();
  void RunVerify(const std::string& id);
  void RunExport(const std::string& id, const Principal& who, const ExportRequest& request);
  void Update(const std::string& id, const std::function<void(AuditJob&)>& change);
  StatusOr<std::string> NewJobId(const char* prefix);

  storage::MetadataStore& store_;
  VerifyFn verify_;
  PackageExporter& exporter_;
  const std::string exports_dir_;
  Clock& clock_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, AuditJob> jobs_;              // GUARDED_BY(mu_)
  std::deque<std::function<void()>> queue_;           // GUARDED_BY(mu_)
  bool stopping_ = false;                             // GUARDED_BY(mu_)
  std::thread worker_;
};

}  // namespace custos::services
