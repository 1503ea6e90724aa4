#include "tests/crash/workload.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <chrono>
#include <random>

namespace custos::crash {
namespace {

using workload::LoanStep;
using workload::Outcome;
using workload::Upload;

// One worker: its own connection, its own records, its own ledger.
class Worker {
 public:
  Worker(int index, int port, const std::string& ca_file, const Tokens& tokens, uint64_t seed,
         const std::string& tag, const std::atomic<bool>& crashed, WorkerLedger& ledger)
      : index_(index),
        caller_(port, ca_file, tokens),
        rng_(seed),
        tag_(tag),
        crashed_(crashed),
        ledger_(ledger),
        send_(caller_.Sender()) {}

  void Run() {
    while (!stopped_ && !crashed_.load()) Step();
  }

 private:
  // ------------------------------------------------------------ choosing

  void Step() {
    std::vector<size_t> usable;  // acknowledged records not given up for destruction
    for (size_t i = 0; i < ledger_.records.size(); ++i) {
      if (ledger_.records[i].acked() && !ledger_.records[i].in_batch) usable.push_back(i);
    }
    const int roll = Uniform(0, 99);
    if (usable.empty() || roll < 30) {
      CheckIn();
    } else if (roll < 65) {
      RecordModel& r = ledger_.records[usable[Uniform(0, static_cast<int>(usable.size()) - 1)]];
      if (roll < 45) {
        NewVersion(r);
      } else {
        ReadFileOf(r, Role::kArchivist);
      }
    } else if (roll < 90) {
      LoanStep(usable);
    } else {
      Destroy(usable);
    }
  }

  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  // Mostly small files, some of about 1 MiB.
  size_t FileSize() {
    int roll = Uniform(0, 99);
    if (roll < 55) return static_cast<size_t>(Uniform(1, 4096));
    if (roll < 85) return static_cast<size_t>(Uniform(16 << 10, 256 << 10));
    return static_cast<size_t>(Uniform(900 << 10, 1200 << 10));
  }

  // `count` new files named after `stem`.
  std::vector<Upload> Uploads(int count, const std::string& stem) {
    std::vector<Upload> out;
    for (int i = 0; i < count; ++i) {
      const size_t size = FileSize();
      out.push_back(workload::NewUpload(stem + "-" + std::to_string(i) + ".bin", size, rng_()));
    }
    return out;
  }

  // ------------------------------------------------------------ answers

  // True if `o` is an acknowledgement. Otherwise either the server died
  // under the call (after the crash mark: the operation is in flight, the
  // worker stops) or it answered wrongly (an error).
  bool Acked(const Outcome& o) {
    if (o.acked()) return true;
    if (o.kind == Outcome::Kind::kUnanswered && crashed_.load() &&
        (o.answer.status == 0 || !ResponseComplete(o.answer))) {
      ++ledger_.counts.unacked;
    } else {
      Error(o.kind == Outcome::Kind::kWrong ? o.problem : o.what + ": " + Describe(o.answer));
    }
    stopped_ = true;
    return false;
  }

  void Error(const std::string& message) {
    ledger_.errors.push_back("worker " + std::to_string(index_) + ": " + message);
    stopped_ = true;
  }

  void CountFiles(const VersionModel& v) {
    for (const FileModel& f : v.files) {
      ++ledger_.counts.files;
      ledger_.counts.bytes += f.size;
    }
  }

  // ------------------------------------------------------------ operations

  void CheckIn() {
    const std::string n = std::to_string(ledger_.records.size());
    RecordModel rec;
    rec.title = tag_ + " w" + std::to_string(index_) + " r" + n;
    rec.type = Uniform(0, 3) == 0 ? "contract" : "general";
    const std::string contract_number = "HT-" + std::to_string(Uniform(1000, 9999));
    std::vector<Upload> files = Uploads(Uniform(1, 3), "w" + std::to_string(index_) + "-r" + n);
    rec.versions.emplace_back();
    ledger_.records.push_back(std::move(rec));
    RecordModel& r = ledger_.records.back();
    if (!Acked(workload::CheckIn(send_, RoleName(Role::kArchivist), "check-in " + r.title,
                                 workload::CheckInMetadata(r, "sales", contract_number), files,
                                 &r.id, &r.versions[0]))) {
      return;
    }
    CountFiles(r.versions[0]);
    ++ledger_.counts.checkins;
  }

  void NewVersion(RecordModel& r) {
    VersionModel v;
    v.note = tag_ + " w" + std::to_string(index_) + " v" + std::to_string(++versions_sent_);
    int acked_before = 0;
    for (const VersionModel& x : r.versions) acked_before += x.acked ? 1 : 0;
    std::vector<Upload> files =
        Uploads(Uniform(1, 2), "w" + std::to_string(index_) + "-v" + std::to_string(versions_sent_));
    r.versions.push_back(std::move(v));
    VersionModel& sent = r.versions.back();
    if (!Acked(workload::AddVersion(send_, RoleName(Role::kArchivist), r.id, files, &sent))) return;
    if (sent.number != acked_before + 1) {
      return Error("new version of " + r.id + ": acknowledged as version " +
                   std::to_string(sent.number) + ", expected " + std::to_string(acked_before + 1));
    }
    CountFiles(sent);
    ++ledger_.counts.versions;
  }

  // Downloads one acknowledged file of `r` as `role` and compares it.
  void ReadFileOf(const RecordModel& r, Role role) {
    std::vector<const VersionModel*> acked;
    for (const VersionModel& v : r.versions) {
      if (v.acked) acked.push_back(&v);
    }
    const VersionModel& v = *acked[Uniform(0, static_cast<int>(acked.size()) - 1)];
    const FileModel& f = v.files[Uniform(0, static_cast<int>(v.files.size()) - 1)];
    if (!Acked(workload::ReadFile(send_, RoleName(role), "read", r.id, v.number, f))) return;
    ++ledger_.counts.reads;
  }

  // Moves one loan a step on: a new request on a record without an open
  // loan, or the next transition of an open one.
  void LoanStep(const std::vector<size_t>& usable) {
    std::vector<size_t> open;
    for (size_t i = 0; i < ledger_.loans.size(); ++i) {
      if (ledger_.loans[i].open()) open.push_back(i);
    }
    if (!open.empty() && Uniform(0, 2) != 0) {
      Advance(ledger_.loans[open[Uniform(0, static_cast<int>(open.size()) - 1)]]);
      return;
    }
    std::vector<const RecordModel*> free;
    for (size_t i : usable) {
      if (!HasOpenLoan(ledger_.records[i].id)) free.push_back(&ledger_.records[i]);
    }
    if (free.empty()) {
      CheckIn();
    } else {
      Request(*free[Uniform(0, static_cast<int>(free.size()) - 1)]);
    }
  }

  bool HasOpenLoan(const std::string& record_id) const {
    for (const LoanModel& l : ledger_.loans) {
      if (l.record_id == record_id && l.open()) return true;
    }
    return false;
  }

  void Request(const RecordModel& r) {
    LoanModel loan;
    loan.record_id = r.id;
    loan.kind = Uniform(0, 1) == 0 ? "digital" : "physical";
    loan.borrower = RoleName(Role::kStaff);
    ledger_.loans.push_back(loan);
    if (!Acked(workload::RequestLoan(send_, "crash harness", &ledger_.loans.back()))) return;
    ++ledger_.counts.loan_steps;
  }

  void Advance(LoanModel& l) {
    const workload::LoanStep step = workload::NextLoanStep(l);
    Role role = Role::kApprover;
    if (step.by == LoanStep::By::kArchivist) role = Role::kArchivist;
    if (step.by == LoanStep::By::kBorrower) {
      // Read under the loan before giving it back.
      for (const RecordModel& r : ledger_.records) {
        if (r.id == l.record_id) ReadFileOf(r, Role::kStaff);
      }
      if (stopped_) return;
      role = Role::kStaff;
    }
    if (!Acked(workload::TakeLoanStep(send_, RoleName(role), step, &l))) return;
    ++ledger_.counts.loan_steps;
  }

  // Proposes one or two due general records without an open loan for
  // destruction, approves the batch as approver and legal, and executes it.
  void Destroy(const std::vector<size_t>& usable) {
    std::vector<RecordModel*> due;
    for (size_t i : usable) {
      RecordModel& r = ledger_.records[i];
      if (r.type == "general" && !HasOpenLoan(r.id)) due.push_back(&r);
    }
    if (due.empty()) {
      CheckIn();
      return;
    }
    std::shuffle(due.begin(), due.end(), rng_);
    due.resize(std::min<size_t>(due.size(), static_cast<size_t>(Uniform(1, 2))));
    BatchModel batch;
    Poco::JSON::Array::Ptr ids = new Poco::JSON::Array;
    for (RecordModel* r : due) {
      r->in_batch = true;
      batch.record_ids.push_back(r->id);
      ids->add(r->id);
    }
    ledger_.batches.push_back(batch);
    BatchModel& b = ledger_.batches.back();
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("recordIds", ids);
    o->set("reason", "crash harness: retention ended");
    HttpResult res = caller_.Json(Role::kArchivist, "POST", "/v1/destructions", Stringify(o));
    if (!Acked(workload::Expect("destruction proposal", res, 201))) return;
    b.id = Str(JsonObject(res.body), "id");
    b.acked_state = "proposed";
    ++ledger_.counts.batch_steps;
    if (!BatchStep(b, Role::kApprover, "approve", "proposed")) return;
    if (!BatchStep(b, Role::kLegal, "approve", "approved")) return;
    b.execute_sent = true;
    if (!BatchStep(b, Role::kArchivist, "execute", "executed")) return;
    for (RecordModel* r : due) r->destroy_acked = true;
    ++ledger_.counts.batches_executed;
    ledger_.counts.records_destroyed += due.size();
  }

  bool BatchStep(BatchModel& b, Role role, const std::string& action, const std::string& next) {
    HttpResult res = caller_.Call(role, "POST", "/v1/destructions/" + b.id + "/" + action);
    const std::string what = action + " of batch " + b.id + " as " + RoleName(role);
    if (!Acked(workload::Expect(what, res, 200))) return false;
    if (Str(JsonObject(res.body), "state") != next) {
      Error(what + ": expected state " + next + ", answered " + Describe(res));
      return false;
    }
    b.acked_state = next;
    ++ledger_.counts.batch_steps;
    return true;
  }

  int index_;
  Caller caller_;
  std::mt19937_64 rng_;
  std::string tag_;
  const std::atomic<bool>& crashed_;
  WorkerLedger& ledger_;
  const workload::Send send_;  // through caller_
  bool stopped_ = false;
  int versions_sent_ = 0;
};

}  // namespace

Workload::Workload(int port, std::string ca_file, const Tokens& tokens, WorkloadOptions options)
    : port_(port), ca_file_(std::move(ca_file)), tokens_(tokens), options_(std::move(options)) {}

Workload::~Workload() {
  MarkCrashed();
  Join();
}

void Workload::Start() {
  ledgers_.assign(static_cast<size_t>(options_.threads), WorkerLedger{});
  for (int i = 0; i < options_.threads; ++i) {
    uint64_t seed = options_.seed ^ (0x9E3779B97F4A7C15ull * static_cast<uint64_t>(i + 1));
    threads_.emplace_back([this, i, seed] {
      Worker(i, port_, ca_file_, tokens_, seed, options_.tag, crashed_,
             ledgers_[static_cast<size_t>(i)])
          .Run();
    });
  }
  threads_.emplace_back([this] { PollCheckpoints(); });
}

void Workload::Join() {
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void Workload::PollCheckpoints() {
  HttpsClient client(port_, ca_file_);
  while (!crashed_.load()) {
    HttpResult r = client.Get("/v1/log/checkpoint");
    if (r.status == 200 && ResponseComplete(r)) {
      checkpoint_.text = r.body;
      ++checkpoint_.polls;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace custos::crash
