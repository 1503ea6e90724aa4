// The blob store: where the encrypted content of stored files lives, one
// immutable blob per file version, and that of stored audit packages (API
// exports), one blob each (DESIGN §6, §7). The layout on disk, the
// temp/commit protocol and the fsync order are in docs/formats/blob-store.md.
//
// A blob is written once through a BlobWriter and becomes visible only when
// the writer commits; a writer that is destroyed without committing leaves
// nothing behind. Commit() returns only after the blob's bytes and its
// directory entry are durable, so the database commit that references a blob
// may follow it safely (DESIGN §7: "blob fsynced before the database commit
// that references it").
//
// Blob ids are 16 random bytes written as 32 lower-case hex characters
// (kBlobIdHexLength). Every method that takes an id checks it strictly
// (IsValidBlobId) before touching the file system, so no id can name a path
// outside the store.
//
// Two implementations: FileBlobStore (a directory, e.g. DATA/blobs) and
// MemoryBlobStore (tests/testutil/memory_blob_store.h, the test-only fake).
// Both report the same failures with the same reasons (below).
#pragma once

#include <atomic>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/byte_stream.h"
#include "domain/model.h"

namespace custos::storage {

// ---- Identifiers and layout constants (docs/formats/blob-store.md) ----

inline constexpr size_t kBlobIdBytes = 16;                    // random bytes per id
inline constexpr size_t kBlobIdHexLength = 2 * kBlobIdBytes;  // 32 lower-hex characters
// Committed blobs live in ROOT/<first kBlobFanOutChars of the id>/<id>.
inline constexpr size_t kBlobFanOutChars = 2;
// Blobs being written live in ROOT/kBlobTempDirName/<id>kBlobTempSuffix.
inline constexpr std::string_view kBlobTempDirName = "tmp";
inline constexpr std::string_view kBlobTempSuffix = ".part";
inline constexpr unsigned kBlobFileMode = 0600;
inline constexpr unsigned kBlobDirMode = 0700;
// FileBlobStore hands the kernel writes and reads of this size (or larger).
inline constexpr size_t kBlobIoBufferSize = 256 * 1024;
// FileBlobStore asks the kernel to start writing a blob out after every
// this many bytes (sync_file_range), so that the fsync at commit has the
// last piece left to wait for, not the whole blob.
inline constexpr uint64_t kBlobWritebackStep = 1024 * 1024;

// ---- Stable failure reasons (Status::reason()) ----

// kInvalidArgument: the id is not 32 lower-case hex characters.
inline constexpr std::string_view kBlobInvalidId = "invalid_blob_id";
// kNotFound: no committed blob has this id.
inline constexpr std::string_view kBlobNotFound = "blob_not_found";
// kResourceExhausted: the disk or quota is full, or the file size limit
// (RLIMIT_FSIZE) was reached (ENOSPC, EDQUOT, EFBIG).
inline constexpr std::string_view kStorageFull = "storage_full";
// kConflict: Write() or Commit() after a successful Commit().
inline constexpr std::string_view kBlobWriterCommitted = "blob_writer_committed";
// kConflict: SweepOrphans() while writers of this store are open.
inline constexpr std::string_view kBlobWritersActive = "blob_writers_active";
// kInvalidArgument: FileBlobStore's directory is missing or not a directory.
inline constexpr std::string_view kBlobDirMissing = "blob_dir_missing";
// kInternal: any other operating-system failure (the message names the call,
// the path and errno's text).
inline constexpr std::string_view kBlobIo = "blob_io";

// True iff `id` is exactly kBlobIdHexLength characters from [0-9a-f].
bool IsValidBlobId(std::string_view id);
// OK, or kInvalidArgument with kBlobInvalidId.
Status ValidateBlobId(const domain::BlobId& id);
// A fresh random id (kBlobIdBytes from the system CSPRNG). Fails only if the
// CSPRNG is unavailable.
StatusOr<domain::BlobId> NewBlobId();

// ---- Interfaces ----

// Writes one new blob. Write() may be called any number of times, then
// Commit() once. Destroying a writer that has not committed aborts the blob:
// its bytes are discarded and nothing of it remains in the store.
//
// After a failed Write() or Commit() the writer is broken: the partial blob
// has already been discarded and every later call returns the same error.
//
// Thread safety: one thread at a time per writer; distinct writers of one
// store may be used from distinct threads. A writer must not outlive the
// store that created it.
class BlobWriter : public ByteSink {
 public:
  ~BlobWriter() override;

  // The id the blob will have once committed.
  virtual const domain::BlobId& id() const = 0;
  // Bytes accepted by Write() so far.
  virtual uint64_t size() const = 0;

  // Appends `n` bytes. Failures: kStorageFull, kBlobIo, kBlobWriterCommitted.
  Status Write(const uint8_t* p, size_t n) override = 0;

  // Makes the blob durable and visible under id(). Failures: kStorageFull,
  // kBlobIo (the blob is discarded), kBlobWriterCommitted when called twice.
  [[nodiscard]] virtual Status Commit() = 0;
};

// A store of immutable blobs.
//
// Thread safety: implementations are safe for concurrent use by any number
// of threads (distinct writers, concurrent reads, deletes of distinct ids).
// Objects returned (writers, sources) follow their own rules above / in
// common/byte_stream.h and must not outlive the store.
class BlobStore {
 public:
  virtual ~BlobStore();

  // Starts a new blob with a fresh random id. Failures: kStorageFull (e.g.
  // no inode left for the temp file), kBlobIo.
  virtual StatusOr<std::unique_ptr<BlobWriter>> Create() = 0;

  // A stream over the committed blob `id`, read from the start. Failures:
  // kBlobInvalidId, kBlobNotFound, kBlobIo (also from Read()). A blob deleted
  // while a source is open stays readable through that source.
  virtual StatusOr<std::unique_ptr<ByteSource>> Open(const domain::BlobId& id) = 0;

  // The committed blob's length in bytes. kBlobInvalidId, kBlobNotFound.
  virtual StatusOr<uint64_t> Size(const domain::BlobId& id) = 0;

  // Removes a committed blob durably. kBlobInvalidId, kBlobNotFound (also
  // when it was deleted before), kBlobIo.
  virtual Status Delete(const domain::BlobId& id) = 0;

  // Ids of all committed blobs, sorted ascending. kBlobIo.
  virtual StatusOr<std::vector<domain::BlobId>> List() = 0;

  // Start-up cleanup: removes every committed blob for which
  // `is_referenced(id)` is false, and every leftover temp file of a writer
  // that never committed (e.g. before a crash). Returns how many files were
  // removed in total, for the caller to log. Run it only while nothing else
  // writes to the store (a blob committed but not yet referenced by a
  // database commit would be removed): it fails with kBlobWritersActive if
  // this store has writers open. Other failures: kBlobIo; `is_referenced`
  // must not call back into the store.
  virtual StatusOr<uint64_t> SweepOrphans(
      const std::function<bool(const domain::BlobId&)>& is_referenced) = 0;
};

// ---- Directory implementation ----

// A BlobStore over a directory (layout in docs/formats/blob-store.md):
//
//   ROOT/            0700  (must exist)
//     tmp/           0700  blobs being written: <id>.part, 0600
//     ab/            0700  committed blobs whose id starts with "ab"
//       ab12…ef      0600
//
// Writes reach the kernel in pieces of kBlobIoBufferSize; Commit() is
// fsync(file), close, [mkdir fan-out dir, fsync ROOT — once per fan-out dir],
// rename(tmp → fan-out dir, never replacing), fsync(fan-out dir).
//
// Disk full: ENOSPC, EDQUOT and EFBIG become kStorageFull and the temp file is
// removed. EFBIG is only reported if the process ignores SIGXFSZ (otherwise
// the kernel kills it when RLIMIT_FSIZE is exceeded): the program's main()
// must call signal(SIGXFSZ, SIG_IGN) before opening a store.
//
// Thread safety: safe for concurrent use (see BlobStore). Several processes
// may read one directory; only one process should write to it.
class FileBlobStore final : public BlobStore {
 public:
  // Opens the store in `root`, which must exist and be a directory (else
  // kBlobDirMissing). Creates ROOT/tmp (0700) if missing and fsyncs ROOT
  // once, so that the fan-out directories already present are durable.
  // Failures also: kBlobIo, kStorageFull.
  static StatusOr<std::unique_ptr<FileBlobStore>> OpenDirectory(std::string root);

  ~FileBlobStore() override;
  FileBlobStore(const FileBlobStore&) = delete;
  FileBlobStore& operator=(const FileBlobStore&) = delete;

  StatusOr<std::unique_ptr<BlobWriter>> Create() override;
  StatusOr<std::unique_ptr<ByteSource>> Open(const domain::BlobId& id) override;
  StatusOr<uint64_t> Size(const domain::BlobId& id) override;
  Status Delete(const domain::BlobId& id) override;
  StatusOr<std::vector<domain::BlobId>> List() override;
  StatusOr<uint64_t> SweepOrphans(const std::function<bool(const domain::BlobId&)>& is_referenced) override;
  // SweepOrphans for a folder that other processes write to (several
  // custosd nodes on a shared folder): leaves every file modified less than
  // `min_age` ago, which may be another node's blob in flight. Ignores this
  // store's own open writers for the same reason.
  StatusOr<uint64_t> SweepOrphansOlderThan(const std::function<bool(const domain::BlobId&)>& is_referenced,
                                           std::chrono::seconds min_age);

  const std::string& root() const { return root_; }
  // Where the committed blob `id` lives (or would live): ROOT/ab/ab…; for
  // tools and tests. `id` must be valid (not checked here).
  std::string BlobPath(const domain::BlobId& id) const;
  // ROOT/tmp.
  std::string TempDir() const { return root_ + "/" + std::string(kBlobTempDirName); }

 private:
  class Writer;
  explicit FileBlobStore(std::string root) : root_(std::move(root)) {}

  std::string FanOutDir(std::string_view prefix) const;
  // Creates the fan-out directory for `prefix` if needed and makes its entry
  // in ROOT durable; after the first success per prefix this is a no-op.
  Status EnsureFanOutDurable(std::string_view prefix);
  Status RemoveTempFiles(uint64_t* removed, std::chrono::seconds min_age);
  StatusOr<uint64_t> Sweep(const std::function<bool(const domain::BlobId&)>& is_referenced,
                           std::chrono::seconds min_age);

  const std::string root_;  // immutable
  std::mutex fan_out_mu_;
  // Fan-out directories known to exist with a durable entry in ROOT, indexed
  // by the prefix's value (0x00..0xff).
  std::bitset<256> fan_out_durable_;  // GUARDED_BY(fan_out_mu_)
  std::atomic<int> open_writers_{0};  // writers created and not yet destroyed
};

}  // namespace custos::storage
