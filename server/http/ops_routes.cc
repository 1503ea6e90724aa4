#include "server/http/ops_routes.h"

#include "common/log.h"

namespace custos::http {

namespace {

std::string ReadinessJson(const services::Readiness& r, bool draining) {
  std::string out = "{\"status\":";
  out += (r.ready && !draining) ? "\"ready\"" : "\"not_ready\"";
  out += ",\"draining\":";
  out += draining ? "true" : "false";
  out += ",\"checks\":[";
  for (size_t i = 0; i < r.checks.size(); ++i) {
    const auto& c = r.checks[i];
    if (i) out += ",";
    out += "{\"name\":";
    AppendJsonString(out, c.name);
    out += ",\"ok\":";
    out += c.ok ? "true" : "false";
    if (!c.ok) {
      out += ",\"detail\":";
      AppendJsonString(out, c.detail);
    }
    out += "}";
  }
  out += "]}";
  return out;
}

}  // namespace

void AddOperationsRoutes(Router& router, const services::HealthService& health,
                         const MetricsRegistry& metrics, std::function<bool()> draining) {
  router.Add("GET", "/healthz", [](RequestContext&) {
    return Response::Json(200, "{\"status\":\"ok\"}");
  });
  router.Add("GET", "/readyz", [&health, draining](RequestContext&) {
    services::Readiness r = health.Ready();
    bool d = draining();
    return Response::Json(r.ready && !d ? 200 : 503, ReadinessJson(r, d));
  });
  router.Add("GET", "/metrics", [&metrics](RequestContext&) {
    return Response::Text(200, metrics.Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
}

}  // namespace custos::http
