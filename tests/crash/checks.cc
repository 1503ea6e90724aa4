#include "tests/crash/checks.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <set>
#include <thread>

#include "crypto/signed_note.h"
#include "tests/workload/log_checks.h"

namespace custos::crash {
namespace {

namespace fs = std::filesystem;

constexpr int kPageSize = 500;

// Order of destruction batch states.
int BatchRank(const std::string& state) {
  if (state == "proposed") return 1;
  if (state == "approved") return 2;
  if (state == "executed") return 3;
  return 0;
}

// The state one more acknowledged step would have led to, by BatchRank:
// a step in flight at the crash may have landed.
const char* const kNextBatchState[] = {"proposed", "approved", "executed", "executed"};

bool IsHex(const std::string& s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c)) &&
                  !std::isupper(static_cast<unsigned char>(c));
         });
}

}  // namespace

CheckFigures& CheckFigures::operator+=(const CheckFigures& o) {
  records_listed += o.records_listed;
  acked_records += o.acked_records;
  acked_versions += o.acked_versions;
  unacked_present += o.unacked_present;
  files_downloaded += o.files_downloaded;
  bytes_downloaded += o.bytes_downloaded;
  destroyed_files += o.destroyed_files;
  loans_checked += o.loans_checked;
  batches_checked += o.batches_checked;
  batches_finished += o.batches_finished;
  blobs += o.blobs;
  log_size_before += o.log_size_before;
  log_size_after += o.log_size_after;
  return *this;
}

TrialChecker::TrialChecker(const std::vector<WorkerLedger>& ledgers, const Tokens& tokens,
                           std::vector<std::string> log_keys, std::vector<std::string>* failures,
                           CheckFigures* figures)
    : ledgers_(ledgers),
      tokens_(tokens),
      log_keys_(std::move(log_keys)),
      failures_(failures),
      figures_(figures) {
  for (const WorkerLedger& l : ledgers_) {
    for (const RecordModel& r : l.records) by_title_[r.title] = &r;
  }
}

void TrialChecker::Fail(const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_->push_back(message);
}

void TrialChecker::CheckLive(const Daemon& daemon, const SeenCheckpoint& seen, int threads) {
  CheckCheckpoint(daemon, seen);
  CheckRecords(daemon, threads);
  CheckLoans(daemon);
  CheckBatches(daemon);
}

// ------------------------------------------------------------- checkpoint

void TrialChecker::CheckCheckpoint(const Daemon& daemon, const SeenCheckpoint& seen) {
  std::vector<std::string> key_errors;
  std::vector<crypto::note::KeyVerifier> keys;
  for (const std::string& line : log_keys_) {
    for (auto& k : workload::ParseVerifierKeys(line, &key_errors)) keys.push_back(std::move(k));
  }
  if (!key_errors.empty()) return Fail(key_errors.front());
  const std::vector<const crypto::note::Verifier*> verifiers = workload::VerifierPointers(keys);

  Caller caller(daemon.port(), daemon.ca_file(), tokens_);
  HttpResult now = caller.Public("/v1/log/checkpoint");
  if (now.status != 200) return Fail("checkpoint after restart: " + Describe(now));
  auto after = crypto::OpenCheckpoint(now.body, verifiers);
  if (!after.ok()) {
    return Fail("checkpoint after restart does not verify with the log key: " +
                after.status().ToString());
  }
  const crypto::Checkpoint& cp2 = after->checkpoint;
  figures_->log_size_after = cp2.size;

  // Every acknowledged version's log entry is inside the new tree.
  for (const WorkerLedger& l : ledgers_) {
    for (const RecordModel& r : l.records) {
      for (const VersionModel& v : r.versions) {
        if (v.acked && (v.log_index < 0 || static_cast<uint64_t>(v.log_index) >= cp2.size)) {
          Fail("acknowledged version " + std::to_string(v.number) + " of " + r.id +
               " has log index " + std::to_string(v.log_index) + " outside the log of size " +
               std::to_string(cp2.size) + " after restart");
        }
      }
    }
  }

  if (seen.text.empty()) return;  // killed before the first poll answered
  auto before = crypto::OpenCheckpoint(seen.text, verifiers);
  if (!before.ok()) {
    return Fail("checkpoint seen before the crash does not verify: " + before.status().ToString());
  }
  const crypto::Checkpoint& cp1 = before->checkpoint;
  figures_->log_size_before = cp1.size;
  if (cp1.origin != cp2.origin) {
    Fail("checkpoint origin changed across the crash: " + cp1.origin + " -> " + cp2.origin);
  }
  if (cp2.size < cp1.size) {
    return Fail("log shrank across the crash: checkpoint of size " + std::to_string(cp1.size) +
                " was served before it, size " + std::to_string(cp2.size) + " after");
  }
  if (cp1.size == 0) return;
  Status s = workload::CheckConsistency(caller.Sender(), RoleName(Role::kArchivist), cp1, cp2);
  if (!s.ok()) Fail("across the crash: " + s.ToString());
}

// ---------------------------------------------------------------- records

void TrialChecker::CheckRecords(const Daemon& daemon, int threads) {
  Caller caller(daemon.port(), daemon.ca_file(), tokens_);
  std::vector<std::string> ids;
  for (int page = 1;; ++page) {
    HttpResult r = caller.Call(
        Role::kArchivist, "GET",
        "/v1/records?page=" + std::to_string(page) + "&pageSize=" + std::to_string(kPageSize));
    if (r.status != 200)
      return Fail("record list page " + std::to_string(page) + ": " + Describe(r));
    std::vector<Poco::JSON::Object::Ptr> records = Objects(JsonObject(r.body), "records");
    for (const auto& rec : records) ids.push_back(Str(rec, "id"));
    if (records.size() < static_cast<size_t>(kPageSize)) break;
  }
  figures_->records_listed = ids.size();

  std::set<std::string> listed(ids.begin(), ids.end());
  if (listed.size() != ids.size()) Fail("the record list names a record twice");
  for (const WorkerLedger& l : ledgers_) {
    for (const RecordModel& r : l.records) {
      if (r.acked() && !listed.count(r.id)) {
        Fail("acknowledged check-in " + r.id + " ('" + r.title + "') is missing after restart");
      }
    }
  }

  // Every listed record in detail, its files downloaded, on several
  // connections at once.
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < std::max(1, threads); ++t) {
    pool.emplace_back([&] {
      Caller c(daemon.port(), daemon.ca_file(), tokens_);
      for (size_t i = next++; i < ids.size(); i = next++) CheckRecord(c, ids[i]);
    });
  }
  for (std::thread& t : pool) t.join();
}

void TrialChecker::CheckRecord(Caller& caller, const std::string& id) {
  HttpResult r = caller.Call(Role::kArchivist, "GET", "/v1/records/" + id);
  if (r.status != 200) return Fail("record " + id + " is listed but does not load: " + Describe(r));
  Poco::JSON::Object::Ptr rec = JsonObject(r.body);
  const std::string title = Str(rec, "title");
  const std::string state = Str(rec, "state");
  auto it = by_title_.find(title);
  if (it == by_title_.end()) {
    return Fail("record " + id + " ('" + title + "') was never sent by the workload");
  }
  const RecordModel& model = *it->second;
  {
    std::lock_guard<std::mutex> lock(mu_);
    seen_records_[id].state = state;
    if (model.acked()) {
      ++figures_->acked_records;
    } else {
      ++figures_->unacked_present;
    }
  }
  if (model.acked() && model.id != id) {
    return Fail("check-in '" + title + "' was acknowledged as " + model.id + " but is " + id);
  }
  const bool destroyed = state == "destroyed";
  if (model.destroy_acked && !destroyed) {
    Fail("record " + id + " was destroyed by an acknowledged batch but is " + state);
  }
  if (destroyed && !model.in_batch) Fail("record " + id + " is destroyed but was never proposed");

  std::vector<Poco::JSON::Object::Ptr> versions = Objects(rec, "versions");
  if (versions.empty()) Fail("record " + id + " has no version");
  std::set<int> numbers;
  for (size_t k = 0; k < versions.size(); ++k) {
    int number = static_cast<int>(Int(versions[k], "number"));
    numbers.insert(number);
    if (number != static_cast<int>(k) + 1) {
      Fail("record " + id + " lists version " + std::to_string(number) + " at position " +
           std::to_string(k + 1));
    }
    CheckVersion(caller, id, model, versions[k], destroyed);
  }
  for (const VersionModel& v : model.versions) {
    if (v.acked && !numbers.count(v.number)) {
      Fail("acknowledged version " + std::to_string(v.number) + " of " + id +
           " is missing after restart");
    }
  }
}

void TrialChecker::CheckVersion(Caller& caller, const std::string& id, const RecordModel& model,
                                const Poco::JSON::Object::Ptr& version, bool destroyed) {
  const int number = static_cast<int>(Int(version, "number"));
  const std::string where = "version " + std::to_string(number) + " of " + id;
  const VersionModel* sent = nullptr;
  if (number == 1) {
    sent = &model.versions[0];
  } else {
    const std::string note = Str(version, "note");
    for (size_t i = 1; i < model.versions.size(); ++i) {
      if (model.versions[i].note == note) sent = &model.versions[i];
    }
    if (sent == nullptr) return Fail(where + " (note '" + note + "') was never sent");
  }
  // As sent, and as acknowledged if it was; then each file's content.
  for (const std::string& problem : workload::CompareServedVersion(where, version, *sent)) {
    Fail(problem);
  }
  std::vector<Poco::JSON::Object::Ptr> files = Objects(version, "files");
  for (size_t i = 0; i < files.size() && i < sent->files.size(); ++i) {
    const std::string label = where + " file " + sent->files[i].name;
    if (Bool(files[i], "destroyed") != destroyed) {
      Fail(label + (destroyed ? " is not marked destroyed in a destroyed record"
                              : " is marked destroyed in a record that is not"));
    }
    const std::string path = "/v1/records/" + id + "/versions/" + std::to_string(number) +
                             "/files/" + Str(files[i], "id");
    HttpResult got = caller.Call(Role::kArchivist, "GET", path);
    if (destroyed) {
      if (got.status != 410) Fail(label + " of a destroyed record answers " + Describe(got));
      std::lock_guard<std::mutex> lock(mu_);
      ++figures_->destroyed_files;
      continue;
    }
    const std::string problem = workload::CompareDownload(label, got, sent->files[i]);
    if (!problem.empty()) Fail(problem);
    if (got.status != 200) continue;
    std::lock_guard<std::mutex> lock(mu_);
    ++figures_->files_downloaded;
    figures_->bytes_downloaded += got.body.size();
  }
  if (sent->acked) {
    std::lock_guard<std::mutex> lock(mu_);
    ++figures_->acked_versions;
  } else if (number > 1) {
    std::lock_guard<std::mutex> lock(mu_);
    ++figures_->unacked_present;
  }
}

// ------------------------------------------------------------------ loans

void TrialChecker::CheckLoans(const Daemon& daemon) {
  Caller caller(daemon.port(), daemon.ca_file(), tokens_);
  std::map<std::string, std::vector<const LoanModel*>> by_record;
  for (const WorkerLedger& l : ledgers_) {
    for (const LoanModel& loan : l.loans) by_record[loan.record_id].push_back(&loan);
  }
  for (const auto& [record_id, sent] : by_record) {
    HttpResult r = caller.Call(Role::kArchivist, "GET", "/v1/loans?recordId=" + record_id);
    if (r.status != 200) {
      Fail("loans of " + record_id + ": " + Describe(r));
      continue;
    }
    std::map<std::string, Poco::JSON::Object::Ptr> found;
    for (const auto& loan : Objects(JsonObject(r.body), "loans")) found[Str(loan, "id")] = loan;
    std::set<std::string> matched;
    for (const LoanModel* m : sent) {
      ++figures_->loans_checked;
      if (m->id.empty()) {
        // The request was in flight: at most one new loan, still requested.
        for (const auto& [id, loan] : found) {
          bool known = false;
          for (const LoanModel* other : sent) known = known || other->id == id;
          if (known || matched.count(id)) continue;
          matched.insert(id);
          ++figures_->unacked_present;
          if (Str(loan, "kind") != m->kind || Str(loan, "state") != "requested") {
            Fail("loan " + id + " of " + record_id + ", whose request was in flight, is a " +
                 Str(loan, "kind") + " loan in state " + Str(loan, "state") + "; sent a " +
                 m->kind + " request");
          }
          break;
        }
        continue;
      }
      matched.insert(m->id);
      auto it = found.find(m->id);
      if (it == found.end()) {
        Fail("acknowledged loan " + m->id + " of " + record_id + " (" + m->state +
             ") is missing after restart");
        continue;
      }
      const std::string state = Str(it->second, "state");
      if (state != m->state && state == m->pending) ++figures_->unacked_present;
      const std::string problem =
          workload::CompareServedLoan("loans of " + record_id, it->second, *m);
      if (!problem.empty()) Fail(problem);
      // Every acknowledged transition left its event.
      if (static_cast<int>(Objects(it->second, "events").size()) < m->steps) {
        Fail("loan " + m->id + " shows " + std::to_string(Objects(it->second, "events").size()) +
             " events; " + std::to_string(m->steps) + " steps were acknowledged");
      }
    }
    for (const auto& [id, loan] : found) {
      if (!matched.count(id)) Fail("loan " + id + " of " + record_id + " was never requested");
    }
  }
}

// -------------------------------------------------------------- batches

void TrialChecker::CheckBatches(const Daemon& daemon) {
  Caller caller(daemon.port(), daemon.ca_file(), tokens_);
  HttpResult r = caller.Call(Role::kArchivist, "GET", "/v1/destructions");
  if (r.status != 200) return Fail("destruction list: " + Describe(r));
  std::map<std::string, const BatchModel*> known;
  std::vector<const BatchModel*> in_flight;
  for (const WorkerLedger& l : ledgers_) {
    for (const BatchModel& b : l.batches) {
      if (b.id.empty()) {
        in_flight.push_back(&b);
      } else {
        known[b.id] = &b;
      }
    }
  }
  std::set<std::string> listed;
  for (const auto& batch : Objects(JsonObject(r.body), "destructions")) {
    const std::string id = Str(batch, "id");
    const std::string state = Str(batch, "state");
    listed.insert(id);
    ++figures_->batches_checked;
    std::vector<std::string> records;
    for (const auto& item : Objects(batch, "records")) records.push_back(Str(item, "recordId"));
    auto it = known.find(id);
    if (it != known.end()) {
      const BatchModel& b = *it->second;
      const int acked = BatchRank(b.acked_state);
      if (BatchRank(state) != acked && state != kNextBatchState[acked]) {
        Fail("batch " + id + " is " + state + "; acknowledged " + b.acked_state);
      }
      if (b.acked_state == "executed" && !Bool(batch, "hasCertificate")) {
        Fail("batch " + id + " was acknowledged as executed but has no certificate");
      }
      if (state != b.acked_state) ++figures_->unacked_present;
      // The certificate is the last thing an execution does. An execution
      // cut short after its commit is finished by custosd at start (blob
      // deletion, scrub, certificate), before it serves anything.
      if (state == "executed" && !Bool(batch, "hasCertificate")) {
        Fail("batch " + id + " is executed but was not finished at restart (no certificate)");
      } else if (state == "executed" && b.acked_state != "executed") {
        ++figures_->batches_finished;
      }
    } else {
      std::vector<std::string> sorted = records;
      std::sort(sorted.begin(), sorted.end());
      bool matches = false;
      for (const BatchModel* b : in_flight) {
        std::vector<std::string> sent = b->record_ids;
        std::sort(sent.begin(), sent.end());
        matches = matches || sent == sorted;
      }
      if (!matches) {
        Fail("batch " + id + " was never proposed");
      } else {
        ++figures_->unacked_present;
        if (state != "proposed") Fail("batch " + id + ", proposed in flight, is " + state);
      }
    }
    // The batch and its records agree on whether it was executed.
    for (const std::string& rid : records) {
      auto seen = seen_records_.find(rid);
      if (seen == seen_records_.end()) continue;  // reported by the record checks
      if ((state == "executed") != (seen->second.state == "destroyed")) {
        Fail("batch " + id + " is " + state + " but its record " + rid + " is " +
             seen->second.state);
      }
    }
  }
  for (const auto& [id, b] : known) {
    if (!listed.count(id)) Fail("acknowledged batch " + id + " is missing after restart");
  }
}

// ------------------------------------------------------------ stopped

void TrialChecker::CheckStopped(const std::string& bin_dir, const std::string& data_dir) {
  testing::RunResult verify =
      testing::RunProgram({bin_dir + "/custosctl", "verify", "--data", data_dir, "--json"});
  if (verify.exit_code != 0) {
    std::string out = verify.out.size() > 2000 ? verify.out.substr(0, 2000) + "..." : verify.out;
    Fail("custosctl verify exited " + std::to_string(verify.exit_code) + ": " + out + verify.err);
  }
  CheckBlobs(data_dir);
}

std::string BlobIdOfFile(const std::string& data_dir, const std::string& file_id,
                         std::string* error) {
  sqlite3* db = nullptr;
  const std::string path = data_dir + "/custos.db";
  std::string blob;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    *error = "cannot open " + path + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
  } else {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT blob_id FROM files WHERE id = ?1", -1, &st, nullptr) !=
        SQLITE_OK) {
      *error = sqlite3_errmsg(db);
    } else {
      sqlite3_bind_text(st, 1, file_id.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(st) == SQLITE_ROW) {
        const char* text = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
        blob = text ? text : "";
      } else {
        *error = "no row of files has id " + file_id;
      }
      sqlite3_finalize(st);
    }
  }
  sqlite3_close(db);
  return blob;
}

void TrialChecker::CheckBlobs(const std::string& data_dir) {
  // The rows of `files`: every blob id, and whether the file still has its
  // data key (destroyed files have none, and no blob).
  std::map<std::string, bool> live_by_blob;
  sqlite3* db = nullptr;
  const std::string path = data_dir + "/custos.db";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    Fail("cannot open " + path + " read-only: " + (db ? sqlite3_errmsg(db) : "out of memory"));
    sqlite3_close(db);
    return;
  }
  sqlite3_stmt* st = nullptr;
  const char* sql =
      "SELECT blob_id, wrapped_dek IS NOT NULL AND length(wrapped_dek) > 0 FROM files";
  if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) {
    Fail(std::string("cannot read the files table: ") + sqlite3_errmsg(db));
    sqlite3_close(db);
    return;
  }
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char* blob = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    live_by_blob[blob ? blob : ""] = sqlite3_column_int(st, 1) != 0;
  }
  if (rc != SQLITE_DONE) Fail(std::string("reading the files table: ") + sqlite3_errmsg(db));
  sqlite3_finalize(st);
  sqlite3_close(db);

  const std::string blobs = data_dir + "/blobs";
  std::set<std::string> on_disk;
  std::error_code ec;
  for (const auto& dir : fs::directory_iterator(blobs, ec)) {
    const std::string name = dir.path().filename().string();
    if (name == "tmp") {
      for (const auto& f : fs::directory_iterator(dir.path(), ec)) {
        Fail("temporary blob left behind: " + f.path().string());
      }
      continue;
    }
    if (!dir.is_directory() || !IsHex(name, 2)) continue;
    for (const auto& f : fs::directory_iterator(dir.path(), ec)) {
      const std::string id = f.path().filename().string();
      if (!IsHex(id, 32) || id.compare(0, 2, name) != 0) continue;
      on_disk.insert(id);
      auto row = live_by_blob.find(id);
      if (row == live_by_blob.end()) {
        Fail("orphan blob " + f.path().string() + ": no row of files references it");
      } else if (!row->second) {
        Fail("blob " + f.path().string() + " of a destroyed file is still on disk");
      }
    }
  }
  if (ec) Fail("cannot list " + blobs + ": " + ec.message());
  for (const auto& [id, live] : live_by_blob) {
    if (live && !on_disk.count(id)) Fail("blob " + id + " of a live file is missing");
  }
  figures_->blobs = on_disk.size();
}

}  // namespace custos::crash
