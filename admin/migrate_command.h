// `custosctl migrate --from DIR --to DSN`: moves an archive's metadata and
// audit log from its SQLite database to PostgreSQL, after which several
// custosd nodes can serve it (docs/operations.md, "Several nodes on
// PostgreSQL"). The keys, the blob folder and the rest of DIR stay where
// they are.
//
// Steps, each of which stops the migration if it fails:
//   1. takes DIR's exclusive lock (custosd must be stopped);
//   2. verifies the log in SQLite (leaves, hash chain, tree, signed
//      checkpoints) and notes its size and root;
//   3. copies every row into the empty PostgreSQL database in one
//      transaction (storage/store_copy.h);
//   4. opens the archive on PostgreSQL and verifies everything, blobs
//      included, and requires the same log size and root as in step 2;
//   5. only then switches DIR/custos.conf to storage.backend = postgresql
//      (written to a new file, fsynced, renamed over the old one) and renames
//      custos.db to custos.db.migrated.
// Until step 5 the archive is still on SQLite, untouched. custos.db.migrated
// still holds the data keys of files destroyed later on PostgreSQL: delete
// it once the migration is confirmed.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "common/status.h"
#include "crypto/bytes.h"
#include "storage/store_copy.h"

namespace custos::admin {

struct MigrateOptions {
  std::string data_dir;
  std::string dsn;  // libpq key=value string or postgresql:// URI
};

struct MigrateResult {
  uint64_t log_size = 0;
  crypto::Digest32 log_root{};
  storage::CopyCounts rows;
  std::string old_database;  // where custos.db went
};

// Errors: kInvalidArgument "backend_not_sqlite", "archive_does_not_verify",
// "migrated_archive_does_not_verify"; kConflict "data_dir_in_use",
// "database_not_empty", "signing_not_promoted" (a restored or copied data
// directory not yet promoted, admin/promote_command.h); and the stores' own.
StatusOr<MigrateResult> Migrate(const MigrateOptions& options, std::ostream& progress);

// The command line: exit 0 migrated, 2 not migrated (with the reason).
int RunMigrate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace custos::admin
