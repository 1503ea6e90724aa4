// Thin helpers over Poco::Data for the SQL stores: run a statement with
// positional parameters ($1, $2, … — portable between SQLite and
// PostgreSQL) and get rows back, turning Poco exceptions into Status.
#pragma once

#include <Poco/Data/LOB.h>
#include <Poco/Data/Session.h>
#include <Poco/Dynamic/Var.h>

#include <string>
#include <variant>
#include <vector>

#include "common/status.h"
#include "crypto/bytes.h"

namespace custos::storage::sql {

using Blob = Poco::Data::BLOB;
using Param = std::variant<std::string, Poco::Int64, Blob>;
using Params = std::vector<Param>;

struct Rows {
  std::vector<std::vector<Poco::Dynamic::Var>> rows;
  std::vector<std::vector<bool>> nulls;
  size_t size() const { return rows.size(); }
  bool empty() const { return rows.empty(); }
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

// On SQLite, Exec and Query keep each connection's prepared statements for
// reuse. Call this before closing such a session (it finalizes them).
void ReleaseStatements(Poco::Data::Session& session);

// PostgreSQL: if the session's connection was lost, forgets its prepared
// statements and reconnects (kUnavailable if the server is unreachable).
// Nothing to do for SQLite.
Status EnsureConnected(Poco::Data::Session& session);

// Executes a statement that returns no rows.
Status Exec(Poco::Data::Session& session, const std::string& sql, const Params& params = {});
// Executes a query and returns every row.
StatusOr<Rows> Query(Poco::Data::Session& session, const std::string& sql,
                     const Params& params = {});

// Maps a Poco exception to a Status: a full disk or database to
// kResourceExhausted "storage_full", everything else to kInternal.
Status FromException(const Poco::Exception& e, const std::string& what);

// A database's message (often several lines, tabs, a trailing newline) as
// one line: runs of whitespace become one space, none at either end.
std::string OneLine(const std::string& text);

// Digest32 from a 32-byte column; kDataLoss "stored_hash_malformed" otherwise.
StatusOr<crypto::Digest32> ToDigest(const crypto::Bytes& b);

}  // namespace custos::storage::sql
