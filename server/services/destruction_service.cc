#include "server/services/destruction_service.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <map>
#include <set>

#include "crypto/hash.h"
#include "server/services/audit_service.h"
#include "server/services/events.h"
#include "domain/canonical_json.h"
#include "storage/integrity.h"
#include "storage/log_leaf.h"

namespace custos::services {

using domain::BatchState;
using storage::Document;
using domain::Record;
using domain::RecordId;
using domain::Role;
using domain::Time;
using storage::Transaction;

namespace {

constexpr size_t kMaxBatchRecords = 1000;
constexpr size_t kMaxReason = 2000;
// A record's entries that a destruction reads to find leaves to redact
// (the store's own bound on one read is a million).
constexpr size_t kMaxSubjectEntries = 1000000;

Status RequireBatchReader(const Principal& who) {
  switch (who.role) {
    case Role::kArchivist:
    case Role::kApprover:
    case Role::kLegal:
    case Role::kAuditor:
      return Status::Ok();
    default:
      return Forbidden("read destruction batches");
  }
}

std::string StateName(const DestructionBatch& b) { return std::string(domain::Name(b.state)); }

// ---- stored form

Poco::JSON::Object::Ptr RuleOf(const DestructionItem& it) {
  Poco::JSON::Object::Ptr o = RuleJson(it.rule);
  o->set("source", it.rule_source);
  o->set("triggerDate", it.trigger_date);
  o->set("dispositionDate", it.disposition_date);
  return o;
}

// RuleOf as audit event details.
domain::EventDetails RuleDetailsOf(const DestructionItem& it) {
  domain::EventDetails d = RuleDetails(it.rule);
  d.Set("source", it.rule_source);
  d.Set("triggerDate", it.trigger_date);
  d.Set("dispositionDate", it.disposition_date);
  return d;
}

}  // namespace

Poco::JSON::Object::Ptr DestructionItemObject(const DestructionItem& it, bool with_blob_ids) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("recordId", it.record_id);
  o->set("type", it.type);
  o->set("title", it.title);
  o->set("department", it.department);
  o->set("retention", RuleOf(it));
  Poco::JSON::Array::Ptr files = new Poco::JSON::Array;
  for (const DestroyedFile& f : it.files) {
    Poco::JSON::Object::Ptr x = new Poco::JSON::Object;
    x->set("id", f.id);
    x->set("version", f.version);
    x->set("name", f.name);
    x->set("size", static_cast<Poco::Int64>(f.size));
    x->set("sha256", f.sha256);
    if (!f.sm3.empty()) x->set("sm3", f.sm3);
    if (with_blob_ids) x->set("blobId", f.blob_id);
    files->add(x);
  }
  o->set("files", files);
  o->set("eventIndex", static_cast<Poco::Int64>(it.event_index));
  return o;
}

Poco::JSON::Array::Ptr DestructionApprovalsArray(const std::vector<DestructionApproval>& list) {
  Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
  for (const auto& a : list) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("by", a.by);
    o->set("role", a.role);
    o->set("at", domain::FormatTime(a.at));
    o->set("logIndex", static_cast<Poco::Int64>(a.log_index));
    arr->add(o);
  }
  return arr;
}

namespace {

std::string Canonical(const Poco::JSON::Object::Ptr& o) {
  auto text = domain::CanonicalJson(o);
  return text.ok() ? *text : "{}";
}

}  // namespace

Poco::JSON::Object::Ptr DestructionBatchObject(const DestructionBatch& b) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("id", b.id);
  o->set("reason", b.reason);
  o->set("state", std::string(domain::Name(b.state)));
  o->set("proposedBy", b.proposed_by);
  o->set("proposedAt", domain::FormatTime(b.proposed_at));
  o->set("approvals", DestructionApprovalsArray(b.approvals));
  Poco::JSON::Array::Ptr items = new Poco::JSON::Array;
  for (const auto& it : b.items) items->add(DestructionItemObject(it, true));
  o->set("items", items);
  o->set("executedBy", b.executed_by);
  if (b.executed_at) o->set("executedAt", domain::FormatTime(*b.executed_at));
  Poco::JSON::Array::Ptr indices = new Poco::JSON::Array;
  for (uint64_t i : b.event_indices) indices->add(static_cast<Poco::Int64>(i));
  o->set("eventIndices", indices);
  o->set("certificate", b.certificate);
  return o;
}

namespace {

Document BatchDocument(const DestructionBatch& b, Time now) {
  Document d;
  d.kind = kDestructionDocument;
  d.id = b.id;
  d.owner = b.proposed_by;
  d.state = std::string(domain::Name(b.state));
  d.created_at = b.proposed_at;
  d.updated_at = now;
  d.body = Canonical(DestructionBatchObject(b));
  return d;
}

StatusOr<DestructionBatch> BatchFromDocument(const Document& d) {
  auto corrupt = [&] { return DataLoss("destruction batch " + d.id + " does not decode", "destruction_corrupt"); };
  auto parsed = domain::ParseJsonStrict(d.body);
  if (!parsed.ok() || parsed->type() != typeid(Poco::JSON::Object::Ptr)) return corrupt();
  auto o = parsed->extract<Poco::JSON::Object::Ptr>();
  DestructionBatch b;
  try {
    auto str = [](const Poco::JSON::Object::Ptr& x, const std::string& k) {
      return x->has(k) ? x->getValue<std::string>(k) : std::string();
    };
    auto time = [&](const Poco::JSON::Object::Ptr& x, const std::string& k) -> std::optional<Time> {
      if (!x->has(k)) return std::nullopt;
      auto t = domain::ParseTime(x->getValue<std::string>(k));
      return t.ok() ? std::optional<Time>(*t) : std::nullopt;
    };
    b.id = str(o, "id");
    b.reason = str(o, "reason");
    auto state = domain::ParseBatchState(str(o, "state"));
    if (!state.ok()) return corrupt();
    b.state = *state;
    b.proposed_by = str(o, "proposedBy");
    b.proposed_at = time(o, "proposedAt").value_or(Time{});
    auto approvals = o->getArray("approvals");
    for (size_t i = 0; approvals && i < approvals->size(); ++i) {
      auto a = approvals->getObject(static_cast<unsigned>(i));
      b.approvals.push_back({str(a, "by"), str(a, "role"), time(a, "at").value_or(Time{}),
                             static_cast<uint64_t>(a->getValue<Poco::Int64>("logIndex"))});
    }
    auto items = o->getArray("items");
    for (size_t i = 0; items && i < items->size(); ++i) {
      auto x = items->getObject(static_cast<unsigned>(i));
      DestructionItem it;
      it.record_id = str(x, "recordId");
      it.type = str(x, "type");
      it.title = str(x, "title");
      it.department = str(x, "department");
      auto retention = x->getObject("retention");
      auto rule = RuleFromJson(retention);
      if (!rule.ok()) return corrupt();
      it.rule = *rule;
      it.rule_source = str(retention, "source");
      it.trigger_date = str(retention, "triggerDate");
      it.disposition_date = str(retention, "dispositionDate");
      auto files = x->getArray("files");
      for (size_t j = 0; files && j < files->size(); ++j) {
        auto f = files->getObject(static_cast<unsigned>(j));
        it.files.push_back({str(f, "id"), static_cast<int>(f->getValue<Poco::Int64>("version")),
                            str(f, "name"), static_cast<uint64_t>(f->getValue<Poco::Int64>("size")),
                            str(f, "sha256"), str(f, "sm3"), str(f, "blobId")});
      }
      it.event_index = static_cast<uint64_t>(x->getValue<Poco::Int64>("eventIndex"));
      b.items.push_back(std::move(it));
    }
    b.executed_by = str(o, "executedBy");
    b.executed_at = time(o, "executedAt");
    auto indices = o->getArray("eventIndices");
    for (size_t i = 0; indices && i < indices->size(); ++i) {
      b.event_indices.push_back(static_cast<uint64_t>(indices->getElement<Poco::Int64>(static_cast<unsigned>(i))));
    }
    b.certificate = str(o, "certificate");
  } catch (const std::exception&) {
    return corrupt();
  }
  if (b.id != d.id) return corrupt();
  return b;
}

StatusOr<DestructionBatch> LoadBatch(Transaction& tx, const std::string& id) {
  CUSTOS_ASSIGN_OR_RETURN(auto d, tx.documents().Find(kDestructionDocument, id));
  if (!d) return NotFound("no destruction batch " + id, "destruction_not_found");
  return BatchFromDocument(*d);
}

// Leaves out of `b.items` the records `who` may not see in the catalogue
// (the rule of GET /v1/records/{id}, applied to each record as it is now)
// and counts them in `b.hidden_records`. A batch with nothing left is
// reported like one that does not exist.
Status HideInvisible(Transaction& tx, const Principal& who, DestructionBatch& b) {
  std::vector<DestructionItem> visible;
  for (DestructionItem& it : b.items) {
    CUSTOS_ASSIGN_OR_RETURN(std::optional<Record> r, tx.records().Find(RecordId{it.record_id}));
    if (r && MaySeeRecord(who, *r)) visible.push_back(std::move(it));
  }
  b.hidden_records = b.items.size() - visible.size();
  b.items = std::move(visible);
  if (b.items.empty()) return NotFound("no destruction batch " + b.id, "destruction_not_found");
  return Status::Ok();
}

// Approving a batch, or reading its certificate, means vouching for every
// record in it: the caller must see them all.
Status RequireAllVisible(Transaction& tx, const Principal& who, DestructionBatch b,
                         const std::string& action) {
  CUSTOS_RETURN_IF_ERROR(HideInvisible(tx, who, b));
  if (b.hidden_records == 0) return Status::Ok();
  return PermissionDenied("destruction batch " + b.id + " holds " + std::to_string(b.hidden_records) +
                              " record(s) you may not see in the catalogue; you may not " + action,
                          "batch_records_hidden");
}

// Checks a record may be destroyed now; returns its disposition.
StatusOr<Disposition> CheckDestroyable(Transaction& tx, const Record& r, Time now) {
  if (r.state == domain::RecordState::kDestroyed) {
    return Conflict("record " + r.id.value + " is already destroyed", "record_destroyed");
  }
  CUSTOS_ASSIGN_OR_RETURN(Disposition d, LoadDisposition(tx, r, now));
  if (!d.holds.empty()) {
    return Conflict("record " + r.id.value + " is under legal hold " + d.holds.front(),
                    "record_on_hold")
        .WithParam("recordId", r.id.value)
        .WithParam("holdId", d.holds.front());
  }
  if (d.rule.action != RetentionAction::kDestroy) {
    return Conflict("record " + r.id.value + "'s retention action is " +
                        std::string(Name(d.rule.action)) + ", not destroy",
                    "record_not_due");
  }
  if (!d.due) {
    return Conflict("record " + r.id.value + " is not due for destruction" +
                        (d.date ? " before " + *d.date : std::string(" (no disposition date)")),
                    "record_not_due");
  }
  return d;
}

}  // namespace

namespace {

// Record id → the open (proposed or approved) batch that holds it.
StatusOr<std::map<std::string, std::string>> RecordsInOpenBatches(Transaction& tx) {
  std::map<std::string, std::string> in_batch;
  storage::DocumentQuery q;
  q.kind = kDestructionDocument;
  q.states = {std::string(domain::Name(BatchState::kProposed)), std::string(domain::Name(BatchState::kApproved))};
  CUSTOS_ASSIGN_OR_RETURN(std::vector<Document> open, ListAllDocuments(tx, q));
  for (const Document& d : open) {
    CUSTOS_ASSIGN_OR_RETURN(DestructionBatch other, BatchFromDocument(d));
    for (const auto& it : other.items) in_batch[it.record_id] = other.id;
  }
  return in_batch;
}

// The item a proposal makes of record `r` with its disposition `d`: every
// file of every version.
StatusOr<DestructionItem> ProposedItem(Transaction& tx, const Record& r, const Disposition& d) {
  DestructionItem item;
  item.record_id = r.id.value;
  item.type = std::string(domain::Name(r.type));
  item.title = r.title;
  item.department = r.department;
  item.rule = d.rule;
  item.rule_source = d.source;
  item.trigger_date = d.trigger_date.value_or("");
  item.disposition_date = d.date.value_or("");
  CUSTOS_ASSIGN_OR_RETURN(std::vector<domain::Version> versions, tx.versions().List(r.id));
  for (const auto& v : versions) {
    for (const auto& f : v.files) {
      item.files.push_back({f.id.value, v.number, f.name, f.size, f.sha256, f.sm3, f.blob_id.value});
    }
  }
  return item;
}

// What a destroyed record keeps besides its catalogue identity (the
// tombstone document, docs/formats).
Document TombstoneDocument(const DestructionBatch& b, const DestructionItem& item, const Principal& who,
                           Time now) {
  Poco::JSON::Object::Ptr tomb = new Poco::JSON::Object;
  tomb->set("batch", b.id);
  tomb->set("destroyedAt", domain::FormatTime(now));
  tomb->set("destroyedBy", who.username.value);
  tomb->set("retention", RuleOf(item));
  tomb->set("approvals", DestructionApprovalsArray(b.approvals));
  tomb->set("eventIndex", static_cast<Poco::Int64>(item.event_index));
  Document t;
  t.kind = kTombstoneDocument;
  t.id = item.record_id;
  t.subject = item.record_id;
  t.state = std::string(domain::Name(domain::RecordState::kDestroyed));
  t.created_at = t.updated_at = now;
  t.body = Canonical(tomb);
  return t;
}

// The personal columns whose values a destruction severs, as the details
// of record.update events named them before they moved to record_changes.
constexpr const char* kSeveredFields[] = {"description", "location", "metadata"};

// Does a leaf of the record hold a personal value in plaintext? Only
// record.update events written before the values moved to record_changes
// do (details.before / details.after with a severed field).
bool HoldsPersonalValue(const storage::LogEntry& e) {
  if (e.redacted()) return false;
  auto leaf = storage::DecodeLeaf(e.leaf);
  if (!leaf.ok() || leaf->event.action != "record.update") return false;
  for (const char* side : {"before", "after"}) {
    const domain::EventDetails* values = leaf->event.details.Object(side);
    if (values == nullptr) continue;
    for (const char* field : kSeveredFields) {
      if (values->Has(field)) return true;
    }
  }
  return false;
}

// Severs the record's personal values from the log and its side table:
// deletes its record_changes rows and redacts each leaf that holds such a
// value in plaintext (its hash stays in the tree). Returns the indexes
// redacted, oldest first.
StatusOr<std::vector<uint64_t>> SeverPersonalValues(Transaction& tx, const RecordId& id) {
  CUSTOS_RETURN_IF_ERROR(tx.records().DeleteChanges(id).status());
  CUSTOS_ASSIGN_OR_RETURN(std::vector<storage::LogEntry> entries,
                          tx.log().EntriesForSubject(id.value, kMaxSubjectEntries));
  std::vector<uint64_t> redacted;
  for (const storage::LogEntry& e : entries) {
    if (!HoldsPersonalValue(e)) continue;
    CUSTOS_RETURN_IF_ERROR(tx.log().Redact(e.index));
    redacted.push_back(e.index);
  }
  return redacted;
}

// Destroys one record of batch `b` inside `tx`: checks it again, clears
// every file's wrapped data key (crypto-shredding: without it a blob is
// noise), shreds stored exports naming it, reduces it to a tombstone and
// logs record.destroy (its index goes to `item` and `b`).
Status DestroyRecord(Transaction& tx, const Principal& who, DestructionBatch& b, DestructionItem& item, Time now) {
  CUSTOS_ASSIGN_OR_RETURN(std::optional<Record> r, tx.records().Find(RecordId{item.record_id}));
  if (!r) return NotFound("no record " + item.record_id, "record_not_found");
  CUSTOS_RETURN_IF_ERROR(CheckDestroyable(tx, *r, now).status());
  CUSTOS_ASSIGN_OR_RETURN(std::vector<domain::Version> versions, tx.versions().List(r->id));
  domain::DetailValue::Array files;
  for (const auto& v : versions) {
    for (const auto& f : v.files) {
      CUSTOS_RETURN_IF_ERROR(tx.versions().SetFileKey(f.id, "", {}));
      files.push_back(domain::EventDetails().Set("id", f.id.value).Set("sha256", f.sha256));
    }
  }
  CUSTOS_RETURN_IF_ERROR(ShredExportsNaming(tx, r->id, b.id).status());
  // Derived data goes with the content: the index postings, the file
  // texts (sealed under the data keys just cleared) with the queue entry,
  // and the cached previews (sealed under the same keys).
  CUSTOS_RETURN_IF_ERROR(tx.search().DeleteRecord(r->id).status());
  CUSTOS_RETURN_IF_ERROR(tx.texts().DeleteRecord(r->id).status());
  CUSTOS_RETURN_IF_ERROR(tx.derived().DeleteRecord(r->id).status());
  // The tombstone keeps what identifies the record; everything else goes.
  r->description.clear();
  r->location.clear();
  r->metadata_json = "{}";
  // Without its salt, no logged recordHash or commitment of the record can
  // test a guess of what was emptied.
  r->salt.clear();
  r->state = domain::RecordState::kDestroyed;
  r->updated_at = now;
  CUSTOS_RETURN_IF_ERROR(tx.records().Update(*r));
  CUSTOS_ASSIGN_OR_RETURN(std::vector<uint64_t> redacted, SeverPersonalValues(tx, r->id));
  storage::LogEvent e = MakeEvent("record.destroy", who, r->id.value, now);
  CUSTOS_ASSIGN_OR_RETURN(std::string record_hash, storage::RecordDigest(*r));
  e.details.Set(storage::kDetailRecordHash, record_hash);
  e.details.Set("batch", b.id);
  e.details.Set("files", std::move(files));
  e.details.Set("retention", RuleDetailsOf(item));
  if (!redacted.empty()) {
    domain::DetailValue::Array indexes;
    for (uint64_t i : redacted) indexes.push_back(static_cast<int64_t>(i));
    e.details.Set(storage::kDetailRedacted, std::move(indexes));
  }
  CUSTOS_ASSIGN_OR_RETURN(item.event_index, tx.log().Append(e));
  b.event_indices.push_back(item.event_index);
  return tx.documents().Insert(TombstoneDocument(b, item, who, now));
}

}  // namespace

DestructionService::DestructionService(storage::MetadataStore& store, storage::BlobStore& blobs,
                                       LogService& log,
                                       std::vector<const crypto::note::Signer*> signers,
                                       Clock& clock, DestructionOptions options)
    : store_(store),
      blobs_(blobs),
      log_(log),
      signers_(std::move(signers)),
      clock_(clock),
      options_(std::move(options)) {}

StatusOr<DestructionBatch> DestructionService::Propose(const Principal& who,
                                                       const std::vector<std::string>& record_ids,
                                                       const std::string& reason) {
  if (who.role != Role::kArchivist) return Forbidden("propose destruction batches");
  if (record_ids.empty()) return Unprocessable("recordIds must name at least one record", "invalid_recordIds");
  if (record_ids.size() > kMaxBatchRecords) {
    return Unprocessable("a batch holds at most " + std::to_string(kMaxBatchRecords) + " records",
                         "invalid_recordIds");
  }
  if (std::set<std::string>(record_ids.begin(), record_ids.end()).size() != record_ids.size()) {
    return Unprocessable("recordIds names a record twice", "invalid_recordIds");
  }
  if (reason.size() > kMaxReason) return Unprocessable("reason is too long", "invalid_reason");
  Time now = clock_.Now();
  DestructionBatch b;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto in_batch, RecordsInOpenBatches(tx));
    for (const std::string& rid : record_ids) {
      CUSTOS_ASSIGN_OR_RETURN(std::optional<Record> r, tx.records().Find(RecordId{rid}));
      if (!r || !MaySeeRecord(who, *r)) return NotFound("no record " + rid, "record_not_found");
      if (auto it = in_batch.find(rid); it != in_batch.end()) {
        return Conflict("record " + rid + " is already in destruction batch " + it->second,
                        "record_in_batch")
            .WithParam("recordId", rid)
            .WithParam("batchId", it->second);
      }
      CUSTOS_ASSIGN_OR_RETURN(Disposition d, CheckDestroyable(tx, *r, now));
      CUSTOS_ASSIGN_OR_RETURN(DestructionItem item, ProposedItem(tx, *r, d));
      b.items.push_back(std::move(item));
    }
    CUSTOS_ASSIGN_OR_RETURN(b.id, NextDocumentId(tx, "DB", now));
    b.reason = reason;
    b.state = BatchState::kProposed;
    b.proposed_by = who.username.value;
    b.proposed_at = now;
    storage::LogEvent e = MakeEvent("destruction.propose", who, "destruction:" + b.id, now);
    e.details.Set("batch", b.id);
    e.details.Set("recordIds", record_ids);
    e.details.Set("reason", reason);
    CUSTOS_ASSIGN_OR_RETURN(uint64_t index, tx.log().Append(e));
    b.event_indices.push_back(index);
    return tx.documents().Insert(BatchDocument(b, now));
  }));
  return b;
}

StatusOr<DestructionBatch> DestructionService::Get(const Principal& who, const std::string& id) {
  CUSTOS_RETURN_IF_ERROR(RequireBatchReader(who));
  std::optional<DestructionBatch> b;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(b, LoadBatch(tx, id));
    return HideInvisible(tx, who, *b);
  }));
  return *b;
}

StatusOr<std::vector<DestructionBatch>> DestructionService::List(const Principal& who) {
  CUSTOS_RETURN_IF_ERROR(RequireBatchReader(who));
  CUSTOS_ASSIGN_OR_RETURN(std::vector<DestructionBatch> all, LoadAll());
  std::vector<DestructionBatch> out;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    for (auto it = all.rbegin(); it != all.rend(); ++it) {  // newest first
      Status s = HideInvisible(tx, who, *it);
      if (s.ok()) {
        out.push_back(std::move(*it));
      } else if (s.code() != ErrorCode::kNotFound) {
        return s;
      }
    }
    return Status::Ok();
  }));
  return out;
}

StatusOr<std::vector<DestructionBatch>> DestructionService::LoadAll() {
  std::vector<DestructionBatch> out;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    storage::DocumentQuery q;
    q.kind = kDestructionDocument;
    CUSTOS_ASSIGN_OR_RETURN(std::vector<Document> docs, ListAllDocuments(tx, q));
    for (const Document& d : docs) {
      CUSTOS_ASSIGN_OR_RETURN(DestructionBatch b, BatchFromDocument(d));
      out.push_back(std::move(b));
    }
    return Status::Ok();
  }));
  return out;
}

StatusOr<DestructionBatch> DestructionService::Approve(const Principal& who, const std::string& id) {
  if (IsNonBusiness(who.role)) return Forbidden("approve destruction batches");
  Time now = clock_.Now();
  DestructionBatch b;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(b, LoadBatch(tx, id));
    CUSTOS_RETURN_IF_ERROR(RequireAllVisible(tx, who, b, "approve its destruction"));
    if (b.state != BatchState::kProposed) {
      return Conflict("destruction batch " + id + " is " + StateName(b) + "; it cannot be approved",
                      "invalid_batch_state")
          .WithParam("batchId", id)
          .WithParam("state", StateName(b));
    }
    if (who.username.value == b.proposed_by) {
      return PermissionDenied("the proposer of a destruction batch may not approve it", "self_approval");
    }
    for (const auto& a : b.approvals) {
      if (a.by == who.username.value) {
        return Conflict("you have already approved destruction batch " + id, "already_approved");
      }
    }
    // Slots still open: the configured roles minus those already filled.
    std::multiset<Role> open(options_.approver_roles.begin(), options_.approver_roles.end());
    for (const auto& a : b.approvals) {
      auto role = domain::ParseRole(a.role);
      if (role.ok() && open.count(*role)) open.erase(open.find(*role));
    }
    if (!open.count(who.role)) {
      std::string needed;
      for (Role r : open) needed += (needed.empty() ? "" : ", ") + std::string(domain::Name(r));
      return PermissionDenied("this batch still needs approval by: " + needed, "forbidden");
    }
    CUSTOS_RETURN_IF_ERROR(
        CheckApproverCooling(tx, who, now, options_.account_policy, "approve destruction batch " + id));
    open.erase(open.find(who.role));
    b.approvals.push_back({who.username.value, std::string(domain::Name(who.role)), now, 0});
    if (open.empty()) b.state = BatchState::kApproved;
    storage::LogEvent e = MakeEvent("destruction.approve", who, "destruction:" + b.id, now);
    e.details.Set("batch", b.id);
    e.details.Set("state", StateName(b));
    CUSTOS_ASSIGN_OR_RETURN(uint64_t index, tx.log().Append(e));
    b.approvals.back().log_index = index;
    b.event_indices.push_back(index);
    return tx.documents().Update(BatchDocument(b, now));
  }));
  return b;
}

StatusOr<DestructionBatch> DestructionService::Execute(const Principal& who, const std::string& id) {
  if (who.role != Role::kArchivist) return Forbidden("execute destruction batches");
  Time now = clock_.Now();
  DestructionBatch b;
  bool resumed = false;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(b, LoadBatch(tx, id));
    if (b.state == BatchState::kExecuted) {
      resumed = true;
      return Status::Ok();
    }
    if (b.state != BatchState::kApproved) {
      return Conflict("destruction batch " + id + " is " + StateName(b) + "; it needs its approvals first",
                      "invalid_batch_state")
          .WithParam("batchId", id)
          .WithParam("state", StateName(b));
    }
    for (DestructionItem& item : b.items) CUSTOS_RETURN_IF_ERROR(DestroyRecord(tx, who, b, item, now));
    b.state = BatchState::kExecuted;
    b.executed_by = who.username.value;
    b.executed_at = now;
    return tx.documents().Update(BatchDocument(b, now));
  }));
  (void)resumed;
  CUSTOS_RETURN_IF_ERROR(FinishExecution(who, b));
  return b;
}

Status DestructionService::FinishExecution(const Principal& who, DestructionBatch& b) {
  // 1. The ciphertext. Already gone is fine (a resumed execution).
  for (const auto& item : b.items) {
    for (const auto& f : item.files) {
      Status s = blobs_.Delete(domain::BlobId{f.blob_id});
      if (!s.ok() && blobs_.Size(domain::BlobId{f.blob_id}).ok()) return s;
    }
  }
  std::vector<std::string> record_ids;
  for (const auto& item : b.items) record_ids.push_back(item.record_id);
  CUSTOS_ASSIGN_OR_RETURN(uint64_t exports_shredded, RemoveShreddedExports(store_, blobs_, record_ids, b.id));
  // 2. Old copies of the wrapped keys in the database files.
  CUSTOS_RETURN_IF_ERROR(store_.Scrub());
  if (!b.certificate.empty()) return Status::Ok();

  // 3. The certificate: every record and file hash, the rule, the approvals
  //    and a receipt for each destruction event, signed with the log key.
  Poco::JSON::Object::Ptr c = new Poco::JSON::Object;
  c->set("batch", b.id);
  c->set("reason", b.reason);
  c->set("proposedBy", b.proposed_by);
  c->set("proposedAt", domain::FormatTime(b.proposed_at));
  c->set("approvals", DestructionApprovalsArray(b.approvals));
  c->set("executedBy", b.executed_by);
  c->set("executedAt", b.executed_at ? domain::FormatTime(*b.executed_at) : std::string());
  Poco::JSON::Array::Ptr records = new Poco::JSON::Array;
  Poco::JSON::Array::Ptr receipts = new Poco::JSON::Array;
  for (const auto& item : b.items) {
    records->add(DestructionItemObject(item, false));
    CUSTOS_ASSIGN_OR_RETURN(std::string receipt, log_.Receipt(item.event_index));
    Poco::JSON::Object::Ptr r = new Poco::JSON::Object;
    r->set("recordId", item.record_id);
    r->set("eventIndex", static_cast<Poco::Int64>(item.event_index));
    r->set("receipt", receipt);
    receipts->add(r);
  }
  c->set("records", records);
  c->set("receipts", receipts);
  c->set("exportsShredded", static_cast<Poco::Int64>(exports_shredded));
  CUSTOS_ASSIGN_OR_RETURN(std::string json, domain::CanonicalJson(c));
  CUSTOS_ASSIGN_OR_RETURN(std::string note,
                          crypto::note::Sign(std::string(kCertificateHeader) + "\n" + json + "\n", signers_));
  Time now = clock_.Now();
  return store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(DestructionBatch current, LoadBatch(tx, b.id));
    if (!current.certificate.empty()) {
      b = current;  // another request finished first
      return Status::Ok();
    }
    current.certificate = note;
    storage::LogEvent e = MakeEvent("destruction.certificate", who, "destruction:" + b.id, now);
    e.details.Set("batch", b.id);
    e.details.Set("sha256", crypto::HexEncode(crypto::Sha256Of(note)));
    CUSTOS_ASSIGN_OR_RETURN(uint64_t index, tx.log().Append(e));
    current.event_indices.push_back(index);
    b = current;
    return tx.documents().Update(BatchDocument(current, now));
  });
}

StatusOr<int> DestructionService::FinishInterrupted() {
  CUSTOS_ASSIGN_OR_RETURN(std::vector<DestructionBatch> batches, LoadAll());
  int finished = 0;
  for (DestructionBatch& b : batches) {
    if (b.state != BatchState::kExecuted || !b.certificate.empty()) continue;
    Principal executor{domain::Username{b.executed_by}, Role::kArchivist, ""};
    CUSTOS_RETURN_IF_ERROR(FinishExecution(executor, b));
    ++finished;
  }
  return finished;
}

StatusOr<std::string> DestructionService::Certificate(const Principal& who, const std::string& id) {
  CUSTOS_RETURN_IF_ERROR(RequireBatchReader(who));
  std::optional<DestructionBatch> loaded;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(loaded, LoadBatch(tx, id));
    return RequireAllVisible(tx, who, *loaded, "read its certificate");
  }));
  const DestructionBatch& b = *loaded;
  if (b.state != BatchState::kExecuted || b.certificate.empty()) {
    return Conflict("destruction batch " + id + " has no certificate yet (it is " + StateName(b) + ")",
                    "not_executed");
  }
  return b.certificate;
}

}  // namespace custos::services
