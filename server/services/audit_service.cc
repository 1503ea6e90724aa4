#include "server/services/audit_service.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <filesystem>
#include <set>
#include <system_error>

#include "crypto/hash.h"
#include "crypto/key_provider.h"
#include "crypto/random.h"
#include "server/services/events.h"
#include "server/services/loan.h"
#include "domain/canonical_json.h"
#include "storage/data_dir.h"

namespace custos::services {

using domain::JobState;

bool IsActive(const AuditJob& j) { return j.state == JobState::kQueued || j.state == JobState::kRunning; }

using domain::Role;
using storage::StoredExport;
using domain::Time;
using storage::Transaction;

namespace {

constexpr const char* kReportDocument = "audit_report";
// A shredded export's row outlives its expiry by this much, so that the
// certificate of a destruction finished late (after a crash) still counts it.
constexpr auto kShreddedRowGrace = std::chrono::hours(24 * 30);

Status RequireAuditor(const Principal& who) {
  return who.role == Role::kAuditor ? Status::Ok() : Forbidden("run archive verification");
}


// ---- The stored summary: what a package holds and withholds ----

std::string SummaryJson(const ExportSummary& s) {
  auto json = domain::CanonicalJson(ExportSummaryObject(s));
  return json.ok() ? *json : "{}";
}

std::optional<ExportSummary> SummaryFromJson(const std::string& json) {
  auto parsed = domain::ParseJsonStrict(json);
  if (!parsed.ok() || parsed->type() != typeid(Poco::JSON::Object::Ptr)) return std::nullopt;
  auto o = parsed->extract<Poco::JSON::Object::Ptr>();
  if (!o->has("name")) return std::nullopt;  // "{}": shredded
  try {
    ExportSummary s;
    s.name = o->getValue<std::string>("name");
    s.records = static_cast<uint64_t>(o->getValue<Poco::Int64>("records"));
    s.files = static_cast<uint64_t>(o->getValue<Poco::Int64>("files"));
    s.files_with_content = static_cast<uint64_t>(o->getValue<Poco::Int64>("filesWithContent"));
    s.payload_bytes = static_cast<uint64_t>(o->getValue<Poco::Int64>("payloadBytes"));
    s.log_size = static_cast<uint64_t>(o->getValue<Poco::Int64>("logSize"));
    s.log_root = o->getValue<std::string>("logRoot");
    if (o->has("logIndex")) s.log_index = static_cast<uint64_t>(o->getValue<Poco::Int64>("logIndex"));
    Poco::JSON::Array::Ptr withheld = o->getArray("withheld");
    for (size_t i = 0; withheld && i < withheld->size(); ++i) {
      Poco::JSON::Object::Ptr x = withheld->getObject(static_cast<unsigned>(i));
      s.withheld.push_back({x->getValue<std::string>("recordId"), x->getValue<int>("version"),
                            x->getValue<std::string>("fileId"), x->getValue<std::string>("name"),
                            x->getValue<std::string>("reason")});
    }
    return s;
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

// Every record a package names, with or without content: the records whose
// content it holds, those of its withheld files and those asked for.
std::vector<storage::ExportedRecord> NamedRecords(const ExportSummary& s, const ExportRequest& request) {
  std::map<std::string, bool> named;  // id → content
  for (const std::string& id : request.record_ids) named.emplace(id, false);
  for (const WithheldFile& w : s.withheld) named.emplace(w.record_id, false);
  for (const std::string& id : s.records_with_content) named[id] = true;
  std::vector<storage::ExportedRecord> out;
  for (const auto& [id, content] : named) out.push_back({domain::RecordId{id}, content});
  return out;
}

AuditJob JobFromRow(const StoredExport& e, Time now) {
  AuditJob j;
  j.id = e.id;
  j.kind = "export";
  j.owner = e.owner;
  j.created_at = e.created_at;
  j.finished_at = e.created_at;
  j.expires_at = e.expires_at;
  j.format = e.format == "zip" ? PackageFormat::kZip : PackageFormat::kTarGz;
  j.package_bytes = e.size;
  j.summary = SummaryFromJson(e.summary);
  if (j.summary) j.log_index = j.summary->log_index;
  if (!e.shredded_by.empty()) {
    j.state = JobState::kShredded;
    j.shredded_by = e.shredded_by;
  } else {
    j.state = now >= e.expires_at ? JobState::kExpired : JobState::kDone;
  }
  return j;
}

// May `who` read the content of `r` now, and through which loan ("" when
// directly)? kPermissionDenied "export_forbidden" otherwise.
StatusOr<std::string> ContentRight(Transaction& tx, const Principal& who, const domain::Record& r, Time now) {
  if (MayReadContentDirectly(who, r)) return std::string();
  CUSTOS_ASSIGN_OR_RETURN(std::vector<domain::Loan> loans,
                          LoansOfRecord(tx, r.id, who.username.value, {domain::LoanState::kCheckedOut}));
  for (const domain::Loan& l : loans) {
    if (domain::GrantsContentAccess(l, who.username.value, now)) return l.id;
  }
  return PermissionDenied("this package holds the content of " + r.id.value +
                              ", which you may no longer read (it needs an active digital loan); "
                              "nothing was served",
                          "export_forbidden");
}

}  // namespace

Poco::JSON::Object::Ptr ExportSummaryObject(const ExportSummary& s) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("name", s.name);
  o->set("records", static_cast<Poco::Int64>(s.records));
  o->set("files", static_cast<Poco::Int64>(s.files));
  o->set("filesWithContent", static_cast<Poco::Int64>(s.files_with_content));
  o->set("payloadBytes", static_cast<Poco::Int64>(s.payload_bytes));
  o->set("logSize", static_cast<Poco::Int64>(s.log_size));
  o->set("logRoot", s.log_root);
  if (s.log_index) o->set("logIndex", static_cast<Poco::Int64>(*s.log_index));
  Poco::JSON::Array::Ptr withheld = new Poco::JSON::Array;
  for (const WithheldFile& w : s.withheld) {
    Poco::JSON::Object::Ptr x = new Poco::JSON::Object;
    x->set("recordId", w.record_id);
    x->set("version", w.version);
    x->set("fileId", w.file_id);
    x->set("name", w.name);
    x->set("reason", w.reason);
    withheld->add(x);
  }
  o->set("withheld", withheld);
  return o;
}

AuditService::AuditService(storage::MetadataStore& store, VerifyFn verify, PackageExporter& exporter,
                           storage::ContentStore& packages, storage::BlobStore& blobs,
                           std::string legacy_exports_dir, Clock& clock, Logger& logger,
                           AuditOptions options)
    : store_(store),
      verify_(std::move(verify)),
      exporter_(exporter),
      packages_(packages),
      blobs_(blobs),
      legacy_exports_dir_(std::move(legacy_exports_dir)),
      clock_(clock),
      logger_(logger),
      options_(options),
      worker_([this] { Work(); }) {}

AuditService::~AuditService() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void AuditService::Work() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      bool woken = cv_.wait_for(lock, options_.sweep_interval, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;  // queued jobs are abandoned; their callers see "queued"
      if (woken) {
        task = std::move(queue_.front());
        queue_.pop_front();
      }
    }
    if (task) {
      task();
      continue;
    }
    auto swept = SweepExpired();
    if (!swept.ok()) logger_.Warn("export sweep failed", {{"error", swept.status().message()}});
  }
}

StatusOr<uint64_t> AuditService::SweepAtStart() {
  uint64_t removed = 0;
  // Packages of older versions lay here in clear: none may survive.
  std::error_code ec;
  if (std::filesystem::exists(legacy_exports_dir_, ec)) {
    for (auto it = std::filesystem::recursive_directory_iterator(legacy_exports_dir_, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_directory(ec)) ++removed;
    }
    std::filesystem::remove_all(legacy_exports_dir_, ec);
    if (ec) return Internal("cannot remove " + legacy_exports_dir_ + ": " + ec.message());
  }
  // A package whose key no longer unwraps (its KEK was rotated out by
  // custosctl keys rotate) or whose ciphertext is gone cannot be served.
  CUSTOS_ASSIGN_OR_RETURN(uint64_t unreadable, RemoveExports([this](const StoredExport& e) {
    if (e.wrapped_dek.empty()) return false;
    auto opened = packages_.Open(e.blob_id, e.file_id, e.kek_id, e.wrapped_dek, e.sha256);
    const std::string reason = opened.ok() ? std::string() : opened.status().reason();
    return reason == crypto::kKekUnknown || reason == crypto::kDekUnwrapFailed || reason == storage::kBlobNotFound;
  }));
  CUSTOS_ASSIGN_OR_RETURN(uint64_t expired, SweepExpired());
  return removed + unreadable + expired;
}

StatusOr<uint64_t> AuditService::SweepExpired() {
  const Time now = clock_.Now();
  CUSTOS_ASSIGN_OR_RETURN(uint64_t removed, RemoveExports([now](const StoredExport& e) {
    return now >= (e.shredded_by.empty() ? e.expires_at : e.expires_at + kShreddedRowGrace);
  }));
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      bool old = it->second.kind == "export" && it->second.finished_at &&
                 now - *it->second.finished_at > options_.export_lifetime;
      it = old ? jobs_.erase(it) : std::next(it);
    }
  }
  return removed;
}

StatusOr<uint64_t> AuditService::RemoveExports(const std::function<bool(const StoredExport&)>& doomed) {
  std::vector<StoredExport> chosen;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(std::vector<StoredExport> all, tx.exports().List());
    for (StoredExport& e : all) {
      if (doomed(e)) chosen.push_back(std::move(e));
    }
    return Status::Ok();
  }));
  for (const StoredExport& e : chosen) {
    // The key first: once the row is gone the blob is noise even if its
    // deletion fails (start-up sweeps unreferenced blobs).
    CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
      Status d = tx.exports().Delete(e.id);
      return d.reason() == "export_not_found" ? Status::Ok() : d;  // another node was first
    }));
    Status gone = blobs_.Delete(e.blob_id);
    if (!gone.ok() && gone.reason() != storage::kBlobNotFound) return gone;
  }
  // No scrub: an expired package's content was not destroyed, and its key
  // is still wrapped by the KEK (a destruction scrubs, for its own keys and
  // those of the packages it shredded).
  return chosen.size();
}

void AuditService::Update(const std::string& id, const std::function<void(AuditJob&)>& change) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(id);
  if (it != jobs_.end()) change(it->second);
}

void AuditService::Fail(const std::string& id, const Status& error) {
  Time now = clock_.Now();
  std::string kind, owner;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    kind = it->second.kind;
    owner = it->second.owner;
  }
  // The log line is written before the job shows as failed, so whoever
  // sees the failure also finds its cause in the server log.
  logger_.Warn(kind + " job failed", {{"job", id}, {"owner", owner}, {"reason", error.reason()},
                                      {"error", error.message()}});
  Update(id, [&](AuditJob& j) {
    j.state = JobState::kFailed;
    j.error = error.message();
    j.finished_at = now;
  });
}

StatusOr<std::string> AuditService::NewJobId(const char* prefix) {
  CUSTOS_ASSIGN_OR_RETURN(crypto::Bytes random, crypto::RandomBytes(12));
  return std::string(prefix) + "-" + crypto::HexEncode(random);
}

Status AuditService::Enqueue(const AuditJob& job, std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    size_t active = 0;
    for (const auto& [id, j] : jobs_) active += j.owner == job.owner && IsActive(j) ? 1 : 0;
    if (active >= options_.max_jobs_per_user) {
      return Conflict("you already have " + std::to_string(active) +
                          " verifications or exports queued or running; wait until one has finished",
                      "too_many_jobs")
          .WithParam("max", options_.max_jobs_per_user);
    }
    jobs_[job.id] = job;
    queue_.push_back(std::move(task));
  }
  cv_.notify_all();
  return Status::Ok();
}

StatusOr<AuditJob> AuditService::StartVerify(const Principal& who) {
  CUSTOS_RETURN_IF_ERROR(RequireAuditor(who));
  AuditJob job;
  CUSTOS_ASSIGN_OR_RETURN(job.id, NewJobId("AV"));
  job.kind = "verify";
  job.state = JobState::kQueued;
  job.owner = who.username.value;
  job.created_at = clock_.Now();
  std::string id = job.id;
  CUSTOS_RETURN_IF_ERROR(Enqueue(job, [this, id] { RunVerify(id); }));
  return job;
}

void AuditService::RunVerify(const std::string& id) {
  Update(id, [](AuditJob& j) { j.state = JobState::kRunning; });
  auto report = verify_([&](const storage::VerifyProgress& p) {
    Update(id, [&](AuditJob& j) {
      j.phase = p.phase;
      j.done = p.done;
      j.total = p.total;
    });
  });
  Time now = clock_.Now();
  if (!report.ok()) {
    Fail(id, report.status());
    return;
  }
  std::string json = storage::VerifyReportJson(*report);
  std::string owner;
  Update(id, [&](AuditJob& j) { owner = j.owner; });
  uint64_t index = 0;
  // Store the report and log its outcome together.
  Status stored = store_.Write([&](Transaction& tx) -> Status {
    Principal system{domain::Username{owner}, Role::kAuditor, ""};
    storage::LogEvent e = MakeEvent("audit.verify", system, "audit:" + id, now);
    e.details.Set("job", id);
    e.details.Set("clean", report->clean());
    e.details.Set("findings", static_cast<Poco::Int64>(report->findings.size()));
    e.details.Set("logEntries", static_cast<Poco::Int64>(report->log_entries));
    e.details.Set("files", static_cast<Poco::Int64>(report->files));
    e.details.Set("reportSha256", crypto::HexEncode(crypto::Sha256Of(json)));
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
    CUSTOS_ASSIGN_OR_RETURN(d.body, domain::CanonicalJson(body));
    return tx.documents().Insert(d);
  });
  if (!stored.ok()) {
    Fail(id, stored.WithContext("the report could not be stored"));
    return;
  }
  Update(id, [&](AuditJob& j) {
    j.finished_at = now;
    j.report_json = json;
    j.clean = report->clean();
    j.state = JobState::kDone;
    j.log_index = index;
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
  auto parsed = domain::ParseJsonStrict(doc->body);
  if (!parsed.ok() || parsed->type() != typeid(Poco::JSON::Object::Ptr)) {
    return DataLoss("stored report " + id + " does not decode", "report_corrupt");
  }
  auto o = parsed->extract<Poco::JSON::Object::Ptr>();
  AuditJob job;
  job.id = id;
  job.kind = "verify";
  job.state = JobState::kDone;
  job.owner = doc->owner;
  job.created_at = doc->created_at;
  job.finished_at = doc->created_at;
  job.report_json = o->getValue<std::string>("report");
  job.clean = doc->state == "clean";
  job.log_index = static_cast<uint64_t>(o->getValue<Poco::Int64>("logIndex"));
  return job;
}

StatusOr<AuditJob> AuditService::StartExport(const Principal& who, const ExportRequest& request) {
  CUSTOS_RETURN_IF_ERROR(CheckExportRequest(&who, request));
  AuditJob job;
  CUSTOS_ASSIGN_OR_RETURN(job.id, NewJobId("EX"));
  job.kind = "export";
  job.state = JobState::kQueued;
  job.owner = who.username.value;
  job.created_at = clock_.Now();
  job.format = request.format;
  std::string id = job.id;
  ExportRequest r = request;
  if (r.name.empty()) r.name = "custos-export-" + id;
  CUSTOS_RETURN_IF_ERROR(Enqueue(job, [this, id, who, r] { RunExport(id, who, r); }));
  return job;
}

void AuditService::RunExport(const std::string& id, const Principal& who, const ExportRequest& request) {
  Update(id, [&](AuditJob& j) { j.state = JobState::kRunning; });
  ExportSummary summary;
  Status stored = StorePackage(id, who, request, summary);
  if (!stored.ok()) {
    Fail(id, stored);
    return;
  }
  Time now = clock_.Now();
  Update(id, [&](AuditJob& j) {
    j.finished_at = now;
    j.state = JobState::kDone;
    j.log_index = summary.log_index;
    j.summary = summary;
    j.expires_at = now + options_.export_lifetime;
  });
}

Status AuditService::StorePackage(const std::string& id, const Principal& who, const ExportRequest& request,
                                  ExportSummary& summary) {
  // The package goes through the envelope into an uncommitted blob:
  // dropped unless everything below succeeds.
  CUSTOS_ASSIGN_OR_RETURN(std::unique_ptr<storage::ContentWriter> writer, packages_.Create());
  CUSTOS_ASSIGN_OR_RETURN(summary, exporter_.WriteTo(&who, request, *writer));
  CUSTOS_ASSIGN_OR_RETURN(storage::StoredContent content, writer->Commit());
  const Time now = clock_.Now();
  StoredExport e;
  e.id = id;
  e.owner = who.username.value;
  e.format = std::string(Extension(request.format)).substr(1);
  e.created_at = now;
  e.expires_at = now + options_.export_lifetime;
  e.blob_id = content.blob_id;
  e.file_id = content.file_id;
  e.size = content.size;
  e.sha256 = content.sha256;
  e.kek_id = content.kek_id;
  e.wrapped_dek = content.wrapped_dek;
  e.summary = SummaryJson(summary);
  e.records = NamedRecords(summary, request);
  Status s = store_.Write([&](Transaction& tx) -> Status {
    // A destruction that committed while the package was written did not
    // see it: such a package must not be kept.
    for (const storage::ExportedRecord& named : e.records) {
      CUSTOS_ASSIGN_OR_RETURN(std::optional<domain::Record> r, tx.records().Find(named.id));
      if (r && r->state == domain::RecordState::kDestroyed && named.content) {
        return Gone("record " + named.id.value + " was destroyed while the package was written",
                    "content_destroyed");
      }
    }
    return tx.exports().Insert(e);
  });
  if (!s.ok()) (void)blobs_.Delete(content.blob_id);
  return s;
}

StatusOr<AuditJob> AuditService::GetExport(const Principal& who, const std::string& id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it != jobs_.end() && it->second.kind == "export" && it->second.state != JobState::kDone) {
      // Another user's export is reported like a missing one.
      if (it->second.owner != who.username.value) return NotFound("no export " + id, "export_not_found");
      return it->second;
    }
  }
  std::optional<StoredExport> e;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(e, tx.exports().Find(id));
    return Status::Ok();
  }));
  if (!e || e->owner != who.username.value) return NotFound("no export " + id, "export_not_found");
  return JobFromRow(*e, clock_.Now());
}

StatusOr<ExportDownload> AuditService::OpenExport(const Principal& who, const std::string& id) {
  CUSTOS_ASSIGN_OR_RETURN(AuditJob job, GetExport(who, id));
  if (job.state == JobState::kFailed) {
    return Conflict("export " + id + " failed: " + job.error, "export_failed");
  }
  if (IsActive(job)) {
    return Conflict("export " + id + " is " + std::string(domain::Name(job.state)), "export_not_ready");
  }
  const Time now = clock_.Now();
  ExportDownload out;
  StoredExport e;
  // Decided at this instant, in the transaction that logs the reads.
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(std::optional<StoredExport> row, tx.exports().Find(id));
    if (!row || row->owner != who.username.value) return NotFound("no export " + id, "export_not_found");
    e = std::move(*row);
    if (!e.shredded_by.empty() || e.wrapped_dek.empty()) {
      return Gone("export " + id + " was shredded: a record it names was destroyed (batch " +
                      e.shredded_by + ")",
                  "export_shredded");
    }
    if (now >= e.expires_at) return Gone("export " + id + " is no longer kept", "export_expired");
    std::vector<std::pair<std::string, std::string>> reads;  // record, loan
    for (const storage::ExportedRecord& named : e.records) {
      CUSTOS_ASSIGN_OR_RETURN(std::optional<domain::Record> r, tx.records().Find(named.id));
      if (r && storage::ExportOutlivesDestruction(e, named, *r)) {
        return Gone("record " + named.id.value + " in export " + id + " has been destroyed", "content_destroyed");
      }
      if (!r || !MaySeeRecord(who, *r)) {
        return PermissionDenied("this package names " + named.id.value +
                                    ", which you may no longer see; nothing was served",
                                "export_forbidden");
      }
      if (!named.content) continue;
      CUSTOS_ASSIGN_OR_RETURN(std::string loan, ContentRight(tx, who, *r, now));
      reads.emplace_back(named.id.value, loan);
    }
    for (const auto& [record, loan] : reads) {
      storage::LogEvent ev = MakeEvent("export.download", who, record, now);
      ev.details.Set("export", id);
      if (!loan.empty()) ev.details.Set("loan", loan);
      CUSTOS_ASSIGN_OR_RETURN(uint64_t index, tx.log().Append(ev));
      out.log_indices.push_back(index);
    }
    return Status::Ok();
  }));
  CUSTOS_ASSIGN_OR_RETURN(out.stream, packages_.Open(e.blob_id, e.file_id, e.kek_id, e.wrapped_dek, e.sha256));
  out.job = JobFromRow(e, now);
  out.size = e.size;
  return out;
}

// ------------------------------------------------------------- destruction

StatusOr<uint64_t> ShredExportsNaming(Transaction& tx, const domain::RecordId& record, const std::string& batch) {
  CUSTOS_ASSIGN_OR_RETURN(std::vector<StoredExport> naming, tx.exports().Naming(record));
  uint64_t shredded = 0;
  for (const StoredExport& e : naming) {
    if (!e.shredded_by.empty()) continue;
    CUSTOS_RETURN_IF_ERROR(tx.exports().Shred(e.id, batch));
    ++shredded;
  }
  return shredded;
}

StatusOr<uint64_t> RemoveShreddedExports(storage::MetadataStore& store, storage::BlobStore& blobs,
                                         const std::vector<std::string>& records, const std::string& batch) {
  std::map<std::string, domain::BlobId> shredded;  // export id → blob
  CUSTOS_RETURN_IF_ERROR(store.Read([&](Transaction& tx) -> Status {
    for (const std::string& record : records) {
      CUSTOS_ASSIGN_OR_RETURN(std::vector<StoredExport> naming, tx.exports().Naming(domain::RecordId{record}));
      for (const StoredExport& e : naming) {
        if (e.shredded_by == batch) shredded.emplace(e.id, e.blob_id);
      }
    }
    return Status::Ok();
  }));
  for (const auto& [id, blob] : shredded) {
    Status s = blobs.Delete(blob);
    if (!s.ok() && s.reason() != storage::kBlobNotFound) return s;
  }
  return shredded.size();
}

}  // namespace custos::services
