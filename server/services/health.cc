#include "server/services/health.h"

namespace custos::services {

void HealthService::AddCheck(std::string name, Check check, bool advisory) {
  checks_.push_back({std::move(name), std::move(check), advisory});
}

Readiness HealthService::Ready() const {
  Readiness r;
  r.ready = true;
  for (const Entry& e : checks_) {
    Status s = e.check();
    r.checks.push_back({e.name, s.ok(), s.ok() ? "" : s.message()});
    r.ready = r.ready && (s.ok() || e.advisory);
  }
  return r;
}

}  // namespace custos::services
