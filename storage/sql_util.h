// Connections to the two SQL engines of the metadata store, straight on their
// C libraries (sqlite3 and libpq): run a statement with positional parameters
// ($1, $2, … — portable between SQLite and PostgreSQL) and get rows back,
// every failure as a Status.
//
// A Connection owns its native handle and the statements it has prepared.
// Each statement text is prepared once per connection and reused (on
// PostgreSQL as a named prepared statement, with bytea parameters sent in
// binary, through libpq's pipeline mode: a first use prepares and runs in
// one round trip, and SetDeferred() lets writes ride with the next query): preparing was about 40% of the server's CPU on catalogue reads,
// and 60% of a batched log append, when every execution prepared anew.
// Statements built with varying text (IN lists, LIMITs) would grow a cache
// without bound, so each starts over at 256 statements. Nothing is shared
// between connections, and closing one finalizes its statements.
//
// Thread safety: a Connection is used by one thread at a time (a store's
// batch leader, or one reader taken from a ConnectionPool); it has no lock.
#pragma once

#include <Poco/Data/LOB.h>
#include <Poco/Dynamic/Var.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"
#include "crypto/bytes.h"

namespace custos::storage::sql {

using Blob = Poco::Data::BLOB;
using Param = std::variant<std::string, Poco::Int64, Blob>;
using Params = std::vector<Param>;

// The rows of a query. Columns come back as Poco::Int64 (integers, and
// PostgreSQL booleans as 0 or 1), double (SQLite REAL), Blob (BLOB and
// bytea) or std::string (everything else, PostgreSQL floats included).
struct Rows {
  std::vector<std::vector<Poco::Dynamic::Var>> rows;
  std::vector<std::vector<bool>> nulls;
  size_t size() const { return rows.size(); }
  bool empty() const { return rows.empty(); }
  // The value converted; "", 0 or no bytes for NULL.
  std::string Text(size_t row, size_t col) const;
  int64_t Int(size_t row, size_t col) const;
  crypto::Bytes Bytes(size_t row, size_t col) const;
  bool IsNull(size_t row, size_t col) const { return nulls[row][col]; }
};

inline Param P(std::string s) { return Param(std::move(s)); }
inline Param P(const char* s) { return Param(std::string(s)); }
inline Param P(int64_t v) { return Param(static_cast<Poco::Int64>(v)); }
inline Param P(uint64_t v) { return Param(static_cast<Poco::Int64>(v)); }
inline Param P(int v) { return Param(static_cast<Poco::Int64>(v)); }
inline Param P(bool v) { return Param(static_cast<Poco::Int64>(v ? 1 : 0)); }
Param P(const crypto::Bytes& b);
Param P(const crypto::Digest32& d);

// One result row while Connection::Scan visits it: its columns read in
// place, valid only until the visit returns.
class RowView {
 public:
  virtual ~RowView() = default;
  // The integer column `col` (0 for NULL).
  virtual int64_t Int(int col) const = 0;
  // The bytes of a text or BLOB/bytea column `col` (empty for NULL).
  virtual std::string_view Bytes(int col) const = 0;
};

using RowVisitor = std::function<Status(const RowView&)>;

// One open connection with its prepared statements. Failures of Run and
// Script: kResourceExhausted "storage_full" for a full disk or database,
// kUnavailable "database_unavailable" for a lost PostgreSQL connection,
// kInternal "database_error" otherwise.
class Connection {
 public:
  virtual ~Connection() = default;

  // Runs one statement with `params`, prepared once and reused; appends
  // the result rows to `*out` when `out` is non-null.
  [[nodiscard]] virtual Status Run(const std::string& statement, const Params& params,
                                   Rows* out) = 0;
  // Runs a query and calls `visit` for each result row in turn, without
  // materialising rows (SQLite reads the columns in place: for long scans
  // such as the verifier's). Stops at the first error `visit` returns and
  // returns it; otherwise fails as Run. `visit` must not use this
  // connection. The default runs the query through Run and visits the
  // rows it returned.
  [[nodiscard]] virtual Status Scan(const std::string& statement, const Params& params,
                                    const RowVisitor& visit);
  // Runs one or more statements without parameters and without keeping
  // them prepared (pragmas, maintenance); result rows are dropped.
  [[nodiscard]] virtual Status Script(const std::string& statements) = 0;
  // PostgreSQL: if the connection was lost, forgets its prepared statements
  // and reconnects (kUnavailable "database_unavailable" if the server is
  // unreachable). SQLite: nothing to do, OK.
  [[nodiscard]] virtual Status EnsureConnected() = 0;
  // Pipelining. While on, Run without rows to return (`out` null) only
  // queues its statement and returns OK: the queued statements go to the
  // server with the next Run that returns rows, or at Sync(), in one round
  // trip, and that call reports the first of their failures (returning it
  // instead of its own outcome; on PostgreSQL the statements after a
  // failure are not run). Queued statements run in order, so a write
  // function sees its own writes. PostgreSQL only: SQLite runs every
  // statement at once (the default, which ignores this). Turning it off
  // sends what is still queued without waiting: the next call that waits
  // reports its outcome.
  virtual void SetDeferred(bool on) { (void)on; }
  // Waits for every queued statement; returns the first failure (as Run).
  // OK at once when nothing is queued.
  [[nodiscard]] virtual Status Sync() { return Status::Ok(); }
  // SQLite: from now on calls `changed` with the table of every row that an
  // INSERT, UPDATE or DELETE through this connection changes, on the thread
  // running the statement, before it returns (sqlite3_update_hook; rows of
  // tables WITHOUT ROWID are not reported, nor a DELETE without WHERE that
  // SQLite turns into a truncation, which the stores never run). An empty
  // function stops the calls. PostgreSQL: kInvalidArgument "unsupported"
  // (the default).
  [[nodiscard]] virtual Status WatchRowChanges(std::function<void(std::string_view table)> changed);
};

// Opens (creating it if missing) the SQLite database file `path`, with
// SQLite's defaults: the store sets its pragmas. kInternal
// "database_error" if it does not open.
StatusOr<std::unique_ptr<Connection>> OpenSqlite(const std::string& path);

// Connects to PostgreSQL; `dsn` is a libpq connection string or URI.
// kUnavailable "database_unavailable" if that fails (the message is
// libpq's, which names no password).
StatusOr<std::unique_ptr<Connection>> OpenPostgres(const std::string& dsn);

// Executes a statement that returns no rows.
[[nodiscard]] inline Status Exec(Connection& c, const std::string& statement,
                                 const Params& params = {}) {
  return c.Run(statement, params, nullptr);
}
// Executes a query and returns every row.
StatusOr<Rows> Query(Connection& c, const std::string& statement, const Params& params = {});

// A database's message (often several lines, tabs, a trailing newline) as
// one line: runs of whitespace become one space, none at either end.
std::string OneLine(const std::string& text);

// Digest32 from a 32-byte column; kDataLoss "stored_hash_malformed" otherwise.
StatusOr<crypto::Digest32> ToDigest(const crypto::Bytes& b);

}  // namespace custos::storage::sql
