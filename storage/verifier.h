// Offline verification of a whole archive (DESIGN §7: "an alteration of any
// stored byte that verify does not report" must never happen).
//
// Checks, each producing named findings rather than stopping at the first:
//   log        every leaf decodes strictly; seq and prev form an unbroken
//              hash chain; every stored tree node (all levels) equals its
//              recomputation; no node is missing or extra
//   checkpoints every stored checkpoint's signature verifies with the log's
//              keys, its body names our origin and its stored size and root,
//              and its root equals the recomputed root at its size (so all
//              checkpoints are mutually consistent); the newest covers the
//              whole log
//   records    the newest recordHash logged for each record matches the row
//   versions   each version's manifest hash is recomputed from its rows,
//              matches the event at its log index, and chains to the
//              previous version
//   files      every live file's blob decrypts (all chunk tags) and hashes
//              to its recorded SHA-256 (an incremental pass,
//              VerifyOptions::content_from, reads only the blobs of versions
//              logged since); destroyed files have no blob
//   exports    no stored audit package that can still be decrypted names a
//              destroyed record (export_holds_destroyed); shredded ones
//              have no blob
//   subjects   every entry's stored subject column equals its leaf's
//              subject (log_subject_mismatch)
//   seals      every authority row's seal verifies (VerifyOptions::row_seals;
//              row_seal_invalid), read before the other checks, which read
//              rows as stored (MetadataStore::ReadUnchecked)
//   state      every authority row equals the replay of the log's row
//              images, field by field, both ways (storage/replay.h:
//              row_differs, row_not_in_log, row_missing); folded during
//              the same walk of the log, every pass (content_from does not
//              shorten it)
//
// Memory stays bounded by the number of rows, not by the log's length:
// the newest logged recordHash of each stored record, the replay's one
// digest per row, a batch of the walk and two chunks of 4,096 nodes per
// tree level (each stored node is read once); each version's event is
// read back at its log index rather than kept. Thread safety: a pure function
// over the store.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "crypto/signed_note.h"
#include "storage/content_store.h"
#include "storage/metadata_store.h"

namespace custos::storage {

struct Finding {
  std::string object;   // "log entry 17", "record CT-2026-000001", "file 3fa… (blob 9c…)"
  std::string problem;  // what is wrong, one sentence
  std::string code;     // stable reason, e.g. "log_chain_broken"
};

struct VerifyReport {
  std::vector<Finding> findings;
  uint64_t log_entries = 0;
  uint64_t log_nodes = 0;
  uint64_t checkpoints = 0;
  uint64_t records = 0;
  uint64_t versions = 0;
  uint64_t files = 0;
  uint64_t content_bytes = 0;
  uint64_t files_unread = 0;  // live files an incremental pass did not decrypt
  uint64_t exports = 0;  // stored audit packages (live and shredded)
  // Authority rows compared with the replay of the log (0 when the log
  // does not cover state yet: storage/replay.h, StateReplay::covers_state).
  uint64_t state_rows = 0;
  bool clean() const { return findings.empty(); }
};

struct VerifyProgress {
  std::string phase;  // "log", "nodes", "files"
  uint64_t done = 0;
  uint64_t total = 0;  // never 0 while done > 0
};

struct VerifyOptions {
  std::string origin;                                   // expected checkpoint origin
  std::vector<const crypto::note::Verifier*> verifiers;  // the log's keys
  ContentStore* content = nullptr;                       // null: skip blob checks
  BlobStore* blobs = nullptr;                            // for destroyed-file checks
  std::function<void(const VerifyProgress&)> progress;   // optional
  // Incremental pass: decrypt only the blobs of versions whose log index is
  // at least this (the log size of the last clean pass); 0 reads every
  // blob. Every other check (log, tree, checkpoints, records, versions,
  // exports, destroyed files) runs in full whatever this is: they cost
  // hashing and row reads, the blobs cost reading all content.
  uint64_t content_from = 0;
  // Optional: polled between batches of the log and the tree and before
  // each record's files; once it answers true, VerifyArchive stops and
  // returns kUnavailable "verify_stopped" (a server shutting down).
  std::function<bool()> stop;
  // Check the seal of every authority row (storage/seal_check.h:
  // row_seal_invalid); the store must have been opened with its sealer.
  bool row_seals = false;
};

// Runs every check. Fails (non-OK) only when verification could not run at
// all (database unreadable) or was stopped (VerifyOptions::stop);
// everything wrong with the data is a Finding.
StatusOr<VerifyReport> VerifyArchive(MetadataStore& store, const VerifyOptions& options);

// {"clean":bool,"findings":[{"object","problem","code"}],"counts":{…}}
std::string VerifyReportJson(const VerifyReport& report);

}  // namespace custos::storage
