// `custosctl keys rotate --data DIR`: a new key-encryption key (KEK) becomes
// current, every file's data key (DEK) is re-wrapped under it, and the old
// KEK files are destroyed (DESIGN §6). Content (blobs) is never touched.
//
// The steps, each durable before the next:
//   1. take the data directory's lock exclusively (storage::DataDirLock), so
//      the rotation never runs beside custosd or another offline command;
//   2. create a new KEK file (storage::Keyring::AddKek);
//   3. write the rotation marker keys/kek/rotation naming it;
//   4. make it current (keys/kek/current);
//   5. re-wrap every DEK not yet under it, batch_size files per
//      MetadataStore::Write; files whose DEK was destroyed (empty wrapped
//      key) are skipped;
//   6. check that no DEK is left under another KEK, then log one audit
//      event "key.kek_rotate" (actor kCustosctlActor, subject the new KEK id,
//      details {"kek", "retired": [ids], "rewrapped": n});
//   7. scrub the store (no old wrapped copy stays in the database files),
//      then destroy every other KEK file (storage::Keyring::
//      DestroyRetiredKeks: set aside, zeros, fsync, unlink);
//   8. remove the marker.
//
// Interruption: a run that finds the marker resumes the rotation it names.
// It makes the marker's KEK current if the earlier run stopped before step
// 4, then continues at step 5. Re-wrapping a DEK already under the current
// KEK changes nothing, so resuming is always safe, and no KEK is destroyed
// before every DEK is re-wrapped and committed. A KEK created by a run that
// stopped before writing the marker wrapped nothing; the next rotation
// destroys it with the other retired keys.
//
// Marker format (kRotationMarkerFormat), exactly:
//   custos-kek-rotation-v1\n
//   to=<16 lower-case hex digits: the new KEK's id>\n
//
// Thread safety: RotateKeys takes the data directory's lock; concurrent
// calls on one directory fail with kConflict "data_dir_in_use".
#pragma once

#include <cstddef>
#include <cstdint>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "storage/data_dir.h"

namespace custos::admin {

inline constexpr std::string_view kRotationMarkerName = "rotation";  // in keys/kek
inline constexpr std::string_view kRotationMarkerFormat = "custos-kek-rotation-v1";
// Files re-wrapped per database transaction.
inline constexpr size_t kRotateBatchSize = 256;
// The audit event of a completed rotation.
inline constexpr std::string_view kKekRotateAction = "key.kek_rotate";

// keys/kek/rotation of `dir`.
std::string RotationMarkerPath(const storage::DataDir& dir);

struct RotateOptions {
  std::string data_dir;
  size_t batch_size = kRotateBatchSize;
  // Test hook: stop after this many committed batches, as if the process
  // had been killed there (the marker and every KEK file stay; the result
  // says complete == false). 0: no limit.
  size_t max_batches = 0;
};

struct RotateResult {
  std::string new_kek_id;
  bool resumed = false;                      // a marker of an interrupted rotation was found
  bool complete = false;                     // false only when stopped by max_batches
  uint64_t rewrapped = 0;                    // DEKs re-wrapped by this run
  uint64_t already_current = 0;              // DEKs found under the new KEK already
  uint64_t destroyed_files = 0;              // files skipped: their DEK was destroyed
  uint64_t batches = 0;                      // transactions committed by this run
  std::vector<std::string> retired_kek_ids;  // KEK files destroyed (when complete)
};

// Runs the rotation described above on the archive in options.data_dir.
// Failures (nothing is destroyed unless every DEK was re-wrapped):
//   kConflict "data_dir_in_use"   custosd (or another command) holds the
//                                 directory; the message says to stop it;
//   kInvalidArgument "data_dir_missing", kInvalidArgument "bad_rotation_marker"
//                                 (a marker that does not parse or names a
//                                 KEK whose file is missing);
//   the archive's open failures (admin/open_archive.h), key failures
//   (e.g. kNotFound "kek_unknown" for a DEK under a KEK whose file is gone,
//   kDataLoss "dek_unwrap_failed"), storage failures.
StatusOr<RotateResult> RotateKeys(const RotateOptions& options);

// `custosctl keys SUBCOMMAND ...` (args after "keys"); only "rotate
// --data DIR" exists. Prints what it did to `out`, a one-line
// "custosctl: keys rotate: ..." error to `err`. Exit codes: 0 done,
// 2 bad arguments or the rotation could not run or finish.
int RunKeys(const std::vector<std::string>& args, std::ostream& out = std::cout,
            std::ostream& err = std::cerr);

}  // namespace custos::admin
