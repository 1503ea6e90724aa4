// Liveness and readiness of the server, independent of HTTP.
//
// Liveness: the process is up and serving (always true when asked).
// Readiness: the server can do useful work: the data directory is writable
// and every registered dependency check passes. Later components (metadata
// store, audit log) register their own checks.
//
// Thread safety: AddCheck() is called during start-up only; Ready() may be
// called from any thread afterwards.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/status.h"

namespace custos::services {

struct ReadinessCheck {
  std::string name;
  bool ok = false;
  std::string detail;  // empty when ok
};

struct Readiness {
  bool ready = false;
  std::vector<ReadinessCheck> checks;
};

class HealthService {
 public:
  using Check = std::function<Status()>;

  // Registers a named dependency check (start-up only).
  void AddCheck(std::string name, Check check);

  // Runs every check; ready only if all pass.
  Readiness Ready() const;

 private:
  std::vector<std::pair<std::string, Check>> checks_;
};

}  // namespace custos::services
