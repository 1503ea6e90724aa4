#include "storage/sqlite_store.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/Session.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>

#include "storage/schema.h"
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

SqliteStore::SqliteStore(SqliteOptions options, CheckpointSigner* signer)
    : options_(std::move(options)),
      signer_(signer),
      writers_(options_.max_batch, [this](const auto& batch) { return CommitBatch(batch); }) {}

SqliteStore::~SqliteStore() {
  // Prepared statements go before their connections close.
  if (write_session_) sql::ReleaseStatements(*write_session_);
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
  CUSTOS_ASSIGN_OR_RETURN(schema_version_, ApplyMigrations(s, SqlEngine::kSqlite));
  CUSTOS_ASSIGN_OR_RETURN(LogTail tail, LoadLogTail(s));
  tail_ = std::make_unique<LogTail>(std::move(tail));
  for (int i = 0; i < options_.read_connections; ++i) {
    CUSTOS_ASSIGN_OR_RETURN(auto reader, Connect());
    CUSTOS_RETURN_IF_ERROR(Pragma(*reader, "PRAGMA query_only = ON"));
    readers_.Add(std::move(reader));
  }
  return Status::Ok();
}

Status SqliteStore::Write(const TxFn& fn) { return writers_.Write(fn); }

Status SqliteStore::Scrub() {
  return writers_.Exclusive([this] { return Pragma(*write_session_, "PRAGMA wal_checkpoint(TRUNCATE)"); });
}

Status SqliteStore::CommitBatch(const std::vector<GroupCommitQueue::Item*>& batch) {
  if (signer_ == nullptr) return Internal("store opened without a checkpoint signer");
  Poco::Data::Session& s = *write_session_;
  CUSTOS_RETURN_IF_ERROR(Control(s, "BEGIN IMMEDIATE"));
  Status st = RunWriteBatch(s, *tail_, SqliteDialect(), *signer_, batch);
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

Status SqliteStore::Read(const TxFn& fn) {
  return readers_.With([&](Poco::Data::Session& s) -> Status {
    CUSTOS_RETURN_IF_ERROR(Control(s, "BEGIN"));
    return RunReadFunction(s, SqliteDialect(), fn);
  });
}

}  // namespace custos::storage
