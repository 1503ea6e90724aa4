// What the crash harness checks after custosd was killed and restarted
// (docs/crashtest.md, DESIGN §7): every acknowledged write is there, nothing
// unacknowledged is half there, the log only grew, and the data directory
// holds no debris.
//
// Each failed check appends one precise line to the failure list; a check
// never stops at the first failure, so a broken trial reports everything it
// found.
//
// Thread safety: a TrialChecker is driven by one thread; CheckLive uses
// worker threads of its own for the downloads.
#pragma once

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "tests/crash/harness_common.h"

namespace custos::crash {

// Figures of one trial's checks.
struct CheckFigures {
  uint64_t records_listed = 0;
  uint64_t acked_records = 0;    // acknowledged check-ins found complete
  uint64_t acked_versions = 0;   // acknowledged versions (check-ins included) found complete
  uint64_t unacked_present = 0;  // writes in flight at the crash that the server had kept
  uint64_t files_downloaded = 0;
  uint64_t bytes_downloaded = 0;
  uint64_t destroyed_files = 0;  // files of destroyed records that answered 410
  uint64_t loans_checked = 0;
  uint64_t batches_checked = 0;
  uint64_t batches_finished = 0;  // executions in flight at the kill, found finished after restart
  uint64_t blobs = 0;
  uint64_t log_size_before = 0;  // last checkpoint seen before the crash
  uint64_t log_size_after = 0;   // first checkpoint after the restart

  CheckFigures& operator+=(const CheckFigures& o);
};

// The blob id of file `file_id`, read from the data directory's database
// (opened read-only); "" with the reason in *error if there is none.
std::string BlobIdOfFile(const std::string& data_dir, const std::string& file_id,
                         std::string* error);

class TrialChecker {
 public:
  // `log_keys`: the verifier key lines of GET /v1/log/key. Failures go to
  // *failures, figures to *figures; both must outlive the checker.
  TrialChecker(const std::vector<WorkerLedger>& ledgers, const Tokens& tokens,
               std::vector<std::string> log_keys, std::vector<std::string>* failures,
               CheckFigures* figures);

  // Against the restarted server: the checkpoint against the last one seen
  // before the crash, every record, loan and destruction batch; then
  // executes again every batch whose execution was in flight and landed.
  void CheckLive(const Daemon& daemon, const SeenCheckpoint& seen, int threads);

  // After the server stopped: `custosctl verify` is clean, every committed
  // blob is referenced by a row of `files`, every live file's blob exists and
  // no temporary blob is left.
  void CheckStopped(const std::string& bin_dir, const std::string& data_dir);

 private:
  struct RecordSeen {
    std::string state;
  };

  void Fail(const std::string& message);
  void CheckCheckpoint(const Daemon& daemon, const SeenCheckpoint& seen);
  void CheckRecords(const Daemon& daemon, int threads);
  void CheckRecord(Caller& caller, const std::string& id);
  void CheckVersion(Caller& caller, const std::string& id, const RecordModel& model,
                    const Poco::JSON::Object::Ptr& version, bool destroyed);
  void CheckLoans(const Daemon& daemon);
  void CheckBatches(const Daemon& daemon);
  void CheckBlobs(const std::string& data_dir);

  const std::vector<WorkerLedger>& ledgers_;
  const Tokens& tokens_;
  std::vector<std::string> log_keys_;
  std::map<std::string, const RecordModel*> by_title_;

  std::mutex mu_;  // guards the three members below during parallel record checks
  std::vector<std::string>* failures_;
  CheckFigures* figures_;
  std::map<std::string, RecordSeen> seen_records_;  // by record id
};

}  // namespace custos::crash
