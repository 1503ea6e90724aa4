#include "storage/postgres_store.h"

#include <libpq-fe.h>

#include "storage/row_set.h"
#include "storage/schema.h"
#include "storage/sql_repositories.h"
#include "storage/sql_util.h"

namespace custos::storage {

namespace {

// Advisory lock keys (any 64-bit numbers other applications of the
// database do not use): "custos" + 'L' for the log, 'M' for migrations.
constexpr const char* kLockLog = "SELECT pg_advisory_xact_lock(109342161580108)";
constexpr const char* kLockMigrations = "SELECT pg_advisory_lock(109342161580109)";
constexpr const char* kUnlockMigrations = "SELECT pg_advisory_unlock(109342161580109)";

// Catalogue text search of three characters or more folds case in every
// script, as SQLite's trigram index does (final sigma included); shorter
// texts take the common LIKE path. Both scan the catalogue (no index).
const SqlDialect& PostgresDialect() {
  // Never destroyed: a background thread may still query while the process
  // exits.
  static const SqlDialect* const d = new SqlDialect{
      "",
      "(lower(translate(records.title, 'ς', 'σ')) LIKE lower(translate($?, 'ς', 'σ')) ESCAPE '!' OR "
      "lower(translate(records.description, 'ς', 'σ')) LIKE lower(translate($?, 'ς', 'σ')) ESCAPE '!' OR "
      "lower(translate(records.metadata_json, 'ς', 'σ')) LIKE lower(translate($?, 'ς', 'σ')) ESCAPE '!')",
      "records.created_at DESC, records.id DESC",
      [](const std::string& text) { return "%" + EscapeLike(text) + "%"; },
      3,
      [](const std::string& key) { return "(records.metadata_json::jsonb ->> '" + key + "')"; }};
  return *d;
}

// Begins a transaction. A connection the server dropped while it sat idle
// (a restart, a failover, an idle timeout) is only noticed when used: then
// nothing has happened yet, so reconnect and begin once more.
Status Begin(sql::Connection& s, const char* begin) {
  CUSTOS_RETURN_IF_ERROR(s.EnsureConnected());
  Status st = sql::Exec(s, begin);
  if (st.ok() || st.reason() != "database_unavailable") return st;
  CUSTOS_RETURN_IF_ERROR(s.EnsureConnected());
  return sql::Exec(s, begin);
}

}  // namespace

StatusOr<std::string> NormalizePostgresDsn(const std::string& dsn) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
  if (options == nullptr) {
    std::string text = sql::OneLine(error ? error : "out of memory");
    PQfreemem(error);
    return InvalidArgument("the PostgreSQL connection string does not parse: " + text, "dsn_invalid");
  }
  std::string out;
  Status st;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr || *o->val == '\0') continue;
    std::string value = o->val;
    if (value.find_first_of(" \t'\"\\") != std::string::npos) {
      st = InvalidArgument(std::string("the PostgreSQL connection parameter ") + o->keyword +
                               " holds a space or quote, which cannot be passed on; set it in a "
                               "service file or the environment instead",
                           "dsn_invalid");
      break;
    }
    out += (out.empty() ? "" : " ") + std::string(o->keyword) + "=" + value;
  }
  PQconninfoFree(options);
  if (!st.ok()) return st;
  return out;
}

PostgresStore::PostgresStore(PostgresOptions options, CheckpointSigner* signer)
    : options_(std::move(options)),
      signer_(signer),
      writers_(options_.max_batch, [this](const auto& batch) { return CommitBatch(batch); }) {}

PostgresStore::~PostgresStore() = default;

StatusOr<std::unique_ptr<PostgresStore>> PostgresStore::Open(const PostgresOptions& options,
                                                             CheckpointSigner* signer) {
  std::unique_ptr<PostgresStore> store(new PostgresStore(options, signer));
  CUSTOS_RETURN_IF_ERROR(store->Init());
  return store;
}

StatusOr<std::unique_ptr<sql::Connection>> PostgresStore::Connect() {
  CUSTOS_ASSIGN_OR_RETURN(std::string dsn, NormalizePostgresDsn(options_.dsn));
  return sql::OpenPostgres(dsn);
}

Status PostgresStore::Init() {
  CUSTOS_ASSIGN_OR_RETURN(writer_, Connect());
  sql::Connection& s = *writer_;
  CUSTOS_RETURN_IF_ERROR(sql::Exec(s, "SET client_min_messages = warning"));
  CUSTOS_RETURN_IF_ERROR(sql::Query(s, kLockMigrations).status());
  Status st = [&]() -> Status {
    int from_version = 0;
    CUSTOS_ASSIGN_OR_RETURN(schema_version_, ApplyMigrations(s, SqlEngine::kPostgres, &from_version));
    if (options_.seal_existing_rows && options_.sealer != nullptr) {
      CUSTOS_RETURN_IF_ERROR(SealExistingRows(s, *options_.sealer, "BEGIN"));
    } else if (options_.sealer != nullptr) {
      CUSTOS_RETURN_IF_ERROR(SealNewRowSets(s, *options_.sealer, "BEGIN", from_version < kRowSetsMigration));
    }
    return Status::Ok();
  }();
  (void)sql::Query(s, kUnlockMigrations);
  CUSTOS_RETURN_IF_ERROR(st);
  CUSTOS_ASSIGN_OR_RETURN(LogTail tail, LoadLogTail(s));
  tail_ = std::make_unique<LogTail>(std::move(tail));
  tail_valid_ = true;
  for (int i = 0; i < options_.read_connections; ++i) {
    CUSTOS_ASSIGN_OR_RETURN(auto reader, Connect());
    readers_.Add(std::move(reader));
  }
  return Status::Ok();
}

Status PostgresStore::Write(const TxFn& fn) { return writers_.Write(fn); }

Status PostgresStore::Scrub() {
  return writers_.Exclusive([this]() -> Status {
    CUSTOS_RETURN_IF_ERROR(writer_->EnsureConnected());
    return sql::Exec(*writer_, "VACUUM FULL files, exports, records, record_changes");
  });
}

Status PostgresStore::CommitBatch(const std::vector<GroupCommitQueue::Item*>& batch) {
  if (signer_ == nullptr) return Internal("store opened without a checkpoint signer");
  sql::Connection& s = *writer_;
  // The batch's writes are pipelined (sql::Connection::SetDeferred): they
  // go to the server with the next query that needs an answer, and each
  // function's outcome is known before its item's status is set
  // (RunWriteBatch syncs at its savepoint's release). BEGIN, the lock and
  // the log size travel in one round trip, the checkpoint with COMMIT in
  // another, which is waited for before anyone is answered.
  s.SetDeferred(true);
  Status st = [&]() -> Status {
    // Batches of all nodes take turns here; what earlier turns committed is
    // visible to every statement after the lock (READ COMMITTED).
    const char* kSize = "SELECT COALESCE(MAX(seq) + 1, 0) FROM log_leaves";
    auto begin = [&]() -> StatusOr<sql::Rows> {
      CUSTOS_RETURN_IF_ERROR(s.EnsureConnected());
      CUSTOS_RETURN_IF_ERROR(sql::Exec(s, "BEGIN"));
      CUSTOS_RETURN_IF_ERROR(sql::Exec(s, kLockLog));
      return sql::Query(s, kSize);
    };
    StatusOr<sql::Rows> r = begin();
    // A connection the server dropped while it sat idle is only noticed
    // when used: then nothing has happened yet, so begin once more.
    if (!r.ok() && r.status().reason() == "database_unavailable") r = begin();
    CUSTOS_RETURN_IF_ERROR(r.status());
    if (!tail_valid_ || static_cast<uint64_t>(r->Int(0, 0)) != tail_->range.size()) {
      CUSTOS_ASSIGN_OR_RETURN(*tail_, LoadLogTail(s));
      tail_valid_ = true;
    }
    CUSTOS_RETURN_IF_ERROR(RunWriteBatch(s, *tail_, PostgresDialect(), options_.sealer, *signer_, batch));
    CUSTOS_RETURN_IF_ERROR(sql::Exec(s, "COMMIT"));
    return s.Sync();
  }();
  if (!st.ok()) {
    // The tail may hold leaves that never committed (or, if COMMIT was cut
    // off, that did): the next batch reloads it under the lock.
    tail_valid_ = false;
    (void)sql::Exec(s, "ROLLBACK");
    (void)s.Sync();
  }
  s.SetDeferred(false);
  return st;
}

Status PostgresStore::Read(const TxFn& fn) { return ReadWith(options_.sealer, fn); }

Status PostgresStore::ReadUnchecked(const TxFn& fn) { return ReadWith(nullptr, fn); }

Status PostgresStore::ReadWith(const RowSealer* sealer, const TxFn& fn) {
  return readers_.With([&](sql::Connection& s) -> Status {
    CUSTOS_RETURN_IF_ERROR(Begin(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
    // The closing ROLLBACK is sent without waiting for its answer, which
    // the next use of the connection reads with its BEGIN (and a lost
    // connection makes that BEGIN reconnect, as above). Statements of `fn`
    // itself are not deferred.
    // The proofs' upper nodes come from the pool's LogNodeCache, as on
    // SQLite: a stored node of level 8 or more is the root of a complete
    // subtree, which no node of a shared database changes once committed.
    Status st = RunReadFunction(
        s, PostgresDialect(), sealer,
        [&](Transaction& tx) {
          Status result = fn(tx);
          s.SetDeferred(true);
          return result;
        },
        &readers_.node_cache());
    s.SetDeferred(false);
    return st;
  });
}

}  // namespace custos::storage
