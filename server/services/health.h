// Liveness and readiness of the server, independent of HTTP.
//
// Liveness: the process is up and serving (always true when asked).
// Readiness: the server can do useful work: the data directory is writable
// and every registered dependency check passes. Later components (metadata
// store, audit log) register their own checks. An advisory check is
// reported like the others but does not decide readiness (e.g. "signing":
// a restored archive that signs nothing still serves reads).
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

  // Registers a named dependency check (start-up only); a failing check
  // makes the server not ready unless `advisory`.
  void AddCheck(std::string name, Check check, bool advisory = false);

  // Runs every check; ready only if all but the advisory ones pass.
  Readiness Ready() const;

 private:
  struct Entry {
    std::string name;
    Check check;
    bool advisory = false;
  };
  std::vector<Entry> checks_;
};

}  // namespace custos::services
