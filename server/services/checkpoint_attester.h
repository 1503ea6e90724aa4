// Witnesses and time-stamping authorities attest the audit log's
// checkpoints (docs/operations.md "Witnesses and timestamps";
// docs/formats/cosignature.md, docs/formats/timestamp.md).
//
// A thread of its own watches for new checkpoints. For each configured
// witness it submits the newest checkpoint with a consistency proof from the
// size that witness last cosigned (C2SP tlog-witness add-checkpoint) and
// stores the cosignature line it returns. At most once per
// `timestamp_interval` (every new checkpoint when 0) it asks each
// time-stamping authority for an RFC 3161 token over the newest checkpoint's
// text and stores it as a line too. The lines ride on the checkpoint as
// served (storage::AttestedNote).
//
// Nothing waits for this: writes and checkpoints go on while a witness or
// an authority is slow or unreachable; the thread retries with a growing
// pause. Outcomes go to
//   * /metrics: custos_attestation_requests_total{party, result},
//     custos_attestation_last_success_timestamp_seconds{party},
//     custos_attestation_lag_entries{party} (log entries the party has not
//     attested yet);
//   * the server log: a warning when a party becomes unreachable, an error
//     when it refuses;
//   * the alert of GET /v1/alerts (AlertFor: auditors, the system
//     administrator and the security auditor) when a witness refuses a
//     checkpoint (it saw a history this one is not consistent with) or
//     knows a larger tree than the log has, or an authority's token does not
//     verify.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/log.h"
#include "common/metrics.h"
#include "domain/model.h"
#include "server/services/clock.h"
#include "server/services/principal.h"
#include "server/services/tsa_client.h"
#include "server/services/witness_client.h"
#include "storage/metadata_store.h"

namespace custos::services {

struct AttesterOptions {
  std::vector<WitnessEndpoint> witnesses;
  std::vector<TsaEndpoint> tsas;
  std::string tsa_ca_pem;  // roots a token must chain to before it is stored; "" = not checked
  std::chrono::seconds timestamp_interval{3600};  // 0: every new checkpoint
  std::chrono::milliseconds poll{1000};           // how often the thread looks for a new checkpoint
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds first_retry{2000};    // pause after a failure, doubling
  std::chrono::milliseconds max_retry{300000};
  bool start_thread = true;                       // false: tests call RunOnce
};

// One problem the alert shows.
struct AttestationProblem {
  domain::Time at;
  std::string party;   // the witness's or the authority's name
  std::string code;    // witness_refused | witness_ahead | timestamp_invalid
  std::string detail;
  uint64_t size = 0;   // the checkpoint concerned
};

struct AttestationAlert {
  uint64_t count = 0;                        // problems since start
  std::vector<AttestationProblem> problems;  // the latest kAlertProblems, newest first
};

class CheckpointAttester {
 public:
  static constexpr size_t kAlertProblems = 20;

  // Registers the metrics and, when there is a party and
  // options.start_thread, starts the thread. Every reference must outlive
  // the attester.
  CheckpointAttester(storage::MetadataStore& store, Clock& clock, Logger& logger, MetricsRegistry& metrics,
                     AttesterOptions options);
  ~CheckpointAttester();
  CheckpointAttester(const CheckpointAttester&) = delete;
  CheckpointAttester& operator=(const CheckpointAttester&) = delete;

  // One round now, in the caller's thread: each party that is due gets the
  // newest checkpoint. Rounds never overlap.
  void RunOnce();
  // Wakes the thread (a new checkpoint was signed).
  void Notify();

  // For auditors, the system administrator and the security auditor;
  // nullopt for other roles and while there has been no problem.
  std::optional<AttestationAlert> AlertFor(const Principal& who) const;

 private:
  struct PartyState {
    uint64_t done_size = 0;        // the newest size it attested (this run or stored)
    uint64_t known_size = 0;       // a witness's size from a 409 answer
    std::optional<std::chrono::steady_clock::time_point> retry_at;
    std::chrono::milliseconds pause{0};
    bool reachable = true;
    double last_success = 0;       // unix seconds
    std::optional<std::chrono::steady_clock::time_point> last_stamp;  // authorities only
  };

  void Run();
  void Witness(const WitnessEndpoint& w, const storage::StoredCheckpoint& cp);
  void Timestamp(const TsaEndpoint& t, const storage::StoredCheckpoint& cp);
  Status Store(const std::string& name, const char* kind, uint64_t size, const std::string& line);
  void Failed(const std::string& party, PartyState& st, const std::string& result, const std::string& detail);
  void Problem(const std::string& party, const std::string& code, const std::string& detail, uint64_t size,
               PartyState& st);
  void Succeeded(const std::string& party, PartyState& st, uint64_t size, const std::string& result);
  bool Due(const PartyState& st) const;

  storage::MetadataStore& store_;
  Clock& clock_;
  Logger& logger_;
  const AttesterOptions options_;
  Counter& requests_;

  std::mutex round_mu_;                       // held for a whole round
  std::map<std::string, PartyState> states_;  // GUARDED_BY(round_mu_); by party name
  bool loaded_ = false;                       // GUARDED_BY(round_mu_)

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                     // GUARDED_BY(mu_)
  bool notified_ = false;                     // GUARDED_BY(mu_)
  uint64_t log_size_ = 0;                     // GUARDED_BY(mu_); newest checkpoint seen
  std::map<std::string, std::pair<uint64_t, double>> published_;  // GUARDED_BY(mu_); done size, last success
  uint64_t problem_count_ = 0;                // GUARDED_BY(mu_)
  std::vector<AttestationProblem> problems_;  // GUARDED_BY(mu_); newest first
  std::thread thread_;
};

// The text a checkpoint's signatures cover: the note up to and including
// the LF before its blank line.
std::string CheckpointText(const std::string& signed_note);

}  // namespace custos::services
