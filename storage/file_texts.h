// What the content pipeline (server/services/content_pipeline.h) learned of
// each stored file, and its work queue (docs/search.md "Pipeline",
// docs/formats/search-index.md "Tables").
//
// file_texts (schema migration 9), one row per file that the pipeline has
// looked at or will: the type the client claimed, the type identified from
// the bytes, the state of text extraction, and the extracted text sealed
// under the file's own data key (ContentStore::SealDerived, purpose
// kTextPurpose), so a destruction, which deletes the wrapped data key,
// shreds the text with the file. The rows are derived data: not row-sealed,
// not in the log's state images, rebuilt by `custosctl reindex`.
//
// search_queue (migration 9): records whose index entries and file texts
// are due, oldest first. A check-in, a new version, an import and a change
// of catalogue values put the record there in their own transaction; the
// migration queued every record that existed before it (the backfill).
//
// Both tables are reached through a transaction
// (storage::Transaction::texts()). Writes fail in a read transaction
// (kInternal "read_only_transaction"); database failures are those of
// storage/sql_util.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "domain/model.h"

namespace custos::storage {

// The purpose under which extracted text is sealed (ContentStore::SealDerived).
inline constexpr char kTextPurpose[] = "text";

enum class TextState {
  kPending,  // queued, not yet run
  kText,     // text extracted and sealed
  kNoText,   // the file holds no extractable text (not an error)
  kRetry,    // the last run failed (crash, hang, limit); runs again at next_attempt
  kFailed,   // failed for good: unreadable, or every attempt used
};
std::string_view Name(TextState s);  // "pending", "text", "no_text", "retry", "failed"
StatusOr<TextState> ParseTextState(std::string_view name);  // kDataLoss "bad_text_state"

struct FileText {
  domain::FileId file_id;
  domain::RecordId record_id;
  int version = 0;
  TextState state = TextState::kPending;
  std::string claimed_type;     // the media type the client gave at check-in
  std::string identified_type;  // from the bytes (libmagic); "" until run
  std::string method;           // "pdf_text", "ocr", "docx", ... "none"; "" until run
  int pages = 0;
  uint64_t text_bytes = 0;            // bytes of the extracted UTF-8 text
  std::vector<uint8_t> sealed_text;   // kText: the envelope; else empty
  int attempts = 0;                   // runs that failed
  domain::Time next_attempt{};        // kRetry: not before
  std::string reason;                 // the last failure's reason (extraction_*), else ""
  domain::Time updated_at{};
};

// Whether the identified type differs from the claimed one. Parameters
// (";charset=...") and case are ignored; a claim of
// "application/octet-stream" or "" never mismatches; an identified type
// that is empty (not yet run) never mismatches.
bool TypeMismatch(const FileText& t);

// Rows per state and the queue's length (for /metrics and the status page).
struct TextCounts {
  uint64_t pending = 0, text = 0, no_text = 0, retry = 0, failed = 0;
  uint64_t queued_records = 0;
};

class FileTextRepository {
 public:
  virtual ~FileTextRepository() = default;

  // Inserts or replaces the row of t.file_id. kInvalidArgument
  // "bad_file_text" for an empty file or record id, or a negative version,
  // page count or attempt count (nothing written).
  virtual Status Upsert(const FileText& t) = 0;
  // The row of a file, with its sealed text.
  virtual StatusOr<std::optional<FileText>> Find(const domain::FileId& file_id) = 0;
  // The rows of a record's files, by version then file id, WITHOUT their
  // sealed text (sealed_text empty; text_bytes says how long it is).
  virtual StatusOr<std::vector<FileText>> OfRecord(const domain::RecordId& record_id) = 0;
  // Deletes the record's rows and its queue entry; returns the rows deleted.
  virtual StatusOr<uint64_t> DeleteRecord(const domain::RecordId& record_id) = 0;
  // Rows in kRetry whose next_attempt is at or before `now`, oldest
  // next_attempt first, at most `limit`, without their sealed text.
  virtual StatusOr<std::vector<FileText>> DueRetries(domain::Time now, size_t limit) = 0;
  // Rows per state (kDataLoss "bad_text_state" for a stored state this
  // program does not know) and the queue's length.
  virtual StatusOr<TextCounts> Counts() = 0;

  // Puts a record on the queue (again: the earlier time stays).
  // kInvalidArgument "bad_queue_entry" for an empty record id.
  virtual Status Enqueue(const domain::RecordId& record_id, domain::Time at) = 0;
  // The oldest queued records, at most `limit`.
  virtual StatusOr<std::vector<domain::RecordId>> Queued(size_t limit) = 0;
  // Takes a record off the queue (nothing if it is not there).
  virtual Status Dequeue(const domain::RecordId& record_id) = 0;
};

}  // namespace custos::storage
