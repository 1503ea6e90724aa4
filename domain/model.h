// The domain of DESIGN §2 as plain typed values, shared by the stores, the
// services and the HTTP layer (library custos_domain). No behaviour lives
// here beyond parsing and naming enum values and the one rule for names
// people read (ValidateName).
//
// Times are UTC instants (std::chrono::system_clock::time_point, millisecond
// precision when stored); they are rendered as RFC 3339 at the edges.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace custos::domain {

using Time = std::chrono::system_clock::time_point;

// RFC 3339 UTC with milliseconds: "2026-11-22T14:00:00.123Z".
std::string FormatTime(Time t);
// Accepts RFC 3339 with "Z" or a numeric offset, optional fraction.
StatusOr<Time> ParseTime(std::string_view text);
// Truncates to whole milliseconds (what the stores keep).
Time TruncateToMillis(Time t);

// Strong identifier types (Core Guidelines I.4): distinct types so a loan id
// can never be passed where a record id is expected.
template <typename Tag>
struct Id {
  std::string value;
  bool operator==(const Id&) const = default;
  auto operator<=>(const Id&) const = default;
};
using RecordId = Id<struct RecordIdTag>;      // archive number, "CT-2026-000001"
using FileId = Id<struct FileIdTag>;          // 32 hex characters
using BlobId = Id<struct BlobIdTag>;          // 32 hex characters
using Username = Id<struct UsernameTag>;

enum class RecordType { kContract, kProductDossier, kCustomerFile, kQualification, kGeneral };
enum class Classification { kPublic, kInternal, kConfidential, kSecret };  // ordered
enum class RecordState { kActive, kOnHold, kDispositionDue, kDestroyed };
enum class VersionKind { kOriginal, kAmendment, kSupplementaryAgreement, kChangeNote, kCopy, kRenewal };
// Business roles (archivist … auditor) and the three administrative roles
// of 三员分立 (docs/security.md): kSysAdmin 系统管理员 "sysadmin" (accounts,
// departments, configuration), kSecurityOfficer 安全保密员
// "security_officer" (grants, set-up codes, unlocks), kSecurityAuditor
// 安全审计员 "security_auditor" (reads the whole log, changes nothing).
// kLegacyAdmin "admin" is the single admin of archives made before the
// split: it may do nothing, and custosd migrates it to kSysAdmin at start
// (event user.role_migrated).
enum class Role {
  kSysAdmin,
  kArchivist,
  kStaff,
  kApprover,
  kLegal,
  kAuditor,
  kSecurityOfficer,
  kSecurityAuditor,
  kLegacyAdmin
};
// One of the three administrative roles (not kLegacyAdmin).
bool IsAdministrative(Role r);

// API names ("contract", "product_dossier", …) and parsing (kUnprocessable
// with reason "invalid_<what>" on unknown names).
std::string_view Name(RecordType v);
std::string_view Name(Classification v);
std::string_view Name(RecordState v);
std::string_view Name(VersionKind v);
std::string_view Name(Role v);
// Archive-number prefix: CT, PD, CF, QC, GN.
std::string_view Prefix(RecordType v);
StatusOr<RecordType> ParseRecordType(std::string_view s);
StatusOr<Classification> ParseClassification(std::string_view s);
StatusOr<RecordState> ParseRecordState(std::string_view s);
StatusOr<VersionKind> ParseVersionKind(std::string_view s);
StatusOr<Role> ParseRole(std::string_view s);

// The date a record's validity or term ends, from its type-specific fields:
// validUntil (qualifications) or endDate (contracts), "YYYY-MM-DD"; "" when
// none. Both stores index it for expiringWithin searches.
std::string ExpiresOn(const std::string& metadata_json);

// Formats an archive number: Prefix(type)-YYYY-NNNNNN.
RecordId MakeArchiveNumber(RecordType type, int year, uint64_t sequence);

// ---- names people read
//
// One rule for every name shown to people: file names, record titles,
// department names and legal-hold names (usernames have their own, stricter
// ASCII rule). A name is refused, never changed:
//   * valid UTF-8, 1 to `max_bytes` bytes;
//   * no control character: C0 (U+0000–U+001F, tab, CR and LF included),
//     DEL, C1 (U+0080–U+009F), nor the line and paragraph separators
//     U+2028/U+2029;
//   * no bidirectional control, which makes a name read as something else
//     ("invoice\u202Efdp.exe" shows as "invoiceexe.pdf"): U+202A–U+202E,
//     U+2066–U+2069, U+200E, U+200F, U+061C;
//   * a file name also has no '/', backslash or ':' (path and drive
//     separators: "C:\x.pdf" and "..\..\boot.ini" are refused) and is not
//     "." or "..".
struct NameRule {
  const char* what;     // in messages: "file name", "title", …
  const char* field;    // the API field, params.field: "filename", "title", …
  const char* code;     // the error code: "invalid_file_name", …
  size_t max_bytes;
  bool file_name;       // the path characters and "." / ".." too
};
inline constexpr NameRule kFileNameRule{"file name", "filename", "invalid_file_name", 255, true};
inline constexpr NameRule kTitleRule{"title", "title", "invalid_title", 500, false};
inline constexpr NameRule kDepartmentNameRule{"department name", "department", "invalid_department", 128,
                                              false};
inline constexpr NameRule kHoldNameRule{"hold name", "name", "invalid_name", 200, false};

// Ok, or kUnprocessable with reason `rule.code`, a message naming the rule
// that was broken, and params "field" (rule.field) and "rule": one of
// "empty", "too_long" (with "maxBytes"), "utf8", "control_character",
// "bidi_control", "path_character" (with "character"), "dot_name".
[[nodiscard]] Status ValidateName(std::string_view name, const NameRule& rule);

// The code point of UTF-8 at s[i], advancing i past it; U+FFFD (advancing
// one byte) where no valid sequence starts. Needs i < s.size().
uint32_t NextCodePoint(std::string_view s, size_t& i);

struct Department {
  std::string name;
  Time created_at;
};

struct User {
  Username username;
  std::string password_hash;  // Argon2id PHC string; never leaves storage/services
  Role role = Role::kStaff;
  std::string department;
  bool must_change_password = true;
  Time password_changed_at;
  int failed_logins = 0;
  std::optional<Time> locked_until;
  bool disabled = false;
  Time created_at;
  // Canonical JSON objects the services own (server/services/account_state.h):
  // `credentials` holds secrets (set-up code hash, second-factor secret,
  // recovery code hashes) and is sealed but logged only as its SHA-256;
  // `provenance` says who created, reset and granted the account and when.
  // "{}" when empty (accounts from before the split).
  std::string credentials = "{}";
  std::string provenance = "{}";
};

struct Session {
  std::string token_hash;  // hex SHA-256 of the bearer token; the token itself is never stored
  Username username;
  Time created_at;
  Time last_seen_at;
  Time expires_at;  // absolute expiry
};

// The type-specific fields of a record (counterparty, contractNumber,
// validUntil, …): every value is a string. The services own their schema
// (services::ValidateTypeMetadata); Record keeps them as canonical JSON.
using RecordMetadata = std::map<std::string, std::string>;

struct Record {
  RecordId id;
  RecordType type = RecordType::kGeneral;
  std::string title;
  std::string description;
  std::string department;
  Classification classification = Classification::kInternal;
  std::string custodian;
  std::string location;  // box/shelf, may be empty
  // Type-specific fields (counterparty, contractNumber, validUntil, …) as
  // canonical JSON text of an object; the services own their schema.
  std::string metadata_json = "{}";
  std::string retention_class;
  RecordState state = RecordState::kActive;
  Time created_at;
  std::string created_by;
  Time updated_at;
  // Hex of 32 random bytes, made at check-in and emptied at destruction:
  // the salt of the commitments that stand for the personal columns
  // (description, location, metadata) in the audit log (storage/row_image.h).
  // Without it the commitments in old leaves can no longer be tested
  // against a guessed value. "" in archives written before it existed,
  // until the first start of a version that has it.
  std::string salt;
};

// The result of checking a detached CMS signature, as stored with a file.
struct FileSignature {
  std::string status = "none";  // "valid" | "invalid" | "none"
  std::string signer;
  std::optional<Time> signing_time;
  std::string reason;
};

struct StoredFile {
  FileId id;
  RecordId record_id;
  int version = 0;
  std::string name;
  std::string media_type;
  uint64_t size = 0;
  std::string sha256;  // hex, of the plaintext
  std::string sm3;     // hex, of the plaintext; empty unless the gm suite is on
  BlobId blob_id;
  std::string kek_id;  // key that wraps the data key
  std::vector<uint8_t> wrapped_dek;  // empty once destroyed (crypto-shredded)
  FileSignature signature;
};

struct Version {
  RecordId record_id;
  int number = 0;
  VersionKind kind = VersionKind::kOriginal;
  std::string note;
  Time created_at;
  std::string created_by;
  std::string manifest_hash;       // hex SHA-256 of the canonical manifest
  std::string prev_manifest_hash;  // "" for version 1
  uint64_t log_index = 0;          // the audit log entry that recorded it
  std::vector<StoredFile> files;
};

// Catalogue search. Empty fields do not filter.
struct RecordQuery {
  std::string text;  // matched against archive number, title, description, metadata
  std::optional<RecordType> type;
  std::string department;
  std::optional<Classification> classification;
  std::optional<RecordState> state;
  // Records created in [created_from, created_to] when set.
  std::optional<Time> created_from;
  std::optional<Time> created_to;
  // Records whose validUntil (qualifications) or endDate (contracts) is on
  // or before this date (YYYY-MM-DD), e.g. today + expiringWithin days.
  std::string expiring_by;
  // Set by callers that think in days from now; the services turn it into
  // expiring_by with their clock.
  std::optional<int> expiring_within_days;
  // Restricts to these classifications (the caller's clearance); empty = all.
  std::vector<Classification> allowed_classifications;
  // With allowed_classifications: records of `own_department` also pass
  // with these classifications (a caller's clearance in their department).
  std::string own_department;
  std::vector<Classification> own_department_classifications;
  int page = 1;        // 1-based
  int page_size = 50;  // 1..500
  // Records that also match `text` through the content index (the services
  // fill it from the postings, storage/search_index.h, after the caller's
  // rights); the store ORs them with its own match of `text`.
  std::vector<RecordId> text_matched_ids;
  // False: the store does not scan the catalogue for `text` where its own
  // text index cannot answer (PostgreSQL, and SQLite below three
  // characters); `text_matched_ids` stand for that match. The archive
  // number is still matched. True (the default): as before the content
  // index, a LIKE scan.
  bool text_scan = true;
  // The order of the page: "" for the default (newest first; a full-text
  // match in the index's order), else a column (IsRecordSortKey) with
  // records lacking a value last and ties broken by archive number in the
  // same direction, so pages do not overlap.
  std::string sort;
  bool descending = false;
};

// Whether `key` orders a catalogue search (RecordQuery::sort): a column
// (id, title, type, classification, department, state, createdAt,
// updatedAt) or a type-specific metadata field (IsMetadataSortKey).
bool IsRecordSortKey(std::string_view key);
// The metadata fields a search may be ordered by (counterparty,
// contractNumber, signedDate, effectiveDate, endDate, amount, issuer,
// certificateNumber, validUntil, issuedDate, productModel, documentKind,
// customerName, customerId); amount orders by its numeric value.
bool IsMetadataSortKey(std::string_view key);

// Where a search's text matched a record (docs/search.md "Hits").
struct FieldMatch {
  // "title", "description", "metadata", "archiveNumber", "note",
  // "fileName" or "content".
  std::string field;
  int version = 0;   // note, fileName, content: the version; else 0
  FileId file_id;    // fileName, content: the file; else empty
  std::string file_name;
  // The matched passage as alternating segments, plain first: segments
  // 1, 3, 5, ... are the matched words. Empty when the caller may not read
  // the field (content without the right to read it gives no match at
  // all) or no passage was found.
  std::vector<std::string> snippet;
};

// Searches count matches up to this many; beyond it a page says "more than
// this" (total_exact false) instead of reading every match.
inline constexpr uint64_t kMaxCountedMatches = 1000;

struct RecordPage {
  std::vector<Record> records;
  uint64_t total = 0;       // at most kMaxCountedMatches
  bool total_exact = true;  // false: more records than `total` match
  // With a search text: for each of `records` (same order), where it
  // matched. Empty without a text.
  std::vector<std::vector<FieldMatch>> matches;
};

}  // namespace custos::domain
