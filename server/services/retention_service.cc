#include "server/services/retention_service.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <set>

#include "server/services/events.h"
#include "domain/canonical_json.h"

namespace custos::services {

using storage::Document;
using domain::Record;
using domain::RecordId;
using domain::RecordType;
using domain::Role;
using domain::Time;
using storage::Transaction;

namespace {

constexpr size_t kMaxText = 2000;
constexpr size_t kMaxHoldRecords = 10000;

Status RequireRetentionReader(const Principal& who) {
  if (who.role == Role::kArchivist || who.role == Role::kLegal || who.role == Role::kAuditor) {
    return Status::Ok();
  }
  return Forbidden("read retention schedules, holds and the disposition queue");
}

Status RequireLegal(const Principal& who, const std::string& what) {
  return who.role == Role::kLegal ? Status::Ok() : Forbidden(what);
}

Status CheckText(const std::string& s, size_t max, const std::string& field, bool required) {
  if (required && s.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Unprocessable(field + " is required", "invalid_" + field)
        .WithParam("field", field).WithParam("rule", "required");
  }
  if (s.size() > max) {
    return Unprocessable(field + " must be at most " + std::to_string(max) + " bytes",
                         "invalid_" + field)
        .WithParam("field", field).WithParam("rule", "too_long").WithParam("maxBytes", max);
  }
  return Status::Ok();
}

std::string Body(const Poco::JSON::Object::Ptr& o) {
  auto text = domain::CanonicalJson(o);
  return text.ok() ? *text : "{}";
}

StatusOr<Poco::JSON::Object::Ptr> ParseBody(const Document& d) {
  auto parsed = domain::ParseJsonStrict(d.body);
  if (!parsed.ok() || parsed->type() != typeid(Poco::JSON::Object::Ptr)) {
    return DataLoss(d.kind + " " + d.id + " does not decode", "retention_corrupt");
  }
  return parsed->extract<Poco::JSON::Object::Ptr>();
}

std::string Str(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  return o->has(key) ? o->getValue<std::string>(key) : std::string();
}

std::optional<Time> OptTime(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  if (!o->has(key)) return std::nullopt;
  auto t = domain::ParseTime(o->getValue<std::string>(key));
  return t.ok() ? std::optional<Time>(*t) : std::nullopt;
}


// ---- schedules and overrides

Document RuleDocument(const char* kind, const std::string& id, const std::string& subject,
                      const RetentionRule& rule, const std::string& by, Time now) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("rule", RuleJson(rule));
  o->set("updatedBy", by);
  o->set("updatedAt", domain::FormatTime(now));
  Document d;
  d.kind = kind;
  d.id = id;
  d.subject = subject;
  d.state = "active";
  d.created_at = d.updated_at = now;
  d.body = Body(o);
  return d;
}

Status PutDocument(Transaction& tx, const Document& d) {
  CUSTOS_ASSIGN_OR_RETURN(auto existing, tx.documents().Find(d.kind, d.id));
  return existing ? tx.documents().Update(d) : tx.documents().Insert(d);
}

// ---- changes

}  // namespace

Poco::JSON::Object::Ptr ChangeObject(const RetentionChange& c) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("id", c.id);
  o->set("scope", c.scope);
  o->set("target", c.target);
  o->set("from", RuleJson(c.from));
  o->set("to", RuleJson(c.to));
  o->set("state", std::string(domain::Name(c.state)));
  o->set("requestedBy", c.requested_by);
  o->set("requestedAt", domain::FormatTime(c.requested_at));
  o->set("decidedBy", c.decided_by);
  if (c.decided_at) o->set("decidedAt", domain::FormatTime(*c.decided_at));
  o->set("reason", c.reason);
  return o;
}

namespace {

Document ChangeDocument(const RetentionChange& c, Time now) {
  Document d;
  d.kind = kChangeDocument;
  d.id = c.id;
  d.subject = c.scope == "record" ? c.target : "";
  d.owner = c.requested_by;
  d.state = std::string(domain::Name(c.state));
  d.created_at = c.requested_at;
  d.updated_at = now;
  d.body = Body(ChangeObject(c));
  return d;
}

StatusOr<RetentionChange> ChangeFromDocument(const Document& d) {
  CUSTOS_ASSIGN_OR_RETURN(Poco::JSON::Object::Ptr o, ParseBody(d));
  RetentionChange c;
  try {
    c.id = Str(o, "id");
    c.scope = Str(o, "scope");
    c.target = Str(o, "target");
    auto from = RuleFromJson(o->getObject("from"));
    auto to = RuleFromJson(o->getObject("to"));
    if (!from.ok() || !to.ok()) return DataLoss("retention change " + d.id + " does not decode", "retention_corrupt");
    c.from = *from;
    c.to = *to;
    auto state = domain::ParseChangeState(Str(o, "state"));
    if (!state.ok()) return DataLoss("retention change " + d.id + " does not decode", "retention_corrupt");
    c.state = *state;
    c.requested_by = Str(o, "requestedBy");
    c.requested_at = OptTime(o, "requestedAt").value_or(Time{});
    c.decided_by = Str(o, "decidedBy");
    c.decided_at = OptTime(o, "decidedAt");
    c.reason = Str(o, "reason");
  } catch (const std::exception&) {
    return DataLoss("retention change " + d.id + " does not decode", "retention_corrupt");
  }
  return c;
}

// ---- holds

}  // namespace

Poco::JSON::Object::Ptr HoldObject(const Hold& h) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("id", h.id);
  o->set("name", h.name);
  o->set("reason", h.reason);
  o->set("caseRef", h.case_ref);
  o->set("state", std::string(domain::Name(h.state)));
  Poco::JSON::Array::Ptr records = new Poco::JSON::Array;
  for (const auto& r : h.record_ids) records->add(r);
  o->set("recordIds", records);
  o->set("createdBy", h.created_by);
  o->set("createdAt", domain::FormatTime(h.created_at));
  o->set("releasedBy", h.released_by);
  if (h.released_at) o->set("releasedAt", domain::FormatTime(*h.released_at));
  return o;
}

namespace {

Document HoldDocument(const Hold& h, Time now) {
  Document d;
  d.kind = kHoldDocument;
  d.id = h.id;
  d.owner = h.created_by;
  d.state = std::string(domain::Name(h.state));
  d.created_at = h.created_at;
  d.updated_at = now;
  d.body = Body(HoldObject(h));
  return d;
}

StatusOr<Hold> HoldFromDocument(const Document& d) {
  CUSTOS_ASSIGN_OR_RETURN(Poco::JSON::Object::Ptr o, ParseBody(d));
  Hold h;
  try {
    h.id = Str(o, "id");
    h.name = Str(o, "name");
    h.reason = Str(o, "reason");
    h.case_ref = Str(o, "caseRef");
    auto state = domain::ParseHoldState(Str(o, "state"));
    if (!state.ok()) return DataLoss("hold " + d.id + " does not decode", "retention_corrupt");
    h.state = *state;
    Poco::JSON::Array::Ptr records = o->getArray("recordIds");
    for (size_t i = 0; records && i < records->size(); ++i) {
      h.record_ids.push_back(records->getElement<std::string>(static_cast<unsigned>(i)));
    }
    h.created_by = Str(o, "createdBy");
    h.created_at = OptTime(o, "createdAt").value_or(Time{});
    h.released_by = Str(o, "releasedBy");
    h.released_at = OptTime(o, "releasedAt");
  } catch (const std::exception&) {
    return DataLoss("hold " + d.id + " does not decode", "retention_corrupt");
  }
  return h;
}

StatusOr<Hold> LoadHold(Transaction& tx, const std::string& id) {
  CUSTOS_ASSIGN_OR_RETURN(auto d, tx.documents().Find(kHoldDocument, id));
  if (!d) return NotFound("no legal hold " + id, "hold_not_found");
  return HoldFromDocument(*d);
}

Document HoldItem(const std::string& hold, const std::string& record, domain::HoldState state,
                  Time now) {
  Document d;
  d.kind = kHoldItemDocument;
  d.id = hold + "/" + record;
  d.subject = record;
  d.state = std::string(domain::Name(state));
  d.created_at = d.updated_at = now;
  return d;
}

storage::LogEvent Event(const std::string& action, const Principal& who, const std::string& subject,
                        Time now) {
  return MakeEvent(action, who, subject, now);
}

}  // namespace

RetentionService::RetentionService(storage::MetadataStore& store, Clock& clock,
                                   AccountPolicyOptions account_policy)
    : store_(store), clock_(clock), account_policy_(account_policy) {}

StatusOr<std::vector<ScheduleView>> RetentionService::Schedules(const Principal& who) {
  CUSTOS_RETURN_IF_ERROR(RequireRetentionReader(who));
  std::vector<ScheduleView> out;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    for (RecordType t : {RecordType::kContract, RecordType::kProductDossier, RecordType::kCustomerFile,
                         RecordType::kQualification, RecordType::kGeneral}) {
      ScheduleView v;
      v.type = t;
      CUSTOS_ASSIGN_OR_RETURN(auto doc, tx.documents().Find(kScheduleDocument, std::string(domain::Name(t))));
      CUSTOS_ASSIGN_OR_RETURN(v.rule, LoadSchedule(tx, t));
      if (doc) {
        v.is_default = false;
        CUSTOS_ASSIGN_OR_RETURN(Poco::JSON::Object::Ptr o, ParseBody(*doc));
        v.updated_by = Str(o, "updatedBy");
        v.updated_at = OptTime(o, "updatedAt");
      }
      out.push_back(std::move(v));
    }
    return Status::Ok();
  }));
  return out;
}

StatusOr<RuleChangeResult> RetentionService::PutSchedule(const Principal& who, const std::string& type_name,
                                                         const RetentionRule& rule) {
  if (who.role != Role::kArchivist) return Forbidden("change retention schedules");
  CUSTOS_ASSIGN_OR_RETURN(RecordType type, domain::ParseRecordType(type_name));
  Time now = clock_.Now();
  RuleChangeResult result;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(RetentionRule current, LoadSchedule(tx, type));
    const std::string id(domain::Name(type));
    if (IsLengthening(current, rule)) {
      CUSTOS_RETURN_IF_ERROR(PutDocument(tx, RuleDocument(kScheduleDocument, id, "", rule, who.username.value, now)));
      storage::LogEvent e = Event("retention.schedule", who, "schedule:" + id, now);
      e.details.Set("type", id);
      e.details.Set("from", RuleDetails(current));
      e.details.Set("to", RuleDetails(rule));
      CUSTOS_RETURN_IF_ERROR(tx.log().Append(e).status());
      result.applied = true;
      result.schedule = ScheduleView{type, rule, false, now, who.username.value};
      return Status::Ok();
    }
    RetentionChange c;
    CUSTOS_ASSIGN_OR_RETURN(c.id, NextDocumentId(tx, "RC", now));
    c.scope = "schedule";
    c.target = id;
    c.from = current;
    c.to = rule;
    c.state = domain::ChangeState::kPending;
    c.requested_by = who.username.value;
    c.requested_at = now;
    CUSTOS_RETURN_IF_ERROR(tx.documents().Insert(ChangeDocument(c, now)));
    storage::LogEvent e = Event("retention.change_request", who, "schedule:" + id, now);
    e.details.Set("change", c.id);
    e.details.Set("from", RuleDetails(current));
    e.details.Set("to", RuleDetails(rule));
    CUSTOS_RETURN_IF_ERROR(tx.log().Append(e).status());
    result.pending = c;
    return Status::Ok();
  }));
  return result;
}

StatusOr<RuleChangeResult> RetentionService::PutRecordRule(const Principal& who, const RecordId& id,
                                                           const RetentionRule& rule) {
  if (who.role != Role::kArchivist) return Forbidden("change a record's retention");
  Time now = clock_.Now();
  RuleChangeResult result;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(std::optional<Record> r, tx.records().Find(id));
    if (!r || !MaySeeRecord(who, *r)) return NotFound("no record " + id.value, "record_not_found");
    if (r->state == domain::RecordState::kDestroyed) {
      return Conflict("record " + id.value + " is destroyed", "record_destroyed");
    }
    CUSTOS_ASSIGN_OR_RETURN(Disposition current, LoadDisposition(tx, *r, now));
    if (IsLengthening(current.rule, rule)) {
      CUSTOS_RETURN_IF_ERROR(PutDocument(
          tx, RuleDocument(kOverrideDocument, id.value, id.value, rule, who.username.value, now)));
      storage::LogEvent e = Event("retention.override", who, id.value, now);
      e.details.Set("from", RuleDetails(current.rule));
      e.details.Set("to", RuleDetails(rule));
      CUSTOS_RETURN_IF_ERROR(tx.log().Append(e).status());
      CUSTOS_RETURN_IF_ERROR(ReconcileRecordState(tx, *r, who.username.value, now));
      CUSTOS_ASSIGN_OR_RETURN(Disposition after, LoadDisposition(tx, *r, now));
      result.applied = true;
      result.disposition = after;
      return Status::Ok();
    }
    if (!current.holds.empty()) {
      return Conflict("record " + id.value + " is under legal hold " + current.holds.front() +
                          "; its retention cannot be shortened",
                      "record_on_hold")
          .WithParam("recordId", id.value)
          .WithParam("holdId", current.holds.front());
    }
    RetentionChange c;
    CUSTOS_ASSIGN_OR_RETURN(c.id, NextDocumentId(tx, "RC", now));
    c.scope = "record";
    c.target = id.value;
    c.from = current.rule;
    c.to = rule;
    c.state = domain::ChangeState::kPending;
    c.requested_by = who.username.value;
    c.requested_at = now;
    CUSTOS_RETURN_IF_ERROR(tx.documents().Insert(ChangeDocument(c, now)));
    storage::LogEvent e = Event("retention.change_request", who, id.value, now);
    e.details.Set("change", c.id);
    e.details.Set("from", RuleDetails(current.rule));
    e.details.Set("to", RuleDetails(rule));
    CUSTOS_RETURN_IF_ERROR(tx.log().Append(e).status());
    result.pending = c;
    return Status::Ok();
  }));
  return result;
}

StatusOr<Disposition> RetentionService::RecordDisposition(const Principal& who, const RecordId& id) {
  if (IsNonBusiness(who.role)) return Forbidden("read the catalogue");
  Time now = clock_.Now();
  std::optional<Disposition> d;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(std::optional<Record> r, tx.records().Find(id));
    if (!r || !MaySeeRecord(who, *r)) return NotFound("no record " + id.value, "record_not_found");
    CUSTOS_ASSIGN_OR_RETURN(d, LoadDisposition(tx, *r, now));
    return Status::Ok();
  }));
  return *d;
}

StatusOr<std::vector<RetentionChange>> RetentionService::Changes(const Principal& who,
                                                                 const std::string& state) {
  CUSTOS_RETURN_IF_ERROR(RequireRetentionReader(who));
  if (!state.empty() && !domain::ParseChangeState(state).ok()) {
    return InvalidArgument("state must be pending, approved or rejected", "invalid_parameter");
  }
  std::vector<RetentionChange> out;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    storage::DocumentQuery q;
    q.kind = kChangeDocument;
    if (!state.empty()) q.states = {state};
    CUSTOS_ASSIGN_OR_RETURN(std::vector<Document> docs, ListAllDocuments(tx, q));
    for (const Document& d : docs) {
      CUSTOS_ASSIGN_OR_RETURN(RetentionChange c, ChangeFromDocument(d));
      out.push_back(std::move(c));
    }
    return Status::Ok();
  }));
  return out;
}

StatusOr<RetentionChange> RetentionService::Approve(const Principal& who, const std::string& id) {
  return Decide(who, id, true, "");
}

StatusOr<RetentionChange> RetentionService::Reject(const Principal& who, const std::string& id,
                                                   const std::string& reason) {
  CUSTOS_RETURN_IF_ERROR(CheckText(reason, kMaxText, "reason", false));
  return Decide(who, id, false, reason);
}

StatusOr<RetentionChange> RetentionService::Decide(const Principal& who, const std::string& id,
                                                   bool approve, const std::string& reason) {
  CUSTOS_RETURN_IF_ERROR(RequireLegal(who, "approve or reject retention changes"));
  Time now = clock_.Now();
  RetentionChange c;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto doc, tx.documents().Find(kChangeDocument, id));
    if (!doc) return NotFound("no retention change " + id, "change_not_found");
    CUSTOS_ASSIGN_OR_RETURN(c, ChangeFromDocument(*doc));
    if (c.state != domain::ChangeState::kPending) {
      return Conflict("retention change " + id + " is " + std::string(domain::Name(c.state)) +
                          "; it cannot be decided again",
                      "invalid_change_state")
          .WithParam("changeId", id)
          .WithParam("state", std::string(domain::Name(c.state)));
    }
    if (c.requested_by == who.username.value) {
      return PermissionDenied("nobody may approve or reject their own retention change",
                              "self_approval");
    }
    std::string subject = c.scope == "record" ? c.target : "schedule:" + c.target;
    if (approve) {
      CUSTOS_RETURN_IF_ERROR(CheckApproverCooling(tx, who, now, account_policy_,
                                                  "approve retention change " + id + " (a shortening)"));
      if (c.scope == "record") {
        CUSTOS_ASSIGN_OR_RETURN(std::optional<Record> r, tx.records().Find(RecordId{c.target}));
        if (!r) return NotFound("no record " + c.target, "record_not_found");
        CUSTOS_ASSIGN_OR_RETURN(std::vector<std::string> holds, ActiveHolds(tx, r->id));
        if (!holds.empty()) {
          return Conflict("record " + c.target + " is under legal hold " + holds.front() +
                              "; its retention cannot be shortened",
                          "record_on_hold")
              .WithParam("recordId", c.target)
              .WithParam("holdId", holds.front());
        }
        CUSTOS_RETURN_IF_ERROR(PutDocument(
            tx, RuleDocument(kOverrideDocument, c.target, c.target, c.to, c.requested_by, now)));
      } else {
        CUSTOS_RETURN_IF_ERROR(PutDocument(
            tx, RuleDocument(kScheduleDocument, c.target, "", c.to, c.requested_by, now)));
      }
    }
    c.state = approve ? domain::ChangeState::kApproved : domain::ChangeState::kRejected;
    c.decided_by = who.username.value;
    c.decided_at = now;
    c.reason = reason;
    CUSTOS_RETURN_IF_ERROR(tx.documents().Update(ChangeDocument(c, now)));
    storage::LogEvent e = Event(approve ? "retention.change_approve" : "retention.change_reject", who,
                                subject, now);
    e.details.Set("change", c.id);
    e.details.Set("to", RuleDetails(c.to));
    if (!reason.empty()) e.details.Set("reason", reason);
    CUSTOS_RETURN_IF_ERROR(tx.log().Append(e).status());
    if (approve && c.scope == "record") {
      CUSTOS_ASSIGN_OR_RETURN(std::optional<Record> r, tx.records().Find(RecordId{c.target}));
      CUSTOS_RETURN_IF_ERROR(ReconcileRecordState(tx, *r, who.username.value, now));
    }
    return Status::Ok();
  }));
  return c;
}

StatusOr<Hold> RetentionService::CreateHold(const Principal& who, const HoldInput& input) {
  CUSTOS_RETURN_IF_ERROR(RequireLegal(who, "place legal holds"));
  CUSTOS_RETURN_IF_ERROR(domain::ValidateName(input.name, domain::kHoldNameRule));
  CUSTOS_RETURN_IF_ERROR(CheckText(input.reason, kMaxText, "reason", true));
  CUSTOS_RETURN_IF_ERROR(CheckText(input.case_ref, 200, "caseRef", false));
  if (input.record_ids.size() > kMaxHoldRecords) {
    return Unprocessable("a hold takes at most " + std::to_string(kMaxHoldRecords) +
                             " records at a time",
                         "too_many_records")
        .WithParam("max", kMaxHoldRecords);
  }
  Time now = clock_.Now();
  Hold h;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(h.id, NextDocumentId(tx, "LH", now));
    h.name = input.name;
    h.reason = input.reason;
    h.case_ref = input.case_ref;
    h.state = domain::HoldState::kActive;
    h.created_by = who.username.value;
    h.created_at = now;
    CUSTOS_RETURN_IF_ERROR(tx.documents().Insert(HoldDocument(h, now)));
    storage::LogEvent e = Event("hold.create", who, "hold:" + h.id, now);
    e.details.Set("hold", h.id);
    e.details.Set("name", h.name);
    e.details.Set("caseRef", h.case_ref);
    CUSTOS_RETURN_IF_ERROR(tx.log().Append(e).status());
    return Status::Ok();
  }));
  if (input.record_ids.empty()) return h;
  auto added = AddToHold(who, h.id, input.record_ids);
  if (!added.ok()) {
    // The hold exists but its records were refused (unknown or destroyed):
    // release it again so no empty hold lingers, and report the refusal.
    (void)ReleaseHold(who, h.id);
    return added.status();
  }
  return added;
}

StatusOr<std::vector<Hold>> RetentionService::Holds(const Principal& who) {
  CUSTOS_RETURN_IF_ERROR(RequireRetentionReader(who));
  std::vector<Hold> out;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    storage::DocumentQuery q;
    q.kind = kHoldDocument;
    CUSTOS_ASSIGN_OR_RETURN(std::vector<Document> docs, ListAllDocuments(tx, q));
    for (const Document& d : docs) {
      CUSTOS_ASSIGN_OR_RETURN(Hold h, HoldFromDocument(d));
      out.push_back(std::move(h));
    }
    return Status::Ok();
  }));
  return out;
}

StatusOr<Hold> RetentionService::GetHold(const Principal& who, const std::string& id) {
  CUSTOS_RETURN_IF_ERROR(RequireRetentionReader(who));
  std::optional<Hold> h;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(h, LoadHold(tx, id));
    return Status::Ok();
  }));
  return *h;
}

StatusOr<Hold> RetentionService::AddToHold(const Principal& who, const std::string& id,
                                           const std::vector<std::string>& record_ids) {
  CUSTOS_RETURN_IF_ERROR(RequireLegal(who, "change legal holds"));
  if (record_ids.empty()) return Unprocessable("recordIds is empty", "invalid_recordIds");
  Time now = clock_.Now();
  Hold h;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(h, LoadHold(tx, id));
    if (h.state != domain::HoldState::kActive) {
      return Conflict("legal hold " + id + " is released", "hold_released");
    }
    std::set<std::string> seen(h.record_ids.begin(), h.record_ids.end());
    for (const std::string& rid : record_ids) {
      if (seen.count(rid)) continue;
      CUSTOS_ASSIGN_OR_RETURN(std::optional<Record> r, tx.records().Find(RecordId{rid}));
      if (!r || !MaySeeRecord(who, *r)) return NotFound("no record " + rid, "record_not_found");
      if (r->state == domain::RecordState::kDestroyed) {
        return Conflict("record " + rid + " is already destroyed", "record_destroyed");
      }
      CUSTOS_RETURN_IF_ERROR(PutDocument(tx, HoldItem(h.id, rid, domain::HoldState::kActive, now)));
      h.record_ids.push_back(rid);
      seen.insert(rid);
      storage::LogEvent e = Event("hold.add", who, rid, now);
      e.details.Set("hold", h.id);
      CUSTOS_RETURN_IF_ERROR(tx.log().Append(e).status());
      CUSTOS_RETURN_IF_ERROR(ReconcileRecordState(tx, *r, who.username.value, now));
    }
    return tx.documents().Update(HoldDocument(h, now));
  }));
  return h;
}

StatusOr<Hold> RetentionService::RemoveFromHold(const Principal& who, const std::string& id,
                                                const std::string& record_id) {
  CUSTOS_RETURN_IF_ERROR(RequireLegal(who, "change legal holds"));
  Time now = clock_.Now();
  Hold h;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(h, LoadHold(tx, id));
    if (h.state != domain::HoldState::kActive) return Conflict("legal hold " + id + " is released", "hold_released");
    auto it = std::find(h.record_ids.begin(), h.record_ids.end(), record_id);
    if (it == h.record_ids.end()) {
      return NotFound("record " + record_id + " is not under hold " + id, "record_not_held");
    }
    h.record_ids.erase(it);
    CUSTOS_RETURN_IF_ERROR(tx.documents().Update(HoldItem(h.id, record_id, domain::HoldState::kReleased, now)));
    storage::LogEvent e = Event("hold.remove", who, record_id, now);
    e.details.Set("hold", h.id);
    CUSTOS_RETURN_IF_ERROR(tx.log().Append(e).status());
    CUSTOS_ASSIGN_OR_RETURN(std::optional<Record> r, tx.records().Find(RecordId{record_id}));
    if (r) CUSTOS_RETURN_IF_ERROR(ReconcileRecordState(tx, *r, who.username.value, now));
    return tx.documents().Update(HoldDocument(h, now));
  }));
  return h;
}

StatusOr<Hold> RetentionService::ReleaseHold(const Principal& who, const std::string& id) {
  CUSTOS_RETURN_IF_ERROR(RequireLegal(who, "release legal holds"));
  Time now = clock_.Now();
  Hold h;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(h, LoadHold(tx, id));
    if (h.state != domain::HoldState::kActive) return Conflict("legal hold " + id + " is already released", "hold_released");
    h.state = domain::HoldState::kReleased;
    h.released_by = who.username.value;
    h.released_at = now;
    storage::LogEvent e = Event("hold.release", who, "hold:" + h.id, now);
    e.details.Set("hold", h.id);
    e.details.Set("recordIds", h.record_ids);
    CUSTOS_RETURN_IF_ERROR(tx.log().Append(e).status());
    for (const std::string& rid : h.record_ids) {
      CUSTOS_RETURN_IF_ERROR(tx.documents().Update(HoldItem(h.id, rid, domain::HoldState::kReleased, now)));
      CUSTOS_ASSIGN_OR_RETURN(std::optional<Record> r, tx.records().Find(RecordId{rid}));
      if (r) CUSTOS_RETURN_IF_ERROR(ReconcileRecordState(tx, *r, who.username.value, now));
    }
    return tx.documents().Update(HoldDocument(h, now));
  }));
  return h;
}

StatusOr<int> RetentionService::SweepStates() {
  Time now = clock_.Now();
  int changed = 0;
  // Find the records whose state is out of line in a read, then fix them
  // in small write transactions (a long write would stall every writer).
  std::vector<RecordId> stale;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    // The documents once for the pass, not three lookups per record.
    CUSTOS_ASSIGN_OR_RETURN(DispositionDocuments documents, DispositionDocuments::Load(tx));
    return tx.records().ForEach([&](const Record& r) -> Status {
      if (r.state == domain::RecordState::kDestroyed) return Status::Ok();
      CUSTOS_ASSIGN_OR_RETURN(DispositionInputs in, documents.For(tx, r));
      Disposition d = ComputeDisposition(r, in.rule, in.source, std::move(in.holds), now);
      domain::RecordState want = !d.holds.empty() ? domain::RecordState::kOnHold
                                  : d.due          ? domain::RecordState::kDispositionDue
                                                   : domain::RecordState::kActive;
      if (want != r.state) stale.push_back(r.id);
      return Status::Ok();
    });
  }));
  constexpr size_t kBatch = 200;
  for (size_t at = 0; at < stale.size(); at += kBatch) {
    CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
      for (size_t i = at; i < std::min(stale.size(), at + kBatch); ++i) {
        CUSTOS_ASSIGN_OR_RETURN(std::optional<Record> r, tx.records().Find(stale[i]));
        if (!r) continue;
        domain::RecordState before = r->state;
        CUSTOS_RETURN_IF_ERROR(ReconcileRecordState(tx, *r, kSystemActor, now));
        if (r->state != before) ++changed;
      }
      return Status::Ok();
    }));
  }
  return changed;
}

StatusOr<std::vector<DueRecord>> RetentionService::DispositionDue(const Principal& who) {
  CUSTOS_RETURN_IF_ERROR(RequireRetentionReader(who));
  CUSTOS_RETURN_IF_ERROR(SweepStates().status());
  Time now = clock_.Now();
  std::vector<DueRecord> out;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    domain::RecordQuery q;
    q.state = domain::RecordState::kDispositionDue;
    q.page_size = 500;
    for (q.page = 1;; ++q.page) {
      CUSTOS_ASSIGN_OR_RETURN(domain::RecordPage page, tx.records().Search(q));
      for (const Record& r : page.records) {
        if (!MaySeeRecord(who, r)) continue;
        CUSTOS_ASSIGN_OR_RETURN(Disposition d, LoadDisposition(tx, r, now));
        if (d.due) out.push_back({r, d});
      }
      if (page.records.size() < static_cast<size_t>(q.page_size)) return Status::Ok();
    }
  }));
  std::sort(out.begin(), out.end(), [](const DueRecord& a, const DueRecord& b) {
    return a.disposition.date != b.disposition.date ? a.disposition.date < b.disposition.date
                                                    : a.record.id < b.record.id;
  });
  return out;
}

}  // namespace custos::services
