#include "server/services/content_pipeline.h"

#include <Poco/JSON/Object.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include "domain/canonical_json.h"
#include "storage/file_texts.h"
#include "storage/text_tokens.h"

namespace custos::services {

using domain::FileId;
using domain::Record;
using domain::RecordId;
using domain::StoredFile;
using domain::Time;
using domain::Version;
using storage::FileText;
using storage::TextState;
using storage::Transaction;

namespace {

// Records taken off the queue per pass, and due retries per pass.
constexpr size_t kQueueBatch = 16;
constexpr size_t kRetryBatch = 16;
// The failure reason of a file larger than limits.max_document_bytes.
constexpr char kDocumentTooLarge[] = "document_too_large";

std::map<std::string, uint32_t> Keyed(const storage::IndexKey& key, std::string_view text) {
  return key.KeyedFrequencies(storage::TermFrequencies(text));
}

// `text` cut to at most `max` bytes, at the start of a UTF-8 character.
std::string CutAtCharacter(std::string text, size_t max) {
  if (text.size() <= max) return text;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text;
}

// The plaintext of a file, at most `max` bytes; kTooLarge
// kDocumentTooLarge beyond.
StatusOr<std::string> ReadDocument(storage::ContentStore& content, const StoredFile& file, size_t max) {
  CUSTOS_ASSIGN_OR_RETURN(std::unique_ptr<ByteSource> source, content.Open(file));
  std::string out;
  out.reserve(static_cast<size_t>(std::min<uint64_t>(file.size, max)));
  std::vector<uint8_t> buf(storage::kContentCopyBufferSize);
  for (;;) {
    CUSTOS_ASSIGN_OR_RETURN(size_t n, source->Read(buf.data(), buf.size()));
    if (n == 0) break;
    if (out.size() + n > max) return TooLarge("the document is larger than the extraction cap", kDocumentTooLarge);
    out.append(reinterpret_cast<const char*>(buf.data()), n);
  }
  return out;
}

const StoredFile* FindFile(const std::vector<Version>& versions, const FileId& id) {
  for (const Version& v : versions) {
    for (const StoredFile& f : v.files) {
      if (f.id == id) return &f;
    }
  }
  return nullptr;
}

bool IsLive(const std::optional<Record>& r) {
  return r && r->state != domain::RecordState::kDestroyed;
}

}  // namespace

std::string MetadataValues(const std::string& metadata_json, std::string_view separator) {
  std::string out;
  auto parsed = domain::ParseJsonStrict(metadata_json);
  if (!parsed.ok() || parsed->type() != typeid(Poco::JSON::Object::Ptr)) return out;
  auto o = parsed->extract<Poco::JSON::Object::Ptr>();
  for (const auto& [name, value] : *o) {
    std::string text = value.toString();
    if (text.empty()) continue;
    if (!out.empty()) out += separator;
    out += text;
  }
  return out;
}

Status IndexCatalogue(Transaction& tx, const storage::IndexKey& key, const Record& record,
                      const std::vector<Version>& versions) {
  auto& index = tx.search();
  CUSTOS_RETURN_IF_ERROR(index.Replace(record.id, kFieldTitle, {}, Keyed(key, record.title)));
  CUSTOS_RETURN_IF_ERROR(index.Replace(record.id, kFieldDescription, {}, Keyed(key, record.description)));
  CUSTOS_RETURN_IF_ERROR(
      index.Replace(record.id, kFieldMetadata, {}, Keyed(key, MetadataValues(record.metadata_json, "\n"))));
  for (const Version& v : versions) {
    CUSTOS_RETURN_IF_ERROR(
        index.Replace(record.id, kFieldNote, FileId{"v" + std::to_string(v.number)}, Keyed(key, v.note)));
    for (const StoredFile& f : v.files) {
      CUSTOS_RETURN_IF_ERROR(index.Replace(record.id, kFieldFileName, f.id, Keyed(key, f.name)));
    }
  }
  return Status::Ok();
}

struct ContentPipeline::Impl {
  Impl(storage::MetadataStore& s, storage::ContentStore& c, const storage::IndexKey& k, Clock& cl,
       PipelineOptions o)
      : store(s), content(c), key(k), clock(cl), options(std::move(o)) {}

  storage::MetadataStore& store;
  storage::ContentStore& content;
  const storage::IndexKey& key;
  Clock& clock;
  const PipelineOptions options;

  std::mutex mu;
  std::condition_variable cv;
  bool wake = false;      // GUARDED_BY(mu)
  // When Wake() was last called (a commit queued a record): the thread
  // waits for a quiet moment after it, at most options.max_defer.
  std::chrono::steady_clock::time_point last_wake{};  // GUARDED_BY(mu)
  // Set by the background thread (Loop) only; RunUntilIdle never yields.
  bool background = false;
  std::optional<std::chrono::steady_clock::time_point> deferred_since;  // the thread's own
  // After deferring for max_defer, the thread works regardless until this
  // (a quarter of max_defer, and at least the record in hand).
  std::optional<std::chrono::steady_clock::time_point> granted_until;  // the thread's own

  // Writes come first: while commits keep waking it, the background thread
  // waits for a quiet moment (options.quiet since the last Wake), but not
  // longer than options.max_defer in a row, so a steady load still sees
  // progress. Checked before each pass and between records.
  bool MustYield() {
    if (!background) return false;
    const auto now = std::chrono::steady_clock::now();
    if (granted_until && now < *granted_until) return false;
    granted_until.reset();
    std::lock_guard<std::mutex> lock(mu);
    if (now - last_wake >= options.quiet) {
      deferred_since.reset();
      return false;
    }
    if (!deferred_since) deferred_since = now;
    if (now - *deferred_since < options.max_defer) return true;
    // Deferred long enough: work for a while even though commits go on.
    deferred_since.reset();
    granted_until = now + options.max_defer / 4;
    return false;
  }
  bool running = false;   // GUARDED_BY(mu): the thread was started and not stopped
  std::atomic<bool> stop{false};
  std::thread thread;     // started and joined by Start/Stop under start_mu
  std::mutex start_mu;

  mutable std::mutex stats_mu;
  PipelineStats stats;  // GUARDED_BY(stats_mu)

  void Count(const char* result, uint64_t PipelineStats::*field) {
    {
      std::lock_guard<std::mutex> lock(stats_mu);
      ++(stats.*field);
    }
    if (options.on_file_run) options.on_file_run(result);
  }

  // One pass: up to kQueueBatch queued records and kRetryBatch due
  // retries. Returns whether it found any work.
  StatusOr<bool> Pass(PipelineStats& run);
  Status ProcessRecord(const RecordId& id, PipelineStats& run);
  // Runs one file and records the outcome; `previous` is its row, if any.
  Status ProcessFile(const StoredFile& file, const std::optional<FileText>& previous, PipelineStats& run);
  FileText Outcome(const StoredFile& file, const std::optional<FileText>& previous, std::string& text,
                   Status& failure);
  Status Store(const StoredFile& file, FileText row, const std::string& text, PipelineStats& run);
  Status FinishRecord(const RecordId& id, const std::set<FileId>& seen, PipelineStats& run);
  void Loop();
};

StatusOr<bool> ContentPipeline::Impl::Pass(PipelineStats& run) {
  std::vector<RecordId> queued;
  std::vector<FileText> due;
  CUSTOS_RETURN_IF_ERROR(store.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(queued, tx.texts().Queued(kQueueBatch));
    CUSTOS_ASSIGN_OR_RETURN(due, tx.texts().DueRetries(clock.Now(), kRetryBatch));
    return Status::Ok();
  }));
  for (const RecordId& id : queued) {
    if (stop.load() || MustYield()) return true;
    CUSTOS_RETURN_IF_ERROR(ProcessRecord(id, run));
  }
  for (const FileText& row : due) {
    if (stop.load() || MustYield()) return true;
    std::optional<Record> record;
    std::optional<Version> version;
    CUSTOS_RETURN_IF_ERROR(store.Read([&](Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(record, tx.records().Find(row.record_id));
      CUSTOS_ASSIGN_OR_RETURN(version, tx.versions().Find(row.record_id, row.version));
      return Status::Ok();
    }));
    std::vector<Version> versions;
    if (version) versions.push_back(std::move(*version));
    const StoredFile* file = FindFile(versions, row.file_id);
    if (!IsLive(record) || file == nullptr) {
      // Gone since (a destruction deletes the rows; this is a leftover).
      CUSTOS_RETURN_IF_ERROR(store.Write([&](Transaction& tx) { return tx.texts().DeleteRecord(row.record_id).status(); }));
      continue;
    }
    StoredFile copy = *file;
    CUSTOS_RETURN_IF_ERROR(ProcessFile(copy, row, run));
  }
  return !queued.empty() || !due.empty();
}

Status ContentPipeline::Impl::ProcessRecord(const RecordId& id, PipelineStats& run) {
  std::optional<Record> record;
  std::vector<Version> versions;
  std::vector<FileText> rows;
  CUSTOS_RETURN_IF_ERROR(store.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(record, tx.records().Find(id));
    if (!IsLive(record)) return Status::Ok();
    CUSTOS_ASSIGN_OR_RETURN(versions, tx.versions().List(id));
    CUSTOS_ASSIGN_OR_RETURN(rows, tx.texts().OfRecord(id));
    return Status::Ok();
  }));
  std::set<FileId> seen;
  if (IsLive(record)) {
    std::map<FileId, FileText> by_file;
    for (FileText& r : rows) by_file[r.file_id] = std::move(r);
    for (const Version& v : versions) {
      for (const StoredFile& f : v.files) {
        if (stop.load()) return Status::Ok();  // stays queued
        seen.insert(f.id);
        auto it = by_file.find(f.id);
        if (it != by_file.end() && it->second.state != TextState::kPending) continue;
        std::optional<FileText> previous;
        if (it != by_file.end()) previous = it->second;
        CUSTOS_RETURN_IF_ERROR(ProcessFile(f, previous, run));
      }
    }
  }
  return FinishRecord(id, seen, run);
}

FileText ContentPipeline::Impl::Outcome(const StoredFile& file, const std::optional<FileText>& previous,
                                        std::string& text, Status& failure) {
  FileText row;
  row.file_id = file.id;
  row.record_id = file.record_id;
  row.version = file.version;
  row.claimed_type = file.media_type;
  if (previous) {
    row.attempts = previous->attempts;
    row.identified_type = previous->identified_type;
  }
  failure = Status::Ok();
  if (file.size > options.limits.max_document_bytes) {
    failure = TooLarge("the document is larger than the extraction cap", kDocumentTooLarge);
    return row;
  }
  StatusOr<std::string> document = ReadDocument(content, file, options.limits.max_document_bytes);
  if (!document.ok()) {
    failure = document.status();
    return row;
  }
  StatusOr<ExtractionResult> result =
      RunExtraction(options.limits, options.worker_path, *document, file.media_type);
  if (!result.ok()) {
    failure = result.status();
    return row;
  }
  row.identified_type = result->identified_mime;
  row.method = result->method;
  row.pages = result->pages;
  row.attempts = 0;
  if (result->status == "text" && !result->text.empty()) {
    text = CutAtCharacter(std::move(result->text), options.max_text_bytes);
    row.state = TextState::kText;
    row.text_bytes = text.size();
  } else {
    row.state = TextState::kNoText;
  }
  return row;
}

Status ContentPipeline::Impl::ProcessFile(const StoredFile& file, const std::optional<FileText>& previous,
                                          PipelineStats& run) {
  std::string text;
  Status failure;
  FileText row = Outcome(file, previous, text, failure);
  if (failure.reason() == storage::kContentDestroyed) return Status::Ok();  // destroyed meanwhile
  const Time now = clock.Now();
  row.updated_at = now;
  if (!failure.ok()) {
    ++row.attempts;
    row.reason = failure.reason().empty() ? std::string(kExtractionFailed) : failure.reason();
    const bool final_failure = row.reason == kExtractionUnreadable || row.reason == kDocumentTooLarge ||
                               row.attempts >= options.max_attempts || options.backoff.empty();
    if (options.logger != nullptr) {
      options.logger->Warn("text extraction failed", {{"record", file.record_id.value},
                                                      {"file", file.id.value},
                                                      {"reason", row.reason},
                                                      {"attempts", row.attempts},
                                                      {"final", final_failure}});
    }
    if (final_failure) {
      row.state = TextState::kFailed;
    } else {
      row.state = TextState::kRetry;
      size_t step = std::min<size_t>(static_cast<size_t>(row.attempts - 1), options.backoff.size() - 1);
      row.next_attempt = now + options.backoff[step];
    }
  }
  return Store(file, std::move(row), text, run);
}

Status ContentPipeline::Impl::Store(const StoredFile& file, FileText row, const std::string& text,
                                    PipelineStats& run) {
  std::map<std::string, uint32_t> postings;
  if (row.state == TextState::kText) {
    StatusOr<std::vector<uint8_t>> sealed = content.SealDerived(file, storage::kTextPurpose, text);
    if (!sealed.ok()) {
      if (sealed.status().reason() == storage::kContentDestroyed) return Status::Ok();
      return sealed.status();
    }
    row.sealed_text = std::move(sealed).value();
    postings = Keyed(key, text);
  }
  bool stored = false;
  CUSTOS_RETURN_IF_ERROR(store.Write([&](Transaction& tx) -> Status {
    // The record may have been destroyed while the worker ran.
    CUSTOS_ASSIGN_OR_RETURN(std::optional<Record> r, tx.records().Find(file.record_id));
    if (!IsLive(r)) return Status::Ok();
    CUSTOS_RETURN_IF_ERROR(tx.texts().Upsert(row));
    CUSTOS_RETURN_IF_ERROR(tx.search().Replace(file.record_id, kFieldContent, file.id, postings));
    stored = true;
    return Status::Ok();
  }));
  if (!stored) return Status::Ok();
  auto count = [&](const char* result, uint64_t PipelineStats::*field) {
    ++(run.*field);
    Count(result, field);
  };
  switch (row.state) {
    case TextState::kText: count("text", &PipelineStats::files_text); break;
    case TextState::kNoText: count("no_text", &PipelineStats::files_no_text); break;
    case TextState::kRetry: count("retry", &PipelineStats::files_retry); break;
    default: count("failed", &PipelineStats::files_failed); break;
  }
  if (storage::TypeMismatch(row)) {
    ++run.type_mismatches;
    std::lock_guard<std::mutex> lock(stats_mu);
    ++stats.type_mismatches;
  }
  return Status::Ok();
}

Status ContentPipeline::Impl::FinishRecord(const RecordId& id, const std::set<FileId>& seen,
                                           PipelineStats& run) {
  bool dequeued = false;
  CUSTOS_RETURN_IF_ERROR(store.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(std::optional<Record> r, tx.records().Find(id));
    if (!IsLive(r)) {
      dequeued = true;
      return tx.texts().Dequeue(id);
    }
    CUSTOS_ASSIGN_OR_RETURN(std::vector<Version> versions, tx.versions().List(id));
    CUSTOS_ASSIGN_OR_RETURN(std::vector<FileText> rows, tx.texts().OfRecord(id));
    std::set<FileId> done;
    for (const FileText& t : rows) {
      if (t.state != TextState::kPending) done.insert(t.file_id);
    }
    // A version added while this ran stays queued for the next pass.
    for (const Version& v : versions) {
      for (const StoredFile& f : v.files) {
        if (!done.count(f.id) && !seen.count(f.id)) return Status::Ok();
      }
    }
    // The catalogue's postings too: after a rebuild or the backfill they
    // may be missing.
    CUSTOS_RETURN_IF_ERROR(IndexCatalogue(tx, key, *r, versions));
    dequeued = true;
    return tx.texts().Dequeue(id);
  }));
  if (dequeued) {
    ++run.records;
    std::lock_guard<std::mutex> lock(stats_mu);
    ++stats.records;
  }
  return Status::Ok();
}

void ContentPipeline::Impl::Loop() {
  // Linux gives each thread its own niceness: this one only.
  if (options.nice > 0) (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), std::min(options.nice, 19));
  background = true;
  while (!stop.load()) {
    if (MustYield()) {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, options.quiet, [&] { return stop.load(); });
      continue;
    }
    PipelineStats run;
    StatusOr<bool> worked = Pass(run);
    if (worked.ok() && *worked) continue;
    if (!worked.ok() && options.logger != nullptr) {
      options.logger->Warn("content pipeline pass failed", {{"reason", worked.status().reason()},
                                                            {"error", worked.status().message()}});
    }
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, options.idle_poll, [&] { return wake || stop.load(); });
    wake = false;
  }
}

PipelineOptions PipelineOptionsOf(const Config& config, const std::string& data_dir,
                                  const std::string& program_dir) {
  PipelineOptions o;
  o.enabled = config.extraction_enabled;
  const std::string& worker = config.extraction_worker;
  if (worker.empty()) {
    o.worker_path = (program_dir.empty() ? std::string(".") : program_dir) + "/custos-extract";
  } else {
    o.worker_path = worker.front() == '/' ? worker : data_dir + "/" + worker;
  }
  o.limits.ocr = config.extraction_ocr;
  o.limits.wall = std::chrono::seconds(config.extraction_timeout_s);
  o.limits.cpu = std::chrono::seconds(config.extraction_cpu_s);
  o.limits.address_space_bytes = static_cast<uint64_t>(config.extraction_memory_mb) << 20;
  o.max_attempts = config.extraction_max_attempts;
  o.limits.nice = config.extraction_nice;
  o.nice = config.extraction_nice;
  return o;
}

std::string ProgramDirectory() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  std::string self(buf, static_cast<size_t>(n));
  return self.substr(0, self.rfind('/'));
}

ContentPipeline::ContentPipeline(storage::MetadataStore& store, storage::ContentStore& content,
                                 const storage::IndexKey& key, Clock& clock, PipelineOptions options)
    : impl_(std::make_unique<Impl>(store, content, key, clock, std::move(options))) {}

ContentPipeline::~ContentPipeline() { Stop(); }

void ContentPipeline::Start() {
  if (!impl_->options.enabled) return;
  std::lock_guard<std::mutex> guard(impl_->start_mu);
  if (impl_->thread.joinable()) return;
  impl_->stop.store(false);
  impl_->thread = std::thread([this] { impl_->Loop(); });
}

void ContentPipeline::Stop() {
  std::lock_guard<std::mutex> guard(impl_->start_mu);
  if (!impl_->thread.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop.store(true);
  }
  impl_->cv.notify_all();
  impl_->thread.join();
}

void ContentPipeline::Wake() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->wake = true;
    impl_->last_wake = std::chrono::steady_clock::now();
  }
  impl_->cv.notify_all();
}

StatusOr<PipelineStats> ContentPipeline::RunUntilIdle() {
  PipelineStats run;
  if (!impl_->options.enabled) return run;
  for (;;) {
    CUSTOS_ASSIGN_OR_RETURN(bool worked, impl_->Pass(run));
    if (!worked) return run;
  }
}

PipelineStats ContentPipeline::totals() const {
  std::lock_guard<std::mutex> lock(impl_->stats_mu);
  return impl_->stats;
}

StatusOr<uint64_t> EnqueueAllForIndexing(storage::MetadataStore& store, Time now, bool drop_postings) {
  std::vector<Record> records;
  CUSTOS_RETURN_IF_ERROR(store.Read([&](Transaction& tx) {
    return tx.records().ForEach([&](const Record& r) {
      records.push_back(r);
      return Status::Ok();
    });
  }));
  uint64_t queued = 0;
  CUSTOS_RETURN_IF_ERROR(store.Write([&](Transaction& tx) -> Status {
    for (const Record& r : records) {
      if (drop_postings) {
        CUSTOS_RETURN_IF_ERROR(tx.search().DeleteRecord(r.id).status());
        CUSTOS_RETURN_IF_ERROR(tx.texts().DeleteRecord(r.id).status());
      }
      if (r.state == domain::RecordState::kDestroyed) continue;
      CUSTOS_RETURN_IF_ERROR(tx.texts().Enqueue(r.id, now));
      ++queued;
    }
    return Status::Ok();
  }));
  return queued;
}

}  // namespace custos::services
