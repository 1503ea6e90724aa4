// The content pipeline (docs/search.md "Pipeline"): after each check-in, new
// version, import and catalogue change, and as a backfill, it identifies
// each file's type from its bytes, extracts its text in the worker process
// (extraction_runner.h; the parsers never run in custosd), seals the text
// under the file's own data key (file_texts, storage/file_texts.h) and
// writes the content postings under the index key (search_index.h). It
// never delays or fails a check-in: the check-in only queues the record
// (search_queue) in its own transaction, and this runs in the background.
//
// A run that crashes, hangs or hits a limit is recorded for that file
// (state retry, reason extraction_*) and tried again after a backoff
// (PipelineOptions::backoff); after max_attempts, or at once for a document
// the worker calls unreadable, the file is failed for good. A file with no
// extractable text is no_text, not an error.
//
// The catalogue's own fields (title, description, metadata values, version
// notes, file names) are indexed in the transaction that writes them
// (IndexCatalogue below), so they are searchable at once; only content
// waits for the pipeline.
//
// Thread safety: Start/Stop/Wake from any thread; RunUntilIdle must not run
// while the background thread does (custosctl reindex, tests).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/log.h"
#include "common/status.h"
#include "server/services/clock.h"
#include "server/services/extraction_runner.h"
#include "storage/content_store.h"
#include "storage/metadata_store.h"
#include "storage/search_index.h"

namespace custos::services {

// The fields of the index (PostingMatch::field, FieldMatch::field).
inline constexpr char kFieldTitle[] = "title";
inline constexpr char kFieldDescription[] = "description";
inline constexpr char kFieldMetadata[] = "metadata";   // every metadata value, one field
inline constexpr char kFieldNote[] = "note";           // file id: "v<n>" of the version
inline constexpr char kFieldFileName[] = "fileName";   // file id: the file
inline constexpr char kFieldContent[] = "content";     // file id: the file

// The values of a record's metadata object (field name order, empty ones
// left out) joined by `separator`; "" for malformed JSON (the row seal
// checked it, so that is not expected). Indexed as one field, and shown
// as one in search hits.
std::string MetadataValues(const std::string& metadata_json, std::string_view separator);

// Writes the postings of the record's catalogue fields (title,
// description, metadata values) and of each version's note and file names,
// replacing the old ones, in `tx`. Content postings are left alone.
Status IndexCatalogue(storage::Transaction& tx, const storage::IndexKey& key, const domain::Record& record,
                      const std::vector<domain::Version>& versions);

struct PipelineOptions {
  bool enabled = true;        // false: nothing runs; queued records wait
  std::string worker_path;    // custos-extract
  ExtractionLimits limits;
  std::chrono::milliseconds idle_poll{2000};  // look at the queue at least this often
  // The background thread starts work only after `quiet` without a Wake()
  // (a commit), or once it has deferred for `max_defer`, and then works
  // for at least a quarter of max_defer: check-ins and their write
  // transactions come first, and a steady stream of them still leaves the
  // pipeline a fifth of the time. RunUntilIdle does not wait.
  std::chrono::milliseconds quiet{300};
  std::chrono::milliseconds max_defer{10000};
  int max_attempts = 5;
  // The wait after the 1st, 2nd, ... failed run; the last repeats.
  std::vector<std::chrono::seconds> backoff{std::chrono::seconds(60), std::chrono::seconds(300),
                                            std::chrono::seconds(1800), std::chrono::seconds(7200)};
  size_t max_text_bytes = size_t{8} << 20;  // text kept and indexed per file (cut at a character)
  // The background thread's CPU niceness (0..19; the workers' is
  // limits.nice), so that requests come first on a busy machine.
  int nice = 0;
  // Called once per file run, from the pipeline's thread, with how it
  // ended: "text", "no_text", "retry" or "failed" (for /metrics); may be
  // empty.
  std::function<void(std::string_view result)> on_file_run;
  // Where a failed pass (a store error) and each failed file run (record,
  // file, reason; never content) are logged; nullptr: nowhere. Not owned.
  Logger* logger = nullptr;
};

// What a run did (RunUntilIdle, and the totals for /metrics).
struct PipelineStats {
  uint64_t records = 0;      // records taken off the queue
  uint64_t files_text = 0;   // files that gave text
  uint64_t files_no_text = 0;
  uint64_t files_retry = 0;  // runs that failed and will run again
  uint64_t files_failed = 0; // failed for good
  uint64_t type_mismatches = 0;
};

// PipelineOptions from the extraction.* keys of the configuration
// (docs/operations.md): a relative extraction.worker is taken in
// `data_dir`, an empty one is custos-extract in `program_dir`.
PipelineOptions PipelineOptionsOf(const Config& config, const std::string& data_dir,
                                  const std::string& program_dir);
// The directory of the running program (from /proc/self/exe), "" if unknown.
std::string ProgramDirectory();

class ContentPipeline {
 public:
  // None of the references is owned; all must outlive the pipeline.
  ContentPipeline(storage::MetadataStore& store, storage::ContentStore& content, const storage::IndexKey& key,
                  Clock& clock, PipelineOptions options);
  ~ContentPipeline();  // Stop()
  ContentPipeline(const ContentPipeline&) = delete;
  ContentPipeline& operator=(const ContentPipeline&) = delete;

  // Starts the background thread (nothing when !options.enabled).
  void Start();
  // Stops it, waiting for the file in hand (its worker is killed at most
  // limits.wall later).
  void Stop();
  // Something was queued: look now instead of at the next poll.
  void Wake();

  // Works in this thread until the queue is empty and no retry is due.
  // Resumable: a record leaves the queue only when it is done.
  StatusOr<PipelineStats> RunUntilIdle();

  // Totals since construction.
  PipelineStats totals() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Queues every record that is not destroyed (custosctl reindex); returns
// how many. With `drop_postings`, deletes every posting and file text first
// (a new index key, or a full rebuild).
StatusOr<uint64_t> EnqueueAllForIndexing(storage::MetadataStore& store, domain::Time now, bool drop_postings);

}  // namespace custos::services
