// Verification that runs by itself (DESIGN §7; docs/operations.md,
// "Scheduled verification").
//
// A thread of its own runs the same checks as `custosctl verify` every
// `interval`; the first pass begins one interval after start, or after
// kFirstPassAtMost when the interval is longer. A pass is *full* (every
// blob decrypted) when no full pass began within `full_interval` (so the
// first pass after each start is full); the passes between are
// *incremental*: they decrypt only the blobs of versions logged since the
// last clean pass (storage::VerifyOptions::content_from), and check
// everything else in full. A pass with findings does not move that mark.
//
// Each pass's outcome goes to
//   * /metrics: custos_verify_last_success_timestamp_seconds (end of the
//     last pass with no finding; 0 before the first),
//     custos_verify_last_run_timestamp_seconds, custos_verify_findings (of
//     the latest pass), custos_verify_runs_total{result="clean"|"findings"|
//     "failed"}, custos_verify_duration_seconds (of the latest pass);
//   * one structured server log line, "scheduled verification", info when
//     clean, error otherwise, naming up to kLoggedFindings findings;
//   * the alert GET /v1/alerts shows auditors, the system administrator and
//     the security auditor (AlertFor).
// A verifier that cannot run (it returns an error, or throws) is itself a
// finding, code "verifier_failed": counted, logged and alerted; the thread
// goes on to the next pass and the server keeps serving.
//
// A scheduled pass writes nothing to the archive: a report that is kept and
// logged is POST /v1/audit/verify (audit_service.h).
//
// Thread safety: safe for concurrent use; AlertFor may be called from any
// thread while a pass runs.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/log.h"
#include "common/metrics.h"
#include "domain/model.h"
#include "server/services/clock.h"
#include "server/services/principal.h"
#include "storage/verifier.h"

namespace custos::services {

// Runs one verification; `content_from` and `stop` as storage::VerifyOptions
// (0: read every blob). Errors mean the verification could not run, or was
// stopped ("verify_stopped").
using IncrementalVerifyFn = std::function<StatusOr<storage::VerifyReport>(
    uint64_t content_from, const std::function<bool()>& stop)>;

struct VerifyScheduleOptions {
  std::chrono::seconds interval = std::chrono::hours(24);  // 0: never (no thread)
  std::chrono::seconds full_interval = std::chrono::hours(24 * 7);
};

// The outcome of the latest scheduled pass, as an alert.
struct VerificationAlert {
  domain::Time finished_at;
  bool full = false;            // every blob read
  uint64_t log_size = 0;        // log entries the pass covered
  uint64_t finding_count = 0;   // all findings of the pass
  std::vector<storage::Finding> findings;  // the first kAlertFindings of them
  std::optional<domain::Time> last_success;  // end of the last clean pass
};

// What the home page shows of scheduled verification (home_service.h):
// whether a pass is running now and the latest pass that finished, clean
// or not.
struct VerificationState {
  bool running = false;
  std::optional<VerificationAlert> latest;  // nullopt before the first pass
};

class VerifySchedule {
 public:
  static constexpr std::chrono::seconds kFirstPassAtMost = std::chrono::minutes(10);
  static constexpr size_t kAlertFindings = 20;
  static constexpr size_t kLoggedFindings = 5;

  // Registers the metrics above in `metrics` and, unless options.interval
  // is 0, starts the thread. Every reference must outlive the schedule.
  VerifySchedule(IncrementalVerifyFn verify, Clock& clock, Logger& logger, MetricsRegistry& metrics,
                 VerifyScheduleOptions options);
  // Stops the thread; a pass in progress stops at its next batch (and is
  // neither counted nor alerted).
  ~VerifySchedule();
  VerifySchedule(const VerifySchedule&) = delete;
  VerifySchedule& operator=(const VerifySchedule&) = delete;

  // The latest pass that found something (or could not run), for auditors,
  // the system administrator and the security auditor (not the security
  // officer); nullopt for other roles, before the first pass and while
  // the latest pass is clean.
  std::optional<VerificationAlert> AlertFor(const Principal& who) const;
  // For the roles AlertFor serves: the running flag and the latest pass,
  // clean ones included; nullopt for every other role.
  std::optional<VerificationState> StateFor(const Principal& who) const;

  // Runs one pass now, in the caller's thread (the schedule's thread calls
  // this; so may tests). Passes never overlap.
  void RunOnce();

 private:
  void Run();
  // Runs the verifier, turning an error or an exception into a report with
  // one "verifier_failed" finding; `failed` says which it was. nullopt when
  // the pass was stopped because the schedule is ending.
  std::optional<storage::VerifyReport> Attempt(uint64_t content_from, bool& failed);
  bool Stopping() const;
  void SetRunning(bool running);
  void Publish(const storage::VerifyReport& report, bool full, bool failed, double seconds);

  IncrementalVerifyFn verify_;
  Clock& clock_;
  Logger& logger_;
  const VerifyScheduleOptions options_;
  Gauge& last_success_;
  Gauge& last_run_;
  Gauge& findings_;
  Gauge& duration_;
  Counter& runs_;

  std::mutex pass_mu_;  // held for a whole pass: passes never overlap
  // GUARDED_BY(pass_mu_):
  uint64_t content_from_ = 0;  // log size of the last clean pass
  std::optional<std::chrono::steady_clock::time_point> last_full_start_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                        // GUARDED_BY(mu_)
  bool running_ = false;                         // GUARDED_BY(mu_); a pass is under way
  std::optional<VerificationAlert> latest_;      // GUARDED_BY(mu_); the latest pass
  std::optional<domain::Time> last_success_at_;  // GUARDED_BY(mu_)
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace custos::services
