#include "server/services/row_integrity.h"

namespace custos::services {

RowIntegrityMonitor::RowIntegrityMonitor(Clock& clock, Logger& logger, MetricsRegistry& metrics)
    : clock_(clock),
      logger_(logger),
      failures_(metrics.AddCounter("custos_row_integrity_failures_total",
                                   "Rows refused because their seal does not verify", {"table"})) {}

void RowIntegrityMonitor::Report(const std::string& table, const std::string& key) {
  failures_.Inc({table});
  logger_.Error("row integrity failure", {{"table", table}, {"key", key}});
  std::lock_guard<std::mutex> lock(mu_);
  ++count_;
  latest_.push_front({table, key, clock_.Now()});
  if (latest_.size() > kAlertRows) latest_.pop_back();
}

std::optional<RowIntegrityAlert> RowIntegrityMonitor::AlertFor(const Principal& who) const {
  if (who.role != domain::Role::kAuditor && who.role != domain::Role::kSysAdmin &&
      who.role != domain::Role::kSecurityAuditor) {
    return std::nullopt;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (count_ == 0) return std::nullopt;
  return RowIntegrityAlert{count_, std::vector<RowIntegrityFailure>(latest_.begin(), latest_.end())};
}

}  // namespace custos::services
