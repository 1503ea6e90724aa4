// Shared pieces of the crash harness (docs/crashtest.md): the accounts a
// trial signs in as, one HTTPS caller per thread, custosd as a child process
// that can be killed and restarted, and the ledger of what the workload sent
// and what the server acknowledged.
//
// Thread safety: a Caller belongs to one thread. A Daemon is driven by the
// trial's main thread. A WorkerLedger is written by its worker thread only
// and read by the checks after every worker has been joined.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tests/testutil/https_client.h"
#include "tests/testutil/process.h"
#include "tests/workload/client.h"
#include "tests/workload/json.h"
#include "tests/workload/model.h"

namespace custos::crash {

using testing::HttpResult;
using testing::HttpsClient;

// ---------------------------------------------------------------- accounts

// The roles the workload acts as. Each has one user of the same name
// (department "sales", except legal in "legal").
enum class Role { kArchivist, kStaff, kApprover, kLegal };
inline constexpr Role kAllRoles[] = {Role::kArchivist, Role::kStaff, Role::kApprover, Role::kLegal};
const char* RoleName(Role role);
const char* RoleDepartment(Role role);

// Bearer tokens of the workload's users. Sessions live in the database, so
// the tokens stay valid across restarts and in every copy of the template.
struct Tokens {
  std::map<std::string, std::string> by_user;  // keyed by RoleName
};

// One HTTPS connection to custosd that sends each request as a chosen user.
class Caller {
 public:
  Caller(int port, const std::string& ca_file, const Tokens& tokens);

  HttpResult Call(Role role, const std::string& method, const std::string& path,
                  const std::string& body = "", const std::string& content_type = "");
  // The same as the user named `user` (a RoleName).
  HttpResult As(const std::string& user, const std::string& method, const std::string& path,
                const std::string& body, const std::string& content_type);
  // As() for the shared workload operations; valid while this Caller is.
  workload::Send Sender();
  // POST or PUT with a JSON body.
  HttpResult Json(Role role, const std::string& method, const std::string& path,
                  const std::string& json);
  HttpResult Public(const std::string& path) { return client_.Get(path); }

 private:
  HttpsClient client_;
  const Tokens& tokens_;
};

// ------------------------------------------------------------------ daemon

// custosd on one data directory, started as a child process. Each Start()
// writes a new log file (<log_prefix>-<n>.log), so a restart never reads an
// earlier run's "listening" line.
class Daemon {
 public:
  Daemon(std::string bin_dir, std::string data_dir, std::string log_prefix);

  // Starts custosd --listen 127.0.0.1:0 and waits up to 20 s for the
  // "listening" line. False (with the reason in *error) otherwise.
  bool Start(std::string* error);
  int port() const { return port_; }
  std::string ca_file() const { return data_dir_ + "/tls/cert.pem"; }
  pid_t pid() const { return child_.pid(); }

  // SIGKILL and reap.
  void Kill();
  // SIGTERM and wait up to 30 s; the exit code (-1 on time-out, after which
  // the process is killed).
  int Stop();
  // The current run's log, and its last `lines` lines.
  std::string Log() const;
  std::string LogTail(size_t lines) const;
  std::string log_path() const { return log_path_; }

 private:
  std::string bin_dir_;
  std::string data_dir_;
  std::string log_prefix_;
  std::string log_path_;
  int runs_ = 0;
  int port_ = 0;
  testing::ChildProcess child_;
};

// ------------------------------------------------------------------ ledger

// Records, versions, files and loans are the shared workload model
// (tests/workload/model.h); a loan's borrower is the staff user.
using workload::FileModel;
using workload::LoanModel;
using workload::RecordModel;
using workload::VersionModel;

// One destruction batch the workload proposed.
struct BatchModel {
  std::vector<std::string> record_ids;
  std::string id;  // "" while the proposal is unacknowledged
  // proposed, approved or executed: the last acknowledged step.
  std::string acked_state;
  bool execute_sent = false;
};

// Counts of acknowledged operations.
struct OpCounts {
  uint64_t checkins = 0;
  uint64_t versions = 0;
  uint64_t files = 0;
  uint64_t bytes = 0;
  uint64_t reads = 0;
  uint64_t loan_steps = 0;
  uint64_t batches_executed = 0;
  uint64_t records_destroyed = 0;
  uint64_t batch_steps = 0;
  uint64_t unacked = 0;  // operations in flight when the server died

  OpCounts& operator+=(const OpCounts& o);
};

// Everything one worker sent and what came back. Only the last operation of
// a worker can be unacknowledged: a worker stops at its first failed call.
struct WorkerLedger {
  std::vector<RecordModel> records;
  std::vector<LoanModel> loans;
  std::vector<BatchModel> batches;
  OpCounts counts;
  // Wrong answers received before the crash (a refusal, a wrong hash): each
  // fails the trial.
  std::vector<std::string> errors;
};

// The last checkpoint the poller saw before the crash.
struct SeenCheckpoint {
  std::string text;  // the signed note as served
  uint64_t polls = 0;
};

// ----------------------------------------------------------------- helpers

using workload::Bool;
using workload::Describe;
using workload::Int;
using workload::JsonObject;
using workload::Objects;
using workload::ResponseComplete;
using workload::Sha256Hex;
using workload::Str;
using workload::Stringify;
using workload::Strings;

// The last `lines` lines of `text` (all of it if it has fewer).
std::string LastLines(const std::string& text, size_t lines);
// Reads a whole file ("" if unreadable).
std::string ReadFile(const std::string& path);
// Writes a whole file (mode 0600); false on failure.
bool WriteFile(const std::string& path, const std::string& content);

}  // namespace custos::crash
