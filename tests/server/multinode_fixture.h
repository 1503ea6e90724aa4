// Several custosd nodes over one PostgreSQL database (docs/operations.md,
// "Several nodes on PostgreSQL"), for tests/server/multinode_test.cc:
//
//   Cluster   one data directory (configuration, keys, blob folder) made by
//             custosctl init --backend postgresql, two custosd processes on
//             it, and the users the workload acts as;
//   Ledger    every write the API acknowledged, shared by the workers;
//   Load      16 worker threads (8 per node, each with its own HTTPS
//             clients and seeded random numbers) checking in, adding
//             versions, reading back from either node and walking loans
//             through their steps, plus a monitor that keeps the signed
//             checkpoints both nodes publish while the load runs.
//
// A request that fails on a node the test has killed is "lost": not an
// acknowledgement and not an error. Any other unexpected answer is an error
// in the Ledger, which the test reports.
#pragma once

#include <signal.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <random>
#include <set>

#include "crypto/signed_note.h"
#include "tests/server/api_fixture.h"
#include "tests/workload/client.h"
#include "tests/workload/log_checks.h"
#include "tests/workload/model.h"

namespace custos::testing::multinode {

using api::Describe;
using api::ErrorCode;
using api::Int;
using api::JsonObject;
using api::Str;
using api::Stringify;
using api::WaitFor;

inline constexpr int kNodes = 2;
inline constexpr char kOrigin[] = "custos.local/archive";  // custosctl init's default
inline const char* const kNodeName[kNodes] = {"A", "B"};

// The verifiers of a log key text (one verifier key per line); a line that
// does not parse fails the test.
inline std::vector<crypto::note::KeyVerifier> ParseVerifierKeys(const std::string& text) {
  std::vector<std::string> errors;
  std::vector<crypto::note::KeyVerifier> out = workload::ParseVerifierKeys(text, &errors);
  for (const std::string& e : errors) ADD_FAILURE() << e;
  return out;
}

// ------------------------------------------------------------------ cluster

struct User {
  std::string name;
  std::string password;
  std::string role;
  std::string department;
  std::string token;
};

// The users every cluster has besides the admin and the security officer
// custosctl init makes: two of each role the
// workload needs, so that a loan is always approved by someone else.
inline const std::vector<User> kUsers = {
    {"archivist1", "", "archivist", "sales", ""}, {"archivist2", "", "archivist", "sales", ""},
    {"staff1", "", "staff", "sales", ""},         {"staff2", "", "staff", "sales", ""},
    {"approver1", "", "approver", "sales", ""},   {"approver2", "", "approver", "sales", ""},
    {"legal1", "", "legal", "legal", ""},
};

// One archive served by kNodes custosd processes sharing a data directory
// and a PostgreSQL database. Nodes are numbered 0 (A) and 1 (B).
// Thread safety: the accessors may be called from any thread while no
// thread kills or restarts a node; Kill, Restart and Stop belong to the
// test's main thread.
class Cluster {
 public:
  // Initialises a data directory on `dsn` (an empty database), starts the
  // nodes and creates the users, each created through one node and signed
  // in through the other. nullptr (after ADD_FAILURE) if a step fails.
  static std::unique_ptr<Cluster> Create(const std::string& dsn) {
    std::unique_ptr<Cluster> c(new Cluster);
    if (!c->Init(dsn)) return nullptr;
    return c;
  }

  ~Cluster() {
    for (auto& n : nodes_) {
      if (n.process().running()) n.Stop();
    }
  }

  const std::string& data_dir() const { return data_dir_; }
  const std::string& dsn() const { return dsn_; }
  const TempDir& tmp() const { return tmp_; }
  std::string ca_file() const { return data_dir_ + "/tls/cert.pem"; }
  int port(int node) const { return nodes_[node].port(); }
  bool running(int node) { return nodes_[node].process().running(); }
  pid_t pid(int node) { return nodes_[node].process().pid(); }
  std::string Log(int node) const { return nodes_[node].Log(); }

  std::unique_ptr<HttpsClient> NewClient(int node) const {
    return std::make_unique<HttpsClient>(port(node), ca_file());
  }

  const User& user(const std::string& name) const { return users_.at(name); }
  const std::string& token(const std::string& name) const { return users_.at(name).token; }

  // The archive's log verifier key, DATA/keys/log.vkey (what auditors are
  // given), as verifiers.
  const std::vector<crypto::note::KeyVerifier>& verifiers() const { return verifiers_; }
  std::vector<const crypto::note::Verifier*> verifier_pointers() const {
    return workload::VerifierPointers(verifiers_);
  }

  // SIGKILL to the node's process id, then reaps it; the exit code
  // (128 + SIGKILL when it died of the signal).
  int Kill(int node) {
    ChildProcess& p = nodes_[node].process();
    const pid_t pid = p.pid();
    if (pid <= 0) return -1;
    ::kill(pid, SIGKILL);
    return p.Wait(10000);
  }

  // Starts a stopped or killed node again (new port).
  bool Restart(int node) {
    if (nodes_[node].process().running()) nodes_[node].Stop();
    return nodes_[node].Start(data_dir_);
  }

  int Stop(int node) { return nodes_[node].Stop(); }

  // custosctl verify --data DIR.
  RunResult Verify() const {
    return RunProgram({BinDir() + "/custosctl", "verify", "--data", data_dir_});
  }

  // Signs in `name` on `client`; the token or "".
  static std::string SignIn(HttpsClient& client, const std::string& name,
                            const std::string& password) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("username", name);
    o->set("password", password);
    HttpResult r = client.Request("POST", "/v1/session", Stringify(o), api::kJson);
    if (r.status != 200) return "";
    return Str(JsonObject(r.body), "token");
  }

 private:
  Cluster() = default;

  bool Init(const std::string& dsn) {
    dsn_ = dsn;
    data_dir_ = tmp_.Sub("data");
    const std::string pw_file = tmp_.Sub("admin-password");
    const std::string security_file = tmp_.Sub("security-password");
    WriteFile(pw_file, std::string(api::kAdminPassword) + "\n");
    WriteFile(security_file, std::string(api::kSecurityPassword) + "\n");
    RunResult init = RunProgram({BinDir() + "/custosctl", "init", "--data", data_dir_, "--backend",
                                 "postgresql", "--dsn", dsn_, "--admin-password-file", pw_file,
                                 "--security-officer-password-file", security_file,
                                 "--password-memory-kib", "19456"});
    if (init.exit_code != 0) {
      ADD_FAILURE() << "custosctl init failed (" << init.exit_code << "): " << init.err;
      return false;
    }
    verifiers_ = ParseVerifierKeys(ReadFileOrDie(data_dir_ + "/keys/log.vkey"));
    if (verifiers_.empty()) {
      ADD_FAILURE() << "no verifier key in " << data_dir_ << "/keys/log.vkey";
      return false;
    }
    // The nodes share custos.conf: the first start writes the fixture's
    // relaxations of issue #23's rules (api_fixture.h, RelaxedConfig).
    for (int n = 0; n < kNodes; ++n) {
      // The load's loan reads are of originals: loan copies have their own
      // suite (api_loan_copy_test.cc), and the load's files are not all
      // types that can be stamped.
      if (!nodes_[n].Start(data_dir_, n == 0 ? api::RelaxedConfig("loans.stamp_classifications =\n") : "")) {
        return false;
      }
    }
    return CreateUsers();
  }

  // One request on `client` with `token` as bearer (none when empty).
  static HttpResult Send(HttpsClient& client, const std::string& token, const std::string& path,
                         const Poco::JSON::Object::Ptr& body) {
    std::map<std::string, std::string> headers;
    if (!token.empty()) headers["Authorization"] = "Bearer " + token;
    return client.Request("POST", path, body ? Stringify(body) : "", body ? api::kJson : "",
                          headers);
  }

  // The way people make an account (api_fixture.h): the admin creates it on
  // node `on`, the security officer proposes its role on the other node and
  // the admin confirms on `on`, the officer issues a set-up code on the
  // other node and the holder sets the password on `on`. "" when done, else
  // the failed step.
  std::string AddUser(const User& u, HttpsClient& on, HttpsClient& other) {
    const std::string& admin = users_.at(api::kAdmin).token;
    const std::string& security = users_.at(api::kSecurity).token;
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("username", u.name);
    o->set("department", u.department);
    HttpResult r = Send(on, admin, "/v1/users", o);
    if (r.status != 201) return "create " + u.name + ": " + Describe(r);
    if (u.role != "staff") {
      Poco::JSON::Object::Ptr g = new Poco::JSON::Object;
      g->set("username", u.name);
      g->set("role", u.role);
      r = Send(other, security, "/v1/grants", g);
      if (r.status != 201) return "grant of " + u.role + " to " + u.name + ": " + Describe(r);
      r = Send(on, admin, "/v1/grants/" + Str(JsonObject(r.body), "id") + "/confirm", nullptr);
      if (r.status != 200) return "confirming the grant to " + u.name + ": " + Describe(r);
    }
    r = Send(other, security, "/v1/users/" + u.name + "/setup-code", nullptr);
    if (r.status != 201) return "set-up code for " + u.name + ": " + Describe(r);
    Poco::JSON::Object::Ptr setup = new Poco::JSON::Object;
    setup->set("username", u.name);
    setup->set("code", Str(JsonObject(r.body), "code"));
    setup->set("password", u.password);
    r = Send(on, "", "/v1/setup", setup);
    if (r.status != 204) return "set-up of " + u.name + ": " + Describe(r);
    return "";
  }

  // The admin signs in on A and the security officer on B; departments are
  // made on B; each user is made through one node (AddUser) and signs in
  // through the other, so every session crosses nodes from the start.
  // Argon2id hashes run in parallel.
  bool CreateUsers() {
    std::unique_ptr<HttpsClient> a = NewClient(0);
    std::unique_ptr<HttpsClient> b = NewClient(1);
    users_[api::kAdmin] = {api::kAdmin, api::kAdminPassword, "sysadmin", api::kAdministration, ""};
    users_[api::kAdmin].token = SignIn(*a, api::kAdmin, api::kAdminPassword);
    users_[api::kSecurity] = {api::kSecurity, api::kSecurityPassword, "security_officer",
                              api::kAdministration, ""};
    users_[api::kSecurity].token = SignIn(*b, api::kSecurity, api::kSecurityPassword);
    if (users_[api::kAdmin].token.empty() || users_[api::kSecurity].token.empty()) {
      ADD_FAILURE() << "admin sign-in on node A or security officer sign-in on node B failed";
      return false;
    }
    for (const std::string& d : api::kDepartments) {
      HttpResult r = Send(*b, users_[api::kAdmin].token, "/v1/departments",
                          JsonObject("{\"name\":\"" + d + "\"}"));
      if (r.status != 201) {
        ADD_FAILURE() << "department " << d << " on node B: " << Describe(r);
        return false;
      }
    }
    for (User u : kUsers) {
      u.password = u.name + "-password-0001";
      users_[u.name] = u;
    }
    std::vector<std::thread> threads;
    std::mutex mu;
    std::vector<std::string> failures;
    for (size_t i = 0; i < kUsers.size(); ++i) {
      threads.emplace_back([this, i, &mu, &failures] {
        User& u = users_.at(kUsers[i].name);
        const int create_on = static_cast<int>(i % kNodes);
        std::unique_ptr<HttpsClient> c = NewClient(create_on);
        std::unique_ptr<HttpsClient> s = NewClient((create_on + 1) % kNodes);
        std::string failed = AddUser(u, *c, *s);
        std::string t = failed.empty() ? SignIn(*s, u.name, u.password) : "";
        std::lock_guard<std::mutex> lock(mu);
        if (!failed.empty()) {
          failures.push_back(failed);
        } else if (t.empty()) {
          failures.push_back("sign-in of " + u.name + " on the other node failed");
        }
        u.token = t;
      });
    }
    for (auto& t : threads) t.join();
    for (const auto& f : failures) ADD_FAILURE() << f;
    return failures.empty();
  }

  TempDir tmp_;
  std::string dsn_;
  std::string data_dir_;
  std::array<ServerProcess, kNodes> nodes_;
  std::map<std::string, User> users_;  // written by Init only
  std::vector<crypto::note::KeyVerifier> verifiers_;
};

// ------------------------------------------------------------------ ledger

// Records, versions, files and loans are the shared workload model
// (tests/workload/model.h); the ledger keeps acknowledged versions only.
using workload::FileModel;
using workload::LoanModel;
using workload::RecordModel;
using workload::VersionModel;

// A file of an acknowledged version, picked for a read.
struct FileRef {
  std::string record_id;
  std::string type;
  int version = 0;
  FileModel file;
};

// What workers count; summed over workers for the report.
struct Counts {
  int ops = 0;
  int checkins = 0;
  int versions = 0;
  int reads = 0;
  int cross_reads = 0;  // reads through the node that did not acknowledge the write
  int loan_steps = 0;
  int refusals_checked = 0;  // self-approval and read-without-loan answers verified
  int files = 0;
  int lost = 0;                // requests to a killed node (not acknowledged)
  int checkins_after_kill = 0;  // acknowledged check-ins begun after the kill
  int ops_after_kill = 0;

  Counts& operator+=(const Counts& o) {
    ops += o.ops;
    checkins += o.checkins;
    versions += o.versions;
    reads += o.reads;
    cross_reads += o.cross_reads;
    loan_steps += o.loan_steps;
    refusals_checked += o.refusals_checked;
    files += o.files;
    lost += o.lost;
    checkins_after_kill += o.checkins_after_kill;
    ops_after_kill += o.ops_after_kill;
    return *this;
  }
  std::string ToString() const {
    std::ostringstream out;
    out << ops << " ops: " << checkins << " check-ins, " << versions << " new versions, " << files
        << " files, " << reads << " reads (" << cross_reads << " through the other node), "
        << loan_steps << " loan steps, " << refusals_checked << " refusals checked, " << lost
        << " lost to the kill";
    return out.str();
  }
};

// Every acknowledged write, and the errors workers met.
// Thread safety: all methods may be called from any thread.
class Ledger {
 public:
  // Adds an acknowledged check-in; an error if its archive number was
  // handed out before.
  void AddRecord(RecordModel r) {
    std::lock_guard<std::mutex> lock(mu_);
    if (records_.count(r.id)) {
      errors_.push_back("archive number " + r.id + " acknowledged twice");
      return;
    }
    ids_.push_back(r.id);
    records_[r.id] = std::move(r);
  }

  // Adds an acknowledged new version; an error if the record already had
  // an acknowledged version with that number.
  void AddVersion(const std::string& id, VersionModel v) {
    std::lock_guard<std::mutex> lock(mu_);
    RecordModel& r = records_.at(id);
    for (const VersionModel& known : r.versions) {
      if (known.number == v.number) {
        errors_.push_back("version " + std::to_string(v.number) + " of " + id +
                          " acknowledged twice");
        return;
      }
    }
    r.versions.push_back(std::move(v));
  }

  void AddLoans(const std::vector<LoanModel>& loans) {
    std::lock_guard<std::mutex> lock(mu_);
    loans_.insert(loans_.end(), loans.begin(), loans.end());
  }

  // A random acknowledged record id, or "" when there is none.
  std::string PickRecord(std::mt19937_64& rng) {
    std::lock_guard<std::mutex> lock(mu_);
    if (ids_.empty()) return "";
    return ids_[std::uniform_int_distribution<size_t>(0, ids_.size() - 1)(rng)];
  }

  // A random file of an acknowledged version of `id` (any record when
  // empty); nullopt when there is none.
  std::optional<FileRef> PickFile(std::mt19937_64& rng, std::string id = "") {
    std::lock_guard<std::mutex> lock(mu_);
    if (id.empty()) {
      if (ids_.empty()) return std::nullopt;
      id = ids_[std::uniform_int_distribution<size_t>(0, ids_.size() - 1)(rng)];
    }
    const RecordModel& r = records_.at(id);
    const VersionModel& vm =
        r.versions[std::uniform_int_distribution<size_t>(0, r.versions.size() - 1)(rng)];
    const FileModel& f = vm.files[std::uniform_int_distribution<size_t>(0, vm.files.size() - 1)(rng)];
    return FileRef{r.id, r.type, vm.number, f};
  }

  void AddError(const std::string& e) {
    std::lock_guard<std::mutex> lock(mu_);
    errors_.push_back(e);
  }

  std::map<std::string, RecordModel> records() const {
    std::lock_guard<std::mutex> lock(mu_);
    return records_;
  }
  std::vector<LoanModel> loans() const {
    std::lock_guard<std::mutex> lock(mu_);
    return loans_;
  }
  std::vector<std::string> errors() const {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }
  size_t error_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_.size();
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, RecordModel> records_;  // GUARDED_BY(mu_)
  std::vector<std::string> ids_;                // GUARDED_BY(mu_), keys of records_
  std::vector<LoanModel> loans_;                // GUARDED_BY(mu_)
  std::vector<std::string> errors_;             // GUARDED_BY(mu_)
};

// ------------------------------------------------------------------ load

struct LoadOptions {
  uint64_t seed = 1;
  int workers = 16;  // worker i is a client of node i % kNodes
  int ops_per_worker = 40;
  // With a kill: workers of a killed node run until their first lost
  // request (at most kKillCap × ops_per_worker); the other workers run
  // ops_per_worker and at least min_ops_after_kill after the kill.
  bool expect_kill = false;
  int min_ops_after_kill = 8;
  static constexpr int kKillCap = 20;
};

// A signed checkpoint a node published, as the monitor fetched it.
struct CheckpointSample {
  int node = 0;
  std::string text;
  int64_t at_ms = 0;  // since the load began
};

class Load;

// One client of one node: its own connections to its node ("home") and to
// the other node (for reads of what the other node wrote, and some loan
// steps), its own random numbers, its own loans.
class Worker {
 public:
  Worker(int index, Load& load, uint64_t seed);
  void Run();
  const Counts& counts() const { return counts_; }
  const std::vector<LoanModel>& loans() const { return loans_; }
  int home() const { return home_; }
  bool lost_home() const { return lost_home_; }

 private:
  void Step();
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  // The home node, or (with probability `away_percent`) the other node if
  // it is not killed.
  int PickNode(int away_percent);
  HttpResult Call(int node, const std::string& user, const std::string& method,
                  const std::string& path, const std::string& body = "",
                  const std::string& content_type = "");
  // Requests to `node` as any user, for the shared operations.
  workload::Send To(int node);
  // True if `o` is an acknowledgement from `node`. Otherwise the request
  // was lost (its node is killed) or an error is recorded; either way the
  // answer is no acknowledgement.
  bool Acked(const workload::Outcome& o, int node);
  void Error(const std::string& what);
  // `count` files of random size (1 byte to 16 KiB) named after `stem`.
  std::vector<workload::Upload> Uploads(int count, const std::string& stem);

  void CheckIn();
  void NewVersion();
  void Read();
  bool ReadFile(int node, const std::string& user, const FileRef& f, const std::string& why);
  void LoanStep();
  void RequestLoan(const std::string& record_id);
  void AdvanceLoan(LoanModel& l);

  const int index_;
  const int home_;
  Load& load_;
  std::array<std::unique_ptr<HttpsClient>, kNodes> clients_;
  std::mt19937_64 rng_;
  Counts counts_;
  std::vector<std::string> own_records_;  // acknowledged check-ins of this worker
  std::vector<LoanModel> loans_;
  std::set<std::string> uncertain_loans_;  // a step was lost; never advanced again
  std::set<std::string> busy_records_;     // a loan request or step on it was lost
  bool stopped_ = false;
  bool lost_home_ = false;
  bool kill_seen_at_start_ = false;  // the current op began after the kill
};

// The workers and the checkpoint monitor.
// Thread safety: MarkKilled, killed, acked_ops and samples may be called
// from any thread while the load runs.
class Load {
 public:
  Load(Cluster& cluster, Ledger& ledger, LoadOptions options)
      : cluster_(cluster), ledger_(ledger), options_(options) {}
  ~Load() { Join(); }

  void Start() {
    begin_ = std::chrono::steady_clock::now();
    for (int i = 0; i < options_.workers; ++i) {
      workers_.push_back(std::make_unique<Worker>(i, *this, options_.seed * 1000003 + i));
    }
    for (auto& w : workers_) threads_.emplace_back([&w] { w->Run(); });
    monitor_ = std::thread([this] { Monitor(); });
  }

  // Waits for the workers, then stops the monitor; merges the workers'
  // loans into the ledger.
  void Join() {
    if (joined_) return;
    joined_ = true;
    for (auto& t : threads_) t.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (monitor_.joinable()) monitor_.join();
    for (auto& w : workers_) ledger_.AddLoans(w->loans());
    elapsed_ms_ = MillisSinceStart();
  }

  // Before a node is killed: from now on a failed request to it is lost,
  // not an error.
  void MarkKilled(int node) {
    killed_[node].store(true);
    any_killed_.store(true);
  }
  bool killed(int node) const { return killed_[node].load(); }
  bool any_killed() const { return any_killed_.load(); }
  int acked_ops() const { return acked_.load(); }
  void CountAck() { acked_.fetch_add(1); }

  std::vector<CheckpointSample> samples() const {
    std::lock_guard<std::mutex> lock(mu_);
    return samples_;
  }
  const std::vector<std::unique_ptr<Worker>>& workers() const { return workers_; }
  int64_t elapsed_ms() const { return elapsed_ms_; }
  int64_t MillisSinceStart() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 begin_)
        .count();
  }

  Cluster& cluster() { return cluster_; }
  Ledger& ledger() { return ledger_; }
  const LoadOptions& options() const { return options_; }

 private:
  // Fetches the checkpoint from A and B in turn, every 150 ms, until the
  // workers are done.
  void Monitor() {
    std::array<std::unique_ptr<HttpsClient>, kNodes> clients;
    for (int n = 0; n < kNodes; ++n) clients[n] = cluster_.NewClient(n);
    for (int turn = 0;; ++turn) {
      const int node = turn % kNodes;
      if (!killed(node)) {
        HttpResult r = clients[node]->Get("/v1/log/checkpoint");
        if (r.status == 200) {
          std::lock_guard<std::mutex> lock(mu_);
          samples_.push_back({node, r.body, MillisSinceStart()});
        } else if (!killed(node)) {
          ledger_.AddError(std::string("checkpoint from node ") + kNodeName[node] + ": " +
                           Describe(r));
        }
      }
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, std::chrono::milliseconds(150), [this] { return stop_; })) return;
    }
  }

  Cluster& cluster_;
  Ledger& ledger_;
  const LoadOptions options_;
  std::chrono::steady_clock::time_point begin_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::thread monitor_;
  bool joined_ = false;
  int64_t elapsed_ms_ = 0;
  std::array<std::atomic<bool>, kNodes> killed_{};
  std::atomic<bool> any_killed_{false};
  std::atomic<int> acked_{0};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                      // GUARDED_BY(mu_)
  std::vector<CheckpointSample> samples_;  // GUARDED_BY(mu_)
};

// ------------------------------------------------------------------ worker

namespace detail {
inline const std::vector<std::string> kBorrowers = {"staff1", "staff2", "approver1", "approver2"};
inline bool IsApprover(const std::string& user) { return user.rfind("approver", 0) == 0; }
}  // namespace detail

inline Worker::Worker(int index, Load& load, uint64_t seed)
    : index_(index), home_(index % kNodes), load_(load), rng_(seed) {
  for (int n = 0; n < kNodes; ++n) clients_[n] = load.cluster().NewClient(n);
}

inline void Worker::Run() {
  const LoadOptions& o = load_.options();
  for (;;) {
    if (stopped_) return;
    if (!o.expect_kill) {
      if (counts_.ops >= o.ops_per_worker) return;
    } else if (counts_.ops >= LoadOptions::kKillCap * o.ops_per_worker) {
      return;
    } else if (load_.killed(home_)) {
      // Its node is gone: the next request to it is lost, and the worker stops.
    } else if (counts_.ops >= o.ops_per_worker && counts_.ops_after_kill >= o.min_ops_after_kill) {
      return;
    }
    kill_seen_at_start_ = load_.any_killed();
    Step();
    ++counts_.ops;
    if (kill_seen_at_start_) ++counts_.ops_after_kill;
  }
}

inline void Worker::Step() {
  const int roll = Uniform(0, 99);
  if (own_records_.empty() || roll < 25) {
    CheckIn();
  } else if (roll < 45) {
    NewVersion();
  } else if (roll < 72) {
    Read();
  } else {
    LoanStep();
  }
}

inline int Worker::PickNode(int away_percent) {
  const int away = (home_ + 1) % kNodes;
  if (load_.killed(away) || Uniform(0, 99) >= away_percent) return home_;
  return away;
}

inline HttpResult Worker::Call(int node, const std::string& user, const std::string& method,
                               const std::string& path, const std::string& body,
                               const std::string& content_type) {
  return clients_[node]->Request(method, path, body, content_type,
                                 {{"Authorization", "Bearer " + load_.cluster().token(user)}});
}

inline workload::Send Worker::To(int node) {
  return [this, node](const std::string& user, const std::string& method, const std::string& path,
                      const std::string& body, const std::string& content_type) {
    return Call(node, user, method, path, body, content_type);
  };
}

inline bool Worker::Acked(const workload::Outcome& o, int node) {
  if (o.acked()) return true;
  if (o.kind == workload::Outcome::Kind::kUnanswered && load_.killed(node)) {
    ++counts_.lost;
    if (node == home_) {
      lost_home_ = true;
      stopped_ = true;
    }
    return false;
  }
  Error(o.kind == workload::Outcome::Kind::kWrong
            ? o.problem + " (node " + kNodeName[node] + ")"
            : o.what + " on node " + kNodeName[node] + ": " + Describe(o.answer));
  return false;
}

inline void Worker::Error(const std::string& what) {
  load_.ledger().AddError("worker " + std::to_string(index_) + ": " + what);
  stopped_ = true;
}

inline std::vector<workload::Upload> Worker::Uploads(int count, const std::string& stem) {
  std::vector<workload::Upload> out;
  for (int i = 0; i < count; ++i) {
    const size_t size = static_cast<size_t>(Uniform(1, 16 << 10));
    out.push_back(workload::NewUpload(stem + "-" + std::to_string(i) + ".bin", size, rng_()));
  }
  return out;
}

inline void Worker::CheckIn() {
  const int n = counts_.checkins;
  RecordModel rec;
  rec.title = "multinode w" + std::to_string(index_) + " r" + std::to_string(n);
  rec.type = Uniform(0, 2) == 0 ? "contract" : "general";
  rec.classification = Uniform(0, 4) == 0 ? "confidential" : "internal";
  rec.owner = index_;
  VersionModel v;
  v.node = home_;
  const std::vector<workload::Upload> files =
      Uploads(Uniform(1, 2), "w" + std::to_string(index_) + "-r" + std::to_string(n));
  const bool after_kill = kill_seen_at_start_;
  const std::string archivist = index_ % 2 == 0 ? "archivist1" : "archivist2";
  const std::string metadata = workload::CheckInMetadata(
      rec, "sales", "HT-" + std::to_string(index_) + "-" + std::to_string(n));
  if (!Acked(workload::CheckIn(To(home_), archivist, "check-in " + rec.title, metadata, files,
                               &rec.id, &v),
             home_)) {
    return;
  }
  rec.versions.push_back(v);
  counts_.files += static_cast<int>(v.files.size());
  load_.ledger().AddRecord(rec);
  load_.CountAck();
  own_records_.push_back(rec.id);
  ++counts_.checkins;
  if (after_kill) ++counts_.checkins_after_kill;
  // Read-after-write across nodes: the other node serves it at once.
  const int away = (home_ + 1) % kNodes;
  if (!load_.killed(away) && Uniform(0, 99) < 35) {
    FileRef f{rec.id, rec.type, 1, v.files[0]};
    if (ReadFile(away, "archivist1", f, "read back after check-in")) ++counts_.cross_reads;
  }
}

inline void Worker::NewVersion() {
  // Any acknowledged record, whichever node checked it in: workers of both
  // nodes add versions to the same records.
  const std::string id = load_.ledger().PickRecord(rng_);
  if (id.empty()) return CheckIn();
  VersionModel v;
  v.node = home_;
  v.note = "w" + std::to_string(index_) + " v" + std::to_string(counts_.versions);
  const std::vector<workload::Upload> files =
      Uploads(Uniform(1, 2), "w" + std::to_string(index_) + "-v" + std::to_string(counts_.versions));
  const std::string archivist = index_ % 2 == 0 ? "archivist2" : "archivist1";
  if (!Acked(workload::AddVersion(To(home_), archivist, id, files, &v), home_)) return;
  counts_.files += static_cast<int>(v.files.size());
  load_.ledger().AddVersion(id, v);
  load_.CountAck();
  ++counts_.versions;
}

inline bool Worker::ReadFile(int node, const std::string& user, const FileRef& f,
                             const std::string& why) {
  if (!Acked(workload::ReadFile(To(node), user, why, f.record_id, f.version, f.file), node)) {
    return false;
  }
  ++counts_.reads;
  return true;
}

inline void Worker::Read() {
  std::optional<FileRef> f = load_.ledger().PickFile(rng_);
  if (!f) return CheckIn();
  const int node = PickNode(40);
  // Legal staff read contracts; archivists read everything below secret.
  const std::string user = f->type == "contract" && Uniform(0, 2) == 0 ? "legal1" : "archivist2";
  if (ReadFile(node, user, *f, "read") && node != home_) ++counts_.cross_reads;
}

inline void Worker::LoanStep() {
  std::vector<LoanModel*> open;
  for (LoanModel& l : loans_) {
    if (l.open() && !uncertain_loans_.count(l.id)) open.push_back(&l);
  }
  if (!open.empty() && Uniform(0, 2) != 0) {
    return AdvanceLoan(*open[static_cast<size_t>(Uniform(0, static_cast<int>(open.size()) - 1))]);
  }
  // One open loan per record at a time, on this worker's own records only,
  // so that no other worker's loan gets in the way.
  std::vector<std::string> free;
  for (const std::string& id : own_records_) {
    bool busy = busy_records_.count(id) > 0;
    for (const LoanModel& l : loans_) busy = busy || (l.record_id == id && l.open());
    if (!busy) free.push_back(id);
  }
  if (free.empty()) return CheckIn();
  RequestLoan(free[static_cast<size_t>(Uniform(0, static_cast<int>(free.size()) - 1))]);
}

inline void Worker::RequestLoan(const std::string& record_id) {
  LoanModel l;
  l.record_id = record_id;
  l.kind = Uniform(0, 1) == 0 ? "digital" : "physical";
  l.borrower = detail::kBorrowers[static_cast<size_t>(Uniform(0, 3))];
  const int node = PickNode(30);
  if (!Acked(workload::RequestLoan(To(node), "multinode load", &l), node)) {
    busy_records_.insert(record_id);  // the loan may exist all the same
    return;
  }
  loans_.push_back(l);
  load_.CountAck();
  ++counts_.loan_steps;
  // Until the loan is out the borrower may not read the content.
  if (Uniform(0, 99) < 30) {
    std::optional<FileRef> f = load_.ledger().PickFile(rng_, record_id);
    const int rnode = PickNode(50);
    const std::string path = "/v1/records/" + record_id + "/versions/" +
                             std::to_string(f->version) + "/files/" + f->file.id;
    HttpResult denied = Call(rnode, l.borrower, "GET", path);
    if (denied.status == 0 && load_.killed(rnode)) {
      ++counts_.lost;
    } else if (denied.status != 403 || ErrorCode(denied) != "content_forbidden") {
      return Error("read before approval by " + l.borrower + ": " + Describe(denied));
    } else {
      ++counts_.refusals_checked;
    }
  }
}

inline void Worker::AdvanceLoan(LoanModel& l) {
  const workload::LoanStep step = workload::NextLoanStep(l);
  std::string user;
  if (step.by == workload::LoanStep::By::kApprover) {
    // Separation of duties: nobody approves their own loan.
    if (detail::IsApprover(l.borrower) && Uniform(0, 1) == 0) {
      const int node = PickNode(50);
      HttpResult self = Call(node, l.borrower, "POST", "/v1/loans/" + l.id + "/approve");
      if (self.status == 0 && load_.killed(node)) {
        ++counts_.lost;
      } else if (self.status != 403 || ErrorCode(self) != "self_approval") {
        return Error("self-approval of " + l.id + " by " + l.borrower + ": " + Describe(self));
      } else {
        ++counts_.refusals_checked;
      }
    }
    if (l.borrower == "approver1") {
      user = "approver2";
    } else if (l.borrower == "approver2") {
      user = "approver1";
    } else {
      user = Uniform(0, 1) == 0 ? "approver1" : "approver2";
    }
  } else if (step.by == workload::LoanStep::By::kBorrower) {
    // Read under the loan, through either node, before giving it back.
    std::optional<FileRef> f = load_.ledger().PickFile(rng_, l.record_id);
    const int node = PickNode(50);
    if (!ReadFile(node, l.borrower, *f, "read under loan " + l.id)) return;
    if (node != home_) ++counts_.cross_reads;
    user = l.borrower;
  } else {
    user = step.action == "checkout" ? "archivist1" : "archivist2";
  }
  const int node = PickNode(30);
  if (!Acked(workload::TakeLoanStep(To(node), user, step, &l), node)) {
    uncertain_loans_.insert(l.id);
    busy_records_.insert(l.record_id);
    return;
  }
  load_.CountAck();
  ++counts_.loan_steps;
}

}  // namespace custos::testing::multinode
