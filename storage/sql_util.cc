#include "storage/sql_util.h"

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/Utility.h>
#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/PostgreSQL/SessionHandle.h>
#include <Poco/Data/PostgreSQL/Utility.h>
#include <Poco/Data/Statement.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace custos::storage::sql {

using Poco::Data::Keywords::bind;

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

Status FromException(const Poco::Exception& e, const std::string& what) {
  std::string text = OneLine(e.displayText());
  if (text.find("full") != std::string::npos || text.find("No space") != std::string::npos) {
    return ResourceExhausted("storage full while " + what + ": " + text, "storage_full");
  }
  return Internal("database error while " + what + ": " + text, "database_error");
}

namespace {

void BindAll(Poco::Data::Statement& st, const Params& params) {
  for (const Param& p : params) {
    std::visit([&st](const auto& v) { st, bind(v); }, p);
  }
}

// ---------------------------------------------------------------------------
// SQLite: statements are prepared once per connection and reused. SQLite has
// no statement cache of its own, and preparing was about 40% of the server's
// CPU on catalogue reads (and 60% of a batched log append) through
// Poco::Data, which prepares every statement it executes.

// The prepared statements of one connection. A connection is used by one
// thread at a time (the store's writer or one reader), so its cache needs no
// lock; the registry of caches does.
class StatementCache {
 public:
  explicit StatementCache(sqlite3* db) : db_(db) {}
  ~StatementCache() { Clear(); }

  // The prepared statement for `sql`, reset and unbound; nullptr with
  // `error` set if it does not prepare.
  sqlite3_stmt* Get(const std::string& sql, std::string& error) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return it->second;
    // Statements built with varying text (IN lists, LIMITs) would grow the
    // cache without bound: start over when it is full.
    if (statements_.size() >= kMaxStatements) Clear();
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &st, nullptr);
    if (rc != SQLITE_OK) {
      error = sqlite3_errmsg(db_);
      sqlite3_finalize(st);
      return nullptr;
    }
    statements_.emplace(sql, st);
    return st;
  }

  void Clear() {
    for (auto& [sql, st] : statements_) sqlite3_finalize(st);
    statements_.clear();
  }

 private:
  static constexpr size_t kMaxStatements = 256;
  sqlite3* const db_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

class StatementCaches {
 public:
  static StatementCaches& Instance() {
    static StatementCaches* caches = new StatementCaches;  // never destroyed: used at exit
    return *caches;
  }
  StatementCache& For(sqlite3* db) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& cache = caches_[db];
    if (!cache) cache = std::make_unique<StatementCache>(db);
    return *cache;
  }
  void Release(sqlite3* db) {
    std::lock_guard<std::mutex> lock(mu_);
    caches_.erase(db);
  }

 private:
  std::mutex mu_;
  std::unordered_map<sqlite3*, std::unique_ptr<StatementCache>> caches_;
};

bool IsSqlite(Poco::Data::Session& session) {
  return session.connector() == Poco::Data::SQLite::Connector::KEY;
}

Status SqliteError(sqlite3* db, int rc, const std::string& what) {
  std::string text = sqlite3_errmsg(db);
  int primary = rc & 0xFF;
  if (primary == SQLITE_FULL || (primary == SQLITE_IOERR && sqlite3_system_errno(db) == ENOSPC)) {
    return ResourceExhausted("storage full while " + what + ": " + text, "storage_full");
  }
  return Internal("database error while " + what + ": " + text, "database_error");
}

// Runs `sql` on a SQLite connection; appends result rows to `out` if given.
Status SqliteRun(Poco::Data::Session& session, const std::string& sql, const Params& params,
                 Rows* out) {
  sqlite3* db = Poco::Data::SQLite::Utility::dbHandle(session);
  std::string what = (out ? "querying " : "executing ") + sql.substr(0, 40);
  std::string error;
  sqlite3_stmt* st = StatementCaches::Instance().For(db).Get(sql, error);
  if (st == nullptr) return Internal("database error while " + what + ": " + error, "database_error");
  // Parameters stay alive until the statement is reset, so SQLite may
  // read them in place.
  int rc = SQLITE_OK;
  for (size_t i = 0; i < params.size() && rc == SQLITE_OK; ++i) {
    const int n = static_cast<int>(i + 1);
    if (const auto* v = std::get_if<Poco::Int64>(&params[i])) {
      rc = sqlite3_bind_int64(st, n, *v);
    } else if (const auto* t = std::get_if<std::string>(&params[i])) {
      rc = sqlite3_bind_text64(st, n, t->data(), t->size(), SQLITE_STATIC, SQLITE_UTF8);
    } else {
      const Blob& b = std::get<Blob>(params[i]);
      rc = sqlite3_bind_blob64(st, n, b.rawContent() ? b.rawContent() : reinterpret_cast<const unsigned char*>(""),
                               b.size(), SQLITE_STATIC);
    }
  }
  if (rc == SQLITE_OK) {
    const int cols = sqlite3_column_count(st);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      if (out == nullptr) continue;
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
      out->rows.push_back(std::move(row));
      out->nulls.push_back(std::move(nulls));
    }
  }
  Status result = rc == SQLITE_DONE ? Status::Ok() : SqliteError(db, rc, what);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return result;
}

// ---------------------------------------------------------------------------
// PostgreSQL: the connection is Poco's; statements go to libpq directly, as
// named prepared statements kept per connection (parsed and planned once),
// with bytea parameters sent in binary. Poco's PostgreSQL statements
// prepare every execution and pass blobs as text.

bool IsPostgres(Poco::Data::Session& session) {
  return session.connector() == Poco::Data::PostgreSQL::Connector::KEY;
}

PGconn* PgHandle(Poco::Data::Session& session) {
  return *Poco::Data::PostgreSQL::Utility::handle(session);
}

// Type oids (server/catalog/pg_type_d.h, stable across versions).
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;

class PgStatementCache {
 public:
  // The name of the statement prepared for `sql` with parameter types
  // `types`; "" with `error` set if it does not prepare.
  std::string Get(PGconn* conn, const std::string& sql, const std::vector<Oid>& types,
                  std::string& error, std::string& sqlstate) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return it->second;
    if (statements_.size() >= kMaxStatements) {
      PGresult* r = PQexec(conn, "DEALLOCATE ALL");
      PQclear(r);
      statements_.clear();
    }
    std::string name = "c" + std::to_string(next_++);
    PGresult* r = PQprepare(conn, name.c_str(), sql.c_str(), static_cast<int>(types.size()),
                            types.empty() ? nullptr : types.data());
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
      error = PQresultErrorMessage(r);
      const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      sqlstate = state ? state : "";
      PQclear(r);
      return "";
    }
    PQclear(r);
    statements_.emplace(sql, name);
    return name;
  }

 private:
  static constexpr size_t kMaxStatements = 256;
  std::unordered_map<std::string, std::string> statements_;
  uint64_t next_ = 0;
};

class PgStatementCaches {
 public:
  static PgStatementCaches& Instance() {
    static PgStatementCaches* caches = new PgStatementCaches;  // never destroyed: used at exit
    return *caches;
  }
  PgStatementCache& For(PGconn* conn) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& cache = caches_[conn];
    if (!cache) cache = std::make_unique<PgStatementCache>();
    return *cache;
  }
  void Release(PGconn* conn) {
    std::lock_guard<std::mutex> lock(mu_);
    caches_.erase(conn);
  }

 private:
  std::mutex mu_;
  std::unordered_map<PGconn*, std::unique_ptr<PgStatementCache>> caches_;
};

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

Status PgRun(Poco::Data::Session& session, const std::string& sql, const Params& params,
             Rows* out) {
  PGconn* conn = PgHandle(session);
  std::string what = (out ? "querying " : "executing ") + sql.substr(0, 40);
  std::vector<Oid> types(params.size(), 0);
  std::vector<std::string> texts(params.size());
  std::vector<const char*> values(params.size());
  std::vector<int> lengths(params.size(), 0);
  std::vector<int> formats(params.size(), 0);
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
  std::string error, sqlstate;
  std::string name = PgStatementCaches::Instance().For(conn).Get(conn, sql, types, error, sqlstate);
  if (name.empty()) return PgError(conn, error, sqlstate, what);
  PGresult* r = PQexecPrepared(conn, name.c_str(), static_cast<int>(params.size()),
                               values.data(), lengths.data(), formats.data(), /*resultFormat=*/0);
  ExecStatusType status = PQresultStatus(r);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    Status st = PgError(conn, PQresultErrorMessage(r), state ? state : "", what);
    PQclear(r);
    return st;
  }
  if (out != nullptr && status == PGRES_TUPLES_OK) {
    const int rows = PQntuples(r);
    const int cols = PQnfields(r);
    out->rows.reserve(out->rows.size() + static_cast<size_t>(rows));
    for (int row = 0; row < rows; ++row) {
      std::vector<Poco::Dynamic::Var> values_out(cols);
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
            values_out[c] = static_cast<Poco::Int64>(std::strtoll(text, nullptr, 10));
            break;
          case kBoolOid:
            values_out[c] = static_cast<Poco::Int64>(text[0] == 't' ? 1 : 0);
            break;
          case kByteaOid: {
            size_t n = 0;
            unsigned char* bytes =
                PQunescapeBytea(reinterpret_cast<const unsigned char*>(text), &n);
            if (bytes == nullptr) {
              PQclear(r);
              return Internal("database error while " + what + ": bytea does not decode",
                              "database_error");
            }
            values_out[c] = Blob(bytes, n);
            PQfreemem(bytes);
            break;
          }
          default:
            values_out[c] = std::string(text, length);
        }
      }
      out->rows.push_back(std::move(values_out));
      out->nulls.push_back(std::move(nulls));
    }
  }
  PQclear(r);
  return Status::Ok();
}

}  // namespace

void ReleaseStatements(Poco::Data::Session& session) {
  if (IsPostgres(session)) {
    PgStatementCaches::Instance().Release(PgHandle(session));
    return;
  }
  if (!IsSqlite(session)) return;
  StatementCaches::Instance().Release(Poco::Data::SQLite::Utility::dbHandle(session));
}

Status EnsureConnected(Poco::Data::Session& session) {
  if (!IsPostgres(session)) return Status::Ok();
  PGconn* conn = PgHandle(session);
  if (PQstatus(conn) == CONNECTION_OK) return Status::Ok();
  PgStatementCaches::Instance().Release(conn);
  PQreset(conn);
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string text = OneLine(PQerrorMessage(conn));
    return Unavailable("database unreachable: " + text, "database_unavailable");
  }
  return Status::Ok();
}

Status Exec(Poco::Data::Session& session, const std::string& sql, const Params& params) {
  if (IsSqlite(session)) return SqliteRun(session, sql, params, nullptr);
  if (IsPostgres(session)) return PgRun(session, sql, params, nullptr);
  try {
    Poco::Data::Statement st(session);
    st << sql;
    BindAll(st, params);
    st.execute();
    return Status::Ok();
  } catch (const Poco::Exception& e) {
    return FromException(e, "executing " + sql.substr(0, 40));
  }
}

StatusOr<Rows> Query(Poco::Data::Session& session, const std::string& sql, const Params& params) {
  if (IsSqlite(session)) {
    Rows out;
    CUSTOS_RETURN_IF_ERROR(SqliteRun(session, sql, params, &out));
    return out;
  }
  if (IsPostgres(session)) {
    Rows out;
    CUSTOS_RETURN_IF_ERROR(PgRun(session, sql, params, &out));
    return out;
  }
  try {
    Poco::Data::Statement st(session);
    st << sql;
    BindAll(st, params);
    st.execute();
    Poco::Data::RecordSet rs(st);
    Rows out;
    size_t cols = rs.columnCount();
    size_t n = rs.rowCount();
    out.rows.resize(n);
    out.nulls.resize(n);
    for (size_t r = 0; r < n; ++r) {
      out.rows[r].reserve(cols);
      out.nulls[r].reserve(cols);
      for (size_t c = 0; c < cols; ++c) {
        bool null = rs.isNull(c, r);
        out.nulls[r].push_back(null);
        out.rows[r].push_back(null ? Poco::Dynamic::Var() : rs.value(c, r));
      }
    }
    return out;
  } catch (const Poco::Exception& e) {
    return FromException(e, "querying " + sql.substr(0, 40));
  }
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
