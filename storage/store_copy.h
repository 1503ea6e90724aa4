// Copying an archive's metadata from its SQLite database into PostgreSQL,
// row for row, for `custosctl migrate` (admin/migrate_command.h).
//
// Both databases are first brought to the current schema version by
// opening them as stores, so the same tables and columns exist on both
// sides (storage/schema.h). The target must hold no archive (no log entry,
// no user). Everything is inserted in one PostgreSQL transaction: a failed
// copy leaves the target as empty as it was. Nothing else may write to
// either database meanwhile (custosd stopped: the caller holds the data
// directory's exclusive lock).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "common/status.h"

namespace custos::storage {

struct CopyProgress {
  std::string table;
  uint64_t rows = 0;  // copied so far from this table
};

// Rows copied per table.
using CopyCounts = std::map<std::string, uint64_t>;

// Errors: kConflict "database_not_empty" (the target holds an archive),
// kInvalidArgument "schema_mismatch", and the stores' own.
StatusOr<CopyCounts> CopySqliteToPostgres(const std::string& sqlite_path, const std::string& dsn,
                                          const std::function<void(const CopyProgress&)>& progress = {});

}  // namespace custos::storage
