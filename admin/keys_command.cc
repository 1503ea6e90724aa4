#include "admin/keys_command.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>

#include "admin/command_args.h"
#include "admin/file_copy.h"
#include "admin/init.h"
#include "admin/open_archive.h"
#include "crypto/key_provider.h"
#include "storage/archive.h"
#include "storage/keyring.h"
#include "storage/log_leaf.h"

namespace custos::admin {

namespace {

// A file whose DEK still has to be re-wrapped.
struct PendingKey {
  domain::FileId file;
  crypto::WrappedKey key;
};

bool IsKekId(std::string_view id) {
  if (id.size() != 2 * crypto::kKekIdSize) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status BadMarker(const std::string& path, const std::string& why) {
  return InvalidArgument("the rotation marker " + path + " " + why +
                             "; inspect keys/kek by hand (do not delete key files)",
                         "bad_rotation_marker");
}

// The KEK id a marker names, or nullopt when there is no marker.
StatusOr<std::optional<std::string>> ReadMarker(const storage::DataDir& dir) {
  const std::string path = RotationMarkerPath(dir);
  if (!PathExists(path)) return std::optional<std::string>();
  CUSTOS_ASSIGN_OR_RETURN(std::string text, storage::ReadSmallFile(path, 4096));
  const std::string prefix = std::string(kRotationMarkerFormat) + "\nto=";
  if (text.size() != prefix.size() + 2 * crypto::kKekIdSize + 1 ||
      text.compare(0, prefix.size(), prefix) != 0 || text.back() != '\n') {
    return BadMarker(path, "is not a " + std::string(kRotationMarkerFormat) + " file");
  }
  std::string id = text.substr(prefix.size(), 2 * crypto::kKekIdSize);
  if (!IsKekId(id)) return BadMarker(path, "does not name a KEK id");
  return std::optional<std::string>(std::move(id));
}

// Writes the marker atomically (temporary file, fsync, rename, fsync dir).
Status WriteMarker(const storage::DataDir& dir, const std::string& kek_id) {
  const std::string path = RotationMarkerPath(dir);
  const std::string tmp = path + ".tmp";
  if (PathExists(tmp) && ::unlink(tmp.c_str()) != 0) {
    return Internal("cannot remove " + tmp, "kek_file_io");
  }
  CUSTOS_RETURN_IF_ERROR(storage::WriteNewFile(
      tmp, std::string(kRotationMarkerFormat) + "\nto=" + kek_id + "\n", 0600));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Internal("cannot rename " + tmp + " to " + path, "kek_file_io");
  }
  return FsyncDirectory(storage::Keyring::KekDirectory(dir));
}

Status RemoveMarker(const storage::DataDir& dir) {
  const std::string path = RotationMarkerPath(dir);
  if (::unlink(path.c_str()) != 0) return Internal("cannot remove " + path, "kek_file_io");
  return FsyncDirectory(storage::Keyring::KekDirectory(dir));
}

// Finds or starts the rotation: returns the id of the KEK every DEK is to
// be wrapped under, which is current when this returns.
StatusOr<std::string> PrepareTarget(const storage::DataDir& dir, bool* resumed) {
  CUSTOS_ASSIGN_OR_RETURN(std::optional<std::string> marked, ReadMarker(dir));
  std::string target;
  if (marked) {
    *resumed = true;
    target = *marked;
    CUSTOS_ASSIGN_OR_RETURN(std::vector<std::string> ids, storage::Keyring::ListKekIds(dir));
    if (std::find(ids.begin(), ids.end(), target) == ids.end()) {
      return BadMarker(RotationMarkerPath(dir),
                       "names KEK " + target + ", whose key file is missing");
    }
  } else {
    CUSTOS_ASSIGN_OR_RETURN(target, storage::Keyring::AddKek(dir));
    CUSTOS_RETURN_IF_ERROR(WriteMarker(dir, target));
  }
  CUSTOS_ASSIGN_OR_RETURN(std::string current, storage::Keyring::CurrentKekId(dir));
  if (current != target) CUSTOS_RETURN_IF_ERROR(storage::Keyring::SetCurrentKek(dir, target));
  return target;
}

// Sorts every stored file into destroyed, already under `target`, or pending.
StatusOr<std::vector<PendingKey>> CollectPending(storage::MetadataStore& store,
                                                 const std::string& target, RotateResult* result) {
  std::vector<PendingKey> pending;
  result->already_current = 0;
  result->destroyed_files = 0;
  CUSTOS_RETURN_IF_ERROR(store.Read([&](storage::Transaction& tx) -> Status {
    return tx.versions().ForEachFile([&](const domain::StoredFile& f) -> Status {
      if (f.wrapped_dek.empty()) {
        ++result->destroyed_files;
      } else if (f.kek_id == target) {
        ++result->already_current;
      } else {
        pending.push_back({f.id, crypto::WrappedKey{f.kek_id, f.wrapped_dek}});
      }
      return Status::Ok();
    });
  }));
  return pending;
}

// Re-wraps one batch (the key work happens before the transaction, which
// only writes) and commits it.
Status RewrapBatch(storage::ArchiveStorage& archive, const PendingKey* begin,
                   const PendingKey* end) {
  const crypto::KeyProvider& keys = archive.keyring().keys();
  std::vector<PendingKey> rewrapped;
  rewrapped.reserve(static_cast<size_t>(end - begin));
  for (const PendingKey* p = begin; p != end; ++p) {
    StatusOr<crypto::WrappedKey> fresh = keys.Rewrap(p->key);
    if (!fresh.ok()) return fresh.status().WithContext("file " + p->file.value);
    // Never commit a key that does not unwrap again.
    StatusOr<crypto::SecretBytes> check = keys.Unwrap(*fresh);
    if (!check.ok()) return check.status().WithContext("file " + p->file.value);
    rewrapped.push_back({p->file, std::move(fresh).value()});
  }
  return archive.store().Write([&](storage::Transaction& tx) -> Status {
    for (const PendingKey& p : rewrapped) {
      CUSTOS_RETURN_IF_ERROR(tx.versions().SetFileKey(p.file, p.key.kek_id, p.key.wrapped));
    }
    return Status::Ok();
  });
}

Status LogRotation(storage::MetadataStore& store, const std::string& target,
                   const std::vector<std::string>& retired, uint64_t rewrapped) {
  storage::LogEvent event;
  event.action = std::string(kKekRotateAction);
  event.actor = std::string(kCustosctlActor);
  event.at = std::chrono::system_clock::now();
  event.subject = target;
  event.details.Set("kek", target);
  event.details.Set("retired", retired);
  event.details.Set("rewrapped", rewrapped);
  return store.Write(
      [&](storage::Transaction& tx) -> Status { return tx.log().Append(event).status(); });
}

// Steps 6 to 8: checks that every DEK moved, logs the rotation, scrubs the
// store, destroys the retired KEK files and removes the marker.
Status FinishRotation(const storage::DataDir& dir, std::unique_ptr<storage::ArchiveStorage> archive,
                      RotateResult* result) {
  // Re-read what committed: destroy nothing unless every DEK moved.
  RotateResult check;
  CUSTOS_ASSIGN_OR_RETURN(std::vector<PendingKey> left,
                          CollectPending(archive->store(), result->new_kek_id, &check));
  if (!left.empty()) {
    return Internal(std::to_string(left.size()) +
                        " data keys are still wrapped under other KEKs; no key was destroyed "
                        "(run keys rotate again)",
                    "rotation_incomplete");
  }
  CUSTOS_ASSIGN_OR_RETURN(std::vector<std::string> ids, storage::Keyring::ListKekIds(dir));
  std::vector<std::string> retiring;
  for (const std::string& id : ids) {
    if (id != result->new_kek_id) retiring.push_back(id);
  }
  CUSTOS_RETURN_IF_ERROR(
      LogRotation(archive->store(), result->new_kek_id, retiring, result->rewrapped));
  CUSTOS_RETURN_IF_ERROR(archive->store().Scrub());
  archive.reset();
  CUSTOS_ASSIGN_OR_RETURN(result->retired_kek_ids, storage::Keyring::DestroyRetiredKeks(dir));
  CUSTOS_RETURN_IF_ERROR(RemoveMarker(dir));
  return Status::Ok();
}

}  // namespace

std::string RotationMarkerPath(const storage::DataDir& dir) {
  return storage::Keyring::KekDirectory(dir) + "/" + std::string(kRotationMarkerName);
}

StatusOr<RotateResult> RotateKeys(const RotateOptions& options) {
  storage::DataDir dir(options.data_dir);
  if (!IsDirectory(dir.root())) {
    return InvalidArgument("data directory " + dir.root() + " does not exist", "data_dir_missing");
  }
  auto lock = storage::DataDirLock::Acquire(dir, storage::DataDirLock::Mode::kExclusive);
  if (!lock.ok()) {
    const Status& s = lock.status();
    return Status(s.code(), s.message() + "; stop custosd before rotating keys", s.reason());
  }
  // Everything must open before a key file is touched.
  { CUSTOS_RETURN_IF_ERROR(OpenArchive(dir.root()).status()); }

  RotateResult result;
  CUSTOS_ASSIGN_OR_RETURN(result.new_kek_id, PrepareTarget(dir, &result.resumed));
  CUSTOS_ASSIGN_OR_RETURN(std::unique_ptr<storage::ArchiveStorage> archive,
                          OpenArchive(dir.root()));
  if (archive->keyring().keys().current_kek_id() != result.new_kek_id) {
    return Internal("the keyring did not load KEK " + result.new_kek_id + " as current");
  }

  CUSTOS_ASSIGN_OR_RETURN(std::vector<PendingKey> pending,
                          CollectPending(archive->store(), result.new_kek_id, &result));
  const size_t batch = std::max<size_t>(options.batch_size, 1);
  for (size_t at = 0; at < pending.size(); at += batch) {
    if (options.max_batches != 0 && result.batches == options.max_batches) return result;
    const size_t n = std::min(batch, pending.size() - at);
    CUSTOS_RETURN_IF_ERROR(RewrapBatch(*archive, pending.data() + at, pending.data() + at + n));
    ++result.batches;
    result.rewrapped += n;
  }

  CUSTOS_RETURN_IF_ERROR(FinishRotation(dir, std::move(archive), &result));
  result.complete = true;
  return result;
}

namespace {

std::string JoinIds(const std::vector<std::string>& ids) {
  std::string out;
  for (const std::string& id : ids) out += (out.empty() ? "" : ", ") + id;
  return out.empty() ? "none" : out;
}

int RunRotate(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto fail = [&err](const std::string& message) {
    err << "custosctl: keys rotate: " << message << "\n";
    return 2;
  };
  std::string error;
  std::optional<std::string> data = ParseDataDirOnly(args, error);
  if (!data) return fail(error);

  RotateOptions options;
  options.data_dir = *data;
  StatusOr<RotateResult> r = RotateKeys(options);
  if (!r.ok()) return fail(r.status().message());
  if (r->resumed) out << "Resumed an interrupted key rotation\n";
  out << "New current KEK: " << r->new_kek_id << "\n"
      << "  data keys re-wrapped: " << r->rewrapped
      << " (already under the new KEK: " << r->already_current
      << ", destroyed files skipped: " << r->destroyed_files << ")\n"
      << "  retired KEKs destroyed: " << JoinIds(r->retired_kek_ids) << "\n";
  if (!r->complete) return fail("stopped before the rotation finished; run it again");
  out << "note: back up " << storage::DataDir(options.data_dir).KeysDir()
      << " now. Backups made before this rotation can be read only with the keys/ copy made "
         "with them.\n";
  return 0;
}

}  // namespace

int RunKeys(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << "custosctl: keys: missing subcommand (expected: rotate)\n";
    return 2;
  }
  if (args[0] == "rotate") return RunRotate({args.begin() + 1, args.end()}, out, err);
  err << "custosctl: keys: unknown subcommand '" << args[0] << "' (expected: rotate)\n";
  return 2;
}

}  // namespace custos::admin
