// The crash harness's workload (docs/crashtest.md): several client threads
// drive a mixed, seeded stream of check-ins, new versions, content reads,
// loans and destruction batches against one custosd, recording in a
// WorkerLedger every operation they sent and every acknowledgement they
// received; a poller keeps the last signed checkpoint it saw.
//
// Usage: Start(), let it run, MarkCrashed() immediately before killing the
// server, then Join(). A call that fails after MarkCrashed() counts as in
// flight at the crash; any failure or refusal before it is an error of the
// trial. Each worker checks in its own records and only ever acts on those,
// so workers never contend for a record and every answer is predictable.
//
// Thread safety: Start, MarkCrashed and Join are called from one thread.
// ledgers() and checkpoint() may be read only after Join().
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/crash/harness_common.h"

namespace custos::crash {

struct WorkloadOptions {
  int threads = 6;
  uint64_t seed = 1;
  std::string tag;  // prefix of titles and notes, unique per trial
};

class Workload {
 public:
  Workload(int port, std::string ca_file, const Tokens& tokens, WorkloadOptions options);
  ~Workload();  // joins the threads (after marking the crash) if still running
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  void Start();
  void MarkCrashed() { crashed_.store(true); }
  void Join();

  const std::vector<WorkerLedger>& ledgers() const { return ledgers_; }
  const SeenCheckpoint& checkpoint() const { return checkpoint_; }

 private:
  void PollCheckpoints();

  int port_;
  std::string ca_file_;
  const Tokens& tokens_;
  WorkloadOptions options_;
  std::atomic<bool> crashed_{false};
  std::vector<WorkerLedger> ledgers_;  // ledgers_[i] written only by worker i
  SeenCheckpoint checkpoint_;          // written only by the poller
  std::vector<std::thread> threads_;
};

}  // namespace custos::crash
