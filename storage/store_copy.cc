#include "storage/store_copy.h"

#include <algorithm>
#include <memory>
#include <typeinfo>

#include "storage/postgres_store.h"
#include "storage/schema.h"
#include "storage/sql_util.h"
#include "storage/sqlite_store.h"

namespace custos::storage {

namespace {

using sql::P;
using sql::Params;
using sql::Rows;

// Rows per SELECT page and per multi-row INSERT (16 columns at most:
// 8,000 parameters, well below PostgreSQL's 65,535).
constexpr int kRowsPerPage = 500;

struct Column {
  std::string name;
  bool blob = false;
  int pk = 0;  // position in the primary key, from 1; 0: not in it
};

StatusOr<std::vector<Column>> SqliteColumns(sql::Connection& s, const std::string& table) {
  CUSTOS_ASSIGN_OR_RETURN(
      Rows r, sql::Query(s, "SELECT name, type, pk FROM pragma_table_info($1) ORDER BY cid", {P(table)}));
  std::vector<Column> out;
  for (size_t i = 0; i < r.size(); ++i) {
    out.push_back({r.Text(i, 0), r.Text(i, 1) == "BLOB", static_cast<int>(r.Int(i, 2))});
  }
  if (out.empty()) return Internal("table " + table + " is missing from the SQLite database");
  return out;
}

// One SQLite value as an insert parameter of the same type.
StatusOr<sql::Param> ToParam(const Rows& r, size_t row, size_t col, const Column& c,
                             const std::string& table) {
  if (r.IsNull(row, col)) {
    // Blob columns are written empty, never NULL; an old NULL means the same.
    if (c.blob) return P(crypto::Bytes{});
    return DataLoss("unexpected NULL in " + table + "." + c.name, "unexpected_null");
  }
  const Poco::Dynamic::Var& v = r.rows[row][col];
  if (v.type() == typeid(sql::Blob)) return sql::Param(v.extract<sql::Blob>());
  if (v.type() == typeid(Poco::Int64)) return P(static_cast<int64_t>(v.extract<Poco::Int64>()));
  return P(r.Text(row, col));
}

// Whether `table` is a WITHOUT ROWID table (search_postings).
StatusOr<bool> WithoutRowid(sql::Connection& s, const std::string& table) {
  CUSTOS_ASSIGN_OR_RETURN(Rows r, sql::Query(s, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = $1",
                                             {P(table)}));
  return !r.empty() && r.Text(0, 0).find("WITHOUT ROWID") != std::string::npos;
}

// How a table is read page by page: the key columns selected first, the
// condition for rows after the last page's key ($1…), and the order.
struct Paging {
  std::vector<std::string> key;  // rowid, or the primary key's columns in key order
  std::string after;             // "rowid > $1", "(a, b) > ($1, $2)"
  std::string order;             // "rowid", "a, b"
};

Paging PagingOf(bool without_rowid, const std::vector<Column>& columns) {
  Paging p;
  if (!without_rowid) {
    // Every other table is a rowid table, and rowid order is insertion
    // order, so parents (earlier tables) are always in place.
    p.key = {"rowid"};
  } else {
    // No rowid: keyset paging on the primary key (such tables are derived
    // data with no foreign keys, so their order does not matter).
    std::vector<const Column*> pk;
    for (const Column& c : columns) {
      if (c.pk > 0) pk.push_back(&c);
    }
    std::sort(pk.begin(), pk.end(), [](const Column* a, const Column* b) { return a->pk < b->pk; });
    for (const Column* c : pk) p.key.push_back(c->name);
  }
  std::string params;
  for (size_t i = 0; i < p.key.size(); ++i) {
    p.order += (i ? ", " : "") + p.key[i];
    params += (i ? ", $" : "$") + std::to_string(i + 1);
  }
  p.after = p.key.size() == 1 ? p.order + " > " + params : "(" + p.order + ") > (" + params + ")";
  return p;
}

Status CopyTable(sql::Connection& from, sql::Connection& to, const std::string& table,
                 uint64_t* copied, const std::function<void(const CopyProgress&)>& progress) {
  CUSTOS_ASSIGN_OR_RETURN(std::vector<Column> columns, SqliteColumns(from, table));
  CUSTOS_ASSIGN_OR_RETURN(bool without_rowid, WithoutRowid(from, table));
  const Paging paging = PagingOf(without_rowid, columns);
  std::string names;
  for (const Column& c : columns) names += (names.empty() ? "" : ", ") + c.name;
  const size_t keys = paging.key.size();
  const std::string select = "SELECT " + paging.order + ", " + names + " FROM " + table + " WHERE " + paging.after +
                             " ORDER BY " + paging.order + " LIMIT " + std::to_string(kRowsPerPage);
  // Before the first page: a key below every key (rowids are positive, and
  // SQLite orders every integer before every text and blob).
  Params after(keys, P(int64_t{-1}));
  for (;;) {
    CUSTOS_ASSIGN_OR_RETURN(Rows r, sql::Query(from, select, after));
    if (r.empty()) return Status::Ok();
    std::string insert = "INSERT INTO " + table + " (" + names + ") VALUES ";
    Params params;
    params.reserve(r.size() * columns.size());
    for (size_t i = 0; i < r.size(); ++i) {
      insert += i ? ", (" : "(";
      for (size_t c = 0; c < columns.size(); ++c) {
        CUSTOS_ASSIGN_OR_RETURN(sql::Param p, ToParam(r, i, c + keys, columns[c], table));
        params.push_back(std::move(p));
        insert += (c ? ", $" : "$") + std::to_string(params.size());
      }
      insert += ")";
    }
    CUSTOS_RETURN_IF_ERROR(sql::Exec(to, insert, params).WithContext("copying " + table));
    const size_t last = r.size() - 1;
    for (size_t k = 0; k < keys; ++k) {
      const std::type_info& type = r.rows[last][k].type();
      if (type == typeid(Poco::Int64)) {
        after[k] = P(r.Int(last, k));
      } else if (type == typeid(sql::Blob)) {  // search_postings.token
        after[k] = P(r.Bytes(last, k));
      } else {
        after[k] = P(r.Text(last, k));
      }
    }
    *copied += r.size();
    if (progress) progress({table, *copied});
  }
}

// Version of the schema a connection's database is at.
StatusOr<int64_t> SchemaVersion(sql::Connection& s) {
  CUSTOS_ASSIGN_OR_RETURN(Rows r,
                          sql::Query(s, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"));
  return r.Int(0, 0);
}

}  // namespace

StatusOr<CopyCounts> CopySqliteToPostgres(const std::string& sqlite_path, const std::string& dsn,
                                          const std::function<void(const CopyProgress&)>& progress) {
  // Opening each as a store applies its migrations; a store without signer
  // cannot write.
  {
    CUSTOS_ASSIGN_OR_RETURN(auto source, SqliteStore::Open({sqlite_path}, nullptr));
    PostgresOptions target_options;
    target_options.dsn = dsn;
    target_options.read_connections = 1;
    CUSTOS_ASSIGN_OR_RETURN(auto target, PostgresStore::Open(target_options, nullptr));
    if (source->schema_version() != target->schema_version()) {
      return InvalidArgument("schema versions differ", "schema_mismatch");
    }
  }
  CUSTOS_ASSIGN_OR_RETURN(std::string target_dsn, NormalizePostgresDsn(dsn));
  CUSTOS_ASSIGN_OR_RETURN(std::unique_ptr<sql::Connection> from, sql::OpenSqlite(sqlite_path));
  CUSTOS_ASSIGN_OR_RETURN(std::unique_ptr<sql::Connection> to, sql::OpenPostgres(target_dsn));
  CopyCounts counts;
  Status st = [&]() -> Status {
    CUSTOS_RETURN_IF_ERROR(sql::Exec(*from, "BEGIN"));  // one snapshot of the source
    CUSTOS_RETURN_IF_ERROR(sql::Exec(*to, "BEGIN"));
    CUSTOS_ASSIGN_OR_RETURN(int64_t from_version, SchemaVersion(*from));
    CUSTOS_ASSIGN_OR_RETURN(int64_t to_version, SchemaVersion(*to));
    if (from_version != to_version) return InvalidArgument("schema versions differ", "schema_mismatch");
    CUSTOS_ASSIGN_OR_RETURN(
        Rows used, sql::Query(*to, "SELECT (SELECT COUNT(*) FROM log_leaves) + (SELECT COUNT(*) FROM users)"));
    if (used.Int(0, 0) != 0) {
      return Conflict("the PostgreSQL database already holds an archive; give an empty database",
                      "database_not_empty");
    }
    for (const std::string& table : SchemaTables()) {
      uint64_t& n = counts[table];
      CUSTOS_RETURN_IF_ERROR(CopyTable(*from, *to, table, &n, progress));
    }
    return sql::Exec(*to, "COMMIT");
  }();
  if (!st.ok()) (void)sql::Exec(*to, "ROLLBACK");
  (void)sql::Exec(*from, "ROLLBACK");
  if (!st.ok()) return st;
  return counts;
}

}  // namespace custos::storage
