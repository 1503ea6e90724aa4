// Content read by fresh accounts (docs/security.md "Fresh accounts"): an
// account that set its password with a set-up code, was reset or was
// granted its role less than auth.fresh_account_days ago
// (account_policy.h IsFreshAccount) may be one somebody else took over, so
// each of its content reads is made visible to the security auditor:
//   * the read's `content.read` event carries details "freshAccount": true
//     (RecordService::OpenContent, in the transaction that logs the read);
//   * it is counted in /metrics: custos_fresh_account_reads_total;
//   * the newest kKept such reads are kept in memory for the alert
//     GET /v1/alerts shows the security auditor as "freshAccountReads"
//     (FreshReads). They are not kept across a restart: the log holds every
//     one of them for good.
//
// Thread safety: Add and FreshReads may be called from any thread.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "domain/model.h"
#include "server/services/principal.h"

namespace custos::services {

// One content read by a fresh account.
struct FreshRead {
  std::string username;
  domain::Role role = domain::Role::kStaff;
  domain::RecordId record_id;
  int version = 0;
  domain::FileId file_id;
  domain::Time at;                // when the content was read
  domain::Time account_since;     // the newest of the account's set-up, reset and role grant
  uint64_t log_index = 0;         // the read's content.read entry
};

class FreshReadLog {
 public:
  static constexpr size_t kKept = 100;

  // Registers custos_fresh_account_reads_total in `metrics`, which must
  // outlive the log.
  explicit FreshReadLog(MetricsRegistry& metrics);

  FreshReadLog(const FreshReadLog&) = delete;
  FreshReadLog& operator=(const FreshReadLog&) = delete;

  // One committed read by a fresh account: counted, and kept (the oldest
  // kept read is dropped beyond kKept).
  void Add(FreshRead read);

  // The kept reads, newest first, for the security auditor; empty for every
  // other role (the system administrator and the security officer included:
  // the reads may be theirs to explain).
  std::vector<FreshRead> FreshReads(const Principal& who) const;

  // Reads added since start (the counter's value).
  uint64_t Total() const;

 private:
  Counter& reads_;
  mutable std::mutex mu_;
  std::deque<FreshRead> kept_;  // GUARDED_BY(mu_); newest first, at most kKept
  uint64_t total_ = 0;          // GUARDED_BY(mu_)
};

}  // namespace custos::services
