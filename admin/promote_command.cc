#include "admin/promote_command.h"

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>

#include "admin/command_args.h"
#include "admin/file_copy.h"
#include "admin/init.h"
#include "admin/open_archive.h"
#include "crypto/bytes.h"
#include "domain/model.h"
#include "storage/archive.h"
#include "storage/custody.h"
#include "storage/data_dir.h"
#include "storage/sqlite_store.h"

namespace custos::admin {

namespace {

// The newest checkpoint (size 0 and "" for an empty log).
Status NewestCheckpoint(storage::MetadataStore& store, uint64_t* size, std::string* root) {
  return store.Read([&](storage::Transaction& tx) -> Status {
    StatusOr<storage::StoredCheckpoint> cp = tx.log().LatestCheckpoint();
    if (cp.ok()) {
      *size = cp->size;
      *root = crypto::Base64Encode(cp->root);
      return Status::Ok();
    }
    return cp.status().code() == ErrorCode::kNotFound ? Status::Ok() : cp.status();
  });
}

// The original a restored copy names, if it is an archive reachable from
// here and still holds custody: refused while it is in use or when it
// signed past `size`; otherwise retired (its marker set to
// awaiting_promotion) and its path returned. "" when there is nothing to
// retire.
StatusOr<std::string> RetireOriginal(const std::string& original, const std::string& self,
                                     uint64_t size) {
  std::error_code ec;
  if (original.empty() || !IsDirectory(original) || std::filesystem::equivalent(original, self, ec)) {
    return std::string();
  }
  const storage::DataDir od(original);
  if (!PathExists(od.Database())) return std::string();
  StatusOr<std::unique_ptr<storage::DataDirLock>> lock =
      storage::DataDirLock::Acquire(od, storage::DataDirLock::Mode::kExclusive);
  if (!lock.ok()) {
    return Conflict("the original " + original + ", which this copy was restored from, is in use "
                    "(custosd runs there?): stop it for good before promoting the copy",
                    "original_running");
  }
  CUSTOS_ASSIGN_OR_RETURN(storage::Custody custody, storage::ReadCustody(od));
  if (!custody.held) return std::string();
  storage::SqliteOptions options;
  options.path = od.Database();
  options.read_connections = 1;
  CUSTOS_ASSIGN_OR_RETURN(std::unique_ptr<storage::SqliteStore> store,
                          storage::SqliteStore::Open(options, /*signer=*/nullptr));
  uint64_t original_size = 0;
  std::string root;
  CUSTOS_RETURN_IF_ERROR(NewestCheckpoint(*store, &original_size, &root));
  if (original_size > size) {
    return Conflict("the original " + original + " signed the log up to size " +
                        std::to_string(original_size) + ", past this copy's " +
                        std::to_string(size) + ": promoting would sign a second root for size " +
                        std::to_string(size + 1) + ". Back up the original again and restore "
                        "that, or move the original away if it is lost for good",
                    "promote_would_fork");
  }
  CUSTOS_RETURN_IF_ERROR(storage::AwaitPromotion(
      od, "custody moved to " + std::filesystem::absolute(self, ec).string() +
              " by custosctl promote at " + domain::FormatTime(std::chrono::system_clock::now())));
  return original;
}

}  // namespace

StatusOr<PromoteResult> Promote(const std::string& data_dir) {
  const storage::DataDir dir(data_dir);
  CUSTOS_ASSIGN_OR_RETURN(Config config, LoadDataDirConfig(dir));
  if (config.storage_backend != "sqlite") {
    return InvalidArgument("only an SQLite archive is promoted; nodes on PostgreSQL share one "
                           "log in one database and all sign it",
                           "backend_unsupported");
  }
  StatusOr<std::unique_ptr<storage::DataDirLock>> lock =
      storage::DataDirLock::Acquire(dir, storage::DataDirLock::Mode::kExclusive);
  if (!lock.ok()) {
    return lock.status().WithContext("stop custosd (and any other custosctl) on " + data_dir +
                                     " first");
  }
  CUSTOS_ASSIGN_OR_RETURN(std::unique_ptr<storage::ArchiveStorage> archive, OpenArchive(data_dir));
  PromoteResult result;
  if (archive->custody().held) {
    result.already_held = true;
    return result;
  }
  std::string root;
  CUSTOS_RETURN_IF_ERROR(NewestCheckpoint(archive->store(), &result.from_size, &root));
  CUSTOS_ASSIGN_OR_RETURN(result.retired_original,
                          RetireOriginal(archive->custody().restored_from, data_dir,
                                         result.from_size));
  storage::LogEvent event;
  event.action = std::string(kPromoteAction);
  event.actor = std::string(kCustosctlActor);
  event.at = std::chrono::system_clock::now();
  event.subject = archive->origin();
  event.details.Set("size", result.from_size);
  event.details.Set("root", root);
  CUSTOS_RETURN_IF_ERROR(archive->Promote(event));
  uint64_t size_after = 0;
  CUSTOS_RETURN_IF_ERROR(NewestCheckpoint(archive->store(), &size_after, &root));
  result.event_index = size_after - 1;
  return result;
}

int RunPromote(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto fail = [&err](const std::string& message) {
    err << "custosctl: promote: " << message << "\n";
    return 2;
  };
  std::string error;
  std::optional<std::string> parsed = ParseDataDirOnly(args, error);
  if (!parsed) return fail(error);
  const std::string& data = *parsed;
  StatusOr<PromoteResult> r = Promote(data);
  if (!r.ok()) return fail(r.status().message());
  if (r->already_held) {
    out << data << " already holds the log's signing custody; nothing to do\n";
    return 0;
  }
  out << "Promoted " << data << ": it now signs the log's checkpoints\n"
      << "  logged: " << kPromoteAction << " at index " << r->event_index << " (continuing from size "
      << r->from_size << ")\n";
  if (!r->retired_original.empty()) {
    out << "  retired the original " << r->retired_original
        << ": it signs nothing from now on\n";
  }
  return 0;
}

}  // namespace custos::admin
