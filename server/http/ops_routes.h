// Operations endpoints: GET /healthz, GET /readyz, GET /metrics.
#pragma once

#include <functional>

#include "common/metrics.h"
#include "server/http/router.h"
#include "server/services/health.h"

namespace custos::http {

// /healthz: 200 {"status":"ok"} while the process serves.
// /readyz: 200 {"status":"ready","checks":[…]} or 503 {"status":"not_ready",…}
//          (also 503 while `draining()` is true).
// /metrics: Prometheus text exposition of `metrics`.
// The referenced objects must outlive the router.
void AddOperationsRoutes(Router& router, const services::HealthService& health,
                         const MetricsRegistry& metrics, std::function<bool()> draining);

}  // namespace custos::http
