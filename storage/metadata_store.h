// MetadataStore: the catalogue, the users and the audit log, behind one
// transactional interface (DESIGN §2, §5, §7).
//
// Every change is made inside MetadataStore::Write(fn): `fn` receives a
// Transaction, reads and writes rows through its typed repositories and
// appends the audit events that describe the change. Either everything `fn`
// did — rows, events, Merkle tree nodes — commits together, or nothing does.
// A non-OK Status returned by `fn` rolls back exactly that function's work
// and is returned to its caller.
//
// Group commit: concurrent Write() calls are batched into one database
// transaction with one fsync; each function runs inside its own savepoint,
// so one failing function does not fail its neighbours. After a batch that
// appended events, the log signs one checkpoint for the new tree size inside
// the same transaction; no checkpoint is visible before its leaves commit.
//
// Write functions run on whichever caller thread leads the batch: they must
// not block on anything but the store itself, and must not call Write() or
// Read() recursively. Large content (blobs) is written and fsynced before
// Write() is called (DESIGN §7).
//
// Implementations: SqliteStore (storage/sqlite_store.h) and PostgresStore
// (storage/postgres_store.h). Service tests run on a SqliteStore too (in a
// temporary directory, without fsync: tests/testutil/scratch_store.h).
// Thread safety: Write() and Read() may be called from any thread.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "crypto/bytes.h"
#include "storage/derived_cache.h"
#include "storage/file_texts.h"
#include "storage/log_leaf.h"
#include "storage/search_index.h"
#include "domain/model.h"

namespace custos::storage {

struct RowImage;  // storage/row_image.h

class DepartmentRepository {
 public:
  virtual ~DepartmentRepository() = default;
  // kConflict "department_exists" if the name is taken.
  virtual Status Insert(const domain::Department& d) = 0;
  virtual StatusOr<std::vector<domain::Department>> List() = 0;
  virtual StatusOr<bool> Exists(const std::string& name) = 0;
};

class UserRepository {
 public:
  virtual ~UserRepository() = default;
  // kConflict "user_exists" if the name is taken.
  virtual Status Insert(const domain::User& u) = 0;
  // kNotFound "user_not_found" if absent.
  virtual Status Update(const domain::User& u) = 0;
  virtual StatusOr<std::optional<domain::User>> Find(const domain::Username& name) = 0;
  virtual StatusOr<std::vector<domain::User>> List() = 0;
};

class SessionRepository {
 public:
  virtual ~SessionRepository() = default;
  virtual Status Insert(const domain::Session& s) = 0;
  virtual StatusOr<std::optional<domain::Session>> Find(const std::string& token_hash) = 0;
  virtual Status Touch(const std::string& token_hash, domain::Time last_seen) = 0;
  virtual Status Delete(const std::string& token_hash) = 0;
  virtual Status DeleteForUser(const domain::Username& name) = 0;
};

// The personal values one record.update changed: canonical JSON objects
// of field → value ("description", "location", "metadata"), before and
// after, for the fields that changed.
struct RecordChange {
  uint64_t log_index = 0;
  std::string before_json;
  std::string after_json;
};

class RecordRepository {
 public:
  virtual ~RecordRepository() = default;
  // Allocates the next archive sequence number for (type, year), starting at
  // 1; numbers are never reused, even if the transaction that took one
  // fails later (the rollback returns it, so there are no gaps either).
  virtual StatusOr<uint64_t> NextSequence(domain::RecordType type, int year) = 0;
  // kConflict "record_exists" if the id is taken.
  virtual Status Insert(const domain::Record& r) = 0;
  // kNotFound "record_not_found" if absent.
  virtual Status Update(const domain::Record& r) = 0;
  virtual StatusOr<std::optional<domain::Record>> Find(const domain::RecordId& id) = 0;
  virtual StatusOr<domain::RecordPage> Search(const domain::RecordQuery& q) = 0;
  // Calls `visit` for every record, in id order; stops at the first error.
  virtual Status ForEach(const std::function<Status(const domain::Record&)>& visit) = 0;

  // The old and new personal values (description, location, metadata) of
  // the record.update event at `change.log_index`, which the log itself
  // names only by field (table record_changes; docs/retention.md
  // "Severing"). kConflict "record_change_exists" if that index has one.
  virtual Status AddChange(const domain::RecordId& id, const RecordChange& change) = 0;
  // The record's stored changes, log index ascending.
  virtual StatusOr<std::vector<RecordChange>> Changes(const domain::RecordId& id) = 0;
  // Deletes the record's stored changes (its destruction); returns how many.
  virtual StatusOr<uint64_t> DeleteChanges(const domain::RecordId& id) = 0;
  // The ids of the records that are not destroyed and have no salt (written
  // before salts; storage/integrity.h SaltUnsaltedRecords), in id order.
  // Reads only the ids: no row is returned, so no seal is checked.
  virtual StatusOr<std::vector<domain::RecordId>> Unsalted() = 0;
};

class VersionRepository {
 public:
  virtual ~VersionRepository() = default;
  // Inserts a version and its files. kConflict "version_exists" if
  // (record, number) is taken; kNotFound if the record is absent.
  virtual Status Insert(const domain::Version& v) = 0;
  // Versions of a record with their files, number ascending.
  virtual StatusOr<std::vector<domain::Version>> List(const domain::RecordId& id) = 0;
  virtual StatusOr<std::optional<domain::Version>> Find(const domain::RecordId& id, int number) = 0;
  // Replaces a file's wrapped data key (key rotation) or clears it
  // (crypto-shredding: pass an empty key).
  virtual Status SetFileKey(const domain::FileId& id, const std::string& kek_id,
                            const std::vector<uint8_t>& wrapped_dek) = 0;
  // Calls `visit` for every stored file; stops at the first error.
  virtual Status ForEachFile(const std::function<Status(const domain::StoredFile&)>& visit) = 0;
  virtual StatusOr<bool> BlobReferenced(const domain::BlobId& id) = 0;
};

// A workflow document: a loan, a legal hold and its members, a retention
// change, a destruction batch. The services own the body's schema
// (canonical JSON text); the store keeps the body whole and indexes the few
// columns that queries filter on, so adding a field never needs a
// migration while every list the services need stays one indexed query.
struct Document {
  std::string kind;     // "loan", "hold", … (the services' names)
  std::string id;       // unique within its kind
  std::string subject;  // the record it concerns; "" if none
  std::string owner;    // the user it belongs to (a loan's borrower); "" if none
  std::string state;
  std::optional<domain::Time> due_at;
  domain::Time created_at;
  domain::Time updated_at;
  std::string body = "{}";
};

// Documents of one kind; empty fields do not filter. Results come in id
// order (ids are built to sort by creation), starting after `after_id`.
struct DocumentQuery {
  std::string kind;
  std::vector<std::string> states;  // any of these
  std::string subject;
  std::string owner;
  std::optional<domain::Time> due_before;   // due_at set and earlier than this
  std::optional<domain::Time> created_from;  // inclusive
  std::optional<domain::Time> created_to;    // inclusive
  std::string after_id;
  size_t limit = 1000;
};

class DocumentRepository {
 public:
  virtual ~DocumentRepository() = default;
  // kConflict "document_exists" if (kind, id) is taken.
  virtual Status Insert(const Document& d) = 0;
  // kNotFound "document_not_found" if absent; created_at never changes.
  virtual Status Update(const Document& d) = 0;
  virtual StatusOr<std::optional<Document>> Find(const std::string& kind,
                                                 const std::string& id) = 0;
  virtual StatusOr<std::vector<Document>> List(const DocumentQuery& q) = 0;
  // Next number of a (prefix, year) counter, from 1, never reused; the same
  // counters as RecordRepository::NextSequence (whose prefixes are the
  // archive-number prefixes), so a document prefix must differ from those.
  virtual StatusOr<uint64_t> NextNumber(const std::string& prefix, int year) = 0;
};

// A stored audit package (server/services/audit_service.h): encrypted like
// any file (its own data key, the envelope format) in a blob of the blob
// store, and known here so that destroying a record shreds every package
// naming it and start-up removes the expired ones.
struct ExportedRecord {
  domain::RecordId id;
  bool content = false;  // the package holds (some of) its content
};

struct StoredExport {
  std::string id;      // the export job's id
  std::string owner;   // the user who made it; only they may fetch it
  std::string format;  // "tar.gz" | "zip"
  domain::Time created_at;
  domain::Time expires_at;
  domain::BlobId blob_id;
  domain::FileId file_id;      // bound into every envelope chunk
  uint64_t size = 0;   // plaintext bytes of the package
  std::string sha256;  // lower-hex SHA-256 of the plaintext package
  std::string kek_id;
  std::vector<uint8_t> wrapped_dek;  // empty once shredded
  std::string shredded_by;  // the destruction batch that shredded it; "" while live
  // What the package holds and withholds (the service's JSON); "{}" once
  // shredded, so nothing descriptive of a destroyed record stays here.
  std::string summary = "{}";
  std::vector<ExportedRecord> records;  // every record the package names
};

// Does stored export `e`, naming `named`, hold something of record `r` that
// the record's destruction took away? Its content, or its catalogue details
// from before the destruction. A package made after the destruction names
// only the tombstone, which stays visible. (A destroyed record's row is not
// changed after its destruction, so updated_at is when it was destroyed.)
inline bool ExportOutlivesDestruction(const StoredExport& e, const ExportedRecord& named, const domain::Record& r) {
  return r.state == domain::RecordState::kDestroyed && (named.content || r.updated_at >= e.created_at);
}

class ExportRepository {
 public:
  virtual ~ExportRepository() = default;
  // Inserts the export and its records. kConflict "export_exists" if the id
  // is taken.
  virtual Status Insert(const StoredExport& e) = 0;
  virtual StatusOr<std::optional<StoredExport>> Find(const std::string& id) = 0;
  // Every stored export (live and shredded), id order. Exports expire, so
  // this stays small.
  virtual StatusOr<std::vector<StoredExport>> List() = 0;
  // The exports naming `record` (with or without its content), id order.
  virtual StatusOr<std::vector<StoredExport>> Naming(const domain::RecordId& record) = 0;
  // Crypto-shredding: clears the wrapped data key and the summary, sets
  // shredded_by. kNotFound "export_not_found" if absent.
  virtual Status Shred(const std::string& id, const std::string& by) = 0;
  // Removes the export and its record list. kNotFound "export_not_found".
  virtual Status Delete(const std::string& id) = 0;
  // Does a live (not shredded) export keep its package in blob `id`?
  virtual StatusOr<bool> BlobReferenced(const domain::BlobId& id) = 0;
};

// One stored log entry.
struct LogEntry {
  uint64_t index = 0;
  // Canonical JSON bytes; "" once the entry is redacted (its body held a
  // personal value that a destruction severed; LogRepository::Redact).
  std::string leaf;
  crypto::Digest32 leaf_hash{};  // from the tree (log_nodes level 0), kept by redaction
  // The stored subject column (indexed for a subject's history); equals
  // the leaf's subject in an intact log (the verifier checks).
  std::string subject;

  [[nodiscard]] bool redacted() const { return leaf.empty(); }
};

// One stored signed checkpoint.
struct StoredCheckpoint {
  uint64_t size = 0;
  crypto::Digest32 root{};
  std::string note;  // the signed note text
  domain::Time created_at;
};

// A signature line added to a stored checkpoint after the log signed it: a
// witness's cosignature or a time-stamping authority's token
// (docs/formats/cosignature.md, docs/formats/timestamp.md).
struct CheckpointSignature {
  uint64_t size = 0;    // the checkpoint's tree size
  std::string name;     // the witness's or the authority's key name
  std::string kind;     // kCosignatureKind | kTimestampKind
  std::string line;     // the whole signature line, em-dash to final LF
  domain::Time created_at;
};
inline constexpr const char* kCosignatureKind = "cosignature";
inline constexpr const char* kTimestampKind = "timestamp";

// The checkpoint as served: the log's signed note followed by the added
// lines, cosignatures first, then timestamps, each group by name. Every
// note verifier still accepts it: lines of unknown keys are ignored.
std::string AttestedNote(const StoredCheckpoint& checkpoint,
                         std::vector<CheckpointSignature> signatures);

// A stored entry as LogRepository::ScanEntries visits it: the same
// fields as LogEntry, the leaf and the subject read in place (valid only
// until the visit returns).
struct LogEntryView {
  uint64_t index = 0;
  std::string_view leaf;  // "" once redacted
  crypto::Digest32 leaf_hash{};
  std::string_view subject;

  [[nodiscard]] bool redacted() const { return leaf.empty(); }
};

class LogRepository {
 public:
  virtual ~LogRepository() = default;
  // Appends an event (write transactions only; kInternal otherwise) and
  // returns its index. The leaf is built from `event`, the next sequence
  // number and the previous leaf hash (storage/log_leaf.h).
  virtual StatusOr<uint64_t> Append(const LogEvent& event) = 0;
  // Number of entries visible to this transaction.
  virtual StatusOr<uint64_t> Size() = 0;
  // The entries with index in [start, min(end, start + limit)) (end clamped
  // to the size): all of them in an intact log; an entry missing from
  // storage is missing from the result.
  virtual StatusOr<std::vector<LogEntry>> Entries(uint64_t start, uint64_t end, size_t limit) = 0;
  // Entries whose event subject is `subject`, oldest first, at most `limit`.
  virtual StatusOr<std::vector<LogEntry>> EntriesForSubject(const std::string& subject,
                                                            size_t limit) = 0;
  // Removes the stored body of entry `index` (write transactions only):
  // its leaf text becomes "" (LogEntry::redacted), its leaf hash stays in
  // the tree, so roots, proofs and the next entry's `prev` are unchanged.
  // Only a destruction redacts, and its record.destroy event lists the
  // indexes it redacted (details.redacted), which the verifier requires.
  // kNotFound "log_entry_missing" if there is no such entry.
  virtual Status Redact(uint64_t index) = 0;
  // The newest checkpoint (kNotFound "no_checkpoint" for an empty log).
  virtual StatusOr<StoredCheckpoint> LatestCheckpoint() = 0;
  // Every stored checkpoint, size ascending.
  virtual StatusOr<std::vector<StoredCheckpoint>> Checkpoints() = 0;
  // Adds a line to the stored checkpoint of `sig.size` (write transactions
  // only). kConflict "checkpoint_signature_exists" if `sig.name` has a line
  // for that size; kNotFound "no_checkpoint" if there is no such checkpoint;
  // kInvalidArgument "checkpoint_signature_malformed" for an unknown kind or
  // a line that is not one signature line naming `sig.name`.
  virtual Status AddCheckpointSignature(const CheckpointSignature& sig) = 0;
  // The lines added to the checkpoint of `size`, by kind then name.
  virtual StatusOr<std::vector<CheckpointSignature>> CheckpointSignatures(uint64_t size) = 0;
  // The largest checkpoint size `name` has a line for (a witness's latest
  // known tree size); nullopt if none.
  virtual StatusOr<std::optional<uint64_t>> LastSignedSize(const std::string& name) = 0;
  // The newest checkpoint with at least one added line of `kind` ("" any
  // kind); nullopt if none.
  virtual StatusOr<std::optional<StoredCheckpoint>> LatestAttestedCheckpoint(
      const std::string& kind = "") = 0;
  // RFC 9162 proofs over the stored tree (O(log n) node reads).
  virtual StatusOr<std::vector<crypto::Digest32>> InclusionProof(uint64_t index, uint64_t size) = 0;
  virtual StatusOr<std::vector<crypto::Digest32>> ConsistencyProof(uint64_t from, uint64_t to) = 0;
  virtual StatusOr<crypto::Digest32> RootAt(uint64_t size) = 0;
  // Stored nodes of one level with index ≥ from_index, index ascending, at
  // most `limit` (for verification, which walks each level in order).
  virtual StatusOr<std::vector<std::pair<uint64_t, crypto::Digest32>>> NodesAtLevel(
      uint32_t level, uint64_t from_index, size_t limit) = 0;
  // The rows of Entries(start, end, limit) and NodesAtLevel(level,
  // from_index, limit), handed to `visit` one at a time in index order
  // without copying them (for the verifier's walks). Stop at the first
  // error `visit` returns and return it; a stored hash that is not 32
  // bytes fails as in Entries (kDataLoss "stored_hash_malformed").
  virtual Status ScanEntries(uint64_t start, uint64_t end, size_t limit,
                             const std::function<Status(const LogEntryView&)>& visit) = 0;
  virtual Status ScanNodesAtLevel(uint32_t level, uint64_t from_index, size_t limit,
                                  const std::function<Status(uint64_t, const crypto::Digest32&)>& visit) = 0;
};

class Transaction {
 public:
  virtual ~Transaction() = default;
  virtual bool writable() const = 0;
  virtual DepartmentRepository& departments() = 0;
  virtual UserRepository& users() = 0;
  virtual SessionRepository& sessions() = 0;
  virtual RecordRepository& records() = 0;
  virtual VersionRepository& versions() = 0;
  virtual DocumentRepository& documents() = 0;
  virtual ExportRepository& exports() = 0;
  virtual LogRepository& log() = 0;
  // The content index's postings (storage/search_index.h).
  virtual SearchIndexRepository& search() = 0;
  // What the content pipeline learned of each file, and its queue
  // (storage/file_texts.h).
  virtual FileTextRepository& texts() = 0;
  // Data derived from files and cached (previews; storage/derived_cache.h).
  virtual DerivedCacheRepository& derived() = 0;
  // Every stored row of the authority tables (storage/row_image.h) as its
  // kLog image, table by table in key order, pages of 1,000 rows (memory
  // stays bounded). Rows are read as stored, without checking their
  // seals: verification compares what is there (storage/replay.h).
  // Stops at `visit`'s first error.
  virtual Status ForEachLogImage(const std::function<Status(const RowImage&)>& visit) = 0;
  // Checks the seal of every stored row of the authority tables named in
  // `tables` (all of them when empty; storage/row_seal.h), reading rows as
  // stored; calls `bad` with the kSeal image of each row whose seal fails.
  // Returns how many rows were checked. kInternal "no_row_sealer" if the
  // store was opened without the seal key.
  virtual StatusOr<uint64_t> CheckRowSeals(const std::vector<std::string>& tables,
                                           const std::function<void(const RowImage&)>& bad) = 0;
  // Recomputes the set seal (storage/row_set.h) of every authority table
  // named in `tables` (all of them when empty) from its keys and calls
  // `bad` with the table and what differs for each one whose stored
  // summary disagrees. Stores without set seals (the in-memory fakes) find
  // nothing. kInternal "no_row_sealer" if the store was opened without the
  // seal key.
  virtual Status CheckRowSets(const std::vector<std::string>& tables,
                              const std::function<void(const std::string& table, const std::string& what)>& bad) {
    (void)tables;
    (void)bad;
    return Status::Ok();
  }
};

// Signs checkpoints for the store. Implemented over crypto/signed_note.h by
// NoteCheckpointSigner (storage/keyring.h).
class CheckpointSigner {
 public:
  virtual ~CheckpointSigner() = default;
  // Returns the signed note for (size, root).
  virtual StatusOr<std::string> Sign(uint64_t size, const crypto::Digest32& root) = 0;
};

class MetadataStore {
 public:
  using TxFn = std::function<Status(Transaction&)>;
  virtual ~MetadataStore() = default;
  // Runs `fn` in a write transaction (see the file comment). Returns fn's
  // Status, or the commit's failure (then nothing of fn persisted).
  virtual Status Write(const TxFn& fn) = 0;
  // Runs `fn` on a consistent read-only snapshot; writes through it fail.
  // A row whose seal fails is never returned (storage/row_seal.h).
  virtual Status Read(const TxFn& fn) = 0;
  // As Read, but the repositories return rows as stored, seals unchecked:
  // for verification alone, which reports each bad seal as a finding
  // (storage/seal_check.h) and must read on past the row.
  virtual Status ReadUnchecked(const TxFn& fn) { return Read(fn); }
  // Makes committed deletions unrecoverable from the store's files: freed
  // space is already overwritten (secure delete); this also folds the
  // write-ahead log back into the database and truncates it, so no older
  // copy of a changed page stays on disk, and (SQLite) merges the full-text
  // index, whose segments would otherwise keep the tokens of emptied
  // values. Used after crypto-shredding and severing.
  virtual Status Scrub() = 0;
  // For caches of rows: a count that grows, before Write() returns, after
  // every write transaction of this store that changed a row of `table`
  // (committed or not). What a read transaction saw of `table` stays what
  // the store holds as long as ChangeCount(table) equals the value taken
  // before that read began. nullopt when the store cannot tell (the default,
  // the in-memory fakes, and PostgreSQL, where other nodes write too), and
  // for tables it does not watch: then nothing of `table` may be cached.
  virtual std::optional<uint64_t> ChangeCount(std::string_view table) const {
    (void)table;
    return std::nullopt;
  }
};

}  // namespace custos::storage
