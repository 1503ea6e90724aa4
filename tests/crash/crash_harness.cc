// crash_harness: kills custosd with SIGKILL in the middle of a concurrent
// workload, restarts it on the same data directory and checks DESIGN §7:
// an acknowledged write is never lost, a crash never leaves half a record.
// What each trial does and what each check means: docs/crashtest.md.
//
//   crash_harness [--trials N] [--seed S] [--work DIR] [--bin DIR] [--keep]
//                 [--threads N] [--inject-loss]
//
// Exit code 0 only if every trial passed; 1 if one failed; 2 if the harness
// could not run (bad option, the template archive could not be made).
// --inject-loss turns the run into a test of the harness itself: after each
// kill it deletes the blob of one acknowledged file, and a trial passes only
// if the checks report the loss.
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "storage/custody.h"
#include "tests/crash/checks.h"
#include "tests/crash/harness_common.h"
#include "tests/crash/workload.h"
#include "tests/testutil/testutil.h"

namespace custos::crash {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kDefaultSeed = 20261126;
constexpr char kAdminPassword[] = "crash-harness-admin-password";
constexpr char kUserPassword[] = "crash-harness-user-password";
// The server is killed this long after the workload starts (uniform, seeded).
constexpr int kMinKillMs = 300;
constexpr int kMaxKillMs = 3000;

struct Options {
  int trials = 100;
  uint64_t seed = kDefaultSeed;
  std::string work;  // "" = a new directory under /var/tmp
  std::string bin = testing::BinDir();
  bool keep = false;
  int threads = 6;
  bool inject_loss = false;
};

void Usage(FILE* out) {
  std::fprintf(out,
               "usage: crash_harness [--trials N] [--seed S] [--work DIR] [--bin DIR] [--keep]\n"
               "                     [--threads N]\n"
               "  --trials N   trials to run (default 100)\n"
               "  --seed S     seed of the first trial's workload and kill time (default %" PRIu64
               ")\n"
               "  --work DIR   where trials run (default: a new directory under /var/tmp)\n"
               "  --bin DIR    folder holding custosd and custosctl (default %s)\n"
               "  --keep       keep every trial's data directory (failed ones are always kept)\n"
               "  --threads N  client threads of the workload (default 6)\n"
               "  --inject-loss  self-test: delete an acknowledged file's blob after each\n"
               "               kill; a trial passes only if the checks catch it\n",
               kDefaultSeed, testing::BinDir().c_str());
}

bool ParseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string* out) {
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    std::string v;
    try {
      if (a == "--trials" && value(&v)) {
        o->trials = std::stoi(v);
      } else if (a == "--seed" && value(&v)) {
        o->seed = std::stoull(v, nullptr, 0);
      } else if (a == "--work" && value(&v)) {
        o->work = v;
      } else if (a == "--bin" && value(&v)) {
        o->bin = v;
      } else if (a == "--threads" && value(&v)) {
        o->threads = std::stoi(v);
      } else if (a == "--keep") {
        o->keep = true;
      } else if (a == "--inject-loss") {
        o->inject_loss = true;
      } else if (a == "--help" || a == "-h") {
        Usage(stdout);
        std::exit(0);
      } else {
        std::fprintf(stderr, "crash_harness: unknown or incomplete option %s\n", a.c_str());
        return false;
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "crash_harness: bad value for %s: %s\n", a.c_str(), v.c_str());
      return false;
    }
  }
  if (o->trials < 1 || o->threads < 1) {
    std::fprintf(stderr, "crash_harness: --trials and --threads must be at least 1\n");
    return false;
  }
  return true;
}

// Trial n (from 0) of a run with seed S has seed S + n, so that
// `--seed <a trial's seed> --trials 1` runs that trial again. Its random
// streams start from Mix(seed), which spreads adjacent seeds (SplitMix64).
uint64_t Mix(uint64_t seed) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double MiB(uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

// Copies custosd and custosctl into `dir` and returns it: every trial of a
// run uses the same programs even if the build folder is rebuilt meanwhile
// (a program being relinked cannot be started).
bool SnapshotPrograms(const std::string& from, const std::string& dir, std::string* error) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  for (const char* name : {"custosd", "custosctl"}) {
    fs::copy_file(from + "/" + name, dir + "/" + name, fs::copy_options::overwrite_existing, ec);
    if (ec) {
      *error = "cannot copy " + from + "/" + name + ": " + ec.message();
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------- template

// The archive every trial starts from, made once per run: custosctl init,
// one user per role (custosctl user add), the general schedule shortened to
// P0D so that every general record is due for destruction at once (asked by
// the archivist, approved by legal), and the users signed in. Copying it
// gives each trial a fresh data directory in milliseconds instead of the
// seconds that key generation and password hashing take.
struct Template {
  std::string data_dir;
  Tokens tokens;
  std::vector<std::string> log_keys;
};

bool Run(const std::vector<std::string>& argv, std::string* error) {
  testing::RunResult r = testing::RunProgram(argv);
  if (r.exit_code == 0) return true;
  *error = argv[1] + " " + argv[2] + " exited " + std::to_string(r.exit_code) + ": " + r.err;
  return false;
}

bool MakeTemplate(const Options& o, const std::string& dir, Template* t, std::string* error) {
  fs::create_directories(dir);
  t->data_dir = dir + "/data";
  const std::string admin_pw = dir + "/admin-password", user_pw = dir + "/user-password";
  if (!WriteFile(admin_pw, std::string(kAdminPassword) + "\n") ||
      !WriteFile(user_pw, std::string(kUserPassword) + "\n")) {
    *error = "cannot write password files in " + dir;
    return false;
  }
  if (!Run({o.bin + "/custosctl", "init", "--data", t->data_dir, "--admin-password-file", admin_pw},
           error)) {
    return false;
  }
  // Sessions made here are used by every trial of the run. The workload's
  // users sign in with a password only and approve at once: no role needs a
  // second factor and approvers have no cooling period (issue #23's rules,
  // tested in separation_test.cc and the service tests, not here).
  testing::SetConfigLines(t->data_dir + "/custos.conf",
                          "auth.session_idle_minutes = 1440\n"
                          "auth.second_factor_roles =\n"
                          "auth.approver_cooling_days = 0");
  for (Role role : kAllRoles) {
    if (!Run({o.bin + "/custosctl", "user", "add", RoleName(role), "--role", RoleName(role),
              "--department", RoleDepartment(role), "--data", t->data_dir, "--password-file",
              user_pw, "--no-force-change"},
             error)) {
      return false;
    }
  }
  Daemon daemon(o.bin, t->data_dir, dir + "/custosd");
  if (!daemon.Start(error)) return false;

  // Sign-ins hash a password each: in parallel.
  std::vector<std::thread> threads;
  std::map<Role, std::string> answers;  // filled before the threads start; each writes its own
  for (Role role : kAllRoles) answers[role] = "";
  for (Role role : kAllRoles) {
    threads.emplace_back([&daemon, role, token = &answers.at(role)] {
      HttpsClient c(daemon.port(), daemon.ca_file());
      Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
      body->set("username", RoleName(role));
      body->set("password", kUserPassword);
      HttpResult r = c.Request("POST", "/v1/session", Stringify(body), "application/json");
      *token = r.status == 200 ? Str(JsonObject(r.body), "token") : "";
    });
  }
  for (std::thread& th : threads) th.join();
  for (Role role : kAllRoles) {
    if (answers[role].empty()) {
      *error = std::string("sign-in of ") + RoleName(role) + " failed";
      return false;
    }
    t->tokens.by_user[RoleName(role)] = answers[role];
  }

  Caller caller(daemon.port(), daemon.ca_file(), t->tokens);
  HttpResult put =
      caller.Json(Role::kArchivist, "PUT", "/v1/retention/schedules/general",
                  "{\"trigger\":\"created\",\"period\":\"P0D\",\"action\":\"destroy\"}");
  if (put.status != 202) {
    *error = "shortening the general schedule: " + Describe(put);
    return false;
  }
  HttpResult ok =
      caller.Call(Role::kLegal, "POST",
                  "/v1/retention/changes/" + Str(JsonObject(put.body), "id") + "/approve");
  if (ok.status != 200) {
    *error = "approving the general schedule: " + Describe(ok);
    return false;
  }
  HttpResult key = caller.Public("/v1/log/key");
  for (size_t at = 0; key.status == 200 && at < key.body.size();) {
    size_t nl = key.body.find('\n', at);
    if (nl == std::string::npos) nl = key.body.size();
    if (nl > at) t->log_keys.push_back(key.body.substr(at, nl - at));
    at = nl + 1;
  }
  if (t->log_keys.empty()) {
    *error = "no log key: " + Describe(key);
    return false;
  }
  int code = daemon.Stop();
  if (code != 0) {
    *error = "custosd exited " + std::to_string(code) + " after SIGTERM: " + daemon.LogTail(5);
    return false;
  }
  return true;
}

// ------------------------------------------------------------------- trial

// --inject-loss: deletes the blob of the first acknowledged file of a record
// not proposed for destruction, as a lost write would. Returns what it did,
// or "" with the reason in *error.
std::string InjectLoss(const std::string& data_dir, const std::vector<WorkerLedger>& ledgers,
                       std::string* error) {
  for (const WorkerLedger& l : ledgers) {
    for (const RecordModel& r : l.records) {
      if (!r.acked() || r.in_batch) continue;
      const std::string& file_id = r.versions[0].files[0].id;
      const std::string blob = BlobIdOfFile(data_dir, file_id, error);
      if (blob.empty()) return "";
      const std::string path = data_dir + "/blobs/" + blob.substr(0, 2) + "/" + blob;
      std::error_code ec;
      if (!fs::remove(path, ec)) {
        *error = "cannot remove " + path + ": " + (ec ? ec.message() : "missing");
        return "";
      }
      return "removed blob " + blob + " of acknowledged file " + file_id + " of " + r.id;
    }
  }
  *error = "no acknowledged file to remove";
  return "";
}

struct TrialResult {
  bool passed = false;
  double seconds = 0;
  OpCounts ops;
  CheckFigures figures;
  uint64_t orphans_swept = 0;  // removed by custosd's start-up sweep after the crash
};

// The number in the restart log's "archive opened" line.
uint64_t OrphansSwept(const std::string& log) {
  static const std::regex kSwept("\"orphanBlobsRemoved\":([0-9]+)");
  std::smatch m;
  return std::regex_search(log, m, kSwept) ? std::stoull(m[1]) : 0;
}

// One line for the trial, then one per failure (or, with --inject-loss, per
// caught loss) and, for a failed trial, the ends of the server's logs.
void PrintTrial(const Options& o, int n, uint64_t seed, int kill_ms, const TrialResult& result,
                const std::vector<std::string>& failures, const std::string& injected,
                const std::string& crashed_log, const std::string& restart_log,
                const std::string& dir) {
  const OpCounts& c = result.ops;
  const CheckFigures& f = result.figures;
  std::printf("trial %d/%d seed %" PRIu64 ": killed at %.2f s; acked %" PRIu64
              " check-ins, %" PRIu64 " versions, %" PRIu64 " loan steps, %" PRIu64
              " batches (%" PRIu64 " records destroyed), %" PRIu64 " reads; %" PRIu64
              " in flight, %" PRIu64 " of them kept; log %" PRIu64 " -> %" PRIu64 "; %" PRIu64
              " files (%.1f MiB) re-read; %.1f s: %s\n",
              n + 1, o.trials, seed, kill_ms / 1000.0, c.checkins, c.versions, c.loan_steps,
              c.batches_executed, c.records_destroyed, c.reads, c.unacked, f.unacked_present,
              f.log_size_before, f.log_size_after, f.files_downloaded, MiB(f.bytes_downloaded),
              result.seconds, result.passed ? "ok" : "FAILED");
  if (o.inject_loss) {
    std::printf("  injected: %s\n", injected.c_str());
    if (failures.empty()) std::printf("  FAIL the injected loss went unnoticed\n");
  }
  const char* label = o.inject_loss ? "caught" : "FAIL";
  for (const std::string& msg : failures) std::printf("  %s %s\n", label, msg.c_str());
  if (!result.passed) {
    if (!crashed_log.empty()) {
      std::printf("  server log before the crash (last lines, %s):\n", crashed_log.c_str());
      std::printf("%s", LastLines(ReadFile(crashed_log), 8).c_str());
      std::printf("  server log after the restart (last lines, %s):\n%s", restart_log.c_str(),
                  LastLines(ReadFile(restart_log), 8).c_str());
    }
    std::printf("  kept %s\n", dir.c_str());
  }
  std::fflush(stdout);
}

TrialResult RunTrial(const Options& o, const Template& t, const std::string& work, int n) {
  const auto started = Clock::now();
  TrialResult result;
  const uint64_t seed = o.seed + static_cast<uint64_t>(n);
  std::mt19937_64 rng(Mix(seed));
  const int kill_ms = std::uniform_int_distribution<int>(kMinKillMs, kMaxKillMs)(rng);
  char name[32];
  std::snprintf(name, sizeof name, "trial-%03d", n + 1);
  const std::string dir = work + "/" + name, data = dir + "/data";
  std::vector<std::string> failures;

  fs::create_directories(dir);
  std::error_code ec;
  fs::copy(t.data_dir, data, fs::copy_options::recursive, ec);
  if (!ec) {
    // The template never runs again: the copy takes its signing custody.
    custos::Status bound =
        custos::storage::BindCustody(custos::storage::DataDir(data), "crash trial copy");
    if (!bound.ok()) ec = std::make_error_code(std::errc::io_error);
  }
  Daemon daemon(o.bin, data, dir + "/custosd");
  std::string error;
  std::string crashed_log;
  std::string injected, injected_error;  // --inject-loss only
  if (ec) {
    failures.push_back("cannot copy the template archive: " + ec.message());
  } else if (!daemon.Start(&error)) {
    failures.push_back("start: " + error);
  } else {
    // The workload, and SIGKILL at the chosen moment.
    Workload workload(daemon.port(), daemon.ca_file(), t.tokens,
                      {o.threads, Mix(seed) ^ 0x5DEECE66Dull, "t" + std::to_string(n + 1)});
    workload.Start();
    std::this_thread::sleep_for(std::chrono::milliseconds(kill_ms));
    workload.MarkCrashed();
    daemon.Kill();
    workload.Join();
    crashed_log = daemon.log_path();
    for (const WorkerLedger& l : workload.ledgers()) {
      result.ops += l.counts;
      for (const std::string& e : l.errors) failures.push_back("before the crash: " + e);
    }
    if (o.inject_loss) {
      injected = InjectLoss(data, workload.ledgers(), &error);
      if (injected.empty()) injected_error = "could not inject a loss: " + error;
    }

    // Restart on the same directory and check.
    if (!daemon.Start(&error)) {
      failures.push_back("restart after the crash: " + error);
    } else {
      result.orphans_swept = OrphansSwept(daemon.Log());
      TrialChecker checker(workload.ledgers(), t.tokens, t.log_keys, &failures, &result.figures);
      checker.CheckLive(daemon, workload.checkpoint(), o.threads);
      int code = daemon.Stop();
      if (code != 0) {
        failures.push_back("custosd exited " + std::to_string(code) +
                           " after SIGTERM: " + daemon.LogTail(5));
      }
      checker.CheckStopped(o.bin, data);
    }
  }
  // With --inject-loss the trial passes when the checks noticed the loss.
  result.passed = o.inject_loss ? injected_error.empty() && !failures.empty() : failures.empty();
  result.seconds = Seconds(Clock::now() - started);

  PrintTrial(o, n, seed, kill_ms, result, failures, injected.empty() ? injected_error : injected,
             crashed_log, daemon.log_path(), dir);
  std::error_code removed;
  if (result.passed && !o.keep) fs::remove_all(dir, removed);
  return result;
}

int Main(int argc, char** argv) {
  Options o;
  if (!ParseOptions(argc, argv, &o)) {
    Usage(stderr);
    return 2;
  }
  // Writing to a connection the killed server left must fail, not kill us.
  ::signal(SIGPIPE, SIG_IGN);

  bool made_work = false;
  if (o.work.empty()) {
    std::string tmpl = "/var/tmp/custos-crash-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::fprintf(stderr, "crash_harness: cannot create a directory under /var/tmp\n");
      return 2;
    }
    o.work = tmpl;
    made_work = true;
  } else {
    fs::create_directories(o.work);
  }
  std::printf("crash harness: %d trials, seed %" PRIu64 ", %d client threads, work %s, bin %s\n",
              o.trials, o.seed, o.threads, o.work.c_str(), o.bin.c_str());
  std::fflush(stdout);

  const auto started = Clock::now();
  std::string error;
  if (!SnapshotPrograms(o.bin, o.work + "/bin", &error)) {
    std::fprintf(stderr, "crash_harness: %s\n", error.c_str());
    return 2;
  }
  o.bin = o.work + "/bin";
  Template t;
  if (!MakeTemplate(o, o.work + "/template", &t, &error)) {
    std::fprintf(stderr, "crash_harness: cannot make the template archive: %s\n", error.c_str());
    return 2;
  }
  std::printf("template archive ready in %.1f s\n", Seconds(Clock::now() - started));

  int failed = 0;
  OpCounts ops;
  CheckFigures figures;
  uint64_t swept = 0;
  double trial_seconds = 0, slowest = 0;
  for (int n = 0; n < o.trials; ++n) {
    TrialResult r = RunTrial(o, t, o.work, n);
    failed += r.passed ? 0 : 1;
    ops += r.ops;
    figures += r.figures;
    swept += r.orphans_swept;
    trial_seconds += r.seconds;
    slowest = std::max(slowest, r.seconds);
  }

  const uint64_t acked = ops.checkins + ops.versions + ops.loan_steps + ops.batch_steps;
  std::printf(
      "crash harness: %d trials, %d failed%s\n", o.trials, failed,
      o.inject_loss ? " (self-test: a trial fails if the injected loss went unnoticed)" : "");
  std::printf("  seed %" PRIu64 "; %.1f s in all; %.2f s per trial on average, slowest %.2f s\n",
              o.seed, Seconds(Clock::now() - started), trial_seconds / o.trials, slowest);
  std::printf("  acknowledged operations checked: %" PRIu64 " (%" PRIu64 " check-ins, %" PRIu64
              " new versions, %" PRIu64 " loan steps, %" PRIu64 " destruction steps; %" PRIu64
              " files, %.1f MiB uploaded); %" PRIu64
              " content reads verified during the workload\n",
              acked, ops.checkins, ops.versions, ops.loan_steps, ops.batch_steps, ops.files,
              MiB(ops.bytes), ops.reads);
  std::printf("  in flight at the crash: %" PRIu64
              " operations, of which the server had kept %" PRIu64 " (complete)\n",
              ops.unacked, figures.unacked_present);
  std::printf("  after restart: %" PRIu64 " records listed, %" PRIu64
              " files downloaded and hashed (%.1f MiB), %" PRIu64
              " destroyed files answered 410, %" PRIu64 " loans and %" PRIu64
              " batches checked, %" PRIu64 " interrupted executions finished, %" PRIu64
              " orphan blobs swept at start, %" PRIu64 " blobs matched to rows\n",
              figures.records_listed, figures.files_downloaded, MiB(figures.bytes_downloaded),
              figures.destroyed_files, figures.loans_checked, figures.batches_checked,
              figures.batches_finished, swept, figures.blobs);

  std::error_code ec;
  if (failed == 0 && !o.keep) {
    fs::remove_all(o.work + "/template", ec);
    fs::remove_all(o.work + "/bin", ec);
    if (made_work) fs::remove(o.work, ec);
  } else {
    std::printf("  kept %s\n", o.work.c_str());
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace custos::crash

int main(int argc, char** argv) { return custos::crash::Main(argc, argv); }
