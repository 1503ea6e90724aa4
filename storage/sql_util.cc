#include "storage/sql_util.h"

#include <libpq-fe.h>
#include <sqlite3.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <unordered_map>

namespace custos::storage::sql {

Param P(const crypto::Bytes& b) { return Param(Blob(b.data(), b.size())); }
Param P(const crypto::Digest32& d) { return Param(Blob(d.data(), d.size())); }

std::string Rows::Text(size_t row, size_t col) const {
  if (nulls[row][col]) return {};
  return rows[row][col].convert<std::string>();
}

int64_t Rows::Int(size_t row, size_t col) const {
  if (nulls[row][col]) return 0;
  return rows[row][col].convert<Poco::Int64>();
}

crypto::Bytes Rows::Bytes(size_t row, size_t col) const {
  if (nulls[row][col]) return {};
  const Poco::Dynamic::Var& v = rows[row][col];
  if (v.type() == typeid(Blob)) {
    const Blob& b = v.extract<Blob>();
    return crypto::Bytes(b.rawContent(), b.rawContent() + b.size());
  }
  std::string s = v.convert<std::string>();
  return crypto::Bytes(s.begin(), s.end());
}

namespace {

// A row of Rows seen through RowView (Connection::Scan's default).
class MaterialisedRow final : public RowView {
 public:
  MaterialisedRow(const Rows& rows, size_t row) : rows_(rows), row_(row) {}
  int64_t Int(int col) const override { return rows_.Int(row_, static_cast<size_t>(col)); }
  std::string_view Bytes(int col) const override {
    const size_t c = static_cast<size_t>(col);
    if (rows_.IsNull(row_, c)) return {};
    const Poco::Dynamic::Var& v = rows_.rows[row_][c];
    if (v.type() == typeid(Blob)) {
      const Blob& b = v.extract<Blob>();
      return {reinterpret_cast<const char*>(b.rawContent()), b.size()};
    }
    if (v.type() == typeid(std::string)) return v.extract<std::string>();
    held_.push_back(v.convert<std::string>());
    return held_.back();
  }

 private:
  const Rows& rows_;
  const size_t row_;
  mutable std::deque<std::string> held_;  // conversions handed out as views
};

}  // namespace

Status Connection::WatchRowChanges(std::function<void(std::string_view table)> changed) {
  (void)changed;
  return InvalidArgument("this database reports no row changes", "unsupported");
}

Status Connection::Scan(const std::string& statement, const Params& params, const RowVisitor& visit) {
  Rows rows;
  CUSTOS_RETURN_IF_ERROR(Run(statement, params, &rows));
  for (size_t i = 0; i < rows.size(); ++i) CUSTOS_RETURN_IF_ERROR(visit(MaterialisedRow(rows, i)));
  return Status::Ok();
}

StatusOr<Rows> Query(Connection& c, const std::string& statement, const Params& params) {
  Rows out;
  CUSTOS_RETURN_IF_ERROR(c.Run(statement, params, &out));
  return out;
}

namespace {

// Statement caches start over when they hold this many statements.
constexpr size_t kMaxStatements = 256;

std::string What(const std::string& statement, bool query) {
  return (query ? "querying " : "executing ") + statement.substr(0, 40);
}

// ---------------------------------------------------------------------------
// SQLite

Status SqliteError(sqlite3* db, int rc, const std::string& what, const std::string& text) {
  int primary = rc & 0xFF;
  if (primary == SQLITE_FULL || (primary == SQLITE_IOERR && sqlite3_system_errno(db) == ENOSPC)) {
    return ResourceExhausted("storage full while " + what + ": " + text, "storage_full");
  }
  return Internal("database error while " + what + ": " + text, "database_error");
}

Status SqliteError(sqlite3* db, int rc, const std::string& what) {
  return SqliteError(db, rc, what, sqlite3_errmsg(db));
}

// Appends the current row of `st` to `out`.
void AppendRow(sqlite3_stmt* st, int cols, Rows& out) {
  std::vector<Poco::Dynamic::Var> row(cols);
  std::vector<bool> nulls(cols, false);
  for (int c = 0; c < cols; ++c) {
    switch (sqlite3_column_type(st, c)) {
      case SQLITE_NULL:
        nulls[c] = true;
        break;
      case SQLITE_INTEGER:
        row[c] = static_cast<Poco::Int64>(sqlite3_column_int64(st, c));
        break;
      case SQLITE_FLOAT:
        row[c] = sqlite3_column_double(st, c);
        break;
      case SQLITE_BLOB: {
        const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(st, c));
        row[c] = Blob(p, static_cast<size_t>(sqlite3_column_bytes(st, c)));
        break;
      }
      default: {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
        row[c] = std::string(p, static_cast<size_t>(sqlite3_column_bytes(st, c)));
      }
    }
  }
  out.rows.push_back(std::move(row));
  out.nulls.push_back(std::move(nulls));
}

int BindAll(sqlite3_stmt* st, const Params& params) {
  // Parameters stay alive until the statement is reset, so SQLite may read
  // them in place.
  int rc = SQLITE_OK;
  for (size_t i = 0; i < params.size() && rc == SQLITE_OK; ++i) {
    const int n = static_cast<int>(i + 1);
    if (const auto* v = std::get_if<Poco::Int64>(&params[i])) {
      rc = sqlite3_bind_int64(st, n, *v);
    } else if (const auto* t = std::get_if<std::string>(&params[i])) {
      rc = sqlite3_bind_text64(st, n, t->data(), t->size(), SQLITE_STATIC, SQLITE_UTF8);
    } else {
      const Blob& b = std::get<Blob>(params[i]);
      rc = sqlite3_bind_blob64(
          st, n, b.rawContent() ? b.rawContent() : reinterpret_cast<const unsigned char*>(""),
          b.size(), SQLITE_STATIC);
    }
  }
  return rc;
}

// The current row of a stepped statement, read in place.
class StatementRow final : public RowView {
 public:
  explicit StatementRow(sqlite3_stmt* st) : st_(st) {}
  int64_t Int(int col) const override { return sqlite3_column_int64(st_, col); }
  std::string_view Bytes(int col) const override {
    const char* p = sqlite3_column_type(st_, col) == SQLITE_BLOB
                        ? static_cast<const char*>(sqlite3_column_blob(st_, col))
                        : reinterpret_cast<const char*>(sqlite3_column_text(st_, col));
    if (p == nullptr) return {};
    return {p, static_cast<size_t>(sqlite3_column_bytes(st_, col))};
  }

 private:
  sqlite3_stmt* const st_;
};

class SqliteConnection final : public Connection {
 public:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}
  ~SqliteConnection() override {
    ClearStatements();  // statements go before their connection closes
    sqlite3_close(db_);
  }
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  Status Run(const std::string& statement, const Params& params, Rows* out) override {
    const std::string what = What(statement, out != nullptr);
    std::string error;
    sqlite3_stmt* st = Prepared(statement, error);
    if (st == nullptr)
      return Internal("database error while " + what + ": " + error, "database_error");
    int rc = BindAll(st, params);
    if (rc == SQLITE_OK) {
      const int cols = sqlite3_column_count(st);
      while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out != nullptr) AppendRow(st, cols, *out);
      }
    }
    Status result = rc == SQLITE_DONE ? Status::Ok() : SqliteError(db_, rc, what);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return result;
  }

  Status Scan(const std::string& statement, const Params& params, const RowVisitor& visit) override {
    const std::string what = What(statement, true);
    std::string error;
    sqlite3_stmt* st = Prepared(statement, error);
    if (st == nullptr)
      return Internal("database error while " + what + ": " + error, "database_error");
    int rc = BindAll(st, params);
    Status result = Status::Ok();
    if (rc == SQLITE_OK) {
      const StatementRow row(st);
      while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        result = visit(row);
        if (!result.ok()) break;
      }
    }
    if (result.ok() && rc != SQLITE_DONE) result = SqliteError(db_, rc, what);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return result;
  }

  Status Script(const std::string& statements) override {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, statements.c_str(), nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return Status::Ok();
    std::string text = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    return SqliteError(db_, rc, What(statements, false), text);
  }

  Status EnsureConnected() override { return Status::Ok(); }

  Status WatchRowChanges(std::function<void(std::string_view table)> changed) override {
    watch_ = std::move(changed);
    if (watch_) {
      sqlite3_update_hook(db_, &SqliteConnection::RowChanged, this);
    } else {
      sqlite3_update_hook(db_, nullptr, nullptr);
    }
    return Status::Ok();
  }

 private:
  static void RowChanged(void* self, int op, const char* database, const char* table, sqlite3_int64 rowid) {
    (void)op;
    (void)database;
    (void)rowid;
    static_cast<SqliteConnection*>(self)->watch_(table);
  }

  // The prepared statement for `statement`, reset and unbound; nullptr with
  // `error` set if it does not prepare.
  sqlite3_stmt* Prepared(const std::string& statement, std::string& error) {
    auto it = statements_.find(statement);
    if (it != statements_.end()) return it->second;
    if (statements_.size() >= kMaxStatements) ClearStatements();
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v3(db_, statement.c_str(), static_cast<int>(statement.size()),
                                SQLITE_PREPARE_PERSISTENT, &st, nullptr);
    if (rc != SQLITE_OK) {
      error = sqlite3_errmsg(db_);
      sqlite3_finalize(st);
      return nullptr;
    }
    statements_.emplace(statement, st);
    return st;
  }

  void ClearStatements() {
    for (auto& [text, st] : statements_) sqlite3_finalize(st);
    statements_.clear();
  }

  sqlite3* const db_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
  std::function<void(std::string_view table)> watch_;  // WatchRowChanges'
};

// ---------------------------------------------------------------------------
// PostgreSQL

// Type oids (server/catalog/pg_type_d.h, stable across versions).
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;

Status PgError(PGconn* conn, const std::string& message, const std::string& sqlstate,
               const std::string& what) {
  std::string text = OneLine(message);
  // Class 53: insufficient resources (53100 disk full, 53200 out of memory).
  if (sqlstate.rfind("53", 0) == 0) {
    return ResourceExhausted("storage full while " + what + ": " + text, "storage_full");
  }
  // Class 08: connection exceptions; a broken connection has no state.
  if (sqlstate.rfind("08", 0) == 0 || PQstatus(conn) != CONNECTION_OK) {
    return Unavailable("database unreachable while " + what + ": " + text, "database_unavailable");
  }
  return Internal("database error while " + what + ": " + text, "database_error");
}

Status PgResultError(PGconn* conn, const PGresult* r, const std::string& what) {
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  // A FATAL or PANIC error ends the session (an administrator's or a
  // shutdown's termination, class 57P): in pipeline mode libpq has not
  // noticed the closed connection yet when the error arrives.
  const char* severity = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
  if (severity != nullptr && (std::strcmp(severity, "FATAL") == 0 || std::strcmp(severity, "PANIC") == 0)) {
    return Unavailable("database unreachable while " + what + ": " + OneLine(PQresultErrorMessage(r)),
                       "database_unavailable");
  }
  return PgError(conn, PQresultErrorMessage(r), state ? state : "", what);
}

// The parameters of one execution in libpq's form; pointers into `params`
// and into `texts`.
struct PgParams {
  explicit PgParams(const Params& params)
      : types(params.size(), 0),
        texts(params.size()),
        values(params.size()),
        lengths(params.size(), 0),
        formats(params.size(), 0) {
    for (size_t i = 0; i < params.size(); ++i) {
      if (const auto* v = std::get_if<Poco::Int64>(&params[i])) {
        // Sent as text of unknown type: the server takes the type the
        // statement gives the parameter (a column's, a LIMIT's).
        texts[i] = std::to_string(*v);
        values[i] = texts[i].c_str();
      } else if (const auto* t = std::get_if<std::string>(&params[i])) {
        values[i] = t->c_str();  // text columns hold no NUL (UTF-8 text)
      } else {
        const Blob& b = std::get<Blob>(params[i]);
        types[i] = kByteaOid;
        values[i] = b.size() ? reinterpret_cast<const char*>(b.rawContent()) : "";
        lengths[i] = static_cast<int>(b.size());
        formats[i] = 1;
      }
    }
  }
  std::vector<Oid> types;
  std::vector<std::string> texts;
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
};

// Appends the rows of `r` (text format) to `out`; false if a bytea value
// does not decode.
bool AppendRows(const PGresult* r, Rows& out) {
  const int rows = PQntuples(r);
  const int cols = PQnfields(r);
  out.rows.reserve(out.rows.size() + static_cast<size_t>(rows));
  for (int row = 0; row < rows; ++row) {
    std::vector<Poco::Dynamic::Var> values(cols);
    std::vector<bool> nulls(cols, false);
    for (int c = 0; c < cols; ++c) {
      if (PQgetisnull(r, row, c)) {
        nulls[c] = true;
        continue;
      }
      const char* text = PQgetvalue(r, row, c);
      const size_t length = static_cast<size_t>(PQgetlength(r, row, c));
      switch (PQftype(r, c)) {
        case kInt8Oid:
        case kInt4Oid:
        case kInt2Oid:
          values[c] = static_cast<Poco::Int64>(std::strtoll(text, nullptr, 10));
          break;
        case kBoolOid:
          values[c] = static_cast<Poco::Int64>(text[0] == 't' ? 1 : 0);
          break;
        case kByteaOid: {
          size_t n = 0;
          unsigned char* bytes = PQunescapeBytea(reinterpret_cast<const unsigned char*>(text), &n);
          if (bytes == nullptr) return false;
          values[c] = Blob(bytes, n);
          PQfreemem(bytes);
          break;
        }
        default:
          values[c] = std::string(text, length);
      }
    }
    out.rows.push_back(std::move(values));
    out.nulls.push_back(std::move(nulls));
  }
  return true;
}

// Every statement goes through libpq's pipeline mode: Send queues the
// messages (a first use's Parse before its Bind/Execute), Sync sends them
// with a Sync message and reads every result in order. A statement that
// waits for its outcome is Send then Sync: one round trip for it and for
// whatever SetDeferred(true) queued before it.
class PostgresConnection final : public Connection {
 public:
  explicit PostgresConnection(PGconn* conn) : conn_(conn) {}
  ~PostgresConnection() override { PQfinish(conn_); }
  PostgresConnection(const PostgresConnection&) = delete;
  PostgresConnection& operator=(const PostgresConnection&) = delete;

  Status Run(const std::string& statement, const Params& params, Rows* out) override {
    Status sent = Send(statement, params, out);
    if (deferred_ && out == nullptr && sent.ok()) return Status::Ok();
    Status synced = Sync();
    return sent.ok() ? synced : sent;
  }

  void SetDeferred(bool on) override {
    deferred_ = on;
    // What stays queued goes to the server now, closed by a Sync message
    // (a read transaction's ROLLBACK ends it there at once and the session
    // is idle again); its answers are read by the next Sync().
    if (!on && !pending_.empty() && PQpipelineSync(conn_) == 1) pending_.push_back({"", nullptr, false, true});
  }

  Status Sync() override {
    if (pending_.empty()) return Status::Ok();
    std::vector<Pending> pending = std::move(pending_);
    pending_.clear();
    if (PQpipelineSync(conn_) != 1) {
      return PgError(conn_, PQerrorMessage(conn_), "", What(pending.front().statement, false));
    }
    Status first;
    for (const Pending& p : pending) {
      if (p.sync) {  // an earlier Sync message: its own result, nothing after it
        PGresult* r = PQgetResult(conn_);
        if (r != nullptr && PQresultStatus(r) != PGRES_PIPELINE_SYNC) {
          Status st = PgResultError(conn_, r, "reading a pipeline");
          if (first.ok()) first = st;
        }
        PQclear(r);
        if (PQstatus(conn_) != CONNECTION_OK) break;
        continue;
      }
      // The results of one statement end with a null result; a broken
      // connection answers nothing more.
      while (PGresult* r = PQgetResult(conn_)) {
        Status st = Outcome(p, r);
        PQclear(r);
        if (!st.ok() && first.ok()) first = st;
      }
      if (PQstatus(conn_) != CONNECTION_OK) break;
    }
    // Then the Sync's own result; anything else means the connection broke.
    PGresult* r = PQstatus(conn_) == CONNECTION_OK ? PQgetResult(conn_) : nullptr;
    const bool synced = r != nullptr && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (!synced && first.ok()) {
      first = Unavailable("database unreachable while " + What(pending.back().statement, false) + ": " +
                              OneLine(PQerrorMessage(conn_)),
                          "database_unavailable");
    }
    return first;
  }

  Status Script(const std::string& statements) override {
    // Simple-query strings (several statements) are not allowed in
    // pipeline mode: leave it while they run.
    CUSTOS_RETURN_IF_ERROR(Sync());
    if (PQpipelineStatus(conn_) != PQ_PIPELINE_OFF && PQexitPipelineMode(conn_) != 1) {
      return PgError(conn_, PQerrorMessage(conn_), "", What(statements, false));
    }
    PGresult* r = PQexec(conn_, statements.c_str());
    ExecStatusType status = PQresultStatus(r);
    Status result = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK
                        ? Status::Ok()
                        : PgResultError(conn_, r, What(statements, false));
    PQclear(r);
    return result;
  }

  Status EnsureConnected() override {
    if (PQstatus(conn_) == CONNECTION_OK) return Status::Ok();
    pending_.clear();
    statements_.clear();  // the server forgot them with the session
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK) {
      return Unavailable("database unreachable: " + OneLine(PQerrorMessage(conn_)),
                         "database_unavailable");
    }
    return Status::Ok();
  }

 private:
  // A statement sent and not yet answered.
  struct Pending {
    std::string statement;
    Rows* out = nullptr;      // where its rows go
    bool prepare = false;     // its Parse (then `statement` is forgotten if that fails)
    bool sync = false;        // not a statement: a Sync message SetDeferred(false) sent
  };

  // The outcome of one result of `p`.
  Status Outcome(const Pending& p, const PGresult* r) {
    const ExecStatusType status = PQresultStatus(r);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      if (p.out != nullptr && status == PGRES_TUPLES_OK && !AppendRows(r, *p.out)) {
        return Internal("database error while " + What(p.statement, true) + ": bytea does not decode",
                        "database_error");
      }
      // COMMIT of a transaction an earlier statement aborted answers
      // "ROLLBACK" without an error: that is a failed commit.
      if (p.statement == "COMMIT" && std::strcmp(PQcmdStatus(const_cast<PGresult*>(r)), "ROLLBACK") == 0) {
        return Internal("database error while committing: the transaction was rolled back",
                        "database_error");
      }
      return Status::Ok();
    }
    if (p.prepare) statements_.erase(p.statement);
    if (status == PGRES_PIPELINE_ABORTED) {
      return Internal("database error while " + What(p.statement, p.out != nullptr) +
                          ": not run after an earlier statement failed",
                      "database_error");
    }
    return PgResultError(conn_, r, What(p.statement, p.out != nullptr));
  }

  // Queues `statement` (with its Parse on first use) in the pipeline.
  Status Send(const std::string& statement, const Params& params, Rows* out) {
    const std::string what = What(statement, out != nullptr);
    if (PQpipelineStatus(conn_) == PQ_PIPELINE_OFF && PQenterPipelineMode(conn_) != 1) {
      return PgError(conn_, PQerrorMessage(conn_), "", what);
    }
    PgParams p(params);
    auto it = statements_.find(statement);
    if (it == statements_.end()) {
      if (statements_.size() >= kMaxStatements) {
        if (PQsendQueryParams(conn_, "DEALLOCATE ALL", 0, nullptr, nullptr, nullptr, nullptr, 0) != 1) {
          return PgError(conn_, PQerrorMessage(conn_), "", what);
        }
        pending_.push_back({"DEALLOCATE ALL", nullptr, false});
        statements_.clear();
      }
      const std::string name = "c" + std::to_string(next_++);
      if (PQsendPrepare(conn_, name.c_str(), statement.c_str(), static_cast<int>(p.types.size()),
                        p.types.empty() ? nullptr : p.types.data()) != 1) {
        return PgError(conn_, PQerrorMessage(conn_), "", what);
      }
      pending_.push_back({statement, nullptr, true});
      it = statements_.emplace(statement, name).first;
    }
    if (PQsendQueryPrepared(conn_, it->second.c_str(), static_cast<int>(params.size()), p.values.data(),
                            p.lengths.data(), p.formats.data(), /*resultFormat=*/0) != 1) {
      return PgError(conn_, PQerrorMessage(conn_), "", what);
    }
    pending_.push_back({statement, out, false});
    return Status::Ok();
  }

  PGconn* const conn_;
  std::unordered_map<std::string, std::string> statements_;  // text → prepared name
  uint64_t next_ = 0;
  bool deferred_ = false;
  std::vector<Pending> pending_;  // in the order sent
};

}  // namespace

StatusOr<std::unique_ptr<Connection>> OpenSqlite(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    Status st =
        db ? SqliteError(db, rc, "opening " + path)
           : Internal("database error while opening " + path + ": out of memory", "database_error");
    sqlite3_close(db);
    return st;
  }
  return std::unique_ptr<Connection>(new SqliteConnection(db));
}

StatusOr<std::unique_ptr<Connection>> OpenPostgres(const std::string& dsn) {
  PGconn* conn = PQconnectdb(dsn.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string error = conn ? OneLine(PQerrorMessage(conn)) : "out of memory";
    PQfinish(conn);
    return Unavailable("cannot connect to PostgreSQL: " + error, "database_unavailable");
  }
  return std::unique_ptr<Connection>(new PostgresConnection(conn));
}

std::string OneLine(const std::string& text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

StatusOr<crypto::Digest32> ToDigest(const crypto::Bytes& b) {
  if (b.size() != 32) return DataLoss("stored hash is not 32 bytes", "stored_hash_malformed");
  crypto::Digest32 d;
  std::memcpy(d.data(), b.data(), 32);
  return d;
}

}  // namespace custos::storage::sql
