#include "server/http/evidence_routes.h"

#include <memory>
#include <ostream>

#include "server/http/route_util.h"

namespace custos::http {

namespace {

// Writes a bundle to the response stream.
class OstreamSink final : public ByteSink {
 public:
  explicit OstreamSink(std::ostream& out) : out_(out) {}
  Status Write(const uint8_t* p, size_t n) override {
    out_.write(reinterpret_cast<const char*>(p), static_cast<std::streamsize>(n));
    return out_ ? Status::Ok() : Internal("client went away");
  }

 private:
  std::ostream& out_;
};

// The bundle is decided and its read logged before the answer starts;
// then it streams (chunked), the originals read as they are written.
Response Evidence(services::EvidenceService& evidence, RequestContext& ctx, const services::AuthenticatedSession& s) {
  auto prepared = evidence.Prepare(&s.principal, domain::RecordId{ctx.params.at("id")});
  if (!prepared.ok()) return Response::Error(prepared.status());
  std::shared_ptr<services::PreparedEvidence> bundle = std::move(prepared).value();
  Response r;
  r.content_type = "application/zip";
  r.headers.emplace_back("Content-Disposition", ContentDisposition("evidence-" + ctx.params.at("id") + ".zip"));
  r.headers.emplace_back("Cache-Control", "no-store");
  if (std::optional<uint64_t> index = services::EvidenceLogIndex(*bundle)) {
    r.headers.emplace_back("X-Custos-Log-Index", std::to_string(*index));
  }
  r.stream = [&evidence, bundle](std::ostream& out) -> Status {
    OstreamSink sink(out);
    return evidence.WriteTo(*bundle, sink).status();
  };
  return r;
}

}  // namespace

void AddEvidenceRoutes(Router& router, services::AuthService& auth, services::EvidenceService& evidence) {
  AddSignedInRoutes<services::EvidenceService>(router, auth, evidence, {
      {"GET", "/v1/records/{id}/evidence", Evidence},
  });
}

}  // namespace custos::http
