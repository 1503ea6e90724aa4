#include "storage/sqlite_store.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Session.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>

#include "storage/sql_repositories.h"
#include "storage/sql_util.h"

namespace custos::storage {

namespace {

std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size()) {
    s.replace(at, from.size(), to);
  }
  return s;
}

// Numbered schema migrations. Never edit a released one: add the next.
const std::vector<std::vector<std::string>>& Migrations() {
  static const std::vector<std::vector<std::string>> m = {
      // 1: people, catalogue, versions, files, audit log.
      {
          "CREATE TABLE departments (name TEXT PRIMARY KEY, created_at TEXT NOT NULL)",
          "CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, "
          "role TEXT NOT NULL, department TEXT NOT NULL, must_change_password BIGINT NOT NULL, "
          "password_changed_at TEXT NOT NULL, failed_logins BIGINT NOT NULL, "
          "locked_until TEXT NOT NULL, disabled BIGINT NOT NULL, created_at TEXT NOT NULL)",
          "CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, "
          "username TEXT NOT NULL REFERENCES users(username), created_at TEXT NOT NULL, "
          "last_seen_at TEXT NOT NULL, expires_at TEXT NOT NULL)",
          "CREATE INDEX sessions_by_user ON sessions(username)",
          "CREATE TABLE archive_sequences (prefix TEXT NOT NULL, year BIGINT NOT NULL, "
          "last BIGINT NOT NULL, PRIMARY KEY (prefix, year))",
          "CREATE TABLE records (id TEXT PRIMARY KEY, type TEXT NOT NULL, title TEXT NOT NULL, "
          "description TEXT NOT NULL, department TEXT NOT NULL, classification TEXT NOT NULL, "
          "custodian TEXT NOT NULL, location TEXT NOT NULL, metadata_json TEXT NOT NULL, "
          "retention_class TEXT NOT NULL, state TEXT NOT NULL, created_at TEXT NOT NULL, "
          "created_by TEXT NOT NULL, updated_at TEXT NOT NULL, expires_on TEXT NOT NULL)",
          "CREATE INDEX records_by_created ON records(created_at)",
          "CREATE INDEX records_by_expiry ON records(expires_on)",
          // Full text over the catalogue: trigram tokens match any substring
          // of three or more characters, Chinese included.
          "CREATE VIRTUAL TABLE records_fts USING fts5(id UNINDEXED, title, description, "
          "metadata, tokenize = 'trigram')",
          "CREATE TRIGGER records_fts_insert AFTER INSERT ON records BEGIN "
          "INSERT INTO records_fts(rowid, id, title, description, metadata) "
          "VALUES (new.rowid, new.id, new.title, new.description, new.metadata_json); END",
          "CREATE TRIGGER records_fts_update AFTER UPDATE ON records BEGIN "
          "UPDATE records_fts SET title = new.title, description = new.description, "
          "metadata = new.metadata_json WHERE rowid = old.rowid; END",
          "CREATE TRIGGER records_fts_delete AFTER DELETE ON records BEGIN "
          "DELETE FROM records_fts WHERE rowid = old.rowid; END",
          "CREATE INDEX records_by_department ON records(department)",
          "CREATE TABLE versions (record_id TEXT NOT NULL REFERENCES records(id), "
          "number BIGINT NOT NULL, kind TEXT NOT NULL, note TEXT NOT NULL, "
          "created_at TEXT NOT NULL, created_by TEXT NOT NULL, manifest_hash TEXT NOT NULL, "
          "prev_manifest_hash TEXT NOT NULL, log_index BIGINT NOT NULL, "
          "PRIMARY KEY (record_id, number))",
          "CREATE TABLE files (id TEXT PRIMARY KEY, record_id TEXT NOT NULL, "
          "version BIGINT NOT NULL, position BIGINT NOT NULL, name TEXT NOT NULL, "
          "media_type TEXT NOT NULL, size BIGINT NOT NULL, sha256 TEXT NOT NULL, "
          "sm3 TEXT NOT NULL, blob_id TEXT NOT NULL UNIQUE, kek_id TEXT NOT NULL, "
          "wrapped_dek BLOB, sig_status TEXT NOT NULL, sig_signer TEXT NOT NULL, "
          "sig_time TEXT NOT NULL, sig_reason TEXT NOT NULL, "
          "FOREIGN KEY (record_id, version) REFERENCES versions(record_id, number))",
          "CREATE INDEX files_by_version ON files(record_id, version)",
          "CREATE TABLE log_leaves (seq BIGINT PRIMARY KEY, leaf TEXT NOT NULL, "
          "subject TEXT NOT NULL)",
          "CREATE INDEX log_leaves_by_subject ON log_leaves(subject, seq)",
          "CREATE TABLE log_nodes (level BIGINT NOT NULL, idx BIGINT NOT NULL, "
          "hash BLOB NOT NULL, PRIMARY KEY (level, idx))",
          "CREATE TABLE log_checkpoints (size BIGINT PRIMARY KEY, root BLOB NOT NULL, "
          "note TEXT NOT NULL, created_at TEXT NOT NULL)",
      },
      // 2: workflow documents (loans, holds, retention changes, destructions).
      {
          "CREATE TABLE documents (kind TEXT NOT NULL, id TEXT NOT NULL, "
          "subject TEXT NOT NULL, owner TEXT NOT NULL, state TEXT NOT NULL, "
          "due_at TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, "
          "body TEXT NOT NULL, PRIMARY KEY (kind, id))",
          "CREATE INDEX documents_by_subject ON documents(kind, subject)",
          "CREATE INDEX documents_by_owner ON documents(kind, owner)",
          "CREATE INDEX documents_by_due ON documents(kind, state, due_at)",
          "CREATE INDEX documents_by_created ON documents(kind, created_at)",
      },
  };
  return m;
}

const SqlDialect& SqliteDialect() {
  // records_fts.rowid is the records row's rowid (the triggers keep them
  // equal), and rowids grow with every check-in: newest first.
  static const SqlDialect d{
      "JOIN records_fts ON records_fts.rowid = records.rowid",
      "records_fts MATCH $?",
      "records_fts.rowid DESC",
      [](const std::string& text) { return "\"" + ReplaceAll(text, "\"", "\"\"") + "\""; },
      3};
  return d;
}

void RegisterConnector() {
  static std::once_flag once;
  std::call_once(once, [] { Poco::Data::SQLite::Connector::registerConnector(); });
}

Status Pragma(Poco::Data::Session& s, const std::string& pragma) {
  sqlite3* db = Poco::Data::SQLite::Utility::dbHandle(s);
  char* err = nullptr;
  int rc = sqlite3_exec(db, pragma.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string message = err ? err : "unknown error";
    sqlite3_free(err);
    return Internal("sqlite: " + pragma + ": " + message, "database_error");
  }
  return Status::Ok();
}

// A transaction-control statement (BEGIN, SAVEPOINT, COMMIT, …) of the
// request path: through the prepared-statement cache, and a full disk is
// "storage_full".
Status Control(Poco::Data::Session& s, const char* statement) { return sql::Exec(s, statement); }

}  // namespace

struct SqliteStore::Writer {
  const TxFn* fn;
  Status status;
  bool done = false;
};

SqliteStore::SqliteStore(SqliteOptions options, CheckpointSigner* signer)
    : options_(std::move(options)), signer_(signer) {}

SqliteStore::~SqliteStore() {
  // Prepared statements go before their connections close.
  if (write_session_) sql::ReleaseStatements(*write_session_);
  for (auto& reader : readers_) sql::ReleaseStatements(*reader);
}

StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteOptions& options,
                                                         CheckpointSigner* signer) {
  RegisterConnector();
  std::unique_ptr<SqliteStore> store(new SqliteStore(options, signer));
  CUSTOS_RETURN_IF_ERROR(store->Init());
  return store;
}

StatusOr<std::unique_ptr<Poco::Data::Session>> SqliteStore::Connect() {
  try {
    auto s = std::make_unique<Poco::Data::Session>("SQLite", options_.path);
    CUSTOS_RETURN_IF_ERROR(Pragma(*s, "PRAGMA busy_timeout = 10000"));
    CUSTOS_RETURN_IF_ERROR(Pragma(*s, "PRAGMA foreign_keys = ON"));
    CUSTOS_RETURN_IF_ERROR(Pragma(*s, "PRAGMA synchronous = FULL"));
    CUSTOS_RETURN_IF_ERROR(Pragma(*s, "PRAGMA secure_delete = ON"));
    return s;
  } catch (const Poco::Exception& e) {
    return sql::FromException(e, "opening " + options_.path);
  }
}

Status SqliteStore::Init() {
  // Create the file 0600 before SQLite does (it would honour the umask).
  int fd = ::open(options_.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return InvalidArgument("cannot open database " + options_.path, "database_unavailable");
  }
  ::fchmod(fd, 0600);
  ::close(fd);

  CUSTOS_ASSIGN_OR_RETURN(write_session_, Connect());
  Poco::Data::Session& s = *write_session_;
  CUSTOS_RETURN_IF_ERROR(Pragma(s, "PRAGMA journal_mode = WAL"));
  CUSTOS_RETURN_IF_ERROR(sql::Exec(
      s, "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, "
         "applied_at TEXT NOT NULL)"));
  CUSTOS_ASSIGN_OR_RETURN(sql::Rows v,
                          sql::Query(s, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
  schema_version_ = static_cast<int>(v.Int(0, 0));
  const auto& migrations = Migrations();
  if (schema_version_ > static_cast<int>(migrations.size())) {
    return InvalidArgument("database schema version " + std::to_string(schema_version_) +
                               " is newer than this program knows (" +
                               std::to_string(migrations.size()) + ")",
                           "schema_too_new");
  }
  for (size_t i = static_cast<size_t>(schema_version_); i < migrations.size(); ++i) {
    CUSTOS_RETURN_IF_ERROR(Pragma(s, "BEGIN IMMEDIATE"));
    Status st;
    for (const std::string& ddl : migrations[i]) {
      st = sql::Exec(s, ddl);
      if (!st.ok()) break;
    }
    if (st.ok()) {
      st = sql::Exec(s, "INSERT INTO schema_migrations(version, applied_at) VALUES ($1, $2)",
                     {sql::P(static_cast<int64_t>(i + 1)),
                      sql::P(FormatTime(std::chrono::system_clock::now()))});
    }
    if (!st.ok()) {
      (void)Pragma(s, "ROLLBACK");
      return st.WithContext("migration " + std::to_string(i + 1));
    }
    CUSTOS_RETURN_IF_ERROR(Pragma(s, "COMMIT"));
    schema_version_ = static_cast<int>(i + 1);
  }
  CUSTOS_ASSIGN_OR_RETURN(LogTail tail, LoadLogTail(s));
  tail_ = std::make_unique<LogTail>(std::move(tail));
  for (int i = 0; i < options_.read_connections; ++i) {
    CUSTOS_ASSIGN_OR_RETURN(auto reader, Connect());
    CUSTOS_RETURN_IF_ERROR(Pragma(*reader, "PRAGMA query_only = ON"));
    readers_.push_back(std::move(reader));
  }
  return Status::Ok();
}

Status SqliteStore::Write(const TxFn& fn) {
  Writer w{&fn};
  std::unique_lock<std::mutex> lock(write_mu_);
  writers_.push_back(&w);
  write_cv_.wait(lock, [&] { return w.done || writers_.front() == &w; });
  if (w.done) return w.status;

  // This writer leads: take a batch from the front of the queue. Others keep
  // queueing behind it while it commits.
  std::deque<Writer*> batch;
  for (Writer* x : writers_) {
    // A writer with no function is a Scrub() waiting for its own turn.
    if (batch.size() >= options_.max_batch || !*x->fn) break;
    batch.push_back(x);
  }
  lock.unlock();
  Status commit = CommitBatch(batch);
  lock.lock();
  for (Writer* x : batch) {
    if (!commit.ok()) x->status = commit;
    x->done = true;
    writers_.pop_front();
  }
  write_cv_.notify_all();
  return w.status;
}

Status SqliteStore::Scrub() {
  // Take the writer's turn (so no batch is half-written), checkpoint, give
  // the turn on.
  TxFn none;
  Writer w{&none, Status::Ok(), false};
  std::unique_lock<std::mutex> lock(write_mu_);
  writers_.push_back(&w);
  write_cv_.wait(lock, [&] { return writers_.front() == &w; });
  lock.unlock();
  Status s = Pragma(*write_session_, "PRAGMA wal_checkpoint(TRUNCATE)");
  lock.lock();
  writers_.pop_front();
  write_cv_.notify_all();
  return s;
}

Status SqliteStore::CommitBatch(std::deque<Writer*>& batch) {
  if (signer_ == nullptr) return Internal("store opened without a checkpoint signer");
  Poco::Data::Session& s = *write_session_;
  CUSTOS_RETURN_IF_ERROR(Control(s, "BEGIN IMMEDIATE"));
  const uint64_t size_before = tail_->range.size();
  auto tx = MakeSqlTransaction(s, tail_.get(), SqliteDialect());
  for (Writer* x : batch) {
    LogTail saved = *tail_;
    Status st = Control(s, "SAVEPOINT w");
    if (st.ok()) {
      try {
        st = (*x->fn)(*tx);
      } catch (const std::exception& e) {
        st = Internal(std::string("write function threw: ") + e.what());
      }
    }
    if (st.ok()) st = tx->Flush();
    if (st.ok()) {
      st = Control(s, "RELEASE SAVEPOINT w");
    } else {
      tx->Discard();
      (void)Control(s, "ROLLBACK TO SAVEPOINT w");
      (void)Control(s, "RELEASE SAVEPOINT w");
      *tail_ = std::move(saved);
    }
    x->status = st;
  }
  Status st;
  if (tail_->range.size() != size_before) {
    StoredCheckpoint cp;
    cp.size = tail_->range.size();
    cp.root = tail_->range.Root();
    cp.created_at = TruncateToMillis(std::chrono::system_clock::now());
    auto note = signer_->Sign(cp.size, cp.root);
    if (!note.ok()) {
      st = note.status();
    } else {
      cp.note = std::move(note).value();
      st = InsertCheckpoint(s, cp);
    }
  }
  if (st.ok()) st = Control(s, "COMMIT");
  if (!st.ok()) {
    (void)Control(s, "ROLLBACK");
    // The in-memory tail may hold leaves that never committed: reload it.
    auto tail = LoadLogTail(s);
    if (tail.ok()) *tail_ = std::move(tail).value();
    return st;
  }
  return Status::Ok();
}

std::unique_ptr<Poco::Data::Session> SqliteStore::AcquireReader() {
  std::unique_lock<std::mutex> lock(read_mu_);
  read_cv_.wait(lock, [&] { return !readers_.empty(); });
  auto s = std::move(readers_.back());
  readers_.pop_back();
  return s;
}

void SqliteStore::ReleaseReader(std::unique_ptr<Poco::Data::Session> s) {
  std::lock_guard<std::mutex> lock(read_mu_);
  readers_.push_back(std::move(s));
  read_cv_.notify_one();
}

Status SqliteStore::Read(const TxFn& fn) {
  std::unique_ptr<Poco::Data::Session> s = AcquireReader();
  Status st = Control(*s, "BEGIN");
  if (st.ok()) {
    auto tx = MakeSqlTransaction(*s, nullptr, SqliteDialect());
    try {
      st = fn(*tx);
    } catch (const std::exception& e) {
      st = Internal(std::string("read function threw: ") + e.what());
    }
    // A read transaction never changes anything, whatever `fn` tried.
    (void)Control(*s, "ROLLBACK");
  }
  ReleaseReader(std::move(s));
  return st;
}

}  // namespace custos::storage
