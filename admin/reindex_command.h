// `custosctl reindex --data DIR [--rebuild] [--new-index-key]`: works off
// the content pipeline's queue offline (server/services/content_pipeline.h,
// docs/operations.md "Reindex").
//
// On a stopped data directory:
//   1. takes the data directory's lock exclusively (storage::DataDirLock):
//      refused while custosd or another offline command holds it;
//   2. with --rebuild or --new-index-key: deletes every posting and file
//      text and queues every live record (EnqueueAllForIndexing), in one
//      transaction; without: queues each live record that has a file the
//      pipeline never looked at (no file_texts row);
//   3. with --new-index-key: replaces DATA/keys/index.key by a new random
//      key (written 0600 beside it, fsynced, renamed over it) — the index
//      key's rotation; the KEK rotation (custosctl keys rotate) does not
//      touch it;
//   4. runs the pipeline in this process until the queue is empty and no
//      retry is due (the worker and its limits as custosd's configuration
//      says; extraction.enabled is not consulted: reindex is asked for).
// Resumable: a record leaves the queue only once done, so an interrupted
// run continues where it stopped when run again (without flags; with them
// it starts over). Step 2 comes before step 3: a run cut short between
// them leaves no posting under the old key.
//
// Thread safety: the lock serialises reindex with everything else.
#pragma once

#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "common/status.h"
#include "server/services/content_pipeline.h"
#include "storage/file_texts.h"

namespace custos::admin {

struct ReindexOptions {
  std::string data_dir;
  bool rebuild = false;        // drop postings and texts, queue every live record
  bool new_index_key = false;  // also a new DATA/keys/index.key (implies rebuild)
  // custos-extract: "" = as custosd's configuration says, next to this program.
  std::string worker_path;
};

struct ReindexResult {
  uint64_t queued = 0;                // records queued by step 2
  services::PipelineStats run;        // what step 4 did
  storage::TextCounts counts;         // files per state afterwards
};

// Steps 1–4. Failures: kConflict "data_dir_in_use" (custosd runs there),
// kInvalidArgument "data_dir_missing", the archive's open failures, the
// index key's (storage/key_file.h) and the store's.
StatusOr<ReindexResult> Reindex(const ReindexOptions& options);

// `custosctl reindex ...` (args after "reindex"). Prints the counts; exit 0
// done, 2 bad arguments or could not run ("custosctl: reindex: …").
int RunReindex(const std::vector<std::string>& args, std::ostream& out = std::cout,
               std::ostream& err = std::cerr);

}  // namespace custos::admin
