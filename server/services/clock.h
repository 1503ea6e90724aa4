// Time as the services see it: injected, so tests control it.
// Thread safety: SystemClock is stateless; ManualClock guards its instant.
#pragma once

#include <chrono>
#include <mutex>

#include "domain/model.h"

namespace custos::services {

using domain::Time;

class Clock {
 public:
  virtual ~Clock() = default;
  // Now, truncated to milliseconds (what the stores keep).
  virtual Time Now() = 0;
};

class SystemClock final : public Clock {
 public:
  Time Now() override { return domain::TruncateToMillis(std::chrono::system_clock::now()); }
};

// A clock that moves only when told to (tests).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Time start) : now_(domain::TruncateToMillis(start)) {}
  Time Now() override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void Advance(std::chrono::milliseconds d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }
  void Set(Time t) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ = domain::TruncateToMillis(t);
  }

 private:
  std::mutex mu_;
  Time now_;  // GUARDED_BY(mu_)
};

}  // namespace custos::services
