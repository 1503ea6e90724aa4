// How catalogue rows are bound to the audit log, so that `verify` notices a
// changed row even though rows themselves are mutable (DESIGN §7).
//
// * Every event that creates or changes a record carries
//   details.recordHash = RecordDigest(the row as written). The newest such
//   event for a record must match the row as stored.
// * Every version is recorded by the event at Version::log_index, whose
//   subject is the record and whose details carry "version" (the number)
//   and "manifestHash" = ManifestHash(version). Each version's manifest
//   contains the previous version's manifest hash, so a record's history is
//   itself a hash chain.
//
// Both digests are lower-hex SHA-256 over canonical JSON (RFC 8785) of the
// members listed below; docs/formats/audit-log.md, "Binding rows to the
// log", describes the binding.
#pragma once

#include <string>

#include "common/status.h"
#include "domain/model.h"

namespace custos::storage {

// Event detail keys used by the binding.
inline constexpr const char* kDetailRecordHash = "recordHash";
inline constexpr const char* kDetailManifestHash = "manifestHash";
inline constexpr const char* kDetailVersion = "version";
// record.destroy: the indexes of the record's entries that the destruction
// redacted (LogRepository::Redact); a redacted entry no destruction lists
// is a finding.
inline constexpr const char* kDetailRedacted = "redacted";

// Canonical JSON of a record row (every column).
StatusOr<std::string> RecordCanonical(const domain::Record& r);
StatusOr<std::string> RecordDigest(const domain::Record& r);

// Canonical JSON of a version's manifest: record, number, kind, note,
// createdAt, createdBy, prev (previous manifest hash, "" for version 1) and
// the files (id, name, mediaType, size, sha256, sm3, signature status,
// signer and signing time) in order. Blob ids and wrapped keys are not part
// of it: they change with key rotation and destruction.
StatusOr<std::string> ManifestCanonical(const domain::Version& v);
StatusOr<std::string> ManifestHash(const domain::Version& v);

}  // namespace custos::storage
