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

Poco::JSON::Object::Ptr DueRecordJson(const services::DueRecord& d) {
  Poco::JSON::Object::Ptr o = RecordJson(d.record);
  o->set("retention", DispositionJson(d.disposition));
  return o;
}

StatusOr<services::HoldInput> DecodeHoldInput(const Poco::JSON::Object::Ptr& body) {
  CUSTOS_RETURN_IF_ERROR(OnlyKeys(body, {"name", "reason", "caseRef", "recordIds"}));
  services::HoldInput in;
  CUSTOS_ASSIGN_OR_RETURN(in.name, ReqString(body, "name"));
  CUSTOS_ASSIGN_OR_RETURN(in.reason, ReqString(body, "reason"));
  CUSTOS_ASSIGN_OR_RETURN(auto case_ref, OptString(body, "caseRef"));
  CUSTOS_ASSIGN_OR_RETURN(in.record_ids, StringList(body, "recordIds", false));
  in.case_ref = case_ref.value_or("");
  return in;
}

// The record ids of a request to add records to a hold ({"recordIds":[…]}).
StatusOr<std::vector<std::string>> DecodeRecordIds(RequestContext& ctx) {
  CUSTOS_ASSIGN_OR_RETURN(Poco::JSON::Object::Ptr body, JsonBody(ctx));
  CUSTOS_RETURN_IF_ERROR(OnlyKeys(body, {"recordIds"}));
  return StringList(body, "recordIds", true);
}

struct ProposalInput {
  std::vector<std::string> record_ids;
  std::string reason;
};

StatusOr<ProposalInput> DecodeProposal(RequestContext& ctx) {
  CUSTOS_ASSIGN_OR_RETURN(Poco::JSON::Object::Ptr body, JsonBody(ctx));
  CUSTOS_RETURN_IF_ERROR(OnlyKeys(body, {"recordIds", "reason"}));
  ProposalInput in;
  CUSTOS_ASSIGN_OR_RETURN(in.record_ids, StringList(body, "recordIds", true));
  CUSTOS_ASSIGN_OR_RETURN(auto reason, OptString(body, "reason"));
  in.reason = reason.value_or("");
  return in;
}

const std::string& IdParam(const RequestContext& ctx) { return ctx.params.at("id"); }
domain::RecordId RecordIdParam(const RequestContext& ctx) { return domain::RecordId{ctx.params.at("id")}; }

// ---- handlers: schedules, changes and per-record rules

using services::RetentionService;
using services::DestructionService;

Response ListSchedules(RetentionService& r, RequestContext&, const AuthenticatedSession& s) {
  return RenderList(r.Schedules(s.principal), "schedules", ScheduleJson);
}

Response PutSchedule(RetentionService& r, RequestContext& ctx, const AuthenticatedSession& s) {
  auto rule = RuleBody(ctx);
  if (!rule.ok()) return Response::Error(rule.status());
  return RuleChange(r.PutSchedule(s.principal, ctx.params.at("type"), *rule));
}

Response ListChanges(RetentionService& r, RequestContext& ctx, const AuthenticatedSession& s) {
  return RenderList(r.Changes(s.principal, ctx.Query("state").value_or("")), "changes", ChangeJson);
}

Response ApproveChange(RetentionService& r, RequestContext& ctx, const AuthenticatedSession& s) {
  if (auto body = OptionalJsonBody(ctx, {}); !body.ok()) return Response::Error(body.status());
  return RenderOne(r.Approve(s.principal, IdParam(ctx)), 200, ChangeJson);
}

Response RejectChange(RetentionService& r, RequestContext& ctx, const AuthenticatedSession& s) {
  auto reason = ReasonBody(ctx);
  if (!reason.ok()) return Response::Error(reason.status());
  return RenderOne(r.Reject(s.principal, IdParam(ctx), *reason), 200, ChangeJson);
}

Response GetRecordRetention(RetentionService& r, RequestContext& ctx, const AuthenticatedSession& s) {
  return RenderOne(r.RecordDisposition(s.principal, RecordIdParam(ctx)), 200, DispositionJson);
}

Response PutRecordRetention(RetentionService& r, RequestContext& ctx, const AuthenticatedSession& s) {
  auto rule = RuleBody(ctx);
  if (!rule.ok()) return Response::Error(rule.status());
  return RuleChange(r.PutRecordRule(s.principal, RecordIdParam(ctx), *rule));
}

Response DispositionDue(RetentionService& r, RequestContext&, const AuthenticatedSession& s) {
  return RenderList(r.DispositionDue(s.principal), "records", DueRecordJson);
}

// ---- handlers: legal holds

Response CreateHold(RetentionService& r, RequestContext& ctx, const AuthenticatedSession& s) {
  auto body = JsonBody(ctx);
  if (!body.ok()) return Response::Error(body.status());
  auto input = DecodeHoldInput(*body);
  if (!input.ok()) return Response::Error(input.status());
  return RenderOne(r.CreateHold(s.principal, *input), 201, HoldJson);
}

Response ListHolds(RetentionService& r, RequestContext&, const AuthenticatedSession& s) {
  return RenderList(r.Holds(s.principal), "holds", HoldJson);
}

Response GetHold(RetentionService& r, RequestContext& ctx, const AuthenticatedSession& s) {
  return RenderOne(r.GetHold(s.principal, IdParam(ctx)), 200, HoldJson);
}

Response AddToHold(RetentionService& r, RequestContext& ctx, const AuthenticatedSession& s) {
  auto ids = DecodeRecordIds(ctx);
  if (!ids.ok()) return Response::Error(ids.status());
  return RenderOne(r.AddToHold(s.principal, IdParam(ctx), *ids), 200, HoldJson);
}

Response RemoveFromHold(RetentionService& r, RequestContext& ctx, const AuthenticatedSession& s) {
  return RenderOne(r.RemoveFromHold(s.principal, IdParam(ctx), ctx.params.at("recordId")), 200, HoldJson);
}

Response ReleaseHold(RetentionService& r, RequestContext& ctx, const AuthenticatedSession& s) {
  if (auto body = OptionalJsonBody(ctx, {}); !body.ok()) return Response::Error(body.status());
  return RenderOne(r.ReleaseHold(s.principal, IdParam(ctx)), 200, HoldJson);
}

// ---- handlers: destruction batches

Response ProposeDestruction(DestructionService& d, RequestContext& ctx, const AuthenticatedSession& s) {
  auto in = DecodeProposal(ctx);
  if (!in.ok()) return Response::Error(in.status());
  return RenderOne(d.Propose(s.principal, in->record_ids, in->reason), 201, BatchJson);
}

Response ListDestructions(DestructionService& d, RequestContext&, const AuthenticatedSession& s) {
  return RenderList(d.List(s.principal), "destructions", BatchJson);
}

Response GetDestruction(DestructionService& d, RequestContext& ctx, const AuthenticatedSession& s) {
  return RenderOne(d.Get(s.principal, IdParam(ctx)), 200, BatchJson);
}

Response ApproveDestruction(DestructionService& d, RequestContext& ctx, const AuthenticatedSession& s) {
  if (auto body = OptionalJsonBody(ctx, {}); !body.ok()) return Response::Error(body.status());
  return RenderOne(d.Approve(s.principal, IdParam(ctx)), 200, BatchJson);
}

Response ExecuteDestruction(DestructionService& d, RequestContext& ctx, const AuthenticatedSession& s) {
  if (auto body = OptionalJsonBody(ctx, {}); !body.ok()) return Response::Error(body.status());
  return RenderOne(d.Execute(s.principal, IdParam(ctx)), 200, BatchJson);
}

Response DestructionCertificate(DestructionService& d, RequestContext& ctx, const AuthenticatedSession& s) {
  auto cert = d.Certificate(s.principal, IdParam(ctx));
  if (!cert.ok()) return Response::Error(cert.status());
  return Response::Text(200, *cert);
}

}  // namespace

void AddRetentionRoutes(Router& router, services::AuthService& auth,
                        services::RetentionService& retention,
                        services::DestructionService& destruction) {
  AddSignedInRoutes<RetentionService>(router, auth, retention, {
      {"GET", "/v1/retention/schedules", ListSchedules},
      {"PUT", "/v1/retention/schedules/{type}", PutSchedule},
      {"GET", "/v1/retention/changes", ListChanges},
      {"POST", "/v1/retention/changes/{id}/approve", ApproveChange},
      {"POST", "/v1/retention/changes/{id}/reject", RejectChange},
      {"GET", "/v1/records/{id}/retention", GetRecordRetention},
      {"PUT", "/v1/records/{id}/retention", PutRecordRetention},
      {"GET", "/v1/disposition/due", DispositionDue},
      {"POST", "/v1/holds", CreateHold},
      {"GET", "/v1/holds", ListHolds},
      {"GET", "/v1/holds/{id}", GetHold},
      {"POST", "/v1/holds/{id}/records", AddToHold},
      {"DELETE", "/v1/holds/{id}/records/{recordId}", RemoveFromHold},
      {"POST", "/v1/holds/{id}/release", ReleaseHold},
  });
  AddSignedInRoutes<DestructionService>(router, auth, destruction, {
      {"POST", "/v1/destructions", ProposeDestruction},
      {"GET", "/v1/destructions", ListDestructions},
      {"GET", "/v1/destructions/{id}", GetDestruction},
      {"POST", "/v1/destructions/{id}/approve", ApproveDestruction},
      {"POST", "/v1/destructions/{id}/execute", ExecuteDestruction},
      {"GET", "/v1/destructions/{id}/certificate", DestructionCertificate},
  });
}

}  // namespace custos::http
