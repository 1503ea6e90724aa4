// SqliteStore: the MetadataStore of a single-node installation, one SQLite
// file in the data directory (connections: storage/sql_util.h).
//
// Durability: WAL journal, synchronous=FULL (every commit is fsynced before
// Write() returns; SqliteOptions::durable = false, for tests only, turns
// that off), foreign keys on, secure_delete on (deleted rows are
// overwritten, which matters after destruction). Schema migrations are
// numbered and applied at Open() inside one transaction each.
//
// Concurrency: one writer connection, used by whichever caller leads the
// current group-commit batch (leveldb's writer queue); `read_connections`
// reader connections for Read(), each on its own WAL snapshot.
//
// ChangeCount: the writer connection reports every row it changes
// (sql::Connection::WatchRowChanges); after each batch the counts of the
// tables it touched grow by one. The count is exact for this process, which
// is the only writer: custosd holds the data directory's lock exclusively
// on an SQLite archive (storage/data_dir.h). Tables WITHOUT ROWID and
// virtual tables are not watched (nullopt).
// Thread safety: all public methods may be called from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/group_commit.h"
#include "storage/metadata_store.h"
#include "storage/sql_repositories.h"

namespace custos::storage {

struct SqliteOptions {
  std::string path;          // database file, created 0600 if missing
  int read_connections = 4;
  size_t max_batch = 512;    // write functions committed together at most
  // For tests only: false turns fsync off (synchronous=OFF), so a commit
  // survives a crash of the process but not of the machine. Tests that
  // open a store per test stay fast this way; custosd never sets it.
  bool durable = true;
  // Seals every row the store writes and checks every row it reads
  // (storage/row_seal.h); null: neither (tools that open the database
  // without its keys). It must outlive the store.
  const RowSealer* sealer = nullptr;
  // At open, seal every existing row under `sealer` first
  // (SealExistingRows: an archive's first open with a seal key).
  bool seal_existing_rows = false;
};

class SqliteStore final : public MetadataStore {
 public:
  // Opens (creating if needed) the database and applies migrations.
  // `signer` signs a checkpoint after every batch that appended events; it
  // may be null for a store that is only read (verification), in which case
  // Write() fails with kInternal. The signer must outlive the store.
  static StatusOr<std::unique_ptr<SqliteStore>> Open(const SqliteOptions& options,
                                                     CheckpointSigner* signer);
  ~SqliteStore() override;

  Status Write(const TxFn& fn) override;
  Status Read(const TxFn& fn) override;
  Status ReadUnchecked(const TxFn& fn) override;
  Status Scrub() override;
  std::optional<uint64_t> ChangeCount(std::string_view table) const override;

  // The schema version after migrations.
  int schema_version() const { return schema_version_; }

 private:
  SqliteStore(SqliteOptions options, CheckpointSigner* signer);
  Status Init();
  Status CommitBatch(const std::vector<GroupCommitQueue::Item*>& batch);
  Status ReadWith(const RowSealer* sealer, const TxFn& fn);
  StatusOr<std::unique_ptr<sql::Connection>> Connect();
  // Watches the writer's row changes into change_counts_ (end of Init).
  Status WatchChanges();
  // Counts the tables changed since the last call once more.
  void PublishChanges();

  const SqliteOptions options_;
  CheckpointSigner* const signer_;
  int schema_version_ = 0;

  GroupCommitQueue writers_;
  std::unique_ptr<sql::Connection> writer_;  // used only by the batch leader
  std::unique_ptr<LogTail> tail_;                       // used only by the batch leader

  ConnectionPool readers_;

  // One count per watched table; the map is filled in Init and never
  // changes after, the counts are atomic (read by any thread).
  std::unordered_map<std::string, std::atomic<uint64_t>> change_counts_;
  // Counts of tables changed since PublishChanges; used only by the thread
  // holding the writer (batch leader, Scrub).
  std::vector<std::atomic<uint64_t>*> changed_;
};

}  // namespace custos::storage
