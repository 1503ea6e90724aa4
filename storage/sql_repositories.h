// Repositories over SQL with portable statements ($n placeholders, no
// dialect-specific syntax), shared by the SQLite and PostgreSQL stores.
// The schema they expect is created by the migrations of storage/schema.h,
// which each store applies when it opens.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <vector>

#include "crypto/merkle.h"
#include "storage/group_commit.h"
#include "storage/metadata_store.h"
#include "storage/row_image.h"
#include "storage/row_seal.h"
#include "storage/sql_util.h"

namespace custos::storage {

// The log's in-memory tail, owned by the writer: the compact range of the
// tree and the hash of the last leaf. Only the thread leading a write batch
// touches it.
struct LogTail {
  crypto::merkle::CompactRange range;
  std::optional<crypto::Digest32> last_leaf_hash;
};

// Loads the tail from the stored tree (O(log n) node reads).
StatusOr<LogTail> LoadLogTail(sql::Connection& connection);

// What differs between SQL engines, supplied by each store.
struct SqlDialect {
  // Full-text search over the catalogue, empty when the engine has none
  // (LIKE is used). `text_match_join` joins the index to `records` by
  // rowid (empty: the condition reads `records` itself);
  // `text_match_where` is the condition, "$?" standing for the parameter; `text_match_order` walks the matches newest first in the
  // index's own order, so a page of a common word's matches is read
  // without collecting and sorting all of them.
  std::string text_match_join;
  std::string text_match_where;
  std::string text_match_order;
  // Turns the user's search text into the parameter for that clause.
  std::function<std::string(const std::string&)> text_match_param;
  // Shorter texts fall back to LIKE (a trigram index needs three characters).
  size_t min_text_match_chars = 0;
  // The text value of the top-level member `key` of records.metadata_json
  // (NULL when absent); `key` is one of domain::IsMetadataSortKey.
  std::function<std::string(const std::string& key)> metadata_value;
  // SQLite: log_leaves and log_nodes are rowid tables filled in log order,
  // so LogRepository::ScanEntries reads them in rowid order (checking that
  // order row by row) rather than seeking each row through its key.
  bool log_rowid_order = false;
  // Where the postings match intersects a query's tokens
  // (storage/sql_search_match.h): SQLite in the client, where reading a row
  // is a function call; PostgreSQL in the server, in one statement.
  bool match_postings_in_client = false;
};

// `s` escaped for LIKE … ESCAPE '!'.
std::string EscapeLike(const std::string& s);

// A Transaction over SQL. Log appends are buffered and written as
// multi-row INSERTs — a few statements per hundreds of events instead of
// about three per event, which is most of an append's cost. The log's own
// reads flush first, so a write function sees its appends; the store calls
// Flush() when a write function returns, before releasing its savepoint,
// and Discard() when it rolls one back.
//
// Row images (docs/formats/audit-log.md "State images"): the newest
// appended event stays open until the next Append, a read of the log or
// the end of the function, and takes the images row_changes() collected
// meanwhile as details.rows; so a function's images ride on its last event
// (or on the event in effect when the row was written, if it appended
// several or read the log in between). Images left when the function
// returns, and those beyond what one leaf holds, go on state.rows events
// (storage/replay.h). An event that cannot be encoded therefore fails the
// write function when it closes, not at its Append.
class SqlTransaction : public Transaction {
 public:
  // The end of a write function: closes the open event, logs leftover
  // images, writes the buffered leaves and nodes.
  virtual Status Flush() = 0;
  // Forgets the buffered appends and the row changes (the function rolled
  // back).
  virtual void Discard() = 0;
  // The kLog images of the rows the repositories of this transaction wrote
  // (inserts and updates that change a row's kLog image; a DeletedImage per
  // deleted row), in the order written; the log takes them for the events
  // of the same write function. Empty in a read-only transaction.
  virtual RowChanges& row_changes() = 0;
};

// The hashes of the log tree's upper nodes (level >= kMinLevel), kept in
// memory for the inclusion and consistency proofs of a store's read
// transactions, so that a proof at 10 million entries reads 8 nodes from
// the database instead of about 24. A stored node is the root of a
// complete subtree, which never changes in an append-only log once
// committed; only read-only transactions (which see committed rows only)
// fill the cache, and a proof asks only for nodes below the size its own
// transaction sees (on PostgreSQL with several nodes too). RootAt, and so
// re-verification, never reads it. Bounded: level L keeps at most
// kSlotBudget >> (L - kMinLevel + 1) nodes (at least one), the first
// 2^24 leaves' worth up to level 24, 4 MiB of hashes in all. Thread safety:
// all methods may be called from any thread.
class LogNodeCache {
 public:
  static constexpr uint32_t kMinLevel = 8;
  static constexpr uint64_t kSlotBudget = uint64_t{1} << 17;

  // Whether `id` is one the cache may keep.
  static bool Holds(const crypto::merkle::NodeId& id) {
    return id.level >= kMinLevel && id.level < 64 && id.index < SlotsAt(id.level);
  }
  // For each ids[k] held, sets out[k] and found[k] (sizes as ids).
  void Get(const std::vector<crypto::merkle::NodeId>& ids, std::vector<crypto::Digest32>& out,
           std::vector<bool>& found) const;
  // Keeps each node that Holds(); ignores the others.
  void Put(const std::vector<std::pair<crypto::merkle::NodeId, crypto::Digest32>>& nodes);
  // How many nodes are kept.
  size_t size() const;

 private:
  static uint64_t SlotsAt(uint32_t level) {
    const uint32_t shift = level - kMinLevel + 1;
    return shift >= 17 ? 1 : kSlotBudget >> shift;
  }
  struct Level {
    std::vector<crypto::Digest32> hash;
    std::vector<bool> held;
  };
  mutable std::shared_mutex mu_;
  std::vector<Level> levels_;  // GUARDED_BY(mu_); [L - kMinLevel]
  size_t count_ = 0;           // GUARDED_BY(mu_)
};

// A SqlTransaction over `connection`, which must already be inside a database
// transaction. `tail` is non-null for write transactions (appends update
// it) and null for read-only ones. `sealer` seals every row the
// repositories write and checks every row they read (storage/row_seal.h);
// null, rows are written with an empty mac and read unchecked (tools that
// open a store without its keys: backup, promote, copies). `node_cache`,
// if set, serves and keeps the upper nodes of the log's proofs; it is used
// only when `tail` is null (a read-only transaction).
std::unique_ptr<SqlTransaction> MakeSqlTransaction(sql::Connection& connection, LogTail* tail,
                                                   const SqlDialect& dialect, const RowSealer* sealer,
                                                   LogNodeCache* node_cache = nullptr);

// Checks the seal of every stored row of the authority tables named in
// `tables` (all of them when empty), reading rows as stored; calls `bad`
// with the kSeal image of each row whose seal fails. Returns how many rows
// were checked.
StatusOr<uint64_t> CheckStoredSeals(sql::Connection& connection, const RowSealer& sealer,
                                    const std::vector<std::string>& tables,
                                    const std::function<void(const RowImage&)>& bad);

// Seals every row of the authority tables under `sealer`, in one
// transaction that `begin` starts ("BEGIN IMMEDIATE", "BEGIN"): the first
// open of an archive made before row seals (trust on upgrade,
// docs/security.md "Row seals"). Rows already sealed under `sealer` are
// resealed alike (an interrupted first open runs again). kDataLoss
// "row_seal_key_missing", and nothing changed, if a row carries a seal that
// `sealer` did not make. The set seals are computed in the same
// transaction (SealRowSets, storage/row_set.h).
Status SealExistingRows(sql::Connection& connection, const RowSealer& sealer, const char* begin);

// Stores a signed checkpoint row (inside the write batch's transaction).
Status InsertCheckpoint(sql::Connection& connection, const StoredCheckpoint& cp);

// The body of Read() in the SQL stores: runs `fn` on a read-only
// SqlTransaction over `connection`, which the caller has begun, and ends the
// transaction with ROLLBACK whatever `fn` tried.
Status RunReadFunction(sql::Connection& connection, const SqlDialect& dialect, const RowSealer* sealer,
                       const MetadataStore::TxFn& fn, LogNodeCache* node_cache = nullptr);

// The read connections of a SQL store. Thread safety: all methods may be
// called from any thread; With() waits while every connection is in use.
class ConnectionPool {
 public:
  ConnectionPool() = default;
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  void Add(std::unique_ptr<sql::Connection> connection);
  // Runs `fn` on a connection of the pool, which is its alone meanwhile.
  Status With(const std::function<Status(sql::Connection&)>& fn);
  // The proofs' node cache shared by the read transactions on these
  // connections (one database).
  LogNodeCache& node_cache() { return node_cache_; }

 private:
  LogNodeCache node_cache_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<sql::Connection>> idle_;  // GUARDED_BY(mu_)
};

// The body of a group-commit batch, shared by the SQL stores: runs each
// function in its own savepoint inside the transaction `connection` is in
// (setting its item's status once the connection has synced what it
// deferred, sql::Connection::SetDeferred; a failing function is rolled
// back alone, `tail` with it), then, if the log grew, signs a checkpoint for the new
// size and stores it. Returns a failure that must roll back the whole
// transaction. The caller begins and commits the transaction.
Status RunWriteBatch(sql::Connection& connection, LogTail& tail, const SqlDialect& dialect,
                     const RowSealer* sealer, CheckpointSigner& signer,
                     const std::vector<GroupCommitQueue::Item*>& batch);

}  // namespace custos::storage
