// MemoryStore: the in-memory MetadataStore fake for service unit tests
// (STYLE §4). For tests only: nothing is durable, and a Write() costs
// O(size of the tables it changes), because it works on copies of them.
//
// Behaves like SqliteStore (storage/sqlite_store.h); the contract suite
// tests/storage/store_contract_test.cc runs the same tests against both.
//   * Failures and reasons are SqliteStore's: department_exists,
//     user_exists, user_not_found, record_exists, record_not_found (also
//     for a version of a missing record), version_exists, file_not_found,
//     no_checkpoint, proof_bad_sizes (a tree size beyond the log), the
//     crypto/merkle.h proof reasons, the storage/log_leaf.h EncodeLeaf
//     reasons, and kInternal "database_error" where SQLite reports a broken
//     constraint: a session for an unknown user, a duplicate session token,
//     file id or blob id. Touching or deleting a missing session is OK.
//   * Times come back as SQLite keeps them: rounded down to the millisecond
//     (through FormatTime/ParseTime).
//   * User::Update never changes created_at; Record::Update never changes
//     created_at or created_by. Files take record_id and version from the
//     version they are inserted with and come back in insertion order;
//     versions by number. ForEach and ForEachFile visit in id order
//     (byte-wise) and stop at the first error.
//   * Search(): `text` matches a substring of the archive number, title,
//     description or metadata_json, case-insensitively: the archive number
//     in ASCII case only (SQLite's LIKE); the other fields, for a text of
//     three or more characters, in Unicode case folding (SQLite's trigram
//     index; approximated with towlower_l in the C.UTF-8 locale plus the
//     few extra folds of CaseFolding.txt), for a shorter text in ASCII case
//     only (LIKE). '%', '_' and '!' are ordinary characters. The filters
//     type, department, classification, state, created_from/created_to
//     (inclusive, compared as FormatTime text), expiring_by (against the
//     validUntil/endDate date in metadata_json) and allowed_classifications
//     combine with AND; expiring_within_days is ignored (services turn it
//     into expiring_by). Results come created_at DESC then id DESC; `total`
//     counts every match; page < 1 means 1 and page_size is clamped to
//     1..500.
//   * Documents: List() filters as SQL does (times compared as FormatTime
//     text) and returns id order; Insert/Update/NextNumber as SqliteStore's
//     (document_exists, document_not_found; NextNumber shares the counters
//     of NextSequence).
//   * Exports: as SqliteStore's (export_exists, export_not_found; a second
//     export with the same blob id or a record named twice is kInternal
//     "database_error"); records come back sorted by id, lists in id order.
//   * NextSequence counts per (Prefix(type), year) from 1; a failed Write()
//     gives the numbers it took back.
//   * The log: Append builds leaves with EncodeLeaf, and the store keeps
//     every perfect node of the tree (what SQLite's log_nodes holds, so
//     NodesAtLevel answers alike; a missing node is kDataLoss
//     "log_node_missing"). Entries() clamps `end` to the size. After each
//     Write() that appended, one checkpoint for the new size is signed with
//     the CheckpointSigner; it is not visible inside that Write().
// Differences a service test should not rely on: no group commit (each
// Write() is its own transaction and gets its own checkpoint, where SQLite
// may sign one for several concurrent writes); Read() and Write() are
// serialised on one mutex; calling Write() or Read() from inside a store
// function fails with kInternal "store_reentered" (SqliteStore may
// deadlock). Where SqliteStore does not yet keep the MetadataStore contract
// (see the k-Sqlite flags in the contract suite), this fake keeps it.
//
// All-or-nothing: Write() runs `fn` on a copy of the tables (copy on write
// per table: tables that `fn` only reads are shared, not copied) and on the
// live log. Only if `fn` returns OK, no FailNextCommit() is pending and the
// checkpoint is signed does the copy replace the tables; otherwise the log
// is truncated back to its size before the call and nothing of `fn`
// remains. The Status returned is fn's, the injected one, or the signer's.
// An exception escaping `fn` becomes kInternal (as in SqliteStore).
//
// Read() runs `fn` on the committed state through a Transaction whose
// writable() is false and whose every write method (Insert, Update, Touch,
// Delete, DeleteForUser, NextSequence, SetFileKey, log().Append) fails with
// kInternal and changes nothing.
//
// Thread safety: Write(), Read() and the test hooks may be called from any
// thread; the state is guarded by one mutex.
#pragma once

#include <locale.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "storage/metadata_store.h"

namespace custos::storage {

namespace memory_store_detail {
struct Tables;
struct Log;
}  // namespace memory_store_detail

class MemoryStore final : public MetadataStore {
 public:
  // `signer` signs a checkpoint after every Write() that appended events; it
  // must outlive the store. It should be non-null; with a null signer every
  // Write() fails with kInternal, as SqliteStore's does.
  explicit MemoryStore(CheckpointSigner* signer);
  ~MemoryStore() override;
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  // See the file comment and MetadataStore.
  Status Write(const TxFn& fn) override;
  Status Read(const TxFn& fn) override;
  // Nothing is on disk: OK.
  Status Scrub() override { return Status::Ok(); }

  // ---- Test hooks ----

  // The next Write() to start (one shot) fails with `status` after its
  // function returned OK, and changes nothing — e.g.
  // ResourceExhausted(…, "storage_full") to test how a service handles a
  // full disk. If that function fails by itself, its own Status is returned
  // and the injected one is dropped all the same. An OK `status` is turned
  // into kInternal. May be called from anywhere, also inside a store
  // function (it then applies to the following Write()).
  void FailNextCommit(Status status);
  // Number of Write() calls that committed so far. May be called from
  // anywhere, also inside a store function.
  uint64_t commits() const;

 private:
  // Returns kInternal "store_reentered" if the calling thread holds mu_.
  Status CheckNotReentered() const;
  Status CommitLocked(const TxFn& fn);
  std::optional<Status> TakeInjectedFailure();

  CheckpointSigner* const signer_;
  // C.UTF-8, for case-insensitive search beyond ASCII; null if unavailable.
  // Immutable after construction.
  const locale_t text_locale_;
  mutable std::mutex mu_;
  std::atomic<std::thread::id> owner_{};   // thread holding mu_ in Write/Read
  std::unique_ptr<memory_store_detail::Tables> tables_;  // GUARDED_BY(mu_)
  std::unique_ptr<memory_store_detail::Log> log_;        // GUARDED_BY(mu_)
  std::atomic<uint64_t> commits_{0};      // written under mu_
  mutable std::mutex hook_mu_;            // never held while taking mu_
  std::optional<Status> fail_next_;       // GUARDED_BY(hook_mu_)
};

}  // namespace custos::storage
