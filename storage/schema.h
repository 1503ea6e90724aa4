// The metadata schema, one numbered list of migrations for both SQL
// engines: SQLite (storage/sqlite_store.h) and PostgreSQL
// (storage/postgres_store.h) get the same tables, columns and version
// numbers, so custosctl migrate copies an archive table by table. What
// differs: PostgreSQL stores BLOB columns as BYTEA, has no full-text
// table (SQLite's records_fts and its triggers), and its tables are not
// WITHOUT ROWID (SQLite's storage option for search_postings).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "storage/sql_util.h"

namespace custos::storage {

enum class SqlEngine { kSqlite, kPostgres };

// The migrations for `engine`: element i brings the schema from version i
// to i + 1.
std::vector<std::vector<std::string>> SchemaMigrations(SqlEngine engine);

// The tables an archive's rows live in, in an order that satisfies their
// foreign keys (for copying).
const std::vector<std::string>& SchemaTables();

// Brings the schema of the database behind `connection` up to date,
// each migration in its own transaction, and returns the version reached.
// kInvalidArgument "schema_too_new" if the database is newer than this
// program. The caller serializes concurrent callers (SQLite's BEGIN
// IMMEDIATE does; PostgresStore takes an advisory lock). Sets
// `*from_version`, when given, to the version found before.
StatusOr<int> ApplyMigrations(sql::Connection& connection, SqlEngine engine, int* from_version = nullptr);

}  // namespace custos::storage
