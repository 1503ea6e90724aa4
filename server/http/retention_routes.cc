#include "server/http/retention_routes.h"

#include <Poco/JSON/Array.h>

#include "server/http/json_codec.h"
#include "server/http/route_util.h"

namespace custos::http {

using services::AuthenticatedSession;
using services::DestructionBatch;
using services::Hold;
using services::RetentionChange;
using domain::FormatTime;

namespace {

Poco::Dynamic::Var TimeOrNull(const std::optional<domain::Time>& t) {
  return t ? Poco::Dynamic::Var(FormatTime(*t)) : Poco::Dynamic::Var();
}

Poco::JSON::Object::Ptr ScheduleJson(const services::ScheduleView& v) {
  Poco::JSON::Object::Ptr o = services::RuleJson(v.rule);
  o->set("type", std::string(domain::Name(v.type)));
  o->set("isDefault", v.is_default);
  o->set("updatedAt", TimeOrNull(v.updated_at));
  o->set("updatedBy", v.updated_by);
  return o;
}

Poco::JSON::Object::Ptr ChangeJson(const RetentionChange& c) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("id", c.id);
  o->set("scope", c.scope);
  o->set("target", c.target);
  o->set("from", services::RuleJson(c.from));
  o->set("to", services::RuleJson(c.to));
  o->set("state", c.state);
  o->set("requestedBy", c.requested_by);
  o->set("requestedAt", FormatTime(c.requested_at));
  o->set("decidedBy", c.decided_by);
  o->set("decidedAt", TimeOrNull(c.decided_at));
  o->set("reason", c.reason);
  return o;
}

Poco::JSON::Object::Ptr HoldJson(const Hold& h) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("id", h.id);
  o->set("name", h.name);
  o->set("reason", h.reason);
  o->set("caseRef", h.case_ref);
  o->set("state", h.state);
  Poco::JSON::Array::Ptr records = new Poco::JSON::Array;
  for (const auto& r : h.record_ids) records->add(r);
  o->set("recordIds", records);
  o->set("createdBy", h.created_by);
  o->set("createdAt", FormatTime(h.created_at));
  o->set("releasedBy", h.released_by);
  o->set("releasedAt", TimeOrNull(h.released_at));
  return o;
}

Poco::JSON::Object::Ptr BatchJson(const DestructionBatch& b) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("id", b.id);
  o->set("reason", b.reason);
  o->set("state", b.state);
  o->set("proposedBy", b.proposed_by);
  o->set("proposedAt", FormatTime(b.proposed_at));
  Poco::JSON::Array::Ptr approvals = new Poco::JSON::Array;
  for (const auto& a : b.approvals) {
    Poco::JSON::Object::Ptr x = new Poco::JSON::Object;
    x->set("by", a.by);
    x->set("role", a.role);
    x->set("at", FormatTime(a.at));
    x->set("logIndex", static_cast<Poco::UInt64>(a.log_index));
    approvals->add(x);
  }
  o->set("approvals", approvals);
  Poco::JSON::Array::Ptr records = new Poco::JSON::Array;
  for (const auto& it : b.items) {
    Poco::JSON::Object::Ptr x = new Poco::JSON::Object;
    x->set("recordId", it.record_id);
    x->set("type", it.type);
    x->set("title", it.title);
    Poco::JSON::Object::Ptr rule = services::RuleJson(it.rule);
    rule->set("source", it.rule_source);
    rule->set("triggerDate", it.trigger_date);
    rule->set("dispositionDate", it.disposition_date);
    x->set("retention", rule);
    Poco::JSON::Array::Ptr files = new Poco::JSON::Array;
    for (const auto& f : it.files) {
      Poco::JSON::Object::Ptr y = new Poco::JSON::Object;
      y->set("id", f.id);
      y->set("version", f.version);
      y->set("name", f.name);
      y->set("size", static_cast<Poco::UInt64>(f.size));
      y->set("sha256", f.sha256);
      files->add(y);
    }
    x->set("files", files);
    x->set("eventIndex", it.event_index ? Poco::Dynamic::Var(static_cast<Poco::UInt64>(it.event_index))
                                        : Poco::Dynamic::Var());
    records->add(x);
  }
  o->set("records", records);
  o->set("hiddenRecords", static_cast<Poco::UInt64>(b.hidden_records));
  o->set("executedBy", b.executed_by);
  o->set("executedAt", TimeOrNull(b.executed_at));
  Poco::JSON::Array::Ptr indices = new Poco::JSON::Array;
  for (uint64_t i : b.event_indices) indices->add(static_cast<Poco::UInt64>(i));
  o->set("logIndices", indices);
  o->set("hasCertificate", !b.certificate.empty());
  return o;
}

StatusOr<services::RetentionRule> RuleBody(RequestContext& ctx) {
  CUSTOS_ASSIGN_OR_RETURN(Poco::JSON::Object::Ptr o, JsonBody(ctx));
  CUSTOS_RETURN_IF_ERROR(OnlyKeys(o, {"trigger", "period", "action"}));
  return services::RuleFromJson(o);
}

Response RuleChange(const StatusOr<services::RuleChangeResult>& r) {
  if (!r.ok()) return Response::Error(r.status());
  if (r->pending) return JsonOk(202, ChangeJson(*r->pending));
  if (r->schedule) return JsonOk(200, ScheduleJson(*r->schedule));
  return JsonOk(200, DispositionJson(*r->disposition));
}

template <typename T>
Response Many(const StatusOr<std::vector<T>>& r, const std::string& key,
              Poco::JSON::Object::Ptr (*render)(const T&)) {
  return Render<std::vector<T>>(r, 200, [&](const std::vector<T>& list) {
    Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
    for (const T& x : list) arr->add(render(x));
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set(key, arr);
    return Poco::Dynamic::Var(o);
  });
}

template <typename T>
Response One(const StatusOr<T>& r, int status, Poco::JSON::Object::Ptr (*render)(const T&)) {
  return Render<T>(r, status, [&](const T& x) { return Poco::Dynamic::Var(render(x)); });
}

}  // namespace

void AddRetentionRoutes(Router& router, services::AuthService& auth,
                        services::RetentionService& retention,
                        services::DestructionService& destruction) {
  auto& R = retention;
  auto& D = destruction;
  // ---- schedules and changes
  router.Add("GET", "/v1/retention/schedules", WithSession(auth, [&R](RequestContext&, const AuthenticatedSession& s) {
    return Many<services::ScheduleView>(R.Schedules(s.principal), "schedules", ScheduleJson);
  }));
  router.Add("PUT", "/v1/retention/schedules/{type}", WithSession(auth, [&R](RequestContext& ctx, const AuthenticatedSession& s) {
    auto rule = RuleBody(ctx);
    if (!rule.ok()) return Response::Error(rule.status());
    return RuleChange(R.PutSchedule(s.principal, ctx.params.at("type"), *rule));
  }));
  router.Add("GET", "/v1/retention/changes", WithSession(auth, [&R](RequestContext& ctx, const AuthenticatedSession& s) {
    return Many<RetentionChange>(R.Changes(s.principal, ctx.Query("state").value_or("")), "changes", ChangeJson);
  }));
  router.Add("POST", "/v1/retention/changes/{id}/approve", WithSession(auth, [&R](RequestContext& ctx, const AuthenticatedSession& s) {
    auto body = OptionalJsonBody(ctx, {});
    if (!body.ok()) return Response::Error(body.status());
    return One<RetentionChange>(R.Approve(s.principal, ctx.params.at("id")), 200, ChangeJson);
  }));
  router.Add("POST", "/v1/retention/changes/{id}/reject", WithSession(auth, [&R](RequestContext& ctx, const AuthenticatedSession& s) {
    auto body = OptionalJsonBody(ctx, {"reason"});
    if (!body.ok()) return Response::Error(body.status());
    auto reason = OptString(*body, "reason");
    if (!reason.ok()) return Response::Error(reason.status());
    return One<RetentionChange>(R.Reject(s.principal, ctx.params.at("id"), reason->value_or("")), 200, ChangeJson);
  }));
  router.Add("GET", "/v1/records/{id}/retention", WithSession(auth, [&R](RequestContext& ctx, const AuthenticatedSession& s) {
    return One<services::Disposition>(R.RecordDisposition(s.principal, domain::RecordId{ctx.params.at("id")}), 200,
                                      DispositionJson);
  }));
  router.Add("PUT", "/v1/records/{id}/retention", WithSession(auth, [&R](RequestContext& ctx, const AuthenticatedSession& s) {
    auto rule = RuleBody(ctx);
    if (!rule.ok()) return Response::Error(rule.status());
    return RuleChange(R.PutRecordRule(s.principal, domain::RecordId{ctx.params.at("id")}, *rule));
  }));
  router.Add("GET", "/v1/disposition/due", WithSession(auth, [&R](RequestContext&, const AuthenticatedSession& s) {
    return Render<std::vector<services::DueRecord>>(R.DispositionDue(s.principal), 200, [](const auto& list) {
      Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
      for (const auto& d : list) {
        Poco::JSON::Object::Ptr o = RecordJson(d.record);
        o->set("retention", DispositionJson(d.disposition));
        arr->add(o);
      }
      Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
      o->set("records", arr);
      return Poco::Dynamic::Var(o);
    });
  }));

  // ---- legal holds
  router.Add("POST", "/v1/holds", WithSession(auth, [&R](RequestContext& ctx, const AuthenticatedSession& s) {
    auto body = JsonBody(ctx);
    if (!body.ok()) return Response::Error(body.status());
    if (auto k = OnlyKeys(*body, {"name", "reason", "caseRef", "recordIds"}); !k.ok()) return Response::Error(k);
    services::HoldInput in;
    auto name = ReqString(*body, "name");
    auto reason = ReqString(*body, "reason");
    auto case_ref = OptString(*body, "caseRef");
    auto ids = StringList(*body, "recordIds", false);
    if (!name.ok()) return Response::Error(name.status());
    if (!reason.ok()) return Response::Error(reason.status());
    if (!case_ref.ok()) return Response::Error(case_ref.status());
    if (!ids.ok()) return Response::Error(ids.status());
    in.name = *name;
    in.reason = *reason;
    in.case_ref = case_ref->value_or("");
    in.record_ids = *ids;
    return One<Hold>(R.CreateHold(s.principal, in), 201, HoldJson);
  }));
  router.Add("GET", "/v1/holds", WithSession(auth, [&R](RequestContext&, const AuthenticatedSession& s) {
    return Many<Hold>(R.Holds(s.principal), "holds", HoldJson);
  }));
  router.Add("GET", "/v1/holds/{id}", WithSession(auth, [&R](RequestContext& ctx, const AuthenticatedSession& s) {
    return One<Hold>(R.GetHold(s.principal, ctx.params.at("id")), 200, HoldJson);
  }));
  router.Add("POST", "/v1/holds/{id}/records", WithSession(auth, [&R](RequestContext& ctx, const AuthenticatedSession& s) {
    auto body = JsonBody(ctx);
    if (!body.ok()) return Response::Error(body.status());
    if (auto k = OnlyKeys(*body, {"recordIds"}); !k.ok()) return Response::Error(k);
    auto ids = StringList(*body, "recordIds", true);
    if (!ids.ok()) return Response::Error(ids.status());
    return One<Hold>(R.AddToHold(s.principal, ctx.params.at("id"), *ids), 200, HoldJson);
  }));
  router.Add("DELETE", "/v1/holds/{id}/records/{recordId}", WithSession(auth, [&R](RequestContext& ctx, const AuthenticatedSession& s) {
    return One<Hold>(R.RemoveFromHold(s.principal, ctx.params.at("id"), ctx.params.at("recordId")), 200, HoldJson);
  }));
  router.Add("POST", "/v1/holds/{id}/release", WithSession(auth, [&R](RequestContext& ctx, const AuthenticatedSession& s) {
    auto body = OptionalJsonBody(ctx, {});
    if (!body.ok()) return Response::Error(body.status());
    return One<Hold>(R.ReleaseHold(s.principal, ctx.params.at("id")), 200, HoldJson);
  }));

  // ---- destruction
  router.Add("POST", "/v1/destructions", WithSession(auth, [&D](RequestContext& ctx, const AuthenticatedSession& s) {
    auto body = JsonBody(ctx);
    if (!body.ok()) return Response::Error(body.status());
    if (auto k = OnlyKeys(*body, {"recordIds", "reason"}); !k.ok()) return Response::Error(k);
    auto ids = StringList(*body, "recordIds", true);
    auto reason = OptString(*body, "reason");
    if (!ids.ok()) return Response::Error(ids.status());
    if (!reason.ok()) return Response::Error(reason.status());
    return One<DestructionBatch>(D.Propose(s.principal, *ids, reason->value_or("")), 201, BatchJson);
  }));
  router.Add("GET", "/v1/destructions", WithSession(auth, [&D](RequestContext&, const AuthenticatedSession& s) {
    return Many<DestructionBatch>(D.List(s.principal), "destructions", BatchJson);
  }));
  router.Add("GET", "/v1/destructions/{id}", WithSession(auth, [&D](RequestContext& ctx, const AuthenticatedSession& s) {
    return One<DestructionBatch>(D.Get(s.principal, ctx.params.at("id")), 200, BatchJson);
  }));
  router.Add("POST", "/v1/destructions/{id}/approve", WithSession(auth, [&D](RequestContext& ctx, const AuthenticatedSession& s) {
    auto body = OptionalJsonBody(ctx, {});
    if (!body.ok()) return Response::Error(body.status());
    return One<DestructionBatch>(D.Approve(s.principal, ctx.params.at("id")), 200, BatchJson);
  }));
  router.Add("POST", "/v1/destructions/{id}/execute", WithSession(auth, [&D](RequestContext& ctx, const AuthenticatedSession& s) {
    auto body = OptionalJsonBody(ctx, {});
    if (!body.ok()) return Response::Error(body.status());
    return One<DestructionBatch>(D.Execute(s.principal, ctx.params.at("id")), 200, BatchJson);
  }));
  router.Add("GET", "/v1/destructions/{id}/certificate", WithSession(auth, [&D](RequestContext& ctx, const AuthenticatedSession& s) {
    auto cert = D.Certificate(s.principal, ctx.params.at("id"));
    if (!cert.ok()) return Response::Error(cert.status());
    return Response::Text(200, *cert);
  }));
}

}  // namespace custos::http
