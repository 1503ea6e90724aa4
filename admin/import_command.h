// `custosctl import --data DIR --as USER [--max-file-bytes N]
// [--max-total-bytes N] [--name-encoding utf-8|gbk] [--dry-run] [--json]
// BATCH`: bulk check-in of a
// legacy archive (a zip or tar batch with a manifest; docs/import.md).
//
// The import runs offline, as the archivist USER (every record's check-in
// event names them), holding the data directory's lock exclusively so that
// it never runs beside a live custosd. It reads the batch several times:
//
//   1. check: every entry (admin/batch_archive.h: paths, types, duplicates,
//      sizes counted while decompressing, total, compression ratio), the
//      manifest (admin/import_manifest.h) against the entries (every row
//      names a file entry, every file entry is listed), and every record as
//      RecordService::BeginCheckIn would take it (type, classification,
//      department, type-specific metadata, the user's role). Each entry's
//      size and SHA-256 are kept.
//   2. signatures (only if the manifest names some): the .p7s entries are
//      loaded (≤ 1 MiB each).
//   3. (only when the installation refuses contracts with invalid
//      signatures and the batch has signed contracts): those signatures are
//      verified.
//   4. import: every file is streamed from the archive into a check-in (no
//      temporary copy), each entry must have the bytes step 1 saw; only when
//      all files are stored are the records committed, one after the other,
//      in manifest order.
//
// A batch refused in steps 1–3 imports nothing (exit 1, each problem named).
// A failure in step 4 before the commits (storage full, the batch file
// changed) also imports nothing: the stored blobs are deleted. Only a
// failure while committing (e.g. the disk fills between two commits) leaves
// the records committed so far: records are never deleted from an
// append-only archive, so the report names the ones that were imported and
// the one that failed.
//
// Thread safety: ImportBatch opens its own archive; concurrent imports of one
// data directory are refused by the lock.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "admin/batch_archive.h"

namespace custos::admin {

struct ImportOptions {
  std::string data_dir;
  std::string batch;     // path of the zip or tar file
  std::string as_user;   // an archivist
  BatchLimits limits;    // max_file_bytes also limits each stored file
  // How names not marked as UTF-8, and a manifest.csv that is not UTF-8,
  // are read (--name-encoding; admin/batch_archive.h).
  NameEncoding name_encoding = NameEncoding::kUtf8;
  bool dry_run = false;  // check only (steps 1–3), import nothing
};

struct ImportedFile {
  std::string entry;  // entry path in the batch
  std::string name;
  uint64_t size = 0;
  std::string sha256;     // lower hex
  std::string signature;  // "none", "valid" or "invalid"
};

struct ImportedRecord {
  std::string key;  // recordKey from the manifest ("" if none)
  std::string id;   // archive number, e.g. "CT-2026-000001"; "" in a dry run
  std::string type;
  std::string title;
  uint64_t log_index = 0;  // the record.checkin event
  std::vector<ImportedFile> files;
};

enum class ImportOutcome {
  kImported,  // every record committed
  kChecked,   // dry run: the batch would be imported
  kRefused,   // the batch is unacceptable; nothing imported
  kFailed,    // the import could not run or was interrupted (see records)
};

struct ImportReport {
  ImportOutcome outcome = ImportOutcome::kFailed;
  // kRefused: every problem found, each naming its entry or manifest row;
  // kFailed: what went wrong (and, after partial commits, what remains).
  std::vector<std::string> problems;
  // kImported: every record created; kChecked: every record planned (no
  // id); kFailed: the records committed before the failure (often none).
  std::vector<ImportedRecord> records;
  uint64_t files = 0;  // files planned or imported
  uint64_t bytes = 0;  // their total size
};

// Runs the import described in the file comment. Never throws.
ImportReport ImportBatch(const ImportOptions& options);

// The command line: parses `args` (everything after "import"), runs
// ImportBatch and prints its report: for people one line per record
// ("imported CT-2026-000001 Title (2 files)") and a summary on `out`,
// problems on `err`; with --json one JSON object on `out`
// ({"outcome","batch","actor","records":[…],"problems":[…],"summary":{…}}).
// Returns the exit code: 0 imported (or checked), 1 refused, 2 bad arguments
// or could not run.
int RunImport(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
// The same on std::cout and std::cerr.
int RunImport(const std::vector<std::string>& args);

// Parses a byte count: digits with an optional binary suffix K, M, G or T
// (KiB … TiB). Fails (kInvalidArgument) for anything else, zero, or overflow.
StatusOr<uint64_t> ParseByteCount(std::string_view text);

}  // namespace custos::admin
