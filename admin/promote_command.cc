#include "admin/promote_command.h"

#include <chrono>
#include <memory>
#include <optional>

#include "admin/command_args.h"
#include "admin/init.h"
#include "admin/open_archive.h"
#include "crypto/bytes.h"
#include "storage/archive.h"
#include "storage/data_dir.h"

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
  return 0;
}

}  // namespace custos::admin
