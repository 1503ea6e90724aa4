#include "server/services/health.h"

namespace custos::services {

void HealthService::AddCheck(std::string name, Check check) {
  checks_.emplace_back(std::move(name), std::move(check));
}

Readiness HealthService::Ready() const {
  Readiness r;
  r.ready = true;
  for (const auto& [name, check] : checks_) {
    Status s = check();
    r.checks.push_back({name, s.ok(), s.ok() ? "" : s.message()});
    r.ready = r.ready && s.ok();
  }
  return r;
}

}  // namespace custos::services
