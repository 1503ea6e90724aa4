// JSON at the edge: one codec per resource (DESIGN §4 shapes, camelCase).
// Decoding reports 400 "malformed_json" for text that is not JSON or not an
// object, and 400 "invalid_field" naming the field for a wrong type.
#pragma once

#include <Poco/JSON/Object.h>

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "domain/model.h"
#include "server/services/audit_service.h"
#include "server/services/auth_service.h"
#include "server/services/checkpoint_attester.h"
#include "server/services/destruction_service.h"
#include "server/services/fresh_reads.h"
#include "server/services/loan_service.h"
#include "server/services/log_service.h"
#include "server/services/record_service.h"
#include "server/services/retention_service.h"
#include "server/services/row_integrity.h"
#include "server/services/verify_schedule.h"

namespace custos::http {

// Parses a JSON object (strictly: no duplicate keys, no trailing garbage).
StatusOr<Poco::JSON::Object::Ptr> ParseObject(const std::string& text);

// Typed field access; absent → nullopt; present with the wrong type → 400.
StatusOr<std::optional<std::string>> OptString(const Poco::JSON::Object::Ptr& o, const std::string& key);
StatusOr<std::string> ReqString(const Poco::JSON::Object::Ptr& o, const std::string& key);
StatusOr<std::optional<bool>> OptBool(const Poco::JSON::Object::Ptr& o, const std::string& key);
StatusOr<Poco::JSON::Object::Ptr> OptObject(const Poco::JSON::Object::Ptr& o, const std::string& key);
// Rejects keys outside `allowed` (400 "unknown_field").
Status OnlyKeys(const Poco::JSON::Object::Ptr& o, const std::vector<std::string>& allowed);

std::string Stringify(const Poco::Dynamic::Var& v);

// A user: username, role, department, mustChangePassword, disabled,
// passwordChangedAt, createdAt, awaitingSetup, secondFactor {totp,
// certificate, recoveryCodesLeft}, createdBy, roleGrantedAt|null,
// resetAt|null. Never a password hash, a code hash or a factor secret.
Poco::JSON::Object::Ptr UserJson(const domain::User& u);
// A role grant: {id, username, role, previousRole, state, proposedBy,
// proposedAt, decidedBy|null, decidedAt|null, reason|null}.
Poco::JSON::Object::Ptr GrantJson(const services::Grant& g);
Poco::JSON::Object::Ptr DepartmentJson(const domain::Department& d);
Poco::JSON::Object::Ptr FileJson(const domain::StoredFile& f);
Poco::JSON::Object::Ptr VersionJson(const domain::Version& v);
Poco::JSON::Object::Ptr RecordJson(const domain::Record& r);
// A record's retention: {trigger, period, action, source, triggerDate,
// dispositionDate, due}.
Poco::JSON::Object::Ptr DispositionJson(const services::Disposition& d);
Poco::JSON::Object::Ptr RecordDetailJson(const services::RecordDetail& d);
// What the content pipeline learned of a file (docs/search.md "API"):
// {"state", "claimedType", "identifiedType", "typeMismatch", "method",
// "pages", "textBytes", "attempts", "reason"}; never its text.
Poco::JSON::Object::Ptr ExtractionJson(const storage::FileText& t);
// Where a search hit matched: [{"field", "version"?, "file"?, "fileName"?,
// "snippet"?}], version for note/fileName/content, file and fileName for
// fileName/content, snippet when a passage was found.
Poco::JSON::Array::Ptr FieldMatchesJson(const std::vector<domain::FieldMatch>& matches);
// {"extraction": {...}, "text": "..."}.
Poco::JSON::Object::Ptr TextReadJson(const services::TextRead& t);
// A version comparison (docs/api.md "Version comparison"): {"record",
// "from", "to" (versions as VersionJson), "files": [{"name", "change",
// "from"|null, "to"|null (FileJson), "text": {"state", "level"?,
// "segments"?: [{"op", "text"}]}}], "metadataChanges": [{"index", "at",
// "actor", "fields"}], "logIndexes"}.
Poco::JSON::Object::Ptr ComparisonJson(const services::VersionComparison& c);
// A log entry: {"index","leaf":b64,"event":{…}}; the event is the leaf itself.
// The one storage type the HTTP layer names: the log API serves the leaves
// byte for byte as the store keeps them (LogService::Entries). A redacted
// entry is {"index","redacted":true,"leafHash":b64}: its leaf hash still
// lets a client check the tree and the next entry's prev.
Poco::JSON::Object::Ptr EntryJson(const storage::LogEntry& e);
// A history entry: EntryJson, plus for a record.update of a living record
// "change":{"before":{…},"after":{…}} with the personal values it changed.
Poco::JSON::Object::Ptr HistoryEntryJson(const services::HistoryEntry& h);

// ---- workflow resources as the API shows them: each one's codec (the
// stored body, beside its type) with what only a reader sees added.

// An RFC 3339 time, or null when absent.
Poco::Dynamic::Var TimeOrNull(const std::optional<domain::Time>& t);
// The log indices of a loan's events, oldest first.
std::vector<uint64_t> LoanLogIndices(const domain::Loan& loan);
// A loan at `now`: domain::LoanObject with the state at `now`
// (EffectiveState), `overdue`, `logIndices`, absent times and renewal as
// null, and without `closedBy`.
Poco::JSON::Object::Ptr LoanJson(const domain::Loan& loan, domain::Time now);
// {overdueLoans, certificates, verification, rowIntegrity,
// freshAccountReads, generatedAt}; verification is VerificationAlertJson or
// null; rowIntegrity is {count, rows:[{table, key, at}] (newest first)} or
// null; freshAccountReads is FreshReadJson of each of `fresh` (what
// FreshReadLog::FreshReads gives the caller: newest first, empty for every
// role but the security auditor).
Poco::JSON::Object::Ptr AlertsJson(const services::Alerts& a,
                                   const std::optional<services::VerificationAlert>& verification,
                                   const std::optional<services::RowIntegrityAlert>& row_integrity,
                                   const std::vector<services::FreshRead>& fresh,
                                   const std::optional<services::AttestationAlert>& attestation,
                                   domain::Time now);
// {username, role, recordId, version, fileId, at, accountSince, logIndex}.
Poco::JSON::Object::Ptr FreshReadJson(const services::FreshRead& r);
// {finishedAt, full, logSize, findingCount, findings:[{object, problem,
// code}] (the first VerifySchedule::kAlertFindings), lastSuccessAt|null}.
Poco::JSON::Object::Ptr VerificationAlertJson(const services::VerificationAlert& a);
// A retention schedule: its rule with type, isDefault, updatedAt, updatedBy.
Poco::JSON::Object::Ptr ScheduleJson(const services::ScheduleView& v);
// services::ChangeObject with decidedAt null until decided.
Poco::JSON::Object::Ptr ChangeJson(const services::RetentionChange& c);
// services::HoldObject with releasedAt null until released.
Poco::JSON::Object::Ptr HoldJson(const services::Hold& h);
// A batch as a reader sees it: items (services::DestructionItemObject
// without blob ids, eventIndex null until executed) under `records`,
// hiddenRecords, logIndices and hasCertificate instead of the certificate.
Poco::JSON::Object::Ptr BatchJson(const services::DestructionBatch& b);
// An audit job: id, kind, state, progress, error, logIndex; a verify job's
// report and clean flag; an export's format, expiry and package summary.
Poco::JSON::Object::Ptr JobJson(const services::AuditJob& j);

StatusOr<services::RecordInput> DecodeRecordInput(const std::string& text);
StatusOr<services::RecordPatch> DecodeRecordPatch(const std::string& text);

}  // namespace custos::http
