// Records, versions and their content (DESIGN §2): check-in, new versions,
// the catalogue, metadata changes, history, content reads and receipts.
//
// Uploads stream: a CheckIn is begun (authorization and metadata are checked
// before any byte is accepted), files are added one at a time straight from
// the request into the encrypted blob store (ContentStore; nothing is
// buffered whole), and Commit() writes the record, the version and the
// audit event in one transaction. A CheckIn destroyed without a successful
// Commit() deletes the blobs it wrote, so a failed or abandoned upload
// leaves no record, no event and no blob.
//
// Every change and every content read is an audit event committed before
// the result is returned (for reads: before the first byte is released).
// Thread safety: RecordService is safe for concurrent use; a CheckIn is
// used by one thread.
#pragma once


#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/cms.h"
#include "server/services/account_policy.h"
#include "server/services/clock.h"
#include "server/services/extraction_runner.h"
#include "server/services/fresh_reads.h"
#include "server/services/loan.h"
#include "server/services/log_service.h"
#include "server/services/retention.h"
#include "server/services/principal.h"
#include "server/services/store_cache.h"
#include "storage/content_store.h"
#include "storage/metadata_store.h"
#include "storage/text_diff.h"

namespace custos::services {

struct RecordOptions {
  uint64_t max_file_bytes = 4ULL << 30;
  size_t max_files_per_version = 100;
  // A contract whose signature does not verify: refuse (422) or store flagged.
  bool reject_invalid_contract_signatures = false;
  // Content reads by fresh accounts (fresh_reads.h): `account_policy.fresh`
  // is the window; every such read's event carries "freshAccount": true,
  // and once committed it is added to `fresh_reads` (nullptr: the event
  // only). The log must outlive the service.
  AccountPolicyOptions account_policy;
  FreshReadLog* fresh_reads = nullptr;
  // The content index (docs/search.md). With a key, every commit that
  // writes catalogue values, notes or file names writes their postings
  // (content_pipeline.h IndexCatalogue) and queues the record for the
  // pipeline, and Search() matches the postings; nullptr: neither (tests
  // that do not search). Not owned; must outlive the service.
  const storage::IndexKey* index_key = nullptr;
  // Woken after each commit that queued a record; nullptr: the pipeline
  // finds the queue at its next poll. Not owned.
  class ContentPipeline* pipeline = nullptr;
  // Snippets of content in search hits are cut from the sealed text; at
  // most this many files' texts are opened per search.
  size_t max_snippet_files = 20;
  // Loan copies (docs/security.md "Loan copies"): a caller who may read a
  // record's content only through a checked-out digital loan, of a record
  // whose classification is listed here, gets a copy stamped with the
  // loan by the worker `stamp_worker` (custos-stamp, docs/formats/stamp.md)
  // run under `stamp_limits`, never the original. Empty here (custosd
  // fills it from loans.stamp_classifications): every borrower reads the
  // original.
  std::vector<domain::Classification> stamp_classifications;
  std::string stamp_worker;
  ExtractionLimits stamp_limits;
  // Previews (RecordService::Preview, docs/security.md "Previews"): the
  // worker custos-render (docs/formats/render.md), run under
  // `render_limits`; empty: no previews (503 preview_failed, reason
  // "preview_disabled"). `on_render` (may be empty) hears how each run
  // ended: "ok", "unsupported", "no_such_page" or the failure's reason.
  std::string render_worker;
  ExtractionLimits render_limits;
  std::function<void(std::string_view result)> on_render;
};

// The `derived` purpose of a preview's content.read event (and the prefix
// of its cache entries' purposes, "preview:<page>:<size>").
inline constexpr char kPreviewPurpose[] = "preview";

// kPermissionDenied "stamped_copy_only": a borrower of a record lent as
// stamped copies asked for its text (RecordService::LentAsCopies).
Status StampedCopyOnly();

// The metadata part of a check-in, as decoded from JSON.
struct RecordInput {
  std::string type;
  std::string title;
  std::string description;
  std::string department;
  std::string classification;
  std::string custodian;  // defaults to the archivist checking in
  std::string location;
  domain::RecordMetadata metadata;  // type-specific fields; empty: none
};

struct FileInput {
  std::string name;
  std::string media_type;
};

// A record with its versions (and their files), as the API shows it.
struct RecordDetail {
  domain::Record record;
  std::vector<domain::Version> versions;
  // Loans still open (requested, approved, checked out) that the caller may
  // see (MaySeeLoan): who holds the original and since when, and whether it
  // is overdue, come from these.
  std::vector<domain::Loan> open_loans;
  domain::Time at;  // when this view was taken (loan states are as of then)
  // The retention rule in force, its source, the disposition date and the
  // holds on the record.
  std::optional<Disposition> disposition;
  // For a destroyed record: what its tombstone keeps (canonical JSON: batch,
  // time, rule, approvals, event index); empty otherwise.
  std::string tombstone_json;
  // What the content pipeline learned of each file (identified type,
  // extraction state), without the text (storage/file_texts.h).
  std::vector<storage::FileText> texts;
};

// A file's extracted text, for a caller who may read the file's content.
struct TextRead {
  storage::FileText status;  // sealed_text emptied
  std::string text;          // empty unless status.state is kText
  uint64_t log_index = 0;    // the content.read event (details "derived": "text")
};

// Version comparison (RecordService::Compare, docs/api.md "Version
// comparison"). Files of the two versions are paired by name.
enum class FileChange {
  kAdded,      // only in `to`
  kRemoved,    // only in `from`
  kChanged,    // in both, other sha256
  kUnchanged,  // in both, same sha256
};
std::string_view Name(FileChange c);  // "added", "removed", "changed", "unchanged"

// Whether a file pair's texts could be compared.
enum class CompareState {
  kDiff,     // both sides' texts (a missing side: empty) were compared
  kPending,  // a side's text is not extracted yet (queued or to be retried)
  kNoText,   // a side holds no extractable text
  kFailed,   // a side's extraction failed for good
};
std::string_view Name(CompareState s);  // "diff", "pending", "no_text", "failed"

struct FileComparison {
  std::string name;
  FileChange change = FileChange::kUnchanged;
  std::optional<domain::StoredFile> from;  // the file in `from`; none when added
  std::optional<domain::StoredFile> to;    // the file in `to`; none when removed
  CompareState state = CompareState::kDiff;
  storage::TextDiff diff;  // from's text → to's text when state is kDiff
};

// A change of the record's catalogue values (a record.update event) made
// between the two versions: the catalogue is one per record, not per
// version, so this is what changed while the one version was current
// before the other was added.
struct MetadataChange {
  uint64_t log_index = 0;
  domain::Time at;
  std::string actor;
  std::vector<std::string> fields;  // "title", "metadata.endDate", ...
};

struct VersionComparison {
  domain::Record record;
  domain::Version from;
  domain::Version to;
  std::vector<FileComparison> files;  // by name
  std::vector<MetadataChange> metadata_changes;  // oldest first
  std::vector<uint64_t> log_indexes;  // the content.read events, one per text read
};

struct CheckInResult {
  RecordDetail detail;
  int version = 1;
  uint64_t log_index = 0;
  std::string receipt;  // tlog-proof@v1 of the check-in's log entry
};

// Metadata changes; unset fields stay.
struct RecordPatch {
  std::optional<std::string> title;
  std::optional<std::string> description;
  std::optional<std::string> custodian;
  std::optional<std::string> location;
  std::optional<std::string> classification;
  std::optional<domain::RecordMetadata> metadata;  // replaces the type-specific fields when set
};

// A stamped loan copy, held in memory only (never written to disk).
struct LoanCopy {
  std::string bytes;
  std::string media_type;  // application/pdf or image/png
  std::string sha256;      // hex, as logged in the event's "copySha256"
  std::string loan;        // the loan it was made under
};

// A page preview (RecordService::Preview): PNG bytes, never written to
// disk in clear.
struct PagePreview {
  std::string png;
  int page = 1;
  int pages = 1;          // the file's page count (file_texts)
  bool cached = false;    // served from derived_cache, no worker run
  uint64_t log_index = 0; // the content.read event ("derived": "preview")
};

// Preview sizes: the width of the image in pixels.
inline constexpr int kThumbPreviewWidth = 240;
inline constexpr int kPagePreviewWidth = 1200;

// How many pages a preview of the file can show, from what the content
// pipeline identified: a PDF's or a TIFF's pages (at least 1), 1 for
// the other image types (PNG, JPEG, GIF, BMP, WebP); 0 when the file
// cannot be previewed or has not been identified yet.
int PreviewPages(const storage::FileText& t);

struct ContentRead {
  domain::StoredFile file;             // the original file, also for a copy
  std::unique_ptr<ByteSource> stream;  // verified plaintext; nullptr when `copy` is set
  uint64_t log_index = 0;                      // the content.read event
  std::optional<LoanCopy> copy;        // set: serve these bytes instead of the stream
};

class RecordService;

class CheckIn {
 public:
  ~CheckIn();
  CheckIn(const CheckIn&) = delete;
  CheckIn& operator=(const CheckIn&) = delete;

  // Streams one file into the store. Fails with file_too_large,
  // storage_full, too_many_files, invalid_file_name.
  Status AddFile(const FileInput& file, ByteSource& content);
  // Attaches a detached CMS signature (DER or PEM, ≤ 1 MiB) to the file
  // added last and verifies it. kInvalidArgument "signature_without_file"
  // if no file was added yet or the last one already has one.
  Status AttachSignature(std::string_view cms);
  // Commits record/version and event. kUnprocessable "no_files" without
  // files; "invalid_signature" when configuration refuses a contract whose
  // signature did not verify.
  StatusOr<CheckInResult> Commit();

 private:
  friend class RecordService;
  CheckIn(RecordService& service, Principal who);
  RecordService& service_;
  const Principal who_;
  // Either a new record (record_ set, existing_ empty) or a new version.
  std::optional<domain::Record> record_;
  std::optional<domain::RecordId> existing_;
  domain::VersionKind kind_ = domain::VersionKind::kOriginal;
  std::string note_;
  std::vector<domain::StoredFile> files_;
  bool committed_ = false;
};

// One entry of a record's history.
struct HistoryEntry {
  storage::LogEntry entry;
  // The old and new personal values of a record.update (record_changes);
  // empty JSON strings when there are none.
  storage::RecordChange change;
};

class RecordService {
 public:
  RecordService(storage::MetadataStore& store, storage::ContentStore& content,
                storage::BlobStore& blobs, LogService& log, Clock& clock,
                std::shared_ptr<const crypto::TrustStore> trust, RecordOptions options = {});

  StatusOr<std::unique_ptr<CheckIn>> BeginCheckIn(const Principal& who, const RecordInput& input);
  StatusOr<std::unique_ptr<CheckIn>> BeginVersion(const Principal& who, const domain::RecordId& id,
                                                  const std::string& kind, const std::string& note);

  StatusOr<RecordDetail> Get(const Principal& who, const domain::RecordId& id);
  StatusOr<domain::RecordPage> Search(const Principal& who, domain::RecordQuery query);
  // Versions, or with `as_of` only the version current at that instant
  // (kNotFound "no_version_at" if the record had none yet).
  StatusOr<std::vector<domain::Version>> Versions(const Principal& who,
                                                   const domain::RecordId& id,
                                                   std::optional<domain::Time> as_of);
  StatusOr<domain::Version> GetVersion(const Principal& who, const domain::RecordId& id, int n);
  // The record's log entries, oldest first; entries that belong to a loan
  // the caller may not see (details.loan, MaySeeLoan) are left out. A
  // record.update entry comes with the personal values it changed
  // (HistoryEntry::change) while the record lives; after its destruction
  // only the field names in the event remain, and entries redacted by the
  // destruction come as their index and leaf hash (LogEntry::redacted).
  StatusOr<std::vector<HistoryEntry>> History(const Principal& who, const domain::RecordId& id);
  StatusOr<domain::Record> Patch(const Principal& who, const domain::RecordId& id,
                                  const RecordPatch& patch);
  // Authorizes, logs the read durably, then opens the decrypting stream.
  // A read by a fresh account (the reader's users row, read in the logging
  // transaction; RecordOptions::account_policy) is flagged in its event and
  // reported to RecordOptions::fresh_reads.
  // A caller who reads only through a digital loan a record whose
  // classification is in RecordOptions::stamp_classifications gets a
  // stamped copy in ContentRead::copy instead (docs/security.md "Loan
  // copies"), logged with "loan", "copySha256" and "stamped": true; then
  // kUnprocessable "copy_unsupported" for a type that cannot be stamped,
  // kUnavailable "copy_failed" when the worker fails (params "reason"),
  // and nothing is logged.
  StatusOr<ContentRead> OpenContent(const Principal& who, const domain::RecordId& id, int version,
                                    const domain::FileId& file);
  StatusOr<std::string> Receipt(const Principal& who, const domain::RecordId& id, int version);
  // The extracted text of a file, with the rights and logging of
  // OpenContent (a content.read whose details say "derived": "text").
  // kNotFound "text_not_found" when the pipeline has no row for the file
  // yet; the state says whether there is text.
  StatusOr<TextRead> ReadText(const Principal& who, const domain::RecordId& id, int version,
                              const domain::FileId& file);
  // Compares versions `from` and `to` of a record: files added, removed
  // and changed (by name), the catalogue changes logged between the two
  // versions' check-ins, and the difference of each file pair's extracted
  // texts (storage/text_diff.h). Needs the rights of ReadText; every text
  // read is one content.read event ("derived": "text", "compare": the
  // other version), all written in one transaction before the result is
  // returned. kUnprocessable "invalid_compare" when from == to or either
  // is below 1; kNotFound "version_not_found"; kPermissionDenied
  // "content_forbidden"; kGone "content_destroyed".
  StatusOr<VersionComparison> Compare(const Principal& who, const domain::RecordId& id, int from, int to);
  // Page `page` (from 1) of a PDF or image file as a PNG `size` "thumb"
  // (kThumbPreviewWidth wide) or "page" (kPagePreviewWidth; also for ""),
  // with the rights of OpenContent, decided at this instant. Each served
  // preview is one content.read event ("derived": "preview", "page"),
  // committed before the image is returned. The image is rendered by
  // RecordOptions::render_worker from the decrypted file and cached in
  // derived_cache sealed under the file's own key (purpose
  // "preview:<page>:<size>"), so later views run no worker. Failures, after
  // which nothing is logged or stored: those of FindLiveFile;
  // kPermissionDenied "content_forbidden"; kUnprocessable "invalid_preview"
  // (size not thumb or page, page below 1 or over the page count) and
  // "preview_unsupported" (not a PDF or an image); kUnavailable
  // "preview_failed" with params "reason": the worker's (extraction_crashed,
  // extraction_timeout, extraction_limit, extraction_unreadable, ...),
  // "not_identified" while the pipeline has not looked at the file, or
  // "preview_disabled".
  StatusOr<PagePreview> Preview(const Principal& who, const domain::RecordId& id, int version,
                                const domain::FileId& file, int page, std::string_view size);

 private:
  friend class CheckIn;
  StatusOr<domain::Record> LoadVisible(const Principal& who, const domain::RecordId& id);
  StatusOr<CheckInResult> CommitCheckIn(CheckIn& c);
  // A file of a version of a record the caller may see, while its content
  // lives: version_not_found, file_not_found, or 410 content_destroyed.
  struct LiveFile {
    domain::Record record;
    domain::StoredFile file;
  };
  StatusOr<LiveFile> FindLiveFile(const Principal& who, const domain::RecordId& id, int version,
                                  const domain::FileId& file_id);
  // A record's row and one of its versions as stored (nullopt: no such
  // record, or no such version), read in one transaction or taken from
  // versions_ (the same for every caller: who may see them is decided
  // after).
  struct VersionView {
    std::optional<domain::Record> record;
    std::optional<domain::Version> version;
  };
  StatusOr<VersionView> LoadVersionView(const domain::RecordId& id, int version);
  // What Get() shows of `r` besides its row and its files' pipeline state,
  // as stored: read in one transaction or taken from views_. What depends
  // on the caller or the instant (which loans are open and visible, the
  // disposition) is decided from it per request.
  struct RecordRows {
    std::vector<domain::Version> versions;
    std::vector<domain::Loan> loans;  // in an open state, every borrower's
    DispositionInputs disposition;
    std::string tombstone_json;
  };
  StatusOr<RecordRows> LoadRecordRows(const domain::Record& r);
  // Every read of a file's content or of data derived from it (`derived`:
  // its purpose, e.g. "text"; empty for the file itself): decides the
  // caller's right at this instant (MayReadContentNow), runs `first` (may
  // be empty) and appends the content.read event, all in one write
  // transaction; a fresh account's read then goes to the fresh-read log.
  // Returns the event's index.
  // The content.read event of `file` (or of data derived from it, when
  // `derived` is not empty) read by `who` at `now`.
  static storage::LogEvent ContentReadEvent(const Principal& who, const domain::RecordId& id, domain::Time now,
                                            const std::string& via_loan, bool fresh_account,
                                            std::string_view derived, int version,
                                            const domain::StoredFile& file);
  // `amend` (may be empty) sees the loan the right came through ("" for a
  // direct reader) and may add details to the event or refuse the read.
  StatusOr<uint64_t> LogContentRead(const Principal& who, const LiveFile& live, int version,
                                    std::string_view derived,
                                    const std::function<Status(storage::Transaction&)>& first,
                                    const std::function<Status(const std::string& via_loan,
                                                               storage::LogEvent&)>& amend = nullptr);
  // Whether borrowers of `r` read stamped copies only (its classification
  // is in RecordOptions::stamp_classifications): then a caller whose right
  // comes only through a loan gets no derived text of it (the text route,
  // comparison, search snippets: kPermissionDenied "stamped_copy_only",
  // or no snippet), since text carries no stamp; previews of it are
  // rendered from the caller's stamped copy.
  bool LentAsCopies(const domain::Record& r) const;
  // The loan through which alone `who` reads `live` now, when its record's
  // classification asks for stamped copies; nullopt otherwise.
  StatusOr<std::optional<domain::Loan>> LoanNeedingCopy(const Principal& who, const LiveFile& live);
  // Makes the stamped copy of `live` under `loan` (not logged): decrypts
  // into memory and runs the stamp worker.
  StatusOr<LoanCopy> MakeLoanCopy(const Principal& who, const LiveFile& live, int version,
                                  const domain::Loan& loan);
  // Makes, logs and returns the stamped copy of `live` under `loan`.
  StatusOr<ContentRead> OpenLoanCopy(const Principal& who, const LiveFile& live, int version,
                                     const domain::Loan& loan);
  // kGone "content_destroyed", naming the basis of the destruction from the
  // tombstone: the record's own retention rule or its type's schedule.
  Status ContentDestroyed(const domain::RecordId& id);

  storage::MetadataStore& store_;
  storage::ContentStore& content_;
  storage::BlobStore& blobs_;
  LogService& log_;
  Clock& clock_;
  std::shared_ptr<const crypto::TrustStore> trust_;
  const RecordOptions options_;
  // VersionViews by "<record id>\n<version>", while the records, versions
  // and files tables are unchanged (StoreCache): a download then reads no
  // catalogue row before its logging transaction.
  StoreCache<VersionView> versions_;
  // Record rows by id (nullopt: none), while the records table is unchanged:
  // LoadVisible, on the path of every catalogue GET.
  StoreCache<std::optional<domain::Record>> records_;
  // RecordRows by record id, while the records, versions, files and
  // documents (loans, retention rules, holds, tombstones) are unchanged.
  StoreCache<RecordRows> views_;
};

// Validates the type-specific metadata of a record type: required fields,
// their forms (dates as YYYY-MM-DD, amounts, currencies), no unknown
// fields. kUnprocessable naming the field ("invalid_metadata", params field
// and rule).
Status ValidateTypeMetadata(domain::RecordType type, const domain::RecordMetadata& metadata);

// The error for a metadata field whose value is not a string, for the
// decoders that build a RecordMetadata from JSON (kUnprocessable
// "invalid_metadata", params field and rule "string").
Status MetadataNotAString(const std::string& field);

}  // namespace custos::services
