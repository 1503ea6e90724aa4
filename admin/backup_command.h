// `custosctl backup --data DIR --out DEST [--include-keys]` and
// `custosctl restore --from DEST --data NEWDIR [--keys KEYSDIR]`.
//
// Backup is online: it runs beside a live custosd and takes no lock. It
// copies, in this order,
//   1. the database, through SQLite's online backup API on a connection of
//      its own that never writes (one read transaction: the copy is exactly
//      one committed state, while custosd goes on committing);
//   2. the blobs that copy references, each copied and fsynced. A committed
//      row's blob was durable before the row committed, and blobs never
//      change, so the copy is consistent with the snapshot; a blob destroyed
//      between the snapshot and its copy fails the backup (run it again);
//   3. custos.conf, tls/ and trust/ (when present);
//   4. keys/, only with --include-keys. Without it the backup cannot be read
//      on its own: keys/ (above all keys/kek/<id>.key) must be kept
//      separately, and restore is given that copy with --keys.
// and writes backup-info.json last: a backup folder without it is
// incomplete and restore refuses it.
//
// The backup folder (directories 0700, files 0600):
//   DEST/backup-info.json      what the backup holds (below)
//   DEST/custos.db             the database snapshot
//   DEST/blobs/ab/ab…          the referenced blobs, DATA/blobs's layout
//   DEST/custos.conf, DEST/tls/…, DEST/trust/…
//   DEST/keys/…                only with --include-keys
//
// backup-info.json (format kBackupFormat), one JSON object:
//   format        "custos-backup-v1"
//   createdAt     RFC 3339 UTC time the backup finished
//   source        the data directory backed up (absolute path)
//   origin        the log's origin (archive.origin)
//   logSize       tree size of the snapshot's newest checkpoint
//   logRoot       its root hash, base64
//   checkpoint    that signed checkpoint, as text
//   keysIncluded  whether DEST/keys holds the keys
//   kekIds        ids of the KEKs that wrap the snapshot's data keys: the
//                 key files restore needs (keys/kek/<id>.key)
//   counts        {"records","files","destroyedFiles","blobs","blobBytes"}
//
// Restore builds a new data directory from a backup (never over an existing
// one), takes the keys from the backup or from --keys (a copy of an old
// keys/ folder; it wins over keys in the backup), then opens the archive,
// verifies everything (storage::ArchiveStorage::Verify: log, checkpoints,
// every blob decrypted) and checks that the newest checkpoint is the one
// the backup recorded, so the restored archive serves the same checkpoint.
// The restored directory's custody marker says "awaiting_promotion"
// (storage/custody.h): it serves reads and signs nothing, so no two copies
// of the archive sign different roots for one size, until
// `custosctl promote` (admin/promote_command.h) makes it the signing copy.
//
// Only the SQLite backend can be backed up this way.
// Thread safety: each function works on its own paths; see the lock notes.
#pragma once

#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/verifier.h"

namespace custos::admin {

inline constexpr std::string_view kBackupFormat = "custos-backup-v1";
inline constexpr std::string_view kBackupInfoName = "backup-info.json";

// What a backup holds (backup-info.json, above).
struct BackupInfo {
  std::string format = std::string(kBackupFormat);
  std::string created_at;
  std::string source;
  std::string origin;
  uint64_t log_size = 0;
  std::string log_root;    // base64; "" for an empty log
  std::string checkpoint;  // signed note; "" for an empty log
  bool keys_included = false;
  std::vector<std::string> kek_ids;
  uint64_t records = 0;
  uint64_t files = 0;
  uint64_t destroyed_files = 0;
  uint64_t blobs = 0;
  uint64_t blob_bytes = 0;
};

std::string BackupInfoJson(const BackupInfo& info);
// kInvalidArgument "bad_backup_info" unless `json` is a backup-info object
// of format kBackupFormat with every member of the right type.
StatusOr<BackupInfo> ParseBackupInfo(const std::string& json);

struct BackupOptions {
  std::string data_dir;
  std::string out_dir;  // must not exist; its parent must
  bool include_keys = false;
};

// Makes the backup described above. Takes no lock: safe beside custosd.
// Failures (a partly written out_dir is left, without backup-info.json):
//   kConflict "backup_target_exists"   out_dir exists;
//   kInvalidArgument "backend_unsupported", "data_dir_missing";
//   kNotFound "copy_source_missing"    e.g. a referenced blob vanished;
//   kConflict "rotation_in_progress"   --include-keys while a key rotation
//                                      is unfinished, or the keys changed
//                                      under the backup;
//   kInternal "database_backup_failed", copy and storage failures.
StatusOr<BackupInfo> CreateBackup(const BackupOptions& options);

struct RestoreOptions {
  std::string from;                     // a backup folder
  std::string data_dir;                 // new, or an empty directory
  std::optional<std::string> keys_dir;  // a copy of a keys/ folder
};

struct RestoreResult {
  BackupInfo info;          // from the backup
  std::string keys_source;  // where the keys came from
  storage::VerifyReport report;
  uint64_t log_size = 0;  // the restored archive's newest checkpoint
  std::string log_root;   // base64
  // Problems beyond the report (e.g. the checkpoint differs from the
  // backup's); the restore is clean only if this and the report are.
  std::vector<std::string> mismatches;
  bool clean() const { return report.clean() && mismatches.empty(); }
};

// Restores `from` into a new data directory and verifies it. Returns the
// result even when verification found problems (check clean()); the
// directory is then left for inspection. Failures before verification:
//   kInvalidArgument "incomplete_backup"  no backup-info.json;
//   kInvalidArgument "bad_backup_info";
//   kInvalidArgument "keys_missing"       the backup holds no keys and no
//                                         --keys was given, or the keys
//                                         given lack a KEK the backup needs;
//   kConflict "data_dir_exists"           data_dir exists and is not empty;
//   copy failures; the archive's open failures.
StatusOr<RestoreResult> RestoreBackup(const RestoreOptions& options);

// `custosctl backup ...` (args after "backup"). Exit codes: 0 done, 2 bad
// arguments or the backup failed. Errors: one line "custosctl: backup: …".
int RunBackup(const std::vector<std::string>& args, std::ostream& out = std::cout,
              std::ostream& err = std::cerr);

// `custosctl restore ...` (args after "restore"). Exit codes: 0 restored
// and verified clean, 1 restored but verification found problems (each
// printed), 2 bad arguments or the restore could not run. Errors: one line
// "custosctl: restore: …".
int RunRestore(const std::vector<std::string>& args, std::ostream& out = std::cout,
               std::ostream& err = std::cerr);

}  // namespace custos::admin
