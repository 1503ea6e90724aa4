#include "server/services/audit_service.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "crypto/hash.h"
#include "crypto/random.h"
#include "server/services/events.h"
#include "storage/data_dir.h"
#include "storage/canonical_json.h"

namespace custos::services {

using storage::Role;
using storage::Time;
using storage::Transaction;

namespace {

constexpr const char* kReportDocument = "audit_report";
constexpr auto kExportLifetime = std::chrono::hours(24);

Status RequireAuditor(const Principal& who) {
  return who.role == Role::kAuditor ? Status::Ok() : Forbidden("run archive verification");
}

}  // namespace

AuditService::AuditService(storage::MetadataStore& store, VerifyFn verify, PackageExporter& exporter,
                           std::string exports_dir, Clock& clock)
    : store_(store),
      verify_(std::move(verify)),
      exporter_(exporter),
      exports_dir_(std::move(exports_dir)),
      clock_(clock),
      worker_([this] { Work(); }) {}

AuditService::~AuditService() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
  // Packages do not outlive the server that made them.
  for (const auto& [id, job] : jobs_) {
    if (!job.package_path.empty()) ::unlink(job.package_path.c_str());
  }
}

void AuditService::Work() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;  // queued jobs are abandoned; their callers see "queued"
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

void AuditService::Update(const std::string& id, const std::function<void(AuditJob&)>& change) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(id);
  if (it != jobs_.end()) change(it->second);
}

StatusOr<std::string> AuditService::NewJobId(const char* prefix) {
  CUSTOS_ASSIGN_OR_RETURN(crypto::Bytes random, crypto::RandomBytes(12));
  return std::string(prefix) + "-" + crypto::HexEncode(random);
}

StatusOr<AuditJob> AuditService::StartVerify(const Principal& who) {
  CUSTOS_RETURN_IF_ERROR(RequireAuditor(who));
  AuditJob job;
  CUSTOS_ASSIGN_OR_RETURN(job.id, NewJobId("AV"));
  job.kind = "verify";
  job.state = "queued";
  job.owner = who.username.value;
  job.created_at = clock_.Now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_[job.id] = job;
    std::string id = job.id;
    queue_.push_back([this, id] { RunVerify(id); });
  }
  cv_.notify_all();
  return job;
}

void AuditService::RunVerify(const std::string& id) {
  Update(id, [](AuditJob& j) { j.state = "running"; });
  auto report = verify_([&](const storage::VerifyProgress& p) {
    Update(id, [&](AuditJob& j) {
      j.phase = p.phase;
      j.done = p.done;
      j.total = p.total;
    });
  });
  Time now = clock_.Now();
  if (!report.ok()) {
    Update(id, [&](AuditJob& j) {
      j.state = "failed";
      j.error = report.status().message();
      j.finished_at = now;
    });
    return;
  }
  std::string json = storage::VerifyReportJson(*report);
  std::string owner;
  Update(id, [&](AuditJob& j) { owner = j.owner; });
  uint64_t index = 0;
  // Store the report and log its outcome together.
  Status stored = store_.Write([&](Transaction& tx) -> Status {
    Principal system{storage::Username{owner}, Role::kAuditor, ""};
    storage::LogEvent e = MakeEvent("audit.verify", system, "audit:" + id, now);
    e.details->set("job", id);
    e.details->set("clean", report->clean());
    e.details->set("findings", static_cast<Poco::Int64>(report->findings.size()));
    e.details->set("logEntries", static_cast<Poco::Int64>(report->log_entries));
    e.details->set("files", static_cast<Poco::Int64>(report->files));
    e.details->set("reportSha256", crypto::HexEncode(crypto::Sha256Of(json)));
    CUSTOS_ASSIGN_OR_RETURN(index, tx.log().Append(e));
    Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
    body->set("report", json);
    body->set("owner", owner);
    body->set("logIndex", static_cast<Poco::Int64>(index));
    storage::Document d;
    d.kind = kReportDocument;
    d.id = id;
    d.owner = owner;
    d.state = report->clean() ? "clean" : "findings";
    d.created_at = d.updated_at = now;
    CUSTOS_ASSIGN_OR_RETURN(d.body, storage::CanonicalJson(body));
    return tx.documents().Insert(d);
  });
  Update(id, [&](AuditJob& j) {
    j.finished_at = now;
    j.report_json = json;
    j.clean = report->clean();
    if (stored.ok()) {
      j.state = "done";
      j.log_index = index;
    } else {
      j.state = "failed";
      j.error = "the report could not be stored: " + stored.message();
    }
  });
}

StatusOr<AuditJob> AuditService::GetVerify(const Principal& who, const std::string& id) {
  CUSTOS_RETURN_IF_ERROR(RequireAuditor(who));
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it != jobs_.end() && it->second.kind == "verify") return it->second;
  }
  std::optional<storage::Document> doc;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(doc, tx.documents().Find(kReportDocument, id));
    return Status::Ok();
  }));
  if (!doc) return NotFound("no verification " + id, "job_not_found");
  auto parsed = storage::ParseJsonStrict(doc->body);
  if (!parsed.ok() || parsed->type() != typeid(Poco::JSON::Object::Ptr)) {
    return DataLoss("stored report " + id + " does not decode", "report_corrupt");
  }
  auto o = parsed->extract<Poco::JSON::Object::Ptr>();
  AuditJob job;
  job.id = id;
  job.kind = "verify";
  job.state = "done";
  job.owner = doc->owner;
  job.created_at = doc->created_at;
  job.finished_at = doc->created_at;
  job.report_json = o->getValue<std::string>("report");
  job.clean = doc->state == "clean";
  job.log_index = static_cast<uint64_t>(o->getValue<Poco::Int64>("logIndex"));
  return job;
}

StatusOr<AuditJob> AuditService::StartExport(const Principal& who, const ExportRequest& request) {
  if (who.role == Role::kAdmin) return Forbidden("export records");
  if (request.record_ids.empty() && !request.query) {
    return Unprocessable("name the records to export (recordIds) or give a query", "invalid_export");
  }
  if (request.record_ids.size() > kMaxExportRecords) {
    return Unprocessable("at most " + std::to_string(kMaxExportRecords) + " records per package",
                         "invalid_export");
  }
  CUSTOS_RETURN_IF_ERROR(storage::EnsureDirectory(exports_dir_));
  Time now = clock_.Now();
  AuditJob job;
  CUSTOS_ASSIGN_OR_RETURN(job.id, NewJobId("EX"));
  job.kind = "export";
  job.state = "queued";
  job.owner = who.username.value;
  job.created_at = now;
  job.format = request.format;
  job.package_path = exports_dir_ + "/" + job.id + std::string(Extension(request.format));
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Forget packages older than their lifetime.
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      if (it->second.kind == "export" && it->second.finished_at &&
          now - *it->second.finished_at > kExportLifetime) {
        ::unlink(it->second.package_path.c_str());
        it = jobs_.erase(it);
      } else {
        ++it;
      }
    }
    jobs_[job.id] = job;
    std::string id = job.id;
    ExportRequest r = request;
    if (r.name.empty()) r.name = "custos-export-" + id;
    queue_.push_back([this, id, who, r] { RunExport(id, who, r); });
  }
  cv_.notify_all();
  return job;
}

void AuditService::RunExport(const std::string& id, const Principal& who, const ExportRequest& request) {
  std::string path;
  Update(id, [&](AuditJob& j) {
    j.state = "running";
    path = j.package_path;
  });
  auto summary = exporter_.Write(&who, request, path);
  Time now = clock_.Now();
  Update(id, [&](AuditJob& j) {
    j.finished_at = now;
    if (summary.ok()) {
      j.state = "done";
      j.summary = *summary;
      j.log_index = summary->log_index;
    } else {
      j.state = "failed";
      j.error = summary.status().message();
    }
  });
}

StatusOr<AuditJob> AuditService::GetExport(const Principal& who, const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(id);
  // Another user's export is reported like a missing one.
  if (it == jobs_.end() || it->second.kind != "export" || it->second.owner != who.username.value) {
    return NotFound("no export " + id, "export_not_found");
  }
  return it->second;
}

}  // namespace custos::services
