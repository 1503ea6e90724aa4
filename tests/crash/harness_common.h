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
  std::map<Role, std::string> by_role;
};

// One HTTPS connection to custosd that sends each request as a chosen user.
class Caller {
 public:
  Caller(int port, const std::string& ca_file, const Tokens& tokens);

  HttpResult Call(Role role, const std::string& method, const std::string& path,
                  const std::string& body = "", const std::string& content_type = "");
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

// A file as the workload uploaded it.
struct FileSpec {
  std::string name;
  uint64_t size = 0;
  std::string sha256;  // lower-case hex of the uploaded bytes
};

// One version the workload sent: the check-in (version 1) or a later one.
struct VersionModel {
  std::string note;  // unique per trial; "" for the check-in
  std::vector<FileSpec> files;
  bool acked = false;
  // From the acknowledgement:
  int number = 0;
  std::vector<std::string> file_ids;
  int64_t log_index = -1;
};

// One record the workload checked in (or tried to).
struct RecordModel {
  std::string title;  // unique per trial: how a record found after the crash is matched
  std::string type;   // general or contract
  std::string id;     // "" until the check-in is acknowledged
  // [0] is the check-in; then every new version sent, in order.
  std::vector<VersionModel> versions;
  bool in_batch = false;       // proposed for destruction (its fate may be in flight)
  bool destroy_acked = false;  // an acknowledged execute destroyed it
  bool acked() const { return !id.empty(); }
};

// One loan the workload asked for.
struct LoanModel {
  std::string record_id;
  std::string kind;         // digital or physical
  std::string id;           // "" while the request is unacknowledged
  std::string acked_state;  // state in the last acknowledged answer
  // The state a transition sent but not acknowledged would lead to ("" if
  // none): after the crash the loan must be in acked_state or this one.
  std::string pending_state;
  int acked_steps = 0;
};

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

// Lower-case hex SHA-256.
std::string Sha256Hex(const std::string& data);
// `n` bytes of a pattern seeded by `seed` (xorshift; fast, incompressible).
std::string PatternBytes(size_t n, uint64_t seed);
// The last `lines` lines of `text` (all of it if it has fewer).
std::string LastLines(const std::string& text, size_t lines);
// "HTTP 409 {...}" or "transport: ..." for failure messages.
std::string Describe(const HttpResult& r);
// Reads a whole file ("" if unreadable).
std::string ReadFile(const std::string& path);
// Writes a whole file (mode 0600); false on failure.
bool WriteFile(const std::string& path, const std::string& content);

}  // namespace custos::crash
