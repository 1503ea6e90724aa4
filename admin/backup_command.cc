#include "admin/backup_command.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "admin/command_args.h"
#include "admin/file_copy.h"
#include "admin/keys_command.h"
#include "admin/open_archive.h"
#include "admin/verify.h"
#include "crypto/bytes.h"
#include "crypto/key_provider.h"
#include "storage/archive.h"
#include "storage/blob_store.h"
#include "storage/custody.h"
#include "storage/data_dir.h"
#include "storage/sqlite_store.h"

namespace custos::admin {

namespace {

constexpr unsigned kDirMode = 0700;
constexpr unsigned kFileMode = 0600;
constexpr char kDatabaseName[] = "custos.db";
constexpr char kWalSuffix[] = "-wal";
constexpr char kConfigName[] = "custos.conf";
constexpr char kBlobsName[] = "blobs";
constexpr char kKeysName[] = "keys";
constexpr char kTlsName[] = "tls";
constexpr char kTrustName[] = "trust";
// How long the snapshot waits for a database another process keeps busy
// (WAL readers are blocked only by recovery or a checkpoint in progress).
constexpr int kBusyTimeoutMs = 10000;
constexpr int kBusyRetries = 100;
constexpr std::chrono::milliseconds kBusyPause(50);

std::string Path(const std::string& dir, const std::string& name) { return dir + "/" + name; }

unsigned PrivateFile(const std::string&) { return kFileMode; }

// ---------------------------------------------------------------- database

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
using SqliteHandle = std::unique_ptr<sqlite3, SqliteCloser>;

Status SnapshotFailure(const std::string& what, sqlite3* db) {
  std::string detail = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
  return Internal("database snapshot: " + what + ": " + detail, "database_backup_failed");
}

StatusOr<SqliteHandle> OpenSqlite(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  SqliteHandle db(raw);
  if (rc != SQLITE_OK) return SnapshotFailure("cannot open " + path, db.get());
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
  return db;
}

Status Fsync(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Internal("cannot open " + path, "database_backup_failed");
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Internal("cannot fsync " + path, "database_backup_failed");
  return Status::Ok();
}

// Copies the live database `source` into the new file `target` with the
// SQLite online backup API. The source connection is read-write only so
// that it can join the WAL (its shared-memory index) like any reader; it is
// set query_only and never writes. One backup step copies every page inside
// one read transaction, so the copy is one committed state even while
// custosd keeps committing.
Status SnapshotDatabase(const std::string& source, const std::string& target) {
  if (!PathExists(source)) {
    return InvalidArgument("no database at " + source, "data_dir_missing");
  }
  // Create the copy 0600 before SQLite does (it would honour the umask).
  int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, kFileMode);
  if (fd < 0) return Internal("cannot create " + target, "database_backup_failed");
  ::fchmod(fd, kFileMode);
  ::close(fd);
  {
    CUSTOS_ASSIGN_OR_RETURN(SqliteHandle src,
                            OpenSqlite(source, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX));
    if (sqlite3_exec(src.get(), "PRAGMA query_only = ON", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return SnapshotFailure("query_only", src.get());
    }
    CUSTOS_ASSIGN_OR_RETURN(SqliteHandle dst,
                            OpenSqlite(target, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX));
    sqlite3_backup* backup = sqlite3_backup_init(dst.get(), "main", src.get(), "main");
    if (backup == nullptr) return SnapshotFailure("cannot start the backup", dst.get());
    int rc = SQLITE_OK;
    for (int attempt = 0; attempt < kBusyRetries; ++attempt) {
      rc = sqlite3_backup_step(backup, -1);
      if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) break;
      std::this_thread::sleep_for(kBusyPause);
    }
    int finish = sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE) {
      return Internal(std::string("database snapshot: ") + sqlite3_errstr(rc),
                      "database_backup_failed");
    }
    if (finish != SQLITE_OK) return SnapshotFailure("cannot finish the backup", dst.get());
  }
  return Fsync(target);
}

// What the snapshot references, read back from the copy.
struct SnapshotContent {
  std::vector<domain::BlobId> blobs;  // of live files
  std::set<std::string> kek_ids;       // of live files
};

StatusOr<SnapshotContent> ReadSnapshot(const std::string& db_path, BackupInfo* info) {
  storage::SqliteOptions options;
  options.path = db_path;
  options.read_connections = 1;
  CUSTOS_ASSIGN_OR_RETURN(std::unique_ptr<storage::SqliteStore> store,
                          storage::SqliteStore::Open(options, /*signer=*/nullptr));
  SnapshotContent content;
  CUSTOS_RETURN_IF_ERROR(store->Read([&](storage::Transaction& tx) -> Status {
    StatusOr<storage::StoredCheckpoint> cp = tx.log().LatestCheckpoint();
    if (cp.ok()) {
      info->log_size = cp->size;
      info->log_root = crypto::Base64Encode(cp->root);
      info->checkpoint = cp->note;
    } else if (cp.status().code() != ErrorCode::kNotFound) {
      return cp.status();
    }
    CUSTOS_RETURN_IF_ERROR(tx.records().ForEach([&](const domain::Record&) -> Status {
      ++info->records;
      return Status::Ok();
    }));
    return tx.versions().ForEachFile([&](const domain::StoredFile& f) -> Status {
      ++info->files;
      if (f.wrapped_dek.empty()) {
        ++info->destroyed_files;  // crypto-shredded: no blob, nothing to copy
      } else {
        content.blobs.push_back(f.blob_id);
        content.kek_ids.insert(f.kek_id);
      }
      return Status::Ok();
    });
  }));
  return content;
}

// ------------------------------------------------------------------- blobs

// Copies the blobs `ids` from the blob folder `from` into the new folder
// `to`, in the same layout, each fsynced, then the directories.
Status CopyBlobs(const std::string& from, const std::string& to,
                 const std::vector<domain::BlobId>& ids, BackupInfo* info) {
  CUSTOS_ASSIGN_OR_RETURN(std::unique_ptr<storage::FileBlobStore> source,
                          storage::FileBlobStore::OpenDirectory(from));
  CUSTOS_RETURN_IF_ERROR(MakeDirectory(to, kDirMode, /*must_be_new=*/true));
  CUSTOS_ASSIGN_OR_RETURN(std::unique_ptr<storage::FileBlobStore> target,
                          storage::FileBlobStore::OpenDirectory(to));
  std::set<std::string> fan_out;
  for (const domain::BlobId& id : ids) {
    CUSTOS_RETURN_IF_ERROR(storage::ValidateBlobId(id));
    const std::string dst = target->BlobPath(id);
    const std::string dir = dst.substr(0, dst.rfind('/'));
    if (fan_out.insert(dir).second) {
      CUSTOS_RETURN_IF_ERROR(MakeDirectory(dir, storage::kBlobDirMode, /*must_be_new=*/false));
    }
    StatusOr<uint64_t> bytes = CopyFileDurably(source->BlobPath(id), dst, storage::kBlobFileMode);
    if (!bytes.ok() && bytes.status().code() == ErrorCode::kNotFound) {
      return NotFound("blob " + id.value +
                          ", referenced by the database snapshot, is missing from " + from +
                          " (destroyed while the backup ran?); run the backup again",
                      "copy_source_missing");
    }
    if (!bytes.ok()) return bytes.status();
    ++info->blobs;
    info->blob_bytes += *bytes;
  }
  for (const std::string& dir : fan_out) CUSTOS_RETURN_IF_ERROR(FsyncDirectory(dir));
  return FsyncDirectory(to);
}

// -------------------------------------------------------------------- keys

// KEK ids in `kek_ids` without a key file in keys_dir/kek.
std::vector<std::string> MissingKeks(const std::string& keys_dir,
                                     const std::vector<std::string>& kek_ids) {
  std::vector<std::string> missing;
  for (const std::string& id : kek_ids) {
    if (!PathExists(keys_dir + "/kek/" + id + ".key")) missing.push_back(id);
  }
  return missing;
}

std::string JoinIds(const std::vector<std::string>& ids) {
  std::string out;
  for (const std::string& id : ids) out += (out.empty() ? "" : ", ") + id;
  return out;
}

Status CopyKeysIntoBackup(const storage::DataDir& source, const std::string& out_dir,
                          const BackupInfo& info) {
  const std::string marker = RotationMarkerPath(source);
  auto rotating = [&] {
    return Conflict("a key rotation is unfinished in " + source.root() +
                        " (keys/kek/rotation exists); finish it with custosctl keys rotate first",
                    "rotation_in_progress");
  };
  if (PathExists(marker)) return rotating();
  const std::string target = Path(out_dir, kKeysName);
  CUSTOS_RETURN_IF_ERROR(CopyTree(source.KeysDir(), target, kDirMode, PrivateFile).status());
  if (PathExists(marker) || PathExists(Path(target, "kek/" + std::string(kRotationMarkerName)))) {
    return rotating();
  }
  std::vector<std::string> missing = MissingKeks(target, info.kek_ids);
  if (!missing.empty()) {
    return Conflict("the keys changed while the backup ran (no key file for KEK " +
                        JoinIds(missing) + "); run the backup again",
                    "rotation_in_progress");
  }
  return Status::Ok();
}

std::string AbsolutePath(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) return path;
  return buf;
}

std::string NowText() { return domain::FormatTime(std::chrono::system_clock::now()); }

// ------------------------------------------------------------------ restore

Status CopyIntoDataDir(const RestoreOptions& options, const std::string& keys_source,
                       const storage::DataDir& dir) {
  const std::string& from = options.from;
  CUSTOS_RETURN_IF_ERROR(
      CopyFileDurably(Path(from, kConfigName), dir.ConfigFile(), kFileMode).status());
  for (const char* folder : {kTlsName, kTrustName}) {
    if (!IsDirectory(Path(from, folder))) continue;
    CUSTOS_RETURN_IF_ERROR(
        CopyTree(Path(from, folder), Path(dir.root(), folder), kDirMode,
                 [](const std::string& rel) { return rel == "cert.pem" ? 0644u : kFileMode; })
            .status());
  }
  CUSTOS_RETURN_IF_ERROR(
      CopyFileDurably(Path(from, kDatabaseName), dir.Database(), kFileMode).status());
  const std::string wal = Path(from, std::string(kDatabaseName) + kWalSuffix);
  if (PathExists(wal)) {
    CUSTOS_RETURN_IF_ERROR(CopyFileDurably(wal, dir.Database() + kWalSuffix, kFileMode).status());
  }
  CUSTOS_RETURN_IF_ERROR(
      CopyTree(Path(from, kBlobsName), dir.BlobsDir(), kDirMode, PrivateFile).status());
  CUSTOS_RETURN_IF_ERROR(CopyTree(keys_source, dir.KeysDir(), kDirMode, [](const std::string& rel) {
                           return rel == "log.vkey" ? 0644u : kFileMode;
                         }).status());
  return FsyncDirectory(dir.root());
}

// Opens the restored archive, verifies it and compares its newest
// checkpoint with the backup's.
Status VerifyRestored(const storage::DataDir& dir, RestoreResult* result) {
  CUSTOS_ASSIGN_OR_RETURN(std::unique_ptr<storage::ArchiveStorage> archive,
                          OpenArchive(dir.root()));
  CUSTOS_ASSIGN_OR_RETURN(result->report, archive->Verify());
  CUSTOS_RETURN_IF_ERROR(archive->store().Read([&](storage::Transaction& tx) -> Status {
    StatusOr<storage::StoredCheckpoint> cp = tx.log().LatestCheckpoint();
    if (cp.ok()) {
      result->log_size = cp->size;
      result->log_root = crypto::Base64Encode(cp->root);
      return Status::Ok();
    }
    return cp.status().code() == ErrorCode::kNotFound ? Status::Ok() : cp.status();
  }));
  if (result->log_size != result->info.log_size || result->log_root != result->info.log_root) {
    result->mismatches.push_back(
        "the restored checkpoint (size " + std::to_string(result->log_size) + ", root " +
        result->log_root + ") is not the backup's (size " + std::to_string(result->info.log_size) +
        ", root " + result->info.log_root + ")");
  }
  return Status::Ok();
}

// The members of a parsed backup-info object (Poco conversions may throw).
StatusOr<BackupInfo> ParseBackupInfoObject(const Poco::JSON::Object::Ptr& root) {
  auto bad = [](const std::string& why) {
    return InvalidArgument("backup-info.json: " + why, "bad_backup_info");
  };
  BackupInfo info;
  auto text = [&](const Poco::JSON::Object::Ptr& o, const std::string& key,
                  std::string* out) -> bool {
    if (!o->has(key) || !o->get(key).isString()) return false;
    *out = o->get(key).convert<std::string>();
    return true;
  };
  auto count = [&](const Poco::JSON::Object::Ptr& o, const std::string& key,
                   uint64_t* out) -> bool {
    if (!o->has(key) || !o->get(key).isInteger() || o->get(key).convert<Poco::Int64>() < 0) {
      return false;
    }
    *out = o->get(key).convert<Poco::UInt64>();
    return true;
  };
  if (!text(root, "format", &info.format) || info.format != kBackupFormat) {
    return bad("not a " + std::string(kBackupFormat) + " backup");
  }
  if (!text(root, "createdAt", &info.created_at) || !text(root, "source", &info.source) ||
      !text(root, "origin", &info.origin) || !count(root, "logSize", &info.log_size) ||
      !text(root, "logRoot", &info.log_root) || !text(root, "checkpoint", &info.checkpoint)) {
    return bad("a required member is missing or has the wrong type");
  }
  if (!root->has("keysIncluded") || !root->get("keysIncluded").isBoolean()) {
    return bad("keysIncluded must be true or false");
  }
  info.keys_included = root->get("keysIncluded").convert<bool>();
  Poco::JSON::Array::Ptr ids = root->getArray("kekIds");
  if (!ids) return bad("kekIds must be an array");
  for (size_t i = 0; i < ids->size(); ++i) {
    if (!ids->get(i).isString()) return bad("kekIds must hold strings");
    std::string id = ids->get(i).convert<std::string>();
    if (id.size() != 2 * crypto::kKekIdSize ||
        id.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return bad("kekIds holds something that is not a KEK id");
    }
    info.kek_ids.push_back(std::move(id));
  }
  Poco::JSON::Object::Ptr counts = root->getObject("counts");
  if (!counts || !count(counts, "records", &info.records) || !count(counts, "files", &info.files) ||
      !count(counts, "destroyedFiles", &info.destroyed_files) ||
      !count(counts, "blobs", &info.blobs) || !count(counts, "blobBytes", &info.blob_bytes)) {
    return bad("counts is missing or incomplete");
  }
  return info;
}

}  // namespace

// -------------------------------------------------------------- backup-info

std::string BackupInfoJson(const BackupInfo& info) {
  Poco::JSON::Object root;
  root.set("format", info.format);
  root.set("createdAt", info.created_at);
  root.set("source", info.source);
  root.set("origin", info.origin);
  root.set("logSize", static_cast<Poco::UInt64>(info.log_size));
  root.set("logRoot", info.log_root);
  root.set("checkpoint", info.checkpoint);
  root.set("keysIncluded", info.keys_included);
  Poco::JSON::Array::Ptr ids = new Poco::JSON::Array;
  for (const std::string& id : info.kek_ids) ids->add(id);
  root.set("kekIds", ids);
  Poco::JSON::Object::Ptr counts = new Poco::JSON::Object;
  counts->set("records", static_cast<Poco::UInt64>(info.records));
  counts->set("files", static_cast<Poco::UInt64>(info.files));
  counts->set("destroyedFiles", static_cast<Poco::UInt64>(info.destroyed_files));
  counts->set("blobs", static_cast<Poco::UInt64>(info.blobs));
  counts->set("blobBytes", static_cast<Poco::UInt64>(info.blob_bytes));
  root.set("counts", counts);
  std::ostringstream out;
  root.stringify(out, 2);
  out << "\n";
  return out.str();
}

StatusOr<BackupInfo> ParseBackupInfo(const std::string& json) {
  auto bad = [](const std::string& why) {
    return InvalidArgument("backup-info.json: " + why, "bad_backup_info");
  };
  Poco::JSON::Object::Ptr root;
  try {
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var v = parser.parse(json);
    if (v.type() != typeid(Poco::JSON::Object::Ptr)) return bad("not a JSON object");
    root = v.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception& e) {
    return bad("not JSON: " + e.displayText());
  }
  try {
    return ParseBackupInfoObject(root);
  } catch (const Poco::Exception& e) {
    return bad("a member has a value out of range: " + e.displayText());
  }
}

// ------------------------------------------------------------------- backup

StatusOr<BackupInfo> CreateBackup(const BackupOptions& options) {
  storage::DataDir source(options.data_dir);
  if (!IsDirectory(source.root())) {
    return InvalidArgument("data directory " + source.root() + " does not exist",
                           "data_dir_missing");
  }
  CUSTOS_ASSIGN_OR_RETURN(Config config, LoadDataDirConfig(source));
  if (config.storage_backend != "sqlite") {
    return InvalidArgument(
        "only the sqlite backend can be backed up with custosctl backup (this "
        "archive uses " +
            config.storage_backend + ")",
        "backend_unsupported");
  }
  const std::string out = options.out_dir;
  if (PathExists(out)) {
    return Conflict(out + " already exists; a backup is always written to a new directory",
                    "backup_target_exists");
  }
  CUSTOS_RETURN_IF_ERROR(MakeDirectory(out, kDirMode, /*must_be_new=*/true));

  BackupInfo info;
  info.source = AbsolutePath(source.root());
  info.origin = config.origin;
  info.keys_included = options.include_keys;
  const std::string db_copy = Path(out, kDatabaseName);
  CUSTOS_RETURN_IF_ERROR(SnapshotDatabase(source.Database(), db_copy));
  CUSTOS_ASSIGN_OR_RETURN(SnapshotContent content, ReadSnapshot(db_copy, &info));
  info.kek_ids.assign(content.kek_ids.begin(), content.kek_ids.end());
  CUSTOS_RETURN_IF_ERROR(CopyBlobs(source.BlobsDir(), Path(out, kBlobsName), content.blobs, &info));

  CUSTOS_RETURN_IF_ERROR(
      CopyFileDurably(source.ConfigFile(), Path(out, kConfigName), kFileMode).status());
  for (const char* folder : {kTlsName, kTrustName}) {
    if (!IsDirectory(Path(source.root(), folder))) continue;
    CUSTOS_RETURN_IF_ERROR(
        CopyTree(Path(source.root(), folder), Path(out, folder), kDirMode, PrivateFile).status());
  }
  if (options.include_keys) CUSTOS_RETURN_IF_ERROR(CopyKeysIntoBackup(source, out, info));

  // Last: backup-info.json marks the backup complete.
  info.created_at = NowText();
  CUSTOS_RETURN_IF_ERROR(storage::WriteNewFile(Path(out, std::string(kBackupInfoName)),
                                               BackupInfoJson(info), kFileMode));
  CUSTOS_RETURN_IF_ERROR(FsyncDirectory(out));
  const std::string parent =
      out.find('/') == std::string::npos ? "." : out.substr(0, out.rfind('/'));
  CUSTOS_RETURN_IF_ERROR(FsyncDirectory(parent.empty() ? "/" : parent));
  return info;
}

// ------------------------------------------------------------------ restore

StatusOr<RestoreResult> RestoreBackup(const RestoreOptions& options) {
  RestoreResult result;
  const std::string info_path = Path(options.from, std::string(kBackupInfoName));
  if (!PathExists(info_path)) {
    return InvalidArgument(
        options.from + " is not a complete Custos backup (no " + std::string(kBackupInfoName) + ")",
        "incomplete_backup");
  }
  CUSTOS_ASSIGN_OR_RETURN(std::string info_text, storage::ReadSmallFile(info_path));
  CUSTOS_ASSIGN_OR_RETURN(result.info, ParseBackupInfo(info_text));

  if (options.keys_dir) {
    result.keys_source = *options.keys_dir;
  } else if (result.info.keys_included) {
    result.keys_source = Path(options.from, kKeysName);
  } else {
    return InvalidArgument(
        "the backup holds no keys (it was made without --include-keys); give "
        "--keys DIR, a copy of the archive's keys/ folder",
        "keys_missing");
  }
  if (!PathExists(result.keys_source + "/kek/current")) {
    return InvalidArgument(result.keys_source + " is not a keys/ folder (no kek/current)",
                           "keys_missing");
  }
  std::vector<std::string> missing = MissingKeks(result.keys_source, result.info.kek_ids);
  if (!missing.empty()) {
    return InvalidArgument(result.keys_source + " has no key file for KEK " + JoinIds(missing) +
                               ", under which this backup's data keys are wrapped (keys from "
                               "another archive, or from after a key rotation?)",
                           "keys_missing");
  }

  storage::DataDir dir(options.data_dir);
  CUSTOS_RETURN_IF_ERROR(dir.CreateFresh());
  CUSTOS_ASSIGN_OR_RETURN(
      std::unique_ptr<storage::DataDirLock> lock,
      storage::DataDirLock::Acquire(dir, storage::DataDirLock::Mode::kExclusive));
  CUSTOS_RETURN_IF_ERROR(CopyIntoDataDir(options, result.keys_source, dir));
  // Before the first open: a restored archive signs nothing until promoted.
  CUSTOS_RETURN_IF_ERROR(storage::AwaitPromotion(
      dir, "restored from a backup of " + result.info.source + " made " + result.info.created_at,
      result.info.source));
  CUSTOS_RETURN_IF_ERROR(VerifyRestored(dir, &result));
  return result;
}

// ------------------------------------------------------------ command lines

int RunBackup(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto fail = [&err](const std::string& message) {
    err << "custosctl: backup: " << message << "\n";
    return 2;
  };
  std::string error;
  auto parsed = ParseArgs(args, {"--data", "--out"}, {"--include-keys"}, error);
  if (!parsed) return fail(error);
  if (!parsed->positionals.empty()) {
    return fail("unknown argument '" + parsed->positionals.front() + "'");
  }
  for (const char* required : {"--data", "--out"}) {
    if (!parsed->options.count(required)) return fail(std::string(required) + " is required");
  }
  BackupOptions options;
  options.data_dir = parsed->options.at("--data");
  options.out_dir = parsed->options.at("--out");
  options.include_keys = parsed->flags.count("--include-keys") > 0;
  StatusOr<BackupInfo> info = CreateBackup(options);
  if (!info.ok()) {
    std::string left =
        PathExists(options.out_dir) && info.status().reason() != "backup_target_exists"
            ? " (the incomplete backup in " + options.out_dir +
                  " has no backup-info.json; remove it)"
            : "";
    return fail(info.status().message() + left);
  }
  out << "Backed up " << info->source << " to " << options.out_dir << "\n"
      << "  log: size " << info->log_size << ", root " << info->log_root << "\n"
      << "  records: " << info->records << ", files: " << info->files << " ("
      << info->destroyed_files << " destroyed), blobs copied: " << info->blobs << " ("
      << info->blob_bytes << " bytes)\n";
  if (info->keys_included) {
    out << "  keys: included (" << options.out_dir << "/keys); keep this backup as secret as the "
        << "archive itself\n";
  } else {
    std::string needed;
    for (const std::string& id : info->kek_ids) needed += " keys/kek/" + id + ".key";
    out << "note: keys were NOT included. Copy " << storage::DataDir(options.data_dir).KeysDir()
        << " to offline media separately: the KEK files in it are the only way to read the "
           "content of this backup"
        << (needed.empty() ? std::string() : " (it needs" + needed + ")")
        << "; restore with --keys.\n";
  }
  return 0;
}

int RunRestore(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  auto fail = [&err](const std::string& message, int code = 2) {
    err << "custosctl: restore: " << message << "\n";
    return code;
  };
  std::string error;
  auto parsed = ParseArgs(args, {"--from", "--in", "--data", "--keys"}, {}, error);
  if (!parsed) return fail(error);
  if (!parsed->positionals.empty()) {
    return fail("unknown argument '" + parsed->positionals.front() + "'");
  }
  // --in is the same as --from (the spelling of DESIGN §9).
  if (parsed->options.count("--in")) {
    if (parsed->options.count("--from")) return fail("give --from or --in, not both");
    parsed->options["--from"] = parsed->options.at("--in");
  }
  for (const char* required : {"--from", "--data"}) {
    if (!parsed->options.count(required)) return fail(std::string(required) + " is required");
  }
  RestoreOptions options;
  options.from = parsed->options.at("--from");
  options.data_dir = parsed->options.at("--data");
  if (parsed->options.count("--keys")) options.keys_dir = parsed->options.at("--keys");
  StatusOr<RestoreResult> r = RestoreBackup(options);
  if (!r.ok()) return fail(r.status().message());
  out << "Restored " << options.from << " (made " << r->info.created_at << " from "
      << r->info.source << ") into " << options.data_dir << "\n"
      << "  keys from: " << r->keys_source << "\n";
  PrintReport(r->report, out);
  for (const std::string& m : r->mismatches) out << "FINDING checkpoint: " << m << "\n";
  out << "restored checkpoint: size " << r->log_size << ", root " << r->log_root << "\n";
  out << "signing: awaiting promotion. The restored archive serves reads and signs nothing; "
         "once the original is stopped for good, run: custosctl promote --data "
      << options.data_dir << "\n";
  if (!r->clean()) {
    return fail("the restored archive did not verify cleanly (" +
                    std::to_string(r->report.findings.size() + r->mismatches.size()) +
                    " finding(s)); " + options.data_dir + " is left for inspection",
                1);
  }
  return 0;
}

}  // namespace custos::admin
