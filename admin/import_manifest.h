// The manifest of an import batch (`custosctl import`, docs/import.md):
// `manifest.csv` or `manifest.json` at the root of the archive, one row per
// file, saying which record the file belongs to and what that record is.
//
// Columns (CSV header names; JSON member names):
//   recordKey       groups rows into records: rows with the same key are one
//                   record with several files; a row without a key is a
//                   record of its own
//   path            the file's entry path inside the archive (required)
//   name            the file's name in the record (default: the last
//                   segment of path)
//   mediaType       (default: from the name's extension)
//   signature       entry path of the file's detached CMS signature (.p7s)
//   type, title, department, classification, description, custodian,
//   location        the record's fields (services::RecordInput)
//   metadata.FIELD  (CSV) / "metadata": {"FIELD": …} (JSON): the record's
//                   type-specific fields (services::ValidateTypeMetadata)
// Every value is a string; an empty value (or JSON null) means "not given".
// A record's fields may be given on any of its rows; rows that give the same
// field must agree.
//
// Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "admin/batch_archive.h"
#include "common/status.h"
#include "server/services/record_service.h"

namespace custos::admin {

inline constexpr std::string_view kManifestCsv = "manifest.csv";
inline constexpr std::string_view kManifestJson = "manifest.json";
// A manifest is read into memory whole; a larger one is refused.
inline constexpr uint64_t kMaxManifestBytes = 64ULL << 20;

// One row as written, before any meaning is given to it.
struct ManifestRow {
  std::string where;  // "manifest.csv line 3", "manifest.json row 2"
  // Column → value, non-empty values only; metadata columns are keyed
  // "metadata.FIELD" in both formats.
  std::map<std::string, std::string> fields;
};

// Parses RFC 4180 CSV (comma separated, double quotes, CRLF or LF) with a
// header row naming the columns. The text is UTF-8 when it starts with a
// UTF-8 byte order mark (then it must be valid UTF-8) or is valid UTF-8;
// otherwise, with `encoding` kGbk, GBK (as Excel on Chinese Windows saves
// "CSV"); otherwise it is refused, naming --name-encoding gbk.
// Blank lines are skipped. Fails with kUnprocessable "invalid_manifest"
// naming the line, for bad quoting, a row with a different number of
// fields than the header, an unknown, repeated or missing ("path") column,
// or no rows at all.
StatusOr<std::vector<ManifestRow>> ParseManifestCsv(std::string_view text,
                                                    NameEncoding encoding = NameEncoding::kUtf8);

// Parses a JSON array of objects with the member names above ("metadata" an
// object). Fails with kUnprocessable "invalid_manifest" for invalid JSON, a
// non-array, a row that is not an object, an unknown member, a value that is
// not a string (or null), or no rows at all; the message names the row.
StatusOr<std::vector<ManifestRow>> ParseManifestJson(std::string_view text);

struct PlannedFile {
  std::string where;  // the manifest row
  std::string entry;  // normalised entry path of the content
  std::string name;   // file name in the record
  std::string media_type;
  std::string signature;  // normalised entry path of the signature, or ""
};

struct PlannedRecord {
  std::string key;    // recordKey; "" for a single-row record without one
  std::string where;  // the record's first row
  services::RecordInput input;
  std::vector<PlannedFile> files;  // in manifest order
};

// Groups rows into records, in the order each record first appears. Every
// problem found (a missing or unsafe path or signature path, disagreeing
// rows, a file name used twice in one record) is appended to *problems as a
// message naming its row; the records are returned in any case (the caller
// refuses the batch if *problems is not empty).
std::vector<PlannedRecord> PlanRecords(const std::vector<ManifestRow>& rows,
                                       std::vector<std::string>* problems);

// The media type for a file name's extension (pdf, ofd, docx, jpg, …),
// "application/octet-stream" for unknown ones.
std::string GuessMediaType(std::string_view name);

}  // namespace custos::admin
