// Rows whose seal failed (storage/row_seal.h), made loud: custosd sets this
// monitor as the process's row integrity observer, so every refused row is
//   * counted in /metrics: custos_row_integrity_failures_total{table="…"};
//   * one structured server log line, "row integrity failure", error, with
//     the table and the row's key (never its values);
//   * the alert GET /v1/alerts shows auditors, the system administrator and
//     the security auditor (AlertFor), naming the latest kAlertRows rows.
// docs/operations.md "Row integrity alert".
//
// Thread safety: Report and AlertFor may be called from any thread.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/metrics.h"
#include "domain/model.h"
#include "server/services/clock.h"
#include "server/services/principal.h"

namespace custos::services {

struct RowIntegrityFailure {
  std::string table;
  std::string key;
  domain::Time at;
};

// Every failure since start, as an alert.
struct RowIntegrityAlert {
  uint64_t count = 0;                     // failures since start
  std::vector<RowIntegrityFailure> rows;  // the latest kAlertRows, newest first
};

class RowIntegrityMonitor {
 public:
  static constexpr size_t kAlertRows = 20;

  // Registers the counter in `metrics`. Every reference must outlive the
  // monitor.
  RowIntegrityMonitor(Clock& clock, Logger& logger, MetricsRegistry& metrics);

  // One row of `table` with key `key` failed its seal.
  void Report(const std::string& table, const std::string& key);

  // The failures for auditors, the system administrator and the security
  // auditor (not the security officer); nullopt for other roles and while
  // there has been none.
  std::optional<RowIntegrityAlert> AlertFor(const Principal& who) const;

 private:
  Clock& clock_;
  Logger& logger_;
  Counter& failures_;

  mutable std::mutex mu_;
  uint64_t count_ = 0;                      // GUARDED_BY(mu_)
  std::deque<RowIntegrityFailure> latest_;  // GUARDED_BY(mu_); newest first
};

}  // namespace custos::services
