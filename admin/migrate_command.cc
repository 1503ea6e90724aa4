#include "admin/migrate_command.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "admin/command_args.h"
#include "admin/open_archive.h"
#include "crypto/bytes.h"
#include "storage/archive.h"
#include "storage/data_dir.h"

namespace custos::admin {

namespace {

struct LogState {
  uint64_t size = 0;
  crypto::Digest32 root{};
};

// Verifies `archive` (with its blobs when `content`) and returns its log's
// size and root; `reason` names the failure.
StatusOr<LogState> VerifiedLog(storage::ArchiveStorage& archive, bool content,
                               const std::string& where, const std::string& reason) {
  StatusOr<storage::VerifyReport> report = Status::Ok();
  if (content) {
    report = archive.Verify();
  } else {
    storage::VerifyOptions o;
    o.origin = archive.origin();
    o.verifiers = archive.keyring().log_verifiers();
    report = storage::VerifyArchive(archive.store(), o);
  }
  CUSTOS_RETURN_IF_ERROR(report.status());
  if (!report->clean()) {
    const auto& f = report->findings.front();
    return InvalidArgument("the archive " + where + " does not verify (" +
                               std::to_string(report->findings.size()) + " findings, first: " +
                               f.object + ": " + f.problem + ")",
                           reason);
  }
  LogState state;
  CUSTOS_RETURN_IF_ERROR(archive.store().Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(state.size, tx.log().Size());
    CUSTOS_ASSIGN_OR_RETURN(state.root, tx.log().RootAt(state.size));
    return Status::Ok();
  }));
  return state;
}

Status SyncDirectoryOf(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Internal("cannot open " + dir);
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::Ok() : Internal("cannot fsync " + dir);
}

// Replaces DIR/custos.conf with `config`, atomically.
Status ReplaceConfig(const storage::DataDir& dir, const Config& config) {
  const std::string path = dir.ConfigFile();
  const std::string next = path + ".migrate";
  ::unlink(next.c_str());  // from an earlier, interrupted attempt
  CUSTOS_RETURN_IF_ERROR(storage::WriteNewFile(next, FormatConfigFile(config), 0600));
  if (::rename(next.c_str(), path.c_str()) != 0) return Internal("cannot replace " + path);
  return SyncDirectoryOf(dir.root());
}

}  // namespace

StatusOr<MigrateResult> Migrate(const MigrateOptions& options, std::ostream& progress) {
  storage::DataDir dir(options.data_dir);
  CUSTOS_ASSIGN_OR_RETURN(Config config, LoadDataDirConfig(dir));
  if (config.storage_backend != "sqlite") {
    return InvalidArgument("the archive in " + options.data_dir + " is on " +
                               config.storage_backend + " already; only sqlite migrates",
                           "backend_not_sqlite");
  }
  Config target = config;
  CUSTOS_RETURN_IF_ERROR(SetConfigValue(target, "storage.backend", "postgresql"));
  CUSTOS_RETURN_IF_ERROR(SetConfigValue(target, "storage.dsn", options.dsn));
  CUSTOS_RETURN_IF_ERROR(ValidateConfig(target));

  auto lock = storage::DataDirLock::Acquire(dir, storage::DataDirLock::Mode::kExclusive);
  if (!lock.ok()) {
    return Conflict(lock.status().message() + "; stop custosd before migrating", "data_dir_in_use");
  }

  MigrateResult result;
  LogState before;
  {
    CUSTOS_ASSIGN_OR_RETURN(auto archive, storage::ArchiveStorage::Open(dir, config));
    // On PostgreSQL custody no longer guards it: a restored or copied
    // directory must be promoted (and so be the only signing copy) first.
    if (!archive->custody().held) {
      return Conflict("this data directory does not hold the log's signing custody (" +
                          archive->custody().why_not + "); custosctl promote it first",
                      "signing_not_promoted");
    }
    progress << "verifying the log on SQLite\n";
    CUSTOS_ASSIGN_OR_RETURN(before, VerifiedLog(*archive, /*content=*/false, "on SQLite",
                                                "archive_does_not_verify"));
    progress << "  size " << before.size << ", root " << crypto::Base64Encode(before.root) << "\n";
  }

  progress << "copying to PostgreSQL\n";
  CUSTOS_ASSIGN_OR_RETURN(result.rows, storage::CopySqliteToPostgres(dir.Database(), options.dsn));
  for (const auto& [table, n] : result.rows) progress << "  " << table << ": " << n << " rows\n";

  {
    progress << "verifying the archive on PostgreSQL (log and every blob)\n";
    CUSTOS_ASSIGN_OR_RETURN(auto archive, storage::ArchiveStorage::Open(dir, target));
    CUSTOS_ASSIGN_OR_RETURN(LogState after, VerifiedLog(*archive, /*content=*/true, "on PostgreSQL",
                                                        "migrated_archive_does_not_verify"));
    if (after.size != before.size || after.root != before.root) {
      return InvalidArgument("the log on PostgreSQL (size " + std::to_string(after.size) +
                                 ") differs from the log on SQLite (size " +
                                 std::to_string(before.size) + ")",
                             "migrated_archive_does_not_verify");
    }
    progress << "  size " << after.size << ", root " << crypto::Base64Encode(after.root)
             << ": the same\n";
  }

  result.log_size = before.size;
  result.log_root = before.root;
  CUSTOS_RETURN_IF_ERROR(ReplaceConfig(dir, target));
  result.old_database = dir.Database() + ".migrated";
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::string from = dir.Database() + suffix;
    std::string to = result.old_database + suffix;
    if (::access(from.c_str(), F_OK) == 0 && ::rename(from.c_str(), to.c_str()) != 0) {
      return Internal("migrated, but cannot rename " + from + " to " + to);
    }
  }
  CUSTOS_RETURN_IF_ERROR(SyncDirectoryOf(dir.root()));
  return result;
}

int RunMigrate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto fail = [&err](const std::string& message) {
    err << "custosctl: migrate: " << message << "\n";
    return 2;
  };
  std::string error;
  auto parsed = ParseArgs(args, {"--from", "--to"}, {}, error);
  if (!parsed) return fail(error);
  if (!parsed->positionals.empty()) return fail("unknown argument '" + parsed->positionals.front() + "'");
  for (const char* required : {"--from", "--to"}) {
    if (!parsed->options.count(required)) return fail(std::string(required) + " is required");
  }
  MigrateOptions options;
  options.data_dir = parsed->options.at("--from");
  options.dsn = parsed->options.at("--to");
  StatusOr<MigrateResult> result = Migrate(options, out);
  if (!result.ok()) {
    return fail(result.status().message() + " (" + result.status().reason() +
                "); the archive stays on SQLite");
  }
  out << "Migrated " << options.data_dir << " to PostgreSQL\n"
      << "  log: size " << result->log_size << ", root " << crypto::Base64Encode(result->log_root)
      << " (verified before and after)\n"
      << "  custos.conf now says storage.backend = postgresql\n"
      << "  the SQLite database is kept as " << result->old_database
      << ": it still holds the keys of every file it knew, so delete it once the migration is "
         "confirmed (files destroyed from now on are not shredded while it exists)\n";
  return 0;
}

}  // namespace custos::admin
