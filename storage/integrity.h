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
#include "storage/metadata_store.h"

namespace custos::storage {

// Event detail keys used by the binding.
inline constexpr const char* kDetailRecordHash = "recordHash";
inline constexpr const char* kDetailManifestHash = "manifestHash";
inline constexpr const char* kDetailVersion = "version";
// record.destroy: the indexes of the record's entries that the destruction
// redacted (LogRepository::Redact); a redacted entry no destruction lists
// is a finding.
inline constexpr const char* kDetailRedacted = "redacted";

// Canonical JSON of a record row: every column but expires_on (derived)
// and the seal, and "salt" only when the record has one. The salt (32
// random bytes, hex; storage/row_image.h) makes the digest unguessable: a
// logged recordHash cannot be used to test a guess of a personal value,
// and once a destruction empties the salt nobody can. A record without a
// salt (written before salts, or destroyed) has the legacy digest.
StatusOr<std::string> RecordCanonical(const domain::Record& r);
StatusOr<std::string> RecordDigest(const domain::Record& r);

// The event that gives a record written before salts its salt.
inline constexpr const char* kRecordSaltAction = "record.salt";

// Gives every record without a salt (written before salts; destroyed
// records excepted, which keep none) a new salt, in writes of 1,000
// records each, and logs one record.salt event per record (actor
// "system:custos", subject the record, details.recordHash the salted
// digest), so that the newest recordHash still matches the row. The
// row's updated_at is kept: a salt is no activity. A record whose row
// fails its seal (storage/row_seal.h) is left as it is: never acted on,
// and named by verify. Returns how many
// records it salted (0: nothing was written). custosd runs it at start.
// Errors: the store's.
StatusOr<uint64_t> SaltUnsaltedRecords(MetadataStore& store, domain::Time now);

// Canonical JSON of a version's manifest: record, number, kind, note,
// createdAt, createdBy, prev (previous manifest hash, "" for version 1) and
// the files (id, name, mediaType, size, sha256, sm3, signature status,
// signer and signing time) in order. Blob ids and wrapped keys are not part
// of it: they change with key rotation and destruction.
StatusOr<std::string> ManifestCanonical(const domain::Version& v);
StatusOr<std::string> ManifestHash(const domain::Version& v);

}  // namespace custos::storage
