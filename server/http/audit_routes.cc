#include "server/http/audit_routes.h"

#include <Poco/JSON/Array.h>

#include <memory>
#include <vector>

#include "server/http/json_codec.h"
#include "server/http/route_util.h"
#include "domain/canonical_json.h"

namespace custos::http {

using services::AuditJob;
using services::AuthenticatedSession;

namespace {


StatusOr<services::ExportRequest> DecodeExport(RequestContext& ctx) {
  CUSTOS_ASSIGN_OR_RETURN(Poco::JSON::Object::Ptr o, JsonBody(ctx));
  CUSTOS_RETURN_IF_ERROR(OnlyKeys(o, {"recordIds", "query", "includeContent", "format"}));
  services::ExportRequest r;
  CUSTOS_ASSIGN_OR_RETURN(r.record_ids, StringList(o, "recordIds", false));
  CUSTOS_ASSIGN_OR_RETURN(Poco::JSON::Object::Ptr q, OptObject(o, "query"));
  if (q) {
    CUSTOS_RETURN_IF_ERROR(OnlyKeys(q, {"q", "type", "department", "classification", "state"}));
    domain::RecordQuery query;
    CUSTOS_ASSIGN_OR_RETURN(auto text, OptString(q, "q"));
    query.text = text.value_or("");
    CUSTOS_ASSIGN_OR_RETURN(auto type, OptString(q, "type"));
    if (type) {
      CUSTOS_ASSIGN_OR_RETURN(auto t, domain::ParseRecordType(*type));
      query.type = t;
    }
    CUSTOS_ASSIGN_OR_RETURN(auto department, OptString(q, "department"));
    query.department = department.value_or("");
    CUSTOS_ASSIGN_OR_RETURN(auto cls, OptString(q, "classification"));
    if (cls) {
      CUSTOS_ASSIGN_OR_RETURN(auto c, domain::ParseClassification(*cls));
      query.classification = c;
    }
    CUSTOS_ASSIGN_OR_RETURN(auto state, OptString(q, "state"));
    if (state) {
      CUSTOS_ASSIGN_OR_RETURN(auto s, domain::ParseRecordState(*state));
      query.state = s;
    }
    r.query = query;
  }
  CUSTOS_ASSIGN_OR_RETURN(auto include, OptBool(o, "includeContent"));
  r.include_content = include.value_or(true);
  CUSTOS_ASSIGN_OR_RETURN(auto format, OptString(o, "format"));
  if (format) {
    CUSTOS_ASSIGN_OR_RETURN(r.format, services::ParsePackageFormat(*format));
  }
  return r;
}

using services::AuditService;

// The package of a finished export job, streamed from its encrypted blob.
Response PackageDownload(std::shared_ptr<services::ExportDownload> download) {
  const AuditJob& j = download->job;
  Response r;
  r.status = 200;
  r.content_type = j.format == services::PackageFormat::kZip ? "application/zip" : "application/gzip";
  const std::string name = (j.summary ? j.summary->name : j.id) + std::string(services::Extension(j.format));
  r.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + name + "\"");
  r.headers.emplace_back("Cache-Control", "no-store");
  r.headers.emplace_back("X-Custos-Withheld-Files",
                         std::to_string(j.summary ? j.summary->withheld.size() : 0));
  r.stream_length = download->size;
  r.stream = [download](std::ostream& out) -> Status {
    std::vector<uint8_t> buf(64 * 1024);
    uint64_t sent = 0;
    for (;;) {
      CUSTOS_ASSIGN_OR_RETURN(size_t got, download->stream->Read(buf.data(), buf.size()));
      if (got == 0) break;
      out.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(got));
      if (!out) return Internal("client went away");
      sent += got;
    }
    return sent == download->size ? Status::Ok() : DataLoss("package ended early", "content_truncated");
  };
  return r;
}

// ---- handlers

Response StartVerify(AuditService& audit, RequestContext& ctx, const AuthenticatedSession& s) {
  if (auto body = ctx.ReadSmallBody(); !body.ok()) return Response::Error(body.status());
  return RenderOne(audit.StartVerify(s.principal), 202, JobJson);
}

Response GetVerify(AuditService& audit, RequestContext& ctx, const AuthenticatedSession& s) {
  return RenderOne(audit.GetVerify(s.principal, ctx.params.at("id")), 200, JobJson);
}

Response StartExport(AuditService& audit, RequestContext& ctx, const AuthenticatedSession& s) {
  auto request = DecodeExport(ctx);
  if (!request.ok()) return Response::Error(request.status());
  return RenderOne(audit.StartExport(s.principal, *request), 202, JobJson);
}

Response GetExportJob(AuditService& audit, RequestContext& ctx, const AuthenticatedSession& s) {
  return RenderOne(audit.GetExport(s.principal, ctx.params.at("id")), 200, JobJson);
}

// The package once the job is done; the job (202) while it is queued or
// running.
Response DownloadExport(AuditService& audit, RequestContext& ctx, const AuthenticatedSession& s) {
  auto job = audit.GetExport(s.principal, ctx.params.at("id"));
  if (!job.ok()) return Response::Error(job.status());
  if (services::IsActive(*job)) return JsonOk(202, JobJson(*job));
  auto opened = audit.OpenExport(s.principal, ctx.params.at("id"));
  if (!opened.ok()) return Response::Error(opened.status());
  return PackageDownload(std::make_shared<services::ExportDownload>(std::move(opened).value()));
}

}  // namespace

void AddAuditRoutes(Router& router, services::AuthService& auth, AuditService& audit) {
  AddSignedInRoutes<AuditService>(router, auth, audit, {
      {"POST", "/v1/audit/verify", StartVerify},
      {"GET", "/v1/audit/verify/{id}", GetVerify},
      {"POST", "/v1/exports", StartExport},
      {"GET", "/v1/exports/{id}/job", GetExportJob},
      {"GET", "/v1/exports/{id}", DownloadExport},
  });
}

}  // namespace custos::http
