#include "tests/crash/workload.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "tests/crash/json_util.h"

namespace custos::crash {
namespace {

constexpr char kBoundary[] = "----CustosCrashHarness5b0e";

// Loan states in which the workload still has a step to take.
bool LoanOpen(const LoanModel& loan) {
  return loan.acked_state == "requested" || loan.acked_state == "approved" ||
         loan.acked_state == "checked_out";
}

// An RFC 3339 UTC instant `days` from now.
std::string DaysFromNow(int days) {
  time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()) +
             static_cast<time_t>(days) * 86400;
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Part(const std::string& name, const std::string& filename, const std::string& type,
                 const std::string& bytes) {
  std::string out =
      std::string("--") + kBoundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"";
  if (!filename.empty()) out += "; filename=\"" + filename + "\"";
  out += "\r\nContent-Type: " + type + "\r\n\r\n";
  out += bytes;
  out += "\r\n";
  return out;
}

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
        ledger_(ledger) {}

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

  // Multipart file parts for `count` new files; their specs in *specs.
  std::string FileParts(int count, const std::string& stem, std::vector<FileSpec>* specs) {
    std::string body;
    for (int i = 0; i < count; ++i) {
      std::string bytes = PatternBytes(FileSize(), rng_());
      FileSpec spec{stem + "-" + std::to_string(i) + ".bin", bytes.size(), Sha256Hex(bytes)};
      body += Part("file", spec.name, "application/octet-stream", bytes);
      specs->push_back(spec);
    }
    return body;
  }

  // ------------------------------------------------------------ answers

  // True if `r` is a complete answer with status `want`. Otherwise either
  // the server died under the call (after the crash mark: the operation is
  // in flight, the worker stops) or it answered wrongly (an error).
  bool Acked(const HttpResult& r, int want, const std::string& what) {
    if (r.status == want && ResponseComplete(r)) return true;
    if (crashed_.load() && (r.status == 0 || !ResponseComplete(r))) {
      ++ledger_.counts.unacked;
    } else {
      Error(what + ": " + Describe(r));
    }
    stopped_ = true;
    return false;
  }

  void Error(const std::string& message) {
    ledger_.errors.push_back("worker " + std::to_string(index_) + ": " + message);
    stopped_ = true;
  }

  // Compares the files of an acknowledged version with what was sent and
  // stores their ids. False (after an error) on any difference.
  bool MatchFiles(const Poco::JSON::Object::Ptr& version, VersionModel& v,
                  const std::string& what) {
    Poco::JSON::Array::Ptr files = version ? version->getArray("files") : nullptr;
    if (!files || files->size() != v.files.size()) {
      Error(what + ": acknowledged with the wrong number of files");
      return false;
    }
    for (size_t i = 0; i < v.files.size(); ++i) {
      Poco::JSON::Object::Ptr f = files->getObject(static_cast<unsigned>(i));
      const FileSpec& s = v.files[i];
      if (Str(f, "name") != s.name || Int(f, "size") != static_cast<int64_t>(s.size) ||
          Str(f, "sha256") != s.sha256) {
        Error(what + ": file " + s.name + " acknowledged as " + Str(f, "name") + " " +
              std::to_string(Int(f, "size")) + " bytes sha256 " + Str(f, "sha256") + ", sent " +
              std::to_string(s.size) + " bytes sha256 " + s.sha256);
        return false;
      }
      v.file_ids.push_back(Str(f, "id"));
    }
    v.number = static_cast<int>(Int(version, "number"));
    v.log_index = Int(version, "logIndex");
    v.acked = true;
    for (const FileSpec& s : v.files) {
      ++ledger_.counts.files;
      ledger_.counts.bytes += s.size;
    }
    return true;
  }

  // ------------------------------------------------------------ operations

  void CheckIn() {
    RecordModel rec;
    rec.title =
        tag_ + " w" + std::to_string(index_) + " r" + std::to_string(ledger_.records.size());
    rec.type = Uniform(0, 3) == 0 ? "contract" : "general";
    Poco::JSON::Object::Ptr meta = new Poco::JSON::Object;
    meta->set("type", rec.type);
    meta->set("title", rec.title);
    meta->set("department", "sales");
    meta->set("classification", "internal");
    if (rec.type == "contract") {
      Poco::JSON::Object::Ptr fields = new Poco::JSON::Object;
      fields->set("counterparty", "Harbour Logistics Co.");
      fields->set("contractNumber", "HT-" + std::to_string(Uniform(1000, 9999)));
      fields->set("signedDate", "2026-03-14");
      meta->set("metadata", fields);
    }
    rec.versions.emplace_back();
    std::string body =
        Part("metadata", "", "application/json", Stringify(meta)) +
        FileParts(Uniform(1, 3),
                  "w" + std::to_string(index_) + "-r" + std::to_string(ledger_.records.size()),
                  &rec.versions[0].files) +
        "--" + kBoundary + "--\r\n";
    ledger_.records.push_back(std::move(rec));
    RecordModel& r = ledger_.records.back();
    HttpResult res = caller_.Call(Role::kArchivist, "POST", "/v1/records", body,
                                  std::string("multipart/form-data; boundary=") + kBoundary);
    if (!Acked(res, 201, "check-in " + r.title)) return;
    Poco::JSON::Object::Ptr o = JsonObject(res.body);
    Poco::JSON::Array::Ptr versions = o ? o->getArray("versions") : nullptr;
    if (!versions || versions->size() != 1 || Str(o, "id").empty()) {
      return Error("check-in " + r.title + ": acknowledged without an id and one version");
    }
    if (!MatchFiles(versions->getObject(0), r.versions[0], "check-in " + r.title)) return;
    r.id = Str(o, "id");
    ++ledger_.counts.checkins;
  }

  void NewVersion(RecordModel& r) {
    VersionModel v;
    v.note = tag_ + " w" + std::to_string(index_) + " v" + std::to_string(++versions_sent_);
    Poco::JSON::Object::Ptr meta = new Poco::JSON::Object;
    meta->set("kind", "amendment");
    meta->set("note", v.note);
    int acked_before = 0;
    for (const VersionModel& x : r.versions) acked_before += x.acked ? 1 : 0;
    std::string body =
        Part("metadata", "", "application/json", Stringify(meta)) +
        FileParts(Uniform(1, 2),
                  "w" + std::to_string(index_) + "-v" + std::to_string(versions_sent_), &v.files) +
        "--" + kBoundary + "--\r\n";
    r.versions.push_back(std::move(v));
    VersionModel& sent = r.versions.back();
    HttpResult res = caller_.Call(Role::kArchivist, "POST", "/v1/records/" + r.id + "/versions",
                                  body, std::string("multipart/form-data; boundary=") + kBoundary);
    const std::string what = "new version of " + r.id;
    if (!Acked(res, 201, what)) return;
    Poco::JSON::Object::Ptr o = JsonObject(res.body);
    if (!MatchFiles(o, sent, what)) return;
    if (sent.number != acked_before + 1) {
      return Error(what + ": acknowledged as version " + std::to_string(sent.number) +
                   ", expected " + std::to_string(acked_before + 1));
    }
    ++ledger_.counts.versions;
  }

  // Downloads one acknowledged file of `r` as `role` and compares it.
  void ReadFileOf(const RecordModel& r, Role role) {
    std::vector<const VersionModel*> acked;
    for (const VersionModel& v : r.versions) {
      if (v.acked) acked.push_back(&v);
    }
    const VersionModel& v = *acked[Uniform(0, static_cast<int>(acked.size()) - 1)];
    size_t i = static_cast<size_t>(Uniform(0, static_cast<int>(v.files.size()) - 1));
    const std::string path =
        "/v1/records/" + r.id + "/versions/" + std::to_string(v.number) + "/files/" + v.file_ids[i];
    HttpResult res = caller_.Call(role, "GET", path);
    if (!Acked(res, 200, std::string("read as ") + RoleName(role) + " " + path)) return;
    if (Sha256Hex(res.body) != v.files[i].sha256) {
      return Error("read " + path + ": " + std::to_string(res.body.size()) + " bytes with sha256 " +
                   Sha256Hex(res.body) + ", uploaded " + std::to_string(v.files[i].size) +
                   " bytes with sha256 " + v.files[i].sha256);
    }
    ++ledger_.counts.reads;
  }

  // Moves one loan a step on: a new request on a record without an open
  // loan, or the next transition of an open one.
  void LoanStep(const std::vector<size_t>& usable) {
    std::vector<size_t> open;
    for (size_t i = 0; i < ledger_.loans.size(); ++i) {
      if (LoanOpen(ledger_.loans[i])) open.push_back(i);
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
      if (l.record_id == record_id && LoanOpen(l)) return true;
    }
    return false;
  }

  void Request(const RecordModel& r) {
    LoanModel loan;
    loan.record_id = r.id;
    loan.kind = Uniform(0, 1) == 0 ? "digital" : "physical";
    loan.pending_state = "requested";
    ledger_.loans.push_back(loan);
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("recordId", r.id);
    o->set("kind", loan.kind);
    o->set("purpose", "crash harness");
    o->set("dueAt", DaysFromNow(7));
    HttpResult res = caller_.Json(Role::kStaff, "POST", "/v1/loans", Stringify(o));
    LoanModel& l = ledger_.loans.back();
    if (!Acked(res, 201, "loan request for " + r.id)) return;
    Poco::JSON::Object::Ptr answer = JsonObject(res.body);
    if (Str(answer, "state") != "requested" || Str(answer, "id").empty()) {
      return Error("loan request for " + r.id + " acknowledged as " + Describe(res));
    }
    l.id = Str(answer, "id");
    l.acked_state = "requested";
    l.pending_state.clear();
    ++l.acked_steps;
    ++ledger_.counts.loan_steps;
  }

  void Advance(LoanModel& l) {
    Role role = Role::kApprover;
    std::string action, next;
    if (l.acked_state == "requested") {
      action = "approve";
      next = l.kind == "digital" ? "checked_out" : "approved";
    } else if (l.acked_state == "approved") {
      role = Role::kArchivist;
      action = "checkout";
      next = "checked_out";
    } else if (l.kind == "digital") {
      // Read under the loan before giving it back.
      for (const RecordModel& r : ledger_.records) {
        if (r.id == l.record_id) ReadFileOf(r, Role::kStaff);
      }
      if (stopped_) return;
      role = Role::kStaff;
      action = "return";
      next = "returned";
    } else {
      role = Role::kArchivist;
      action = "return";
      next = "returned";
    }
    l.pending_state = next;
    HttpResult res = caller_.Call(role, "POST", "/v1/loans/" + l.id + "/" + action);
    const std::string what = action + " of loan " + l.id;
    if (!Acked(res, 200, what)) return;
    if (Str(JsonObject(res.body), "state") != next) {
      return Error(what + ": expected state " + next + ", answered " + Describe(res));
    }
    l.acked_state = next;
    l.pending_state.clear();
    ++l.acked_steps;
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
    if (!Acked(res, 201, "destruction proposal")) return;
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
    if (!Acked(res, 200, what)) return false;
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
