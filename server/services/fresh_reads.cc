#include "server/services/fresh_reads.h"

#include <utility>

namespace custos::services {

FreshReadLog::FreshReadLog(MetricsRegistry& metrics)
    : reads_(metrics.AddCounter("custos_fresh_account_reads_total",
                                "Content reads by accounts within auth.fresh_account_days of their set-up, "
                                "reset or role grant")) {}

void FreshReadLog::Add(FreshRead read) {
  reads_.Inc();
  std::lock_guard<std::mutex> lock(mu_);
  ++total_;
  kept_.push_front(std::move(read));
  if (kept_.size() > kKept) kept_.pop_back();
}

std::vector<FreshRead> FreshReadLog::FreshReads(const Principal& who) const {
  if (who.role != domain::Role::kSecurityAuditor) return {};
  std::lock_guard<std::mutex> lock(mu_);
  return std::vector<FreshRead>(kept_.begin(), kept_.end());
}

uint64_t FreshReadLog::Total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

}  // namespace custos::services
