#include "server/http/json_codec.h"

#include <Poco/JSON/Array.h>

#include <sstream>

#include "crypto/bytes.h"
#include "domain/canonical_json.h"
#include "server/services/account_state.h"

namespace custos::http {

namespace {
Status FieldType(const std::string& key, const char* type) {
  return InvalidArgument("field '" + key + "' must be " + type, "invalid_field").WithParam("field", key);
}
}  // namespace

StatusOr<Poco::JSON::Object::Ptr> ParseObject(const std::string& text) {
  auto parsed = domain::ParseJsonStrict(text);
  if (!parsed.ok()) {
    return InvalidArgument("request body is not valid JSON: " + parsed.status().message(),
                           "malformed_json");
  }
  if (parsed->type() != typeid(Poco::JSON::Object::Ptr)) {
    return InvalidArgument("request body must be a JSON object", "malformed_json");
  }
  return parsed->extract<Poco::JSON::Object::Ptr>();
}

StatusOr<std::optional<std::string>> OptString(const Poco::JSON::Object::Ptr& o,
                                               const std::string& key) {
  if (!o->has(key) || o->isNull(key)) return std::optional<std::string>();
  Poco::Dynamic::Var v = o->get(key);
  if (!v.isString()) return FieldType(key, "a string");
  return std::optional<std::string>(v.convert<std::string>());
}

StatusOr<std::string> ReqString(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  CUSTOS_ASSIGN_OR_RETURN(auto v, OptString(o, key));
  if (!v) {
    return InvalidArgument("field '" + key + "' is required", "missing_field").WithParam("field", key);
  }
  return *v;
}

StatusOr<std::optional<bool>> OptBool(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  if (!o->has(key) || o->isNull(key)) return std::optional<bool>();
  Poco::Dynamic::Var v = o->get(key);
  if (v.type() != typeid(bool)) return FieldType(key, "true or false");
  return std::optional<bool>(v.extract<bool>());
}

StatusOr<Poco::JSON::Object::Ptr> OptObject(const Poco::JSON::Object::Ptr& o,
                                            const std::string& key) {
  if (!o->has(key) || o->isNull(key)) return Poco::JSON::Object::Ptr();
  Poco::Dynamic::Var v = o->get(key);
  if (v.type() != typeid(Poco::JSON::Object::Ptr)) return FieldType(key, "an object");
  return v.extract<Poco::JSON::Object::Ptr>();
}

namespace {

// The type-specific fields of a record: an object of strings, or nullopt
// when absent or null. A value that is not a string is refused as the
// service refuses a bad field (422 "invalid_metadata", rule "string").
StatusOr<std::optional<domain::RecordMetadata>> OptMetadata(const Poco::JSON::Object::Ptr& o,
                                                            const std::string& key) {
  CUSTOS_ASSIGN_OR_RETURN(Poco::JSON::Object::Ptr m, OptObject(o, key));
  if (!m) return std::optional<domain::RecordMetadata>();
  domain::RecordMetadata out;
  for (const std::string& name : m->getNames()) {
    Poco::Dynamic::Var v = m->get(name);
    if (!v.isString()) return services::MetadataNotAString(name);
    out[name] = v.convert<std::string>();
  }
  return std::optional<domain::RecordMetadata>(std::move(out));
}

}  // namespace

Status OnlyKeys(const Poco::JSON::Object::Ptr& o, const std::vector<std::string>& allowed) {
  for (const std::string& k : o->getNames()) {
    bool ok = false;
    for (const auto& a : allowed) ok = ok || a == k;
    if (!ok) return InvalidArgument("unknown field '" + k + "'", "unknown_field").WithParam("field", k);
  }
  return Status::Ok();
}

std::string Stringify(const Poco::Dynamic::Var& v) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(v, out);
  return out.str();
}

Poco::JSON::Object::Ptr UserJson(const domain::User& u) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("username", u.username.value);
  o->set("role", std::string(domain::Name(u.role)));
  o->set("department", u.department);
  o->set("mustChangePassword", u.must_change_password);
  o->set("disabled", u.disabled);
  o->set("passwordChangedAt", domain::FormatTime(u.password_changed_at));
  o->set("createdAt", domain::FormatTime(u.created_at));
  // What the account's state says, never a secret: whether it awaits
  // set-up, which factors are enrolled and how many recovery codes are
  // left. A state the services cannot read shows as the empty one.
  auto credentials = services::ParseCredentials(u.credentials);
  auto provenance = services::ParseProvenance(u.provenance);
  services::Credentials c = credentials.ok() ? *credentials : services::Credentials{};
  services::Provenance p = provenance.ok() ? *provenance : services::Provenance{};
  o->set("awaitingSetup", c.awaiting_setup);
  Poco::JSON::Object::Ptr factor = new Poco::JSON::Object;
  factor->set("totp", !c.totp_secret.empty());
  factor->set("certificate", !c.certificate_sha256.empty());
  factor->set("recoveryCodesLeft", static_cast<int>(c.recovery_code_hashes.size()));
  o->set("secondFactor", factor);
  o->set("createdBy", p.created_by);
  o->set("roleGrantedAt", TimeOrNull(p.role_granted_at));
  o->set("resetAt", TimeOrNull(p.reset_at));
  return o;
}

Poco::JSON::Object::Ptr GrantJson(const services::Grant& g) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("id", g.id);
  o->set("username", g.username);
  o->set("role", g.role);
  o->set("previousRole", g.previous_role);
  o->set("state", g.state);
  o->set("proposedBy", g.proposed_by);
  o->set("proposedAt", domain::FormatTime(g.proposed_at));
  o->set("decidedBy", g.decided_by.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(g.decided_by));
  o->set("decidedAt", TimeOrNull(g.decided_at));
  o->set("reason", g.reason.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(g.reason));
  return o;
}

Poco::JSON::Object::Ptr DepartmentJson(const domain::Department& d) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("name", d.name);
  o->set("createdAt", domain::FormatTime(d.created_at));
  return o;
}

Poco::JSON::Object::Ptr FileJson(const domain::StoredFile& f) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("id", f.id.value);
  o->set("name", f.name);
  o->set("mediaType", f.media_type);
  o->set("size", static_cast<Poco::UInt64>(f.size));
  o->set("sha256", f.sha256);
  if (!f.sm3.empty()) o->set("sm3", f.sm3);
  o->set("destroyed", f.wrapped_dek.empty());
  Poco::JSON::Object::Ptr sig = new Poco::JSON::Object;
  sig->set("status", f.signature.status);
  sig->set("signer", f.signature.signer);
  sig->set("signingTime",
           f.signature.signing_time ? Poco::Dynamic::Var(domain::FormatTime(*f.signature.signing_time))
                                    : Poco::Dynamic::Var());
  sig->set("reason", f.signature.reason);
  o->set("signature", sig);
  return o;
}

Poco::JSON::Object::Ptr VersionJson(const domain::Version& v) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("number", v.number);
  o->set("kind", std::string(domain::Name(v.kind)));
  o->set("note", v.note);
  o->set("createdAt", domain::FormatTime(v.created_at));
  o->set("createdBy", v.created_by);
  o->set("manifestHash", v.manifest_hash);
  o->set("prevManifestHash", v.prev_manifest_hash);
  o->set("logIndex", static_cast<Poco::UInt64>(v.log_index));
  Poco::JSON::Array::Ptr files = new Poco::JSON::Array;
  for (const auto& f : v.files) files->add(FileJson(f));
  o->set("files", files);
  return o;
}

Poco::JSON::Object::Ptr RecordJson(const domain::Record& r) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("id", r.id.value);
  o->set("type", std::string(domain::Name(r.type)));
  o->set("title", r.title);
  o->set("description", r.description);
  o->set("department", r.department);
  o->set("classification", std::string(domain::Name(r.classification)));
  o->set("custodian", r.custodian);
  o->set("location", r.location);
  auto meta = domain::ParseJsonStrict(r.metadata_json);
  o->set("metadata", meta.ok() ? *meta : Poco::Dynamic::Var(Poco::JSON::Object::Ptr(new Poco::JSON::Object)));
  o->set("retentionClass", r.retention_class);
  o->set("state", std::string(domain::Name(r.state)));
  o->set("createdAt", domain::FormatTime(r.created_at));
  o->set("createdBy", r.created_by);
  o->set("updatedAt", domain::FormatTime(r.updated_at));
  return o;
}

Poco::JSON::Object::Ptr DispositionJson(const services::Disposition& d) {
  Poco::JSON::Object::Ptr o = services::RuleJson(d.rule);
  o->set("source", d.source);
  o->set("triggerDate", d.trigger_date ? Poco::Dynamic::Var(*d.trigger_date) : Poco::Dynamic::Var());
  o->set("dispositionDate", d.date ? Poco::Dynamic::Var(*d.date) : Poco::Dynamic::Var());
  o->set("due", d.due);
  return o;
}

Poco::JSON::Object::Ptr ExtractionJson(const storage::FileText& t) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("state", std::string(storage::Name(t.state)));
  o->set("claimedType", t.claimed_type);
  o->set("identifiedType", t.identified_type);
  o->set("typeMismatch", storage::TypeMismatch(t));
  o->set("method", t.method);
  o->set("pages", t.pages);
  o->set("textBytes", static_cast<Poco::UInt64>(t.text_bytes));
  o->set("attempts", t.attempts);
  o->set("reason", t.reason);
  return o;
}

Poco::JSON::Array::Ptr FieldMatchesJson(const std::vector<domain::FieldMatch>& matches) {
  Poco::JSON::Array::Ptr out = new Poco::JSON::Array;
  for (const domain::FieldMatch& m : matches) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("field", m.field);
    if (m.version > 0) o->set("version", m.version);
    if (!m.file_id.value.empty()) {
      o->set("file", m.file_id.value);
      o->set("fileName", m.file_name);
    }
    if (!m.snippet.empty()) {
      Poco::JSON::Array::Ptr segments = new Poco::JSON::Array;
      for (const std::string& s : m.snippet) segments->add(s);
      o->set("snippet", segments);
    }
    out->add(o);
  }
  return out;
}

Poco::JSON::Object::Ptr TextReadJson(const services::TextRead& t) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("extraction", ExtractionJson(t.status));
  o->set("text", t.text);
  return o;
}

Poco::JSON::Object::Ptr ComparisonJson(const services::VersionComparison& c) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("record", c.record.id.value);
  o->set("from", VersionJson(c.from));
  o->set("to", VersionJson(c.to));
  Poco::JSON::Array::Ptr files = new Poco::JSON::Array;
  for (const services::FileComparison& f : c.files) {
    Poco::JSON::Object::Ptr file = new Poco::JSON::Object;
    file->set("name", f.name);
    file->set("change", std::string(services::Name(f.change)));
    file->set("from", f.from ? Poco::Dynamic::Var(FileJson(*f.from)) : Poco::Dynamic::Var());
    file->set("to", f.to ? Poco::Dynamic::Var(FileJson(*f.to)) : Poco::Dynamic::Var());
    Poco::JSON::Object::Ptr text = new Poco::JSON::Object;
    text->set("state", std::string(services::Name(f.state)));
    if (f.state == services::CompareState::kDiff) {
      text->set("level", std::string(storage::Name(f.diff.level)));
      Poco::JSON::Array::Ptr segments = new Poco::JSON::Array;
      for (const storage::DiffSegment& s : f.diff.segments) {
        Poco::JSON::Object::Ptr segment = new Poco::JSON::Object;
        segment->set("op", std::string(storage::Name(s.op)));
        segment->set("text", s.text);
        segments->add(segment);
      }
      text->set("segments", segments);
    }
    file->set("text", text);
    files->add(file);
  }
  o->set("files", files);
  Poco::JSON::Array::Ptr changes = new Poco::JSON::Array;
  for (const services::MetadataChange& m : c.metadata_changes) {
    Poco::JSON::Object::Ptr change = new Poco::JSON::Object;
    change->set("index", static_cast<Poco::UInt64>(m.log_index));
    change->set("at", domain::FormatTime(m.at));
    change->set("actor", m.actor);
    Poco::JSON::Array::Ptr fields = new Poco::JSON::Array;
    for (const std::string& name : m.fields) fields->add(name);
    change->set("fields", fields);
    changes->add(change);
  }
  o->set("metadataChanges", changes);
  Poco::JSON::Array::Ptr indexes = new Poco::JSON::Array;
  for (uint64_t i : c.log_indexes) indexes->add(static_cast<Poco::UInt64>(i));
  o->set("logIndexes", indexes);
  return o;
}

Poco::JSON::Object::Ptr RecordDetailJson(const services::RecordDetail& d) {
  Poco::JSON::Object::Ptr o = RecordJson(d.record);
  Poco::JSON::Array::Ptr versions = new Poco::JSON::Array;
  for (const auto& v : d.versions) {
    Poco::JSON::Object::Ptr version = VersionJson(v);
    // Each file's extraction, absent while the pipeline has not seen it,
    // and the pages a preview can show, absent for a file that has none.
    Poco::JSON::Array::Ptr files = version->getArray("files");
    for (size_t i = 0; files && i < files->size() && i < v.files.size(); ++i) {
      for (const storage::FileText& t : d.texts) {
        if (t.file_id != v.files[i].id) continue;
        Poco::JSON::Object::Ptr file = files->getObject(static_cast<unsigned>(i));
        file->set("extraction", ExtractionJson(t));
        if (const int pages = services::PreviewPages(t); pages > 0) {
          Poco::JSON::Object::Ptr preview = new Poco::JSON::Object;
          preview->set("pages", pages);
          file->set("preview", preview);
        }
      }
    }
    versions->add(version);
  }
  o->set("versions", versions);
  // Borrowing, as of d.at: open loans, who holds the paper original and
  // since when, and whether anything is overdue.
  Poco::JSON::Array::Ptr loans = new Poco::JSON::Array;
  Poco::Dynamic::Var original;  // null unless the original is out
  bool overdue = false;
  for (const domain::Loan& l : d.open_loans) {
    Poco::JSON::Object::Ptr x = new Poco::JSON::Object;
    x->set("id", l.id);
    x->set("kind", std::string(domain::Name(l.kind)));
    x->set("state", std::string(domain::Name(domain::EffectiveState(l, d.at))));
    x->set("borrower", l.borrower);
    x->set("dueAt", domain::FormatTime(l.due_at));
    x->set("overdue", domain::IsOverdue(l, d.at));
    loans->add(x);
    overdue = overdue || domain::IsOverdue(l, d.at);
    if (l.kind == domain::LoanKind::kPhysical && l.state == domain::LoanState::kCheckedOut) {
      Poco::JSON::Object::Ptr h = new Poco::JSON::Object;
      h->set("loanId", l.id);
      h->set("borrower", l.borrower);
      h->set("since", l.checked_out_at ? domain::FormatTime(*l.checked_out_at) : std::string());
      h->set("dueAt", domain::FormatTime(l.due_at));
      original = h;
    }
  }
  o->set("loans", loans);
  o->set("originalHeldBy", original);
  o->set("overdue", overdue);
  if (d.disposition) o->set("retention", DispositionJson(*d.disposition));
  Poco::JSON::Array::Ptr holds = new Poco::JSON::Array;
  if (d.disposition) {
    for (const auto& h : d.disposition->holds) holds->add(h);
  }
  o->set("holds", holds);
  Poco::Dynamic::Var tombstone;
  if (!d.tombstone_json.empty()) {
    auto parsed = domain::ParseJsonStrict(d.tombstone_json);
    if (parsed.ok()) tombstone = *parsed;
  }
  o->set("tombstone", tombstone);
  return o;
}

Poco::JSON::Object::Ptr EntryJson(const storage::LogEntry& e) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("index", static_cast<Poco::UInt64>(e.index));
  if (e.redacted()) {
    o->set("redacted", true);
    o->set("leafHash", crypto::Base64Encode(e.leaf_hash));
    return o;
  }
  o->set("leaf", crypto::Base64Encode(e.leaf));
  auto event = domain::ParseJsonStrict(e.leaf);
  o->set("event", event.ok() ? *event : Poco::Dynamic::Var());
  return o;
}

Poco::JSON::Object::Ptr HistoryEntryJson(const services::HistoryEntry& h) {
  Poco::JSON::Object::Ptr o = EntryJson(h.entry);
  if (h.change.after_json.empty()) return o;
  auto before = domain::ParseJsonStrict(h.change.before_json);
  auto after = domain::ParseJsonStrict(h.change.after_json);
  if (!before.ok() || !after.ok()) return o;
  Poco::JSON::Object::Ptr change = new Poco::JSON::Object;
  change->set("before", *before);
  change->set("after", *after);
  o->set("change", change);
  return o;
}

StatusOr<services::RecordInput> DecodeRecordInput(const std::string& text) {
  CUSTOS_ASSIGN_OR_RETURN(Poco::JSON::Object::Ptr o, ParseObject(text));
  CUSTOS_RETURN_IF_ERROR(OnlyKeys(o, {"type", "title", "description", "department",
                                      "classification", "custodian", "location", "metadata"}));
  services::RecordInput in;
  CUSTOS_ASSIGN_OR_RETURN(in.type, ReqString(o, "type"));
  CUSTOS_ASSIGN_OR_RETURN(in.title, ReqString(o, "title"));
  CUSTOS_ASSIGN_OR_RETURN(in.department, ReqString(o, "department"));
  CUSTOS_ASSIGN_OR_RETURN(in.classification, ReqString(o, "classification"));
  CUSTOS_ASSIGN_OR_RETURN(auto description, OptString(o, "description"));
  CUSTOS_ASSIGN_OR_RETURN(auto custodian, OptString(o, "custodian"));
  CUSTOS_ASSIGN_OR_RETURN(auto location, OptString(o, "location"));
  in.description = description.value_or("");
  in.custodian = custodian.value_or("");
  in.location = location.value_or("");
  CUSTOS_ASSIGN_OR_RETURN(auto metadata, OptMetadata(o, "metadata"));
  in.metadata = metadata.value_or(domain::RecordMetadata());
  return in;
}

StatusOr<services::RecordPatch> DecodeRecordPatch(const std::string& text) {
  CUSTOS_ASSIGN_OR_RETURN(Poco::JSON::Object::Ptr o, ParseObject(text));
  CUSTOS_RETURN_IF_ERROR(OnlyKeys(o, {"title", "description", "custodian", "location",
                                      "classification", "metadata"}));
  services::RecordPatch p;
  CUSTOS_ASSIGN_OR_RETURN(p.title, OptString(o, "title"));
  CUSTOS_ASSIGN_OR_RETURN(p.description, OptString(o, "description"));
  CUSTOS_ASSIGN_OR_RETURN(p.custodian, OptString(o, "custodian"));
  CUSTOS_ASSIGN_OR_RETURN(p.location, OptString(o, "location"));
  CUSTOS_ASSIGN_OR_RETURN(p.classification, OptString(o, "classification"));
  CUSTOS_ASSIGN_OR_RETURN(p.metadata, OptMetadata(o, "metadata"));
  return p;
}

// ---- workflow resources as the API shows them

Poco::Dynamic::Var TimeOrNull(const std::optional<domain::Time>& t) {
  return t ? Poco::Dynamic::Var(domain::FormatTime(*t)) : Poco::Dynamic::Var();
}

std::vector<uint64_t> LoanLogIndices(const domain::Loan& loan) {
  std::vector<uint64_t> out;
  for (const auto& e : loan.events) out.push_back(e.log_index);
  return out;
}

Poco::JSON::Object::Ptr LoanJson(const domain::Loan& loan, domain::Time now) {
  Poco::JSON::Object::Ptr o = domain::LoanObject(loan);
  o->set("state", std::string(domain::Name(domain::EffectiveState(loan, now))));
  o->set("overdue", domain::IsOverdue(loan, now));
  o->remove("closedBy");
  for (const char* absent_is_null : {"checkedOutAt", "returnedAt", "closedAt", "renewal"}) {
    if (!o->has(absent_is_null)) o->set(absent_is_null, Poco::Dynamic::Var());
  }
  Poco::JSON::Array::Ptr indices = new Poco::JSON::Array;
  for (uint64_t i : LoanLogIndices(loan)) indices->add(static_cast<Poco::UInt64>(i));
  o->set("logIndices", indices);
  return o;
}

Poco::JSON::Object::Ptr CertificateAlertJson(const services::CertificateAlert& c) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("recordId", c.record.id.value);
  o->set("title", c.record.title);
  o->set("department", c.record.department);
  o->set("validUntil", c.valid_until);
  o->set("daysLeft", c.days_left);
  o->set("expired", c.expired);
  o->set("horizonDays", c.expired ? Poco::Dynamic::Var() : Poco::Dynamic::Var(c.horizon));
  return o;
}

Poco::JSON::Object::Ptr VerificationAlertJson(const services::VerificationAlert& a) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("finishedAt", domain::FormatTime(a.finished_at));
  o->set("full", a.full);
  o->set("logSize", static_cast<Poco::UInt64>(a.log_size));
  o->set("findingCount", static_cast<Poco::UInt64>(a.finding_count));
  Poco::JSON::Array::Ptr findings = new Poco::JSON::Array;
  for (const storage::Finding& f : a.findings) {
    Poco::JSON::Object::Ptr x = new Poco::JSON::Object;
    x->set("object", f.object);
    x->set("problem", f.problem);
    x->set("code", f.code);
    findings->add(x);
  }
  o->set("findings", findings);
  o->set("lastSuccessAt", TimeOrNull(a.last_success));
  return o;
}

namespace {

Poco::JSON::Object::Ptr RowIntegrityAlertJson(const services::RowIntegrityAlert& a) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("count", static_cast<Poco::UInt64>(a.count));
  Poco::JSON::Array::Ptr rows = new Poco::JSON::Array;
  for (const services::RowIntegrityFailure& f : a.rows) {
    Poco::JSON::Object::Ptr x = new Poco::JSON::Object;
    x->set("table", f.table);
    x->set("key", f.key);
    x->set("at", domain::FormatTime(f.at));
    rows->add(x);
  }
  o->set("rows", rows);
  return o;
}

// {count, problems: [{at, party, code, detail, size}]}, newest first.
Poco::JSON::Object::Ptr AttestationAlertJson(const services::AttestationAlert& a) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("count", static_cast<Poco::UInt64>(a.count));
  Poco::JSON::Array::Ptr problems = new Poco::JSON::Array;
  for (const services::AttestationProblem& p : a.problems) {
    Poco::JSON::Object::Ptr x = new Poco::JSON::Object;
    x->set("at", domain::FormatTime(p.at));
    x->set("party", p.party);
    x->set("code", p.code);
    x->set("detail", p.detail);
    x->set("size", static_cast<Poco::UInt64>(p.size));
    problems->add(x);
  }
  o->set("problems", problems);
  return o;
}

}  // namespace

Poco::JSON::Object::Ptr AlertsJson(const services::Alerts& a,
                                   const std::optional<services::VerificationAlert>& verification,
                                   const std::optional<services::RowIntegrityAlert>& row_integrity,
                                   const std::vector<services::FreshRead>& fresh,
                                   const std::optional<services::AttestationAlert>& attestation,
                                   domain::Time now) {
  Poco::JSON::Array::Ptr overdue = new Poco::JSON::Array;
  for (const domain::Loan& l : a.overdue_loans) overdue->add(LoanJson(l, now));
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("overdueLoans", overdue);
  Poco::JSON::Array::Ptr certs = new Poco::JSON::Array;
  for (const auto& c : a.certificates) certs->add(CertificateAlertJson(c));
  o->set("certificates", certs);
  o->set("verification", verification ? Poco::Dynamic::Var(VerificationAlertJson(*verification))
                                       : Poco::Dynamic::Var());
  o->set("rowIntegrity", row_integrity ? Poco::Dynamic::Var(RowIntegrityAlertJson(*row_integrity))
                                       : Poco::Dynamic::Var());
  Poco::JSON::Array::Ptr reads = new Poco::JSON::Array;
  for (const services::FreshRead& r : fresh) reads->add(FreshReadJson(r));
  o->set("freshAccountReads", reads);
  o->set("attestation", attestation ? Poco::Dynamic::Var(AttestationAlertJson(*attestation)) : Poco::Dynamic::Var());
  o->set("generatedAt", domain::FormatTime(now));
  return o;
}

Poco::JSON::Object::Ptr FreshReadJson(const services::FreshRead& r) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("username", r.username);
  o->set("role", std::string(domain::Name(r.role)));
  o->set("recordId", r.record_id.value);
  o->set("version", r.version);
  o->set("fileId", r.file_id.value);
  o->set("at", domain::FormatTime(r.at));
  o->set("accountSince", domain::FormatTime(r.account_since));
  o->set("logIndex", static_cast<Poco::UInt64>(r.log_index));
  return o;
}

Poco::JSON::Object::Ptr ScheduleJson(const services::ScheduleView& v) {
  Poco::JSON::Object::Ptr o = services::RuleJson(v.rule);
  o->set("type", std::string(domain::Name(v.type)));
  o->set("isDefault", v.is_default);
  o->set("updatedAt", TimeOrNull(v.updated_at));
  o->set("updatedBy", v.updated_by);
  return o;
}

// A change as the API shows it: its codec (services::ChangeObject) with
// decidedAt null until decided.
Poco::JSON::Object::Ptr ChangeJson(const services::RetentionChange& c) {
  Poco::JSON::Object::Ptr o = services::ChangeObject(c);
  o->set("decidedAt", TimeOrNull(c.decided_at));
  return o;
}

// A hold as the API shows it: its codec (services::HoldObject) with
// releasedAt null until released.
Poco::JSON::Object::Ptr HoldJson(const services::Hold& h) {
  Poco::JSON::Object::Ptr o = services::HoldObject(h);
  o->set("releasedAt", TimeOrNull(h.released_at));
  return o;
}

Poco::JSON::Object::Ptr BatchJson(const services::DestructionBatch& b) {
  Poco::JSON::Object::Ptr o = services::DestructionBatchObject(b);
  for (const char* stored_only : {"items", "eventIndices", "certificate"}) o->remove(stored_only);
  Poco::JSON::Array::Ptr records = new Poco::JSON::Array;
  for (const auto& it : b.items) {
    Poco::JSON::Object::Ptr x = services::DestructionItemObject(it, /*with_blob_ids=*/false);
    if (!it.event_index) x->set("eventIndex", Poco::Dynamic::Var());  // null until executed
    records->add(x);
  }
  o->set("records", records);
  o->set("hiddenRecords", static_cast<Poco::UInt64>(b.hidden_records));
  o->set("executedAt", TimeOrNull(b.executed_at));
  Poco::JSON::Array::Ptr indices = new Poco::JSON::Array;
  for (uint64_t i : b.event_indices) indices->add(static_cast<Poco::UInt64>(i));
  o->set("logIndices", indices);
  o->set("hasCertificate", !b.certificate.empty());
  return o;
}

Poco::JSON::Object::Ptr JobJson(const services::AuditJob& j) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("id", j.id);
  o->set("kind", j.kind);
  o->set("state", std::string(domain::Name(j.state)));
  o->set("owner", j.owner);
  o->set("createdAt", domain::FormatTime(j.created_at));
  o->set("finishedAt", j.finished_at ? Poco::Dynamic::Var(domain::FormatTime(*j.finished_at)) : Poco::Dynamic::Var());
  Poco::JSON::Object::Ptr progress = new Poco::JSON::Object;
  progress->set("phase", j.phase);
  progress->set("done", static_cast<Poco::UInt64>(j.done));
  progress->set("total", static_cast<Poco::UInt64>(j.total));
  o->set("progress", progress);
  o->set("error", j.error);
  o->set("logIndex", j.log_index ? Poco::Dynamic::Var(static_cast<Poco::UInt64>(*j.log_index)) : Poco::Dynamic::Var());
  if (j.kind == "verify") {
    Poco::Dynamic::Var report;
    if (!j.report_json.empty()) {
      auto parsed = domain::ParseJsonStrict(j.report_json);
      if (parsed.ok()) report = *parsed;
    }
    o->set("report", report);
    o->set("clean", j.state == domain::JobState::kDone ? Poco::Dynamic::Var(j.clean) : Poco::Dynamic::Var());
  }
  if (j.kind == "export") {
    o->set("format", std::string(services::Extension(j.format)).substr(1));
    o->set("expiresAt", j.expires_at ? Poco::Dynamic::Var(domain::FormatTime(*j.expires_at)) : Poco::Dynamic::Var());
    o->set("shreddedBy", j.shredded_by.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(j.shredded_by));
    if (j.summary) {
      Poco::JSON::Object::Ptr package = services::ExportSummaryObject(*j.summary);
      package->set("packageBytes", static_cast<Poco::UInt64>(j.package_bytes));
      o->set("package", package);
    }
  }
  return o;
}

}  // namespace custos::http
