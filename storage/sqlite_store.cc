#include "storage/sqlite_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "storage/row_set.h"
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
  // Never destroyed: a background thread may still query while the process
  // exits.
  static const SqlDialect* const d = new SqlDialect{
      "JOIN records_fts ON records_fts.rowid = records.rowid",
      "records_fts MATCH $?",
      "records_fts.rowid DESC",
      [](const std::string& text) { return "\"" + ReplaceAll(text, "\"", "\"\"") + "\""; },
      3,
      [](const std::string& key) { return "json_extract(records.metadata_json, '$." + key + "')"; },
      /*log_rowid_order=*/true,
      /*match_postings_in_client=*/true};
  return *d;
}

// A transaction-control statement (BEGIN, SAVEPOINT, COMMIT, …) of the
// request path: prepared once per connection, and a full disk is
// "storage_full".
Status Control(sql::Connection& c, const char* statement) { return sql::Exec(c, statement); }

}  // namespace

SqliteStore::SqliteStore(SqliteOptions options, CheckpointSigner* signer)
    : options_(std::move(options)),
      signer_(signer),
      writers_(options_.max_batch, [this](const auto& batch) { return CommitBatch(batch); }) {}

SqliteStore::~SqliteStore() = default;

StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteOptions& options,
                                                         CheckpointSigner* signer) {
  std::unique_ptr<SqliteStore> store(new SqliteStore(options, signer));
  CUSTOS_RETURN_IF_ERROR(store->Init());
  return store;
}

StatusOr<std::unique_ptr<sql::Connection>> SqliteStore::Connect() {
  CUSTOS_ASSIGN_OR_RETURN(auto c, sql::OpenSqlite(options_.path));
  CUSTOS_RETURN_IF_ERROR(c->Script("PRAGMA busy_timeout = 10000"));
  CUSTOS_RETURN_IF_ERROR(c->Script("PRAGMA foreign_keys = ON"));
  CUSTOS_RETURN_IF_ERROR(
      c->Script(options_.durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = OFF"));
  CUSTOS_RETURN_IF_ERROR(c->Script("PRAGMA secure_delete = ON"));
  return c;
}

Status SqliteStore::Init() {
  // Create the file 0600 before SQLite does (it would honour the umask).
  int fd = ::open(options_.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return InvalidArgument("cannot open database " + options_.path, "database_unavailable");
  }
  ::fchmod(fd, 0600);
  ::close(fd);

  CUSTOS_ASSIGN_OR_RETURN(writer_, Connect());
  sql::Connection& s = *writer_;
  CUSTOS_RETURN_IF_ERROR(s.Script("PRAGMA journal_mode = WAL"));
  // temp_store stays FILE: a statement journal stays in memory up to 64 KiB
  // and goes to a temporary file beyond. Kept in memory without a bound
  // (temp_store = MEMORY), a large transaction's journal is a list of 1 KiB
  // chunks that SQLite walks from its start at the end of every statement:
  // 1,000 catalogue records in one transaction took 24 s instead of 1.
  int from_version = 0;
  CUSTOS_ASSIGN_OR_RETURN(schema_version_, ApplyMigrations(s, SqlEngine::kSqlite, &from_version));
  if (options_.seal_existing_rows && options_.sealer != nullptr) {
    CUSTOS_RETURN_IF_ERROR(SealExistingRows(s, *options_.sealer, "BEGIN IMMEDIATE"));
  } else if (options_.sealer != nullptr) {
    CUSTOS_RETURN_IF_ERROR(SealNewRowSets(s, *options_.sealer, "BEGIN IMMEDIATE", from_version < kRowSetsMigration));
  }
  CUSTOS_ASSIGN_OR_RETURN(LogTail tail, LoadLogTail(s));
  tail_ = std::make_unique<LogTail>(std::move(tail));
  for (int i = 0; i < options_.read_connections; ++i) {
    CUSTOS_ASSIGN_OR_RETURN(auto reader, Connect());
    CUSTOS_RETURN_IF_ERROR(reader->Script("PRAGMA query_only = ON"));
    readers_.Add(std::move(reader));
  }
  return WatchChanges();
}

Status SqliteStore::WatchChanges() {
  CUSTOS_ASSIGN_OR_RETURN(sql::Rows tables,
                          sql::Query(*writer_, "SELECT name, sql FROM sqlite_master WHERE type = 'table'"));
  for (size_t i = 0; i < tables.size(); ++i) {
    std::string ddl = tables.Text(i, 1);
    for (char& c : ddl) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    // Not reported by SQLite's update hook: never claim to know of them.
    if (ddl.find("WITHOUT ROWID") != std::string::npos || ddl.rfind("CREATE VIRTUAL", 0) == 0) continue;
    change_counts_.try_emplace(tables.Text(i, 0), 0);
  }
  return writer_->WatchRowChanges([this](std::string_view table) {
    auto it = change_counts_.find(std::string(table));
    if (it == change_counts_.end()) return;
    if (std::find(changed_.begin(), changed_.end(), &it->second) == changed_.end()) {
      changed_.push_back(&it->second);
    }
  });
}

void SqliteStore::PublishChanges() {
  for (std::atomic<uint64_t>* count : changed_) count->fetch_add(1, std::memory_order_acq_rel);
  changed_.clear();
}

std::optional<uint64_t> SqliteStore::ChangeCount(std::string_view table) const {
  auto it = change_counts_.find(std::string(table));
  if (it == change_counts_.end()) return std::nullopt;
  return it->second.load(std::memory_order_acquire);
}

Status SqliteStore::Write(const TxFn& fn) { return writers_.Write(fn); }

Status SqliteStore::Scrub() {
  return writers_.Exclusive([this]() -> Status {
    // Merging every segment drops the tokens of deleted and updated rows;
    // secure_delete zeroes the pages they leave.
    Status st = writer_->Script("INSERT INTO records_fts(records_fts) VALUES ('optimize')");
    PublishChanges();
    CUSTOS_RETURN_IF_ERROR(st);
    return writer_->Script("PRAGMA wal_checkpoint(TRUNCATE)");
  });
}

Status SqliteStore::CommitBatch(const std::vector<GroupCommitQueue::Item*>& batch) {
  if (signer_ == nullptr) return Internal("store opened without a checkpoint signer");
  sql::Connection& s = *writer_;
  CUSTOS_RETURN_IF_ERROR(Control(s, "BEGIN IMMEDIATE"));
  Status st = RunWriteBatch(s, *tail_, SqliteDialect(), options_.sealer, *signer_, batch);
  if (st.ok()) st = Control(s, "COMMIT");
  // Committed or rolled back, the batch's tables count once more before any
  // of its writers returns (ChangeCount).
  PublishChanges();
  if (!st.ok()) {
    (void)Control(s, "ROLLBACK");
    // The in-memory tail may hold leaves that never committed: reload it.
    auto tail = LoadLogTail(s);
    if (tail.ok()) *tail_ = std::move(tail).value();
    return st;
  }
  return Status::Ok();
}

Status SqliteStore::Read(const TxFn& fn) { return ReadWith(options_.sealer, fn); }

Status SqliteStore::ReadUnchecked(const TxFn& fn) { return ReadWith(nullptr, fn); }

Status SqliteStore::ReadWith(const RowSealer* sealer, const TxFn& fn) {
  return readers_.With([&](sql::Connection& s) -> Status {
    CUSTOS_RETURN_IF_ERROR(Control(s, "BEGIN"));
    return RunReadFunction(s, SqliteDialect(), sealer, fn, &readers_.node_cache());
  });
}

}  // namespace custos::storage
