// `custosctl promote --data DIR`: makes an SQLite data directory the copy of
// the archive that signs its log's checkpoints (storage/custody.h).
//
// A restored backup (admin/backup_command.h) and a copied data directory
// serve reads and sign nothing, so two copies never sign two roots for one
// size. Promote, on a stopped directory:
//   1. takes the data directory's lock exclusively (storage::DataDirLock):
//      refused while custosd or another offline command holds it;
//   2. opens the archive; if it already holds custody, does nothing;
//   2b. if the directory was restored and its original (the data directory
//      the backup was made from, backup-info.json's "source") is reachable
//      here and still holds custody: refuses while the original is in use,
//      refuses if the original signed past this copy's newest checkpoint
//      (promoting would sign a second root for the next size), and
//      otherwise retires the original (its marker becomes
//      "awaiting_promotion", "custody moved to …"), so that at no moment
//      both may sign;
//   3. appends one audit event "log.promote" (kPromoteAction; actor
//      kCustosctlActor, subject the log's origin, details {"size", "root"}:
//      the newest checkpoint the copy continues from, "root" base64, ""
//      for an empty log) and signs its checkpoint: the first this
//      directory signs;
//   4. binds the custody marker to the directory (state "held").
// Step 3 before 4: a promotion is never in force without its event. A run
// interrupted between them leaves the event logged and the directory still
// unpromoted; running promote again logs a second event and finishes.
//
// An original on another machine, or a copy made with cp -a, promote cannot
// see: run it only once the original is stopped for good
// (docs/operations.md, "Restore, promote and the original").
// Thread safety: the lock serialises promote with everything else.
#pragma once

#include <cstdint>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace custos::admin {

inline constexpr std::string_view kPromoteAction = "log.promote";

struct PromoteResult {
  bool already_held = false;  // nothing was done
  uint64_t event_index = 0;   // the log.promote entry (when promoted)
  uint64_t from_size = 0;     // the newest checkpoint before it
  std::string retired_original;  // step 2b's original, "" if none
};

// Steps 1–4. Failures:
//   kConflict "data_dir_in_use"        custosd or another command runs on it;
//   kInvalidArgument "backend_unsupported"  not an SQLite archive (nodes on
//                                      PostgreSQL share one log);
//   kConflict "original_running", "promote_would_fork"  step 2b;
//   the archive's open, append and marker failures.
StatusOr<PromoteResult> Promote(const std::string& data_dir);

// `custosctl promote ...` (args after "promote"). Exit codes: 0 promoted or
// already holding custody, 2 bad arguments or the promotion failed (one
// line "custosctl: promote: …").
int RunPromote(const std::vector<std::string>& args, std::ostream& out = std::cout,
               std::ostream& err = std::cerr);

}  // namespace custos::admin
