// PostgresStore: the MetadataStore of a scale-out installation, where
// several custosd nodes share one PostgreSQL database (docs/operations.md,
// "Several nodes on PostgreSQL"), reached through libpq (storage/sql_util.h).
//
// One log across nodes: every write batch begins by taking a transaction
// advisory lock, so batches from all nodes commit one after another, each
// group-committing the writes queued on its node. Under the lock the batch
// compares the stored log size with its node's in-memory tail and reloads
// the tail when another node appended since; a failed batch always reloads.
// Archive numbers come from the same locked transactions (gap-free,
// unique). Reads run on REPEATABLE READ READ ONLY snapshots.
//
// Round trips: statements run in libpq's pipeline mode. A batch's writes
// are deferred (sql::Connection::SetDeferred) and travel with its next
// query; each write function's outcome is synced before its status is set,
// and COMMIT is waited for before any write is answered. A read
// transaction's closing ROLLBACK is not waited for: the connection's next
// BEGIN reads its answer.
//
// Durability is PostgreSQL's: a commit returns after its WAL is flushed
// (synchronous_commit must stay on; with a synchronous standby, after the
// standby has it too). A lost connection is reset on next use; a write
// whose COMMIT was cut off reports kUnavailable, its outcome unknown.
//
// Thread safety: all public methods may be called from any thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/group_commit.h"
#include "storage/metadata_store.h"
#include "storage/sql_repositories.h"

namespace custos::storage {

struct PostgresOptions {
  // A libpq connection string ("host=… port=… dbname=… user=…") or URI
  // ("postgresql://user@host:port/db").
  std::string dsn;
  int read_connections = 4;
  size_t max_batch = 512;  // write functions committed together at most
  // As SqliteOptions::sealer and seal_existing_rows (sealed under the
  // migration lock, so nodes starting together seal once).
  const RowSealer* sealer = nullptr;
  bool seal_existing_rows = false;
};

// The connection string in libpq's key=value form, from either form.
// kInvalidArgument "dsn_invalid" if it does not parse, or if a value holds a
// space or quote (which that form cannot carry through; use a service file
// or environment variables instead).
StatusOr<std::string> NormalizePostgresDsn(const std::string& dsn);

class PostgresStore final : public MetadataStore {
 public:
  // Connects and applies migrations (under a connection advisory lock, so
  // nodes starting together migrate once). `signer` as for SqliteStore:
  // null for a store only read. The signer must outlive the store.
  static StatusOr<std::unique_ptr<PostgresStore>> Open(const PostgresOptions& options,
                                                       CheckpointSigner* signer);
  ~PostgresStore() override;

  Status Write(const TxFn& fn) override;
  Status Read(const TxFn& fn) override;
  Status ReadUnchecked(const TxFn& fn) override;
  // VACUUM FULL of the files table: rewrites it without the dead row
  // versions that still held shredded keys. Older copies remain in WAL
  // archives and base backups until they expire (docs/operations.md).
  Status Scrub() override;

  int schema_version() const { return schema_version_; }

 private:
  PostgresStore(PostgresOptions options, CheckpointSigner* signer);
  Status Init();
  Status CommitBatch(const std::vector<GroupCommitQueue::Item*>& batch);
  Status ReadWith(const RowSealer* sealer, const TxFn& fn);
  StatusOr<std::unique_ptr<sql::Connection>> Connect();

  const PostgresOptions options_;
  CheckpointSigner* const signer_;
  int schema_version_ = 0;

  GroupCommitQueue writers_;
  std::unique_ptr<sql::Connection> writer_;  // used only by the batch leader
  std::unique_ptr<LogTail> tail_;                       // used only by the batch leader
  bool tail_valid_ = false;                             // used only by the batch leader

  ConnectionPool readers_;
};

}  // namespace custos::storage
