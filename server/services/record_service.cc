#include "server/services/record_service.h"

#include <Poco/JSON/Array.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>

#include "server/services/account_state.h"
#include "server/services/content_pipeline.h"
#include "server/services/destruction_service.h"
#include "server/services/events.h"
#include "domain/canonical_json.h"
#include "storage/integrity.h"
#include "storage/log_leaf.h"
#include "storage/row_image.h"

namespace custos::services {

using domain::Classification;
using storage::LogEvent;
using domain::Record;
using domain::RecordId;
using domain::RecordType;
using domain::Role;
using domain::StoredFile;
using domain::Time;
using storage::Transaction;
using domain::Version;

namespace {

constexpr size_t kMaxText = 10000;
constexpr size_t kMaxSignatureBytes = 1 << 20;
constexpr size_t kHistoryLimit = 10000;
// The version and record caches (StoreCache): how many entries, and how
// long one is kept at most even when the store saw no change.
constexpr size_t kVersionCacheEntries = 8192;
constexpr std::chrono::milliseconds kVersionCacheMaxAge{10000};

struct TypeSchema {
  std::vector<std::string> required;
  std::vector<std::string> optional;
};

const TypeSchema& SchemaFor(RecordType type) {
  static const TypeSchema contract{{"counterparty", "contractNumber", "signedDate"},
                                   {"effectiveDate", "endDate", "amount", "currency"}};
  static const TypeSchema qualification{{"issuer", "certificateNumber", "validUntil"},
                                        {"issuedDate", "scope"}};
  static const TypeSchema dossier{{"productModel", "documentKind"}, {}};
  static const TypeSchema customer{{"customerName", "customerId"}, {}};
  static const TypeSchema general{{}, {}};
  switch (type) {
    case RecordType::kContract: return contract;
    case RecordType::kQualification: return qualification;
    case RecordType::kProductDossier: return dossier;
    case RecordType::kCustomerFile: return customer;
    case RecordType::kGeneral: return general;
  }
  return general;
}

bool IsDateField(const std::string& name) {
  return name == "signedDate" || name == "effectiveDate" || name == "endDate" ||
         name == "issuedDate" || name == "validUntil";
}

bool IsDate(const std::string& s) {
  if (s.size() != 10) return false;
  return domain::ParseTime(s + "T00:00:00Z").ok();
}

// params: field (the metadata key) and rule (which check failed).
Status BadField(const std::string& field, const std::string& why, const char* rule) {
  return Unprocessable("metadata." + field + ": " + why, "invalid_metadata")
      .WithParam("field", field)
      .WithParam("rule", rule);
}

Status CheckText(const std::string& field, const std::string& value, size_t max, bool required) {
  if (required && value.empty()) {
    return Unprocessable(field + " is required", "invalid_" + field)
        .WithParam("field", field).WithParam("rule", "required");
  }
  if (value.size() > max) {
    return Unprocessable(field + " is too long", "invalid_" + field)
        .WithParam("field", field).WithParam("rule", "too_long").WithParam("maxBytes", max);
  }
  if (!domain::IsValidUtf8(value)) {
    return Unprocessable(field + " is not UTF-8", "invalid_" + field)
        .WithParam("field", field).WithParam("rule", "utf8");
  }
  for (unsigned char c : value) {
    if (c < 0x20 && c != '\n' && c != '\t') {
      return Unprocessable(field + " has a control character", "invalid_" + field)
          .WithParam("field", field).WithParam("rule", "control");
    }
  }
  return Status::Ok();
}

domain::DetailValue::Array FilesDetail(const std::vector<StoredFile>& files) {
  domain::DetailValue::Array arr;
  for (const StoredFile& f : files) {
    domain::EventDetails o;
    o.Set("id", f.id.value);
    o.Set("name", f.name);
    o.Set("sha256", f.sha256);
    o.Set("size", f.size);
    o.Set("signature", f.signature.status);
    arr.push_back(std::move(o));
  }
  return arr;
}

// The canonical JSON object of type-specific fields, as Record keeps them.
StatusOr<std::string> MetadataJson(const domain::RecordMetadata& metadata) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  for (const auto& [name, value] : metadata) o->set(name, value);
  return domain::CanonicalJson(o);
}

// The keys whose values differ between two metadata objects (canonical
// JSON of string members), in key order.
std::vector<std::string> ChangedMetadataKeys(const std::string& before_json, const std::string& after_json) {
  std::map<std::string, std::string> before, after;
  auto read = [](const std::string& json, std::map<std::string, std::string>& into) {
    auto parsed = domain::ParseJsonStrict(json);
    if (!parsed.ok() || parsed->type() != typeid(Poco::JSON::Object::Ptr)) return;
    auto o = parsed->extract<Poco::JSON::Object::Ptr>();
    for (const auto& [name, value] : *o) into[name] = value.toString();
  };
  read(before_json, before);
  read(after_json, after);
  std::set<std::string> keys;
  for (const auto& [k, v] : before) {
    if (!after.count(k) || after[k] != v) keys.insert(k);
  }
  for (const auto& [k, v] : after) {
    if (!before.count(k)) keys.insert(k);
  }
  return {keys.begin(), keys.end()};
}

std::string SafeMediaType(const std::string& t) {
  static const std::regex kMediaType("^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+$");
  std::string base = t.substr(0, t.find(';'));
  while (!base.empty() && base.back() == ' ') base.pop_back();
  return std::regex_match(base, kMediaType) ? base : "application/octet-stream";
}


}  // namespace

Status MetadataNotAString(const std::string& field) {
  return BadField(field, "must be a string", "string");
}

Status ValidateTypeMetadata(RecordType type, const domain::RecordMetadata& metadata) {
  const TypeSchema& schema = SchemaFor(type);
  for (const auto& [name, s] : metadata) {
    bool known = std::count(schema.required.begin(), schema.required.end(), name) +
                 std::count(schema.optional.begin(), schema.optional.end(), name);
    if (!known) return BadField(name, "unknown field for a " + std::string(domain::Name(type)), "unknown");
    CUSTOS_RETURN_IF_ERROR(CheckText("metadata." + name, s, 1000, false));
    if (IsDateField(name) && !IsDate(s)) return BadField(name, "must be a date YYYY-MM-DD", "date");
    if (name == "amount" && !std::regex_match(s, std::regex("^-?[0-9]{1,15}(\\.[0-9]{1,4})?$"))) {
      return BadField(name, "must be a decimal number such as 1250000.00", "decimal");
    }
    if (name == "currency" && !std::regex_match(s, std::regex("^[A-Z]{3}$"))) {
      return BadField(name, "must be an ISO 4217 code such as CNY", "currency");
    }
  }
  for (const std::string& name : schema.required) {
    auto given = metadata.find(name);
    if (given == metadata.end() || given->second.empty()) {
      return BadField(name, "is required for a " + std::string(domain::Name(type)), "required");
    }
  }
  return Status::Ok();
}

// ------------------------------------------------------------------ CheckIn

CheckIn::CheckIn(RecordService& service, Principal who) : service_(service), who_(std::move(who)) {}

CheckIn::~CheckIn() {
  if (committed_) return;
  for (const StoredFile& f : files_) (void)service_.blobs_.Delete(f.blob_id);
}

Status CheckIn::AddFile(const FileInput& file, ByteSource& content) {
  if (files_.size() >= service_.options_.max_files_per_version) {
    return Unprocessable("too many files in one version", "too_many_files")
        .WithParam("max", service_.options_.max_files_per_version);
  }
  CUSTOS_RETURN_IF_ERROR(domain::ValidateName(file.name, domain::kFileNameRule));
  CUSTOS_ASSIGN_OR_RETURN(storage::StoredContent c,
                          service_.content_.Put(content, service_.options_.max_file_bytes));
  StoredFile f;
  f.id = c.file_id;
  f.name = file.name;
  f.media_type = SafeMediaType(file.media_type);
  f.size = c.size;
  f.sha256 = c.sha256;
  f.sm3 = c.sm3;
  f.blob_id = c.blob_id;
  f.kek_id = c.kek_id;
  f.wrapped_dek = c.wrapped_dek;
  files_.push_back(std::move(f));
  return Status::Ok();
}

Status CheckIn::AttachSignature(std::string_view cms) {
  if (files_.empty() || files_.back().signature.status != "none") {
    return InvalidArgument("a signature part must directly follow its file part",
                           "signature_without_file");
  }
  if (cms.size() > kMaxSignatureBytes) return TooLarge("signature is too large", "signature_too_large");
  StoredFile& f = files_.back();
  CUSTOS_ASSIGN_OR_RETURN(auto source, service_.content_.Open(f));
  static const crypto::TrustStore kEmpty = crypto::TrustStore::FromPem("").value();
  const crypto::TrustStore& trust = service_.trust_ ? *service_.trust_ : kEmpty;
  CUSTOS_ASSIGN_OR_RETURN(crypto::SignatureCheck check,
                          crypto::VerifyDetached(trust, *source, cms, service_.clock_.Now()));
  f.signature.status = std::string(crypto::SignatureStatusName(check.status));
  f.signature.signer = check.signer_subject;
  if (check.signing_time) f.signature.signing_time = domain::TruncateToMillis(*check.signing_time);
  f.signature.reason = check.reason;
  return Status::Ok();
}

StatusOr<CheckInResult> CheckIn::Commit() {
  if (files_.empty()) return Unprocessable("a version needs at least one file", "no_files");
  return service_.CommitCheckIn(*this);
}

// ------------------------------------------------------------ RecordService

RecordService::RecordService(storage::MetadataStore& store, storage::ContentStore& content,
                             storage::BlobStore& blobs, LogService& log, Clock& clock,
                             std::shared_ptr<const crypto::TrustStore> trust,
                             RecordOptions options)
    : store_(store), content_(content), blobs_(blobs), log_(log), clock_(clock),
      trust_(std::move(trust)), options_(options),
      versions_(store, {"records", "versions", "files"}, kVersionCacheEntries, kVersionCacheMaxAge),
      records_(store, {"records"}, kVersionCacheEntries, kVersionCacheMaxAge),
      views_(store, {"records", "versions", "files", "documents"}, kVersionCacheEntries, kVersionCacheMaxAge) {}

StatusOr<std::unique_ptr<CheckIn>> RecordService::BeginCheckIn(const Principal& who,
                                                               const RecordInput& in) {
  CUSTOS_RETURN_IF_ERROR(RequireArchivist(who));
  CUSTOS_ASSIGN_OR_RETURN(RecordType type, domain::ParseRecordType(in.type));
  CUSTOS_ASSIGN_OR_RETURN(Classification cls, domain::ParseClassification(in.classification));
  CUSTOS_RETURN_IF_ERROR(domain::ValidateName(in.title, domain::kTitleRule));
  CUSTOS_RETURN_IF_ERROR(CheckText("description", in.description, kMaxText, false));
  CUSTOS_RETURN_IF_ERROR(domain::ValidateName(in.department, domain::kDepartmentNameRule));
  CUSTOS_RETURN_IF_ERROR(CheckText("custodian", in.custodian, 64, false));
  CUSTOS_RETURN_IF_ERROR(CheckText("location", in.location, 200, false));
  CUSTOS_RETURN_IF_ERROR(ValidateTypeMetadata(type, in.metadata));
  bool department_exists = false;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(department_exists, tx.departments().Exists(in.department));
    return Status::Ok();
  }));
  if (!department_exists) {
    return Unprocessable("no department '" + in.department + "'", "unknown_department").WithParam("department", in.department);
  }
  Record r;
  r.type = type;
  r.title = in.title;
  r.description = in.description;
  r.department = in.department;
  r.classification = cls;
  r.custodian = in.custodian.empty() ? who.username.value : in.custodian;
  r.location = in.location;
  CUSTOS_ASSIGN_OR_RETURN(r.metadata_json, MetadataJson(in.metadata));
  r.created_by = who.username.value;
  std::unique_ptr<CheckIn> c(new CheckIn(*this, who));
  c->record_ = std::move(r);
  return c;
}

StatusOr<std::unique_ptr<CheckIn>> RecordService::BeginVersion(const Principal& who,
                                                               const RecordId& id,
                                                               const std::string& kind,
                                                               const std::string& note) {
  CUSTOS_RETURN_IF_ERROR(RequireArchivist(who));
  CUSTOS_ASSIGN_OR_RETURN(domain::VersionKind k, domain::ParseVersionKind(kind));
  if (k == domain::VersionKind::kOriginal) {
    return Unprocessable("only version 1 is the original", "invalid_kind");
  }
  CUSTOS_RETURN_IF_ERROR(CheckText("note", note, kMaxText, false));
  CUSTOS_ASSIGN_OR_RETURN(Record r, LoadVisible(who, id));
  if (r.state == domain::RecordState::kDestroyed) {
    return Conflict("record " + id.value + " is destroyed", "record_destroyed");
  }
  std::unique_ptr<CheckIn> c(new CheckIn(*this, who));
  c->existing_ = id;
  c->kind_ = k;
  c->note_ = note;
  return c;
}

StatusOr<CheckInResult> RecordService::CommitCheckIn(CheckIn& c) {
  for (const StoredFile& f : c.files_) {
    bool is_contract = c.record_ && c.record_->type == RecordType::kContract;
    if (options_.reject_invalid_contract_signatures && is_contract && f.signature.status == "invalid") {
      return Unprocessable("the signature on " + f.name + " does not verify (" + f.signature.reason + ")",
                           "invalid_signature");
    }
  }
  Time now = clock_.Now();
  CheckInResult result;
  Status s = store_.Write([&](Transaction& tx) -> Status {
    Record r;
    Version v;
    v.created_at = now;
    v.created_by = c.who_.username.value;
    v.note = c.note_;
    v.kind = c.kind_;
    std::string action;
    if (c.record_) {
      r = *c.record_;
      int year = 0;
      {
        std::string stamp = domain::FormatTime(now);
        year = std::stoi(stamp.substr(0, 4));
      }
      CUSTOS_ASSIGN_OR_RETURN(uint64_t seq, tx.records().NextSequence(r.type, year));
      r.id = domain::MakeArchiveNumber(r.type, year, seq);
      r.created_at = r.updated_at = now;
      // The salt of its commitments and of its recordHash (storage/integrity.h).
      CUSTOS_ASSIGN_OR_RETURN(r.salt, storage::NewRecordSalt());
      CUSTOS_RETURN_IF_ERROR(tx.records().Insert(r));
      v.number = 1;
      action = "record.checkin";
    } else {
      CUSTOS_ASSIGN_OR_RETURN(auto found, tx.records().Find(*c.existing_));
      if (!found) return NotFound("no record " + c.existing_->value, "record_not_found");
      r = *found;
      if (r.state == domain::RecordState::kDestroyed) {
        return Conflict("record " + r.id.value + " is destroyed", "record_destroyed");
      }
      CUSTOS_ASSIGN_OR_RETURN(auto versions, tx.versions().List(r.id));
      v.number = versions.empty() ? 1 : versions.back().number + 1;
      v.prev_manifest_hash = versions.empty() ? "" : versions.back().manifest_hash;
      r.updated_at = now;
      CUSTOS_RETURN_IF_ERROR(tx.records().Update(r));
      action = "record.version";
    }
    v.record_id = r.id;
    for (StoredFile f : c.files_) {
      f.record_id = r.id;
      f.version = v.number;
      v.files.push_back(std::move(f));
    }
    CUSTOS_ASSIGN_OR_RETURN(v.manifest_hash, storage::ManifestHash(v));
    LogEvent e = MakeEvent(action, c.who_, r.id.value, now);
    CUSTOS_ASSIGN_OR_RETURN(std::string record_hash, storage::RecordDigest(r));
    e.details.Set(storage::kDetailRecordHash, record_hash);
    e.details.Set(storage::kDetailManifestHash, v.manifest_hash);
    e.details.Set(storage::kDetailVersion, v.number);
    e.details.Set("kind", std::string(domain::Name(v.kind)));
    e.details.Set("files", FilesDetail(v.files));
    CUSTOS_ASSIGN_OR_RETURN(v.log_index, tx.log().Append(e));
    CUSTOS_RETURN_IF_ERROR(tx.versions().Insert(v));
    // New activity (and, for a new record, its first rule) can change the
    // record's disposition.
    // Read once: nothing below writes the documents they come from.
    CUSTOS_ASSIGN_OR_RETURN(DispositionInputs inputs, LoadDispositionInputs(tx, r));
    CUSTOS_RETURN_IF_ERROR(ReconcileRecordState(tx, r, c.who_.username.value, now, inputs));
    CUSTOS_ASSIGN_OR_RETURN(result.detail.versions, tx.versions().List(r.id));
    if (options_.index_key != nullptr) {
      // Catalogue postings now; the content waits for the pipeline.
      CUSTOS_RETURN_IF_ERROR(IndexCatalogue(tx, *options_.index_key, r, result.detail.versions));
      CUSTOS_RETURN_IF_ERROR(tx.texts().Enqueue(r.id, now));
    }
    result.detail.record = r;
    result.detail.at = now;
    result.detail.disposition = ComputeDisposition(r, inputs.rule, inputs.source, inputs.holds, now);
    result.version = v.number;
    result.log_index = v.log_index;
    return Status::Ok();
  });
  CUSTOS_RETURN_IF_ERROR(s);
  c.committed_ = true;
  if (options_.index_key != nullptr && options_.pipeline != nullptr) options_.pipeline->Wake();
  auto receipt = log_.Receipt(result.log_index);
  if (receipt.ok()) result.receipt = *receipt;
  return result;
}

StatusOr<Record> RecordService::LoadVisible(const Principal& who, const RecordId& id) {
  if (IsNonBusiness(who.role)) return Forbidden("read the catalogue");
  // Counts before the read (StoreCache).
  std::optional<StoreCache<std::optional<Record>>::Counts> counts = records_.Stamp();
  std::optional<std::optional<Record>> cached;
  if (counts) cached = records_.Get(id.value, *counts);
  std::optional<Record> r;
  if (cached) {
    r = std::move(*cached);
  } else {
    CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(r, tx.records().Find(id));
      return Status::Ok();
    }));
    if (counts) records_.Put(id.value, r, *counts);
  }
  // A record the caller may not see is reported like one that does not exist.
  if (!r || !MaySeeRecord(who, *r)) return NotFound("no record " + id.value, "record_not_found");
  return *r;
}

StatusOr<RecordDetail> RecordService::Get(const Principal& who, const RecordId& id) {
  CUSTOS_ASSIGN_OR_RETURN(Record r, LoadVisible(who, id));
  Time now = clock_.Now();
  RecordDetail d;
  d.record = r;
  d.at = now;
  CUSTOS_ASSIGN_OR_RETURN(RecordRows rows, LoadRecordRows(r));
  d.versions = std::move(rows.versions);
  for (domain::Loan& l : rows.loans) {
    if (domain::IsOpen(l, now) && MaySeeLoan(who, l)) d.open_loans.push_back(std::move(l));
  }
  d.disposition = ComputeDisposition(r, rows.disposition.rule, rows.disposition.source,
                                     std::move(rows.disposition.holds), now);
  d.tombstone_json = std::move(rows.tombstone_json);
  // Not cached: the content pipeline writes file_texts all the time.
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(d.texts, tx.texts().OfRecord(id));
    return Status::Ok();
  }));
  return d;
}

StatusOr<RecordService::RecordRows> RecordService::LoadRecordRows(const Record& r) {
  // Counts before the read (StoreCache).
  std::optional<StoreCache<RecordRows>::Counts> counts = views_.Stamp();
  if (counts) {
    if (std::optional<RecordRows> hit = views_.Get(r.id.value, *counts)) return std::move(*hit);
  }
  RecordRows rows;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(rows.versions, tx.versions().List(r.id));
    CUSTOS_ASSIGN_OR_RETURN(rows.loans, LoansOfRecord(tx, r.id, "", domain::OpenStates()));
    CUSTOS_ASSIGN_OR_RETURN(rows.disposition, LoadDispositionInputs(tx, r));
    CUSTOS_ASSIGN_OR_RETURN(auto tomb, tx.documents().Find(kTombstoneDocument, r.id.value));
    if (tomb) rows.tombstone_json = tomb->body;
    return Status::Ok();
  }));
  if (counts) views_.Put(r.id.value, rows, *counts);
  return rows;
}

// RecordService::Search and ReadText are in record_search.cc.

StatusOr<std::vector<Version>> RecordService::Versions(const Principal& who, const RecordId& id,
                                                       std::optional<Time> as_of) {
  CUSTOS_ASSIGN_OR_RETURN(RecordDetail d, Get(who, id));
  if (!as_of) return d.versions;
  const Version* current = nullptr;
  for (const Version& v : d.versions) {
    if (v.created_at <= *as_of) current = &v;
  }
  if (current == nullptr) {
    return NotFound("record " + id.value + " had no version at " + domain::FormatTime(*as_of),
                    "no_version_at");
  }
  return std::vector<Version>{*current};
}

StatusOr<Version> RecordService::GetVersion(const Principal& who, const RecordId& id, int n) {
  CUSTOS_ASSIGN_OR_RETURN(RecordDetail d, Get(who, id));
  for (const Version& v : d.versions) {
    if (v.number == n) return v;
  }
  return NotFound("record " + id.value + " has no version " + std::to_string(n), "version_not_found");
}

namespace {

// Does history entry `e` name a loan (details.loan) that `who` may not see?
// Such entries — a request with its purpose, approvals, reads through the
// loan — are the loan's, and follow MaySeeLoan.
bool MaySeeEntryLoan(const Principal& who, const storage::LogEntry& e, const std::vector<domain::Loan>& loans) {
  auto leaf = storage::DecodeLeaf(e.leaf);
  if (!leaf.ok() || !leaf->event.details.Has("loan")) return true;
  const std::string id = leaf->event.details.String("loan").value_or("");
  for (const domain::Loan& l : loans) {
    if (l.id == id) return MaySeeLoan(who, l);
  }
  return MaySeeLoan(who, domain::Loan{});  // a loan that is gone: only the roles that see every loan
}

}  // namespace

StatusOr<std::vector<HistoryEntry>> RecordService::History(const Principal& who, const RecordId& id) {
  CUSTOS_ASSIGN_OR_RETURN(Record r, LoadVisible(who, id));
  std::vector<HistoryEntry> out;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(std::vector<storage::LogEntry> all,
                            tx.log().EntriesForSubject(r.id.value, kHistoryLimit));
    CUSTOS_ASSIGN_OR_RETURN(std::vector<domain::Loan> loans, LoansOfRecord(tx, r.id));
    CUSTOS_ASSIGN_OR_RETURN(std::vector<storage::RecordChange> changes, tx.records().Changes(r.id));
    std::map<uint64_t, storage::RecordChange> by_index;
    for (storage::RecordChange& c : changes) by_index[c.log_index] = std::move(c);
    for (storage::LogEntry& e : all) {
      if (!MaySeeEntryLoan(who, e, loans)) continue;
      HistoryEntry h;
      if (auto c = by_index.find(e.index); c != by_index.end()) h.change = c->second;
      h.entry = std::move(e);
      out.push_back(std::move(h));
    }
    return Status::Ok();
  }));
  return out;
}

StatusOr<Record> RecordService::Patch(const Principal& who, const RecordId& id,
                                      const RecordPatch& patch) {
  CUSTOS_RETURN_IF_ERROR(RequireArchivist(who));
  CUSTOS_ASSIGN_OR_RETURN(Record current, LoadVisible(who, id));
  if (current.state == domain::RecordState::kDestroyed) {
    return Conflict("record " + id.value + " is destroyed; its tombstone cannot change",
                    "record_destroyed");
  }
  if (patch.title) CUSTOS_RETURN_IF_ERROR(domain::ValidateName(*patch.title, domain::kTitleRule));
  if (patch.description) CUSTOS_RETURN_IF_ERROR(CheckText("description", *patch.description, kMaxText, false));
  if (patch.custodian) CUSTOS_RETURN_IF_ERROR(CheckText("custodian", *patch.custodian, 64, true));
  if (patch.location) CUSTOS_RETURN_IF_ERROR(CheckText("location", *patch.location, 200, false));
  std::optional<Classification> cls;
  if (patch.classification) {
    CUSTOS_ASSIGN_OR_RETURN(cls, domain::ParseClassification(*patch.classification));
  }
  std::string metadata_json;
  if (patch.metadata) {
    CUSTOS_RETURN_IF_ERROR(ValidateTypeMetadata(current.type, *patch.metadata));
    CUSTOS_ASSIGN_OR_RETURN(metadata_json, MetadataJson(*patch.metadata));
  }
  Time now = clock_.Now();
  Record result;
  bool queued = false;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto found, tx.records().Find(id));
    if (!found) return NotFound("no record " + id.value, "record_not_found");
    Record r = *found;
    if (r.state == domain::RecordState::kDestroyed) {
      return Conflict("record " + id.value + " is destroyed", "record_destroyed");
    }
    // The log keeps the old and new values of what the tombstone keeps;
    // personal values go to record_changes, which the destruction deletes.
    domain::EventDetails before, after;
    Poco::JSON::Object::Ptr personal_before = new Poco::JSON::Object;
    Poco::JSON::Object::Ptr personal_after = new Poco::JSON::Object;
    std::vector<std::string> changed;
    auto change = [&](const char* field, std::string& slot, const std::optional<std::string>& v) {
      if (!v || *v == slot) return;
      changed.push_back(field);
      before.Set(field, slot);
      after.Set(field, *v);
      slot = *v;
    };
    auto change_personal = [&](const char* field, std::string& slot, const std::optional<std::string>& v) {
      if (!v || *v == slot) return;
      changed.push_back(field);
      personal_before->set(field, slot);
      personal_after->set(field, *v);
      slot = *v;
    };
    change("title", r.title, patch.title);
    change_personal("description", r.description, patch.description);
    change("custodian", r.custodian, patch.custodian);
    change_personal("location", r.location, patch.location);
    if (cls && *cls != r.classification) {
      changed.push_back("classification");
      before.Set("classification", domain::Name(r.classification));
      after.Set("classification", domain::Name(*cls));
      r.classification = *cls;
    }
    if (patch.metadata && metadata_json != r.metadata_json) {
      for (const std::string& key : ChangedMetadataKeys(r.metadata_json, metadata_json)) {
        changed.push_back("metadata." + key);
      }
      personal_before->set("metadata", r.metadata_json);
      personal_after->set("metadata", metadata_json);
      r.metadata_json = metadata_json;
    }
    if (changed.empty()) {
      result = r;
      return Status::Ok();  // nothing changed: no event
    }
    r.updated_at = now;
    CUSTOS_RETURN_IF_ERROR(tx.records().Update(r));
    LogEvent e = MakeEvent("record.update", who, r.id.value, now);
    CUSTOS_ASSIGN_OR_RETURN(std::string record_hash, storage::RecordDigest(r));
    e.details.Set(storage::kDetailRecordHash, record_hash);
    e.details.Set("changed", changed);
    e.details.Set("before", std::move(before));
    e.details.Set("after", std::move(after));
    CUSTOS_ASSIGN_OR_RETURN(uint64_t index, tx.log().Append(e));
    if (personal_after->size() > 0) {
      storage::RecordChange c;
      c.log_index = index;
      CUSTOS_ASSIGN_OR_RETURN(c.before_json, domain::CanonicalJson(personal_before));
      CUSTOS_ASSIGN_OR_RETURN(c.after_json, domain::CanonicalJson(personal_after));
      CUSTOS_RETURN_IF_ERROR(tx.records().AddChange(r.id, c));
    }
    // A new end date can make the record due (or no longer due) at once.
    CUSTOS_RETURN_IF_ERROR(ReconcileRecordState(tx, r, who.username.value, now));
    if (options_.index_key != nullptr) {
      CUSTOS_ASSIGN_OR_RETURN(std::vector<Version> versions, tx.versions().List(r.id));
      CUSTOS_RETURN_IF_ERROR(IndexCatalogue(tx, *options_.index_key, r, versions));
      CUSTOS_RETURN_IF_ERROR(tx.texts().Enqueue(r.id, now));
      queued = true;
    }
    result = r;
    return Status::Ok();
  }));
  if (queued && options_.pipeline != nullptr) options_.pipeline->Wake();
  return result;
}

Status RecordService::ContentDestroyed(const RecordId& id) {
  // The tombstone keeps the rule the destruction applied and where it came
  // from: the record's own rule ("record") or its type's schedule.
  std::string source, type, batch;
  Status read = store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto tomb, tx.documents().Find(kTombstoneDocument, id.value));
    CUSTOS_ASSIGN_OR_RETURN(std::optional<Record> r, tx.records().Find(id));
    if (r) type = std::string(domain::Name(r->type));
    if (!tomb) return Status::Ok();
    auto parsed = domain::ParseJsonStrict(tomb->body);
    if (!parsed.ok() || parsed->type() != typeid(Poco::JSON::Object::Ptr)) return Status::Ok();
    auto o = parsed->extract<Poco::JSON::Object::Ptr>();
    batch = o->optValue<std::string>("batch", "");
    if (auto rule = o->getObject("retention")) source = rule->optValue<std::string>("source", "");
    return Status::Ok();
  });
  std::string basis = source == "record"   ? "under the record's own retention rule"
                      : source == "schedule" ? "under the retention schedule for " + type + " records"
                                             : "under its retention rule";
  if (!batch.empty()) basis += " (destruction batch " + batch + ")";
  (void)read;  // the answer is 410 either way; only its wording depends on the tombstone
  return Gone("the content of " + id.value + " was destroyed " + basis, "content_destroyed")
      .WithParam("basis", source.empty() ? "unknown" : source);
}

StatusOr<RecordService::LiveFile> RecordService::FindLiveFile(const Principal& who, const RecordId& id,
                                                              int version, const domain::FileId& file_id) {
  if (IsNonBusiness(who.role)) return Forbidden("read the catalogue");
  // Only the version is needed here: not the record view (loans, retention,
  // tombstone) that GetVersion builds, on the path every download takes.
  CUSTOS_ASSIGN_OR_RETURN(VersionView view, LoadVersionView(id, version));
  // A record the caller may not see is reported like one that does not exist.
  if (!view.record || !MaySeeRecord(who, *view.record)) {
    return NotFound("no record " + id.value, "record_not_found");
  }
  Record r = std::move(*view.record);
  std::optional<Version>& found = view.version;
  if (!found) {
    return NotFound("record " + id.value + " has no version " + std::to_string(version),
                    "version_not_found");
  }
  for (const StoredFile& f : found->files) {
    if (f.id != file_id) continue;
    if (f.wrapped_dek.empty() || r.state == domain::RecordState::kDestroyed) return ContentDestroyed(r.id);
    return LiveFile{std::move(r), f};
  }
  return NotFound("no file " + file_id.value + " in that version", "file_not_found");
}

StatusOr<RecordService::VersionView> RecordService::LoadVersionView(const RecordId& id, int version) {
  const std::string key = id.value + "\n" + std::to_string(version);
  // Counts before the read (StoreCache).
  std::optional<StoreCache<VersionView>::Counts> counts = versions_.Stamp();
  if (counts) {
    if (std::optional<VersionView> hit = versions_.Get(key, *counts)) return std::move(*hit);
  }
  VersionView view;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(view.record, tx.records().Find(id));
    if (view.record) {
      CUSTOS_ASSIGN_OR_RETURN(view.version, tx.versions().Find(id, version));
    }
    return Status::Ok();
  }));
  if (counts) versions_.Put(key, view, *counts);
  return view;
}

LogEvent RecordService::ContentReadEvent(const Principal& who, const RecordId& id, Time now,
                                         const std::string& via_loan, bool fresh_account,
                                         std::string_view derived, int version, const StoredFile& file) {
  LogEvent e = MakeEvent("content.read", who, id.value, now);
  if (!via_loan.empty()) e.details.Set("loan", via_loan);
  if (fresh_account) e.details.Set("freshAccount", true);
  if (!derived.empty()) e.details.Set("derived", std::string(derived));
  e.details.Set("version", version);
  e.details.Set("file", file.id.value);
  e.details.Set("sha256", file.sha256);
  return e;
}

bool RecordService::LentAsCopies(const Record& r) const {
  const auto& stamped = options_.stamp_classifications;
  return std::find(stamped.begin(), stamped.end(), r.classification) != stamped.end();
}

Status StampedCopyOnly() {
  return PermissionDenied(
      "this record is lent as stamped copies only: read the file itself (a copy stamped with your loan), "
      "not its text",
      "stamped_copy_only");
}

StatusOr<uint64_t> RecordService::LogContentRead(const Principal& who, const LiveFile& live, int version,
                                                 std::string_view derived,
                                                 const std::function<Status(Transaction&)>& first,
                                                 const std::function<Status(const std::string&, LogEvent&)>& amend) {
  const Time now = clock_.Now();
  std::optional<Time> fresh_since;  // set when the reader's account is fresh
  uint64_t log_index = 0;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    // The right to read is decided at this instant, in the transaction that
    // logs the read: a loan that ran out a millisecond ago no longer counts.
    std::string via_loan;
    CUSTOS_ASSIGN_OR_RETURN(bool may, MayReadContentNow(tx, who, live.record, now, &via_loan));
    if (!may) {
      return PermissionDenied("reading this record's content needs an active digital loan", "content_forbidden");
    }
    if (!derived.empty() && derived != kPreviewPurpose && !via_loan.empty() && LentAsCopies(live.record)) {
      return StampedCopyOnly();
    }
    if (first) CUSTOS_RETURN_IF_ERROR(first(tx));
    CUSTOS_ASSIGN_OR_RETURN(fresh_since, FreshAccountSince(tx, who, now, options_.account_policy));
    LogEvent event = ContentReadEvent(who, live.record.id, now, via_loan, fresh_since.has_value(), derived,
                                      version, live.file);
    if (amend) CUSTOS_RETURN_IF_ERROR(amend(via_loan, event));
    CUSTOS_ASSIGN_OR_RETURN(log_index, tx.log().Append(event));
    return Status::Ok();
  }));
  if (fresh_since && options_.fresh_reads != nullptr) {
    options_.fresh_reads->Add({who.username.value, who.role, live.record.id, version, live.file.id, now,
                               *fresh_since, log_index});
  }
  return log_index;
}

StatusOr<ContentRead> RecordService::OpenContent(const Principal& who, const RecordId& id,
                                                 int version, const domain::FileId& file_id) {
  CUSTOS_ASSIGN_OR_RETURN(LiveFile live, FindLiveFile(who, id, version, file_id));
  CUSTOS_ASSIGN_OR_RETURN(std::optional<domain::Loan> stamp_loan, LoanNeedingCopy(who, live));
  if (stamp_loan) return OpenLoanCopy(who, live, version, *stamp_loan);
  ContentRead out;
  out.file = live.file;
  CUSTOS_ASSIGN_OR_RETURN(out.log_index, LogContentRead(who, live, version, "", nullptr));
  const Record& r = live.record;
  const StoredFile* file = &out.file;
  auto stream = content_.Open(*file);
  if (!stream.ok() && stream.status().reason() == storage::kBlobNotFound) {
    // The catalogue says the file is live, so its ciphertext must be there:
    // a missing blob is damage to the archive (custosctl verify names it),
    // not an unknown resource.
    return Internal("the stored content of file " + file->id.value + " of " + r.id.value +
                        " is missing (run custosctl verify)",
                    "content_missing");
  }
  if (!stream.ok()) return stream.status();
  out.stream = std::move(stream).value();
  return out;
}

StatusOr<std::string> RecordService::Receipt(const Principal& who, const RecordId& id, int version) {
  CUSTOS_ASSIGN_OR_RETURN(Version v, GetVersion(who, id, version));
  return log_.Receipt(v.log_index);
}

}  // namespace custos::services
