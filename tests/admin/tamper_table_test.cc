// The tamper table (issue 22, docs/security.md "Tamper table"): for every
// authority table (storage/row_image.h) and each of three faults — one
// field of one row changed, a forged row (a copy of a real row under a new
// key, its mac column copied too), a row deleted — made with SQL on a
// stopped copy of a seeded archive:
//   - `custosctl verify` exits 1 and names the table and the key (and the
//     column of a change), and
//   - the restarted custosd either refuses to start, naming the row, or
//     refuses to act on it: the request that would use the row answers as
//     the case's table says (500 row_integrity, 401, 404, 409
//     record_on_hold). A case whose expectation is a known gap names it
//     and skips its server part.
// Plus the log's own new event kinds: a changed state.rows event and a
// redacted entry that no destruction lists.
//
// One seed serves every case: made once (under a lock, in the build
// folder) by whichever test process comes first, then copied per case.
// It holds every kind of authority row: departments (法务部), users of
// each role in play, sessions, records with versions and files, and the
// documents of each workflow (a loan, a legal hold and its member, a
// retention schedule, an override and the change that made it, a
// destruction batch, a verification report) and an export.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/hash.h"
#include "server/services/clock.h"
#include "server/services/destruction_service.h"
#include "server/services/loan_service.h"
#include "server/services/principal.h"
#include "server/services/record_service.h"
#include "server/services/retention.h"
#include "server/services/retention_service.h"
#include "tests/admin/in_process.h"
#include "tests/admin/live_archive.h"
#include "tests/admin/verdict.h"
#include "tests/testutil/https_client.h"
#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"

namespace custos::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kDepartment[] = "法务部";
constexpr char kPassword[] = "correct horse battery staple 42";
// A session token nobody was given; its hash keys the forged session row.
constexpr char kForgedToken[] = "5e55104f0b9ed0000000000000000000000000000000000000000000000f0b9e";

// ------------------------------------------------------------------ the seed

// What the seed archive holds, by key. Saved as "name=value" lines beside
// the data directory, so that every test process reads the same seed.
struct Seed {
  std::string data;
  std::map<std::string, std::string> v;  // see MakeSeed for the names
  const std::string& operator[](const std::string& name) const {
    static const std::string kNone;
    auto it = v.find(name);
    if (it == v.end()) ADD_FAILURE() << "the seed has no " << name;
    return it == v.end() ? kNone : it->second;
  }
};

bool AddUser(const std::string& dir, const std::string& data, const std::string& name, const std::string& role) {
  const std::string pw = dir + "/" + name + "-password";
  WriteFile(pw, std::string(kPassword) + "\n");
  RunResult add = RunProgram({Ctl(), "user", "add", name, "--role", role, "--department", kDepartment, "--data", data,
                              "--password-file", pw, "--no-force-change"});
  if (add.exit_code != 0) ADD_FAILURE() << "user add " << name << ": " << add.err;
  return add.exit_code == 0;
}

template <typename T>
bool Ok(const StatusOr<T>& r, const char* what) {
  if (!r.ok()) ADD_FAILURE() << what << ": " << r.status().ToString();
  return r.ok();
}

// The records and documents, written in-process with a clock 40 days back
// (so that a one-day retention rule has run out by the time the batch is
// proposed, two days ago).
bool FillInProcess(Seed& seed) {
  services::ManualClock clock(std::chrono::system_clock::now() - std::chrono::hours(24 * 40));
  std::unique_ptr<live::OpenedArchive> archive = live::OpenedArchive::Open(seed.data, clock);
  if (!archive) return false;
  const services::Principal archivist = live::Archivist();
  const services::Principal legal{domain::Username{"legal1"}, domain::Role::kLegal, kDepartment};
  auto file = [](uint32_t n) {
    return std::vector<live::SeedFile>{{"合同-" + std::to_string(n) + ".bin", live::PatternBytes(3000, n)}};
  };
  services::RecordService& records = archive->records();
  auto a1 = live::Commit(records.BeginCheckIn(archivist, live::GeneralRecord("采购合同")), file(1));
  auto b1 = live::Commit(records.BeginCheckIn(archivist, live::GeneralRecord("供应商名录")), file(2));
  auto c1 = live::Commit(records.BeginCheckIn(archivist, live::GeneralRecord("访客登记 2016")), file(3));
  auto d1 = live::Commit(records.BeginCheckIn(archivist, live::GeneralRecord("会议记录")), file(4));
  if (!a1 || !b1 || !c1 || !d1) return false;
  seed.v["a"] = a1->detail.record.id.value;
  seed.v["b"] = b1->detail.record.id.value;
  seed.v["c"] = c1->detail.record.id.value;
  seed.v["d"] = d1->detail.record.id.value;
  auto a2 = live::Commit(records.BeginVersion(archivist, domain::RecordId{seed.v["a"]}, "amendment", "补充协议"),
                         file(5));
  if (!a2) return false;

  storage::MetadataStore& store = archive->storage().store();
  // legal1 was added by custosctl at the real time, 40 days after this
  // clock: the approvers' cooling period is not under test here.
  services::RetentionService retention(store, clock, services::AccountPolicyOptions{std::chrono::hours(0)});
  // A longer schedule applies at once; a shorter rule for c waits for
  // legal's approval (a retention_change, then a retention_override).
  auto schedule = retention.PutSchedule(archivist, "contract", {services::RetentionTrigger::kCreated,
                                                                services::ParseIsoPeriod("P30Y").value(),
                                                                services::RetentionAction::kDestroy});
  if (!Ok(schedule, "schedule")) return false;
  if (schedule->pending && !Ok(retention.Approve(legal, schedule->pending->id), "approve the schedule")) return false;
  auto shorter = retention.PutRecordRule(archivist, domain::RecordId{seed.v["c"]},
                                         {services::RetentionTrigger::kCreated, services::ParseIsoPeriod("P1D").value(),
                                          services::RetentionAction::kDestroy});
  if (!Ok(shorter, "shorter rule")) return false;
  if (!shorter->pending) {
    ADD_FAILURE() << "the shorter rule did not wait for approval";
    return false;
  }
  seed.v["change"] = shorter->pending->id;
  if (!Ok(retention.Approve(legal, seed.v["change"]), "approve the change")) return false;
  auto hold = retention.CreateHold(legal, {"诉讼保全 2026-01", "合同纠纷", "(2026)沪01民初123号", {seed.v["b"]}});
  if (!Ok(hold, "hold")) return false;
  seed.v["hold"] = hold->id;

  clock.Advance(std::chrono::hours(24 * 38));
  if (!Ok(retention.SweepStates(), "sweep")) return false;
  services::DestructionService destruction(store, archive->storage().blobs(), archive->log(),
                                           archive->storage().keyring().log_signers(), clock);
  auto batch = destruction.Propose(archivist, {seed.v["c"]}, "保管期限届满");
  if (!Ok(batch, "destruction batch")) return false;
  seed.v["batch"] = batch->id;

  services::LoanService loans(store, clock);
  services::LoanRequest request;
  request.record_id = seed.v["a"];
  request.kind = "digital";
  request.purpose = "年度审计";
  request.due_at = clock.Now() + std::chrono::hours(24 * 7);
  const services::Principal bob{domain::Username{"bob"}, domain::Role::kStaff, kDepartment};
  auto loan = loans.Request(bob, request);
  if (!Ok(loan, "loan")) return false;
  seed.v["loan"] = loan->id;

  Status s = store.Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto va, tx.versions().List(domain::RecordId{seed.v["a"]}));
    CUSTOS_ASSIGN_OR_RETURN(auto vd, tx.versions().List(domain::RecordId{seed.v["d"]}));
    if (va.size() != 2 || vd.size() != 1) return Internal("the seed records lack their versions");
    seed.v["a_v2_file"] = va[1].files.at(0).id.value;
    seed.v["d_file"] = vd[0].files.at(0).id.value;
    return Status::Ok();
  });
  if (!s.ok()) ADD_FAILURE() << s.ToString();
  return s.ok();
}

// A JSON request as a signed-in user; the answer.
HttpResult Call(HttpsClient& client, const std::string& token, const std::string& method, const std::string& path,
                const std::string& body = "") {
  std::map<std::string, std::string> headers;
  if (!token.empty()) headers["Authorization"] = "Bearer " + token;
  return client.Request(method, path, body, body.empty() ? "" : "application/json", headers);
}

std::string SignIn(HttpsClient& client, const std::string& user, const std::string& password) {
  HttpResult r = Call(client, "", "POST", "/v1/session",
                      "{\"username\":\"" + user + "\",\"password\":\"" + password + "\"}");
  std::string token = r.status == 200 ? live::JsonString(r.body, "token") : "";
  if (token.empty()) ADD_FAILURE() << "sign-in " << user << ": HTTP " << r.status << " " << r.body;
  return token;
}

// Polls `path` until its JSON `state` is done; false after ADD_FAILURE.
bool AwaitDone(HttpsClient& client, const std::string& token, const std::string& path) {
  std::string last;
  bool done = WaitFor(
      [&] {
        HttpResult r = Call(client, token, "GET", path);
        last = std::to_string(r.status) + " " + r.body;
        return r.status == 200 && live::JsonString(r.body, "state") == "done";
      },
      60000);
  if (!done) ADD_FAILURE() << path << ": " << last;
  return done;
}

// Sessions, an export and a verification report, made through the real
// server.
bool FillOverHttp(Seed& seed) {
  ServerProcess server;
  if (!server.Start(seed.data)) return false;
  HttpsClient client(server.port(), seed.data + "/tls/cert.pem");
  seed.v["archivist_token"] = SignIn(client, live::kArchivist, live::kArchivistPassword);
  seed.v["bob_token"] = SignIn(client, "bob", kPassword);
  seed.v["legal_token"] = SignIn(client, "legal1", kPassword);
  const std::string auditor = seed.v["auditor_token"] = SignIn(client, "carol", kPassword);
  if (seed.v["archivist_token"].empty() || seed.v["bob_token"].empty() || seed.v["legal_token"].empty() ||
      auditor.empty()) {
    return false;
  }
  seed.v["bob_session"] = crypto::HexEncode(crypto::Sha256Of(seed.v["bob_token"]));
  HttpResult ex = Call(client, seed.v["archivist_token"], "POST", "/v1/exports",
                       "{\"recordIds\":[\"" + seed.v["a"] + "\"],\"format\":\"zip\"}");
  seed.v["export"] = live::JsonString(ex.body, "id");
  if (ex.status != 202 || seed.v["export"].empty()) {
    ADD_FAILURE() << "export: " << ex.status << " " << ex.body;
    return false;
  }
  HttpResult av = Call(client, auditor, "POST", "/v1/audit/verify");
  seed.v["report"] = live::JsonString(av.body, "id");
  if (av.status != 202 || seed.v["report"].empty()) {
    ADD_FAILURE() << "verify: " << av.status << " " << av.body;
    return false;
  }
  if (!AwaitDone(client, seed.v["archivist_token"], "/v1/exports/" + seed.v["export"] + "/job") ||
      !AwaitDone(client, auditor, "/v1/audit/verify/" + seed.v["report"])) {
    return false;
  }
  if (server.Stop() != 0) {
    ADD_FAILURE() << "custosd did not stop cleanly: " << server.Log();
    return false;
  }
  return true;
}

bool MakeSeed(const std::string& dir, Seed& seed) {
  TempDir tmp;
  seed.data = dir + "/data";
  if (!live::InitWithArchivist(tmp, seed.data)) return false;
  for (auto [name, role] : {std::pair{"bob", "staff"}, {"legal1", "legal"}, {"carol", "auditor"}, {"dave", "staff"}}) {
    if (!AddUser(tmp.path(), seed.data, name, role)) return false;
  }
  return FillInProcess(seed) && FillOverHttp(seed);
}

// The seed's folder: one per build of the programs under test, so a
// rebuilt custosd or custosctl never meets a seed of the old one.
std::string SeedDir() {
  auto stamp = [](const std::string& path) {
    std::error_code ec;
    auto t = fs::last_write_time(path, ec);
    return ec ? uint64_t{0} : static_cast<uint64_t>(t.time_since_epoch().count());
  };
  // Unsigned: the products wrap instead of overflowing.
  const uint64_t key = stamp(BinDir() + "/custosd") ^ (stamp(Ctl()) * 31) ^ (stamp("/proc/self/exe") * 17);
  return BinDir() + "/../test-seeds/tamper-table-" + std::to_string(key & 0x7FFFFFFFFFFFULL);
}

// A copy of the seed in `to`, with the seed's values: the seed is made by
// the first test process that asks and copied by the others, under a file
// lock (exclusive: one maker, no copy of a half-made or half-removed seed).
// Sessions end after 30 idle minutes, so a seed older than 20 minutes is
// made again; seeds of other builds are removed.
bool CopyOfSeed(Seed& seed, const std::string& to) {
  const std::string dir = SeedDir();
  fs::create_directories(fs::path(dir).parent_path());
  const std::string lock_path = fs::path(dir).parent_path().string() + "/tamper-table.lock";
  int fd = ::open(lock_path.c_str(), O_CREAT | O_RDWR, 0600);
  if (fd < 0 || ::flock(fd, LOCK_EX) != 0) {
    ADD_FAILURE() << "cannot lock " << lock_path;
    if (fd >= 0) ::close(fd);
    return false;
  }
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }
  } unlock{fd};
  const std::string values = dir + "/seed.txt";
  std::error_code ec;
  auto made = fs::last_write_time(values, ec);
  seed.v.clear();
  if (ec || fs::file_time_type::clock::now() - made > std::chrono::minutes(20)) {
    for (const auto& entry : fs::directory_iterator(fs::path(dir).parent_path())) {
      if (entry.path().filename().string().rfind("tamper-table-", 0) == 0) fs::remove_all(entry.path());
    }
    fs::create_directories(dir);
    if (!MakeSeed(dir, seed)) return false;
    std::ostringstream out;
    for (const auto& [k, val] : seed.v) out << k << "=" << val << "\n";
    WriteFile(values, out.str());  // last: its presence says the seed is whole
  } else {
    std::ifstream in(values);
    std::string line;
    while (std::getline(in, line)) {
      size_t eq = line.find('=');
      if (eq != std::string::npos) seed.v[line.substr(0, eq)] = line.substr(eq + 1);
    }
  }
  seed.data = dir + "/data";
  live::CopyDataDir(seed.data, to);
  return true;
}

// ------------------------------------------------------------------ a case

// What the restarted server must do on the tampered copy: refuse to start
// naming the row, or answer `request` as `who` with `status` (and `says`
// in the body).
struct ServerExpectation {
  bool refuses_start = false;
  // The request is the expectation, but refusing to start (naming the row)
  // is as good: either way nothing acts on the row.
  bool or_refuses_start = false;
  std::string who;  // archivist, bob, legal, auditor, forged, or "" (no token)
  std::string method = "GET";
  std::string path;
  std::string body;
  int status = 0;
  std::string says;   // must be in the answer's body
  std::string lacks;  // must not be
};

ServerExpectation RefusesStart() { return {true}; }
ServerExpectation Answers(std::string who, std::string path, int status, std::string says = "",
                          std::string lacks = "") {
  ServerExpectation e;
  e.who = std::move(who);
  e.path = std::move(path);
  e.status = status;
  e.says = std::move(says);
  e.lacks = std::move(lacks);
  return e;
}

using SeedText = std::function<std::string(const Seed&, const std::string& data)>;

struct TamperCase {
  std::string name;
  SeedText sql;     // the tampering, run on the copy
  SeedText object;  // the finding's object, e.g. "row users bob"
  std::string code;    // the finding's code
  std::string column;  // for row_differs: the column it names
  std::function<ServerExpectation(const Seed&)> server;  // null: verify only
  // Non-empty: a gap the server's owner knows of; the server part is
  // skipped with this text.
  std::string gap;
};

// A read of a row whose seal fails: 500 row_integrity (or no start at all).
ServerExpectation IntegrityError(std::string path) {
  ServerExpectation e = Answers("archivist", std::move(path), 500, "row_integrity");
  e.or_refuses_start = true;
  return e;
}

// A request to shorten record `id`'s retention, which its legal hold must
// refuse.
ServerExpectation ShortenRetentionOf(const std::string& id) {
  ServerExpectation e = Answers("archivist", "/v1/records/" + id + "/retention", 409, "record_on_hold");
  e.method = "PUT";
  e.body = R"({"trigger":"created","period":"P1D","action":"destroy"})";
  return e;
}

std::string Q(const std::string& s) { return "'" + s + "'"; }

// A copy of the row(s) `where` selects, with `sets` applied (new key), its
// mac column copied as it is.
std::string Forge(const std::string& table, const std::string& where, const std::string& sets) {
  return "CREATE TEMP TABLE forged AS SELECT * FROM " + table + " WHERE " + where + "; UPDATE forged SET " + sets +
         "; INSERT INTO " + table + " SELECT * FROM forged;";
}

// `id` with its six-digit serial replaced by 999999 ("LN-2026-000001" →
// "LN-2026-999999").
std::string OtherSerial(const std::string& id) { return id.substr(0, id.size() - 6) + "999999"; }

std::string QueryText(const std::string& data, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open((data + "/custos.db").c_str(), &db), SQLITE_OK);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> closer(db, sqlite3_close);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  std::string out;
  if (st != nullptr && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != nullptr) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  EXPECT_FALSE(out.empty()) << "no answer to " << sql;
  return out;
}

void ExecSql(const std::string& data, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((data + "/custos.db").c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "") << "\n" << sql;
  EXPECT_GT(sqlite3_total_changes(db), 0) << "the tampering changed nothing: " << sql;
  sqlite3_free(err);
  sqlite3_close(db);
}

// Fixed texts for the table below.
SeedText Text(std::string s) {
  return [s](const Seed&, const std::string&) { return s; };
}
SeedText Row(std::string table, std::string key) { return Text("row " + table + " " + key); }
SeedText RowOf(std::string table, std::function<std::string(const Seed&)> key) {
  return [table, key](const Seed& s, const std::string&) { return "row " + table + " " + key(s); };
}
std::function<std::string(const Seed&)> Key(std::string name, std::string prefix = "", std::string suffix = "") {
  return [=](const Seed& s) { return prefix + s[name] + suffix; };
}

// The leaf of the first log entry whose leaf contains `text`, as its index.
std::string EntryWith(const std::string& data, const std::string& text) {
  return QueryText(data, "SELECT seq FROM log_leaves WHERE instr(leaf, " + Q(text) + ") > 0 ORDER BY seq LIMIT 1");
}

std::vector<TamperCase> Cases() {
  const std::string kLong = "'2099-01-01T00:00:00.000Z'";
  auto doc = [](const std::string& kind, const std::string& id) {
    return "kind = " + Q(kind) + " AND id = " + Q(id);
  };
  std::vector<TamperCase> c;
  // departments
  c.push_back({"departments_created_at_changed",
               Text("UPDATE departments SET created_at = '2020-01-01T00:00:00.000Z' WHERE name = '法务部'"),
               Row("departments", kDepartment), "row_differs", "created_at",
               [](const Seed&) { return RefusesStart(); }});
  c.push_back({"departments_forged_row", Text(Forge("departments", "name = '法务部'", "name = '影子部门'")),
               Row("departments", "影子部门"), "row_not_in_log", "", [](const Seed&) { return RefusesStart(); }});
  c.push_back({"departments_deleted", Text("DELETE FROM departments WHERE name = '法务部'"),
               Row("departments", kDepartment), "row_missing", "",
               // A department grants nothing by itself: the list no longer
               // offers it for new accounts.
               [](const Seed&) { return Answers("bob", "/v1/departments", 200, "sales", kDepartment); }});
  // users
  c.push_back({"users_role_raised", Text("UPDATE users SET role = 'archivist' WHERE username = 'bob'"),
               Row("users", "bob"), "row_differs", "role", [](const Seed&) { return RefusesStart(); }});
  c.push_back({"users_forged_row", Text(Forge("users", "username = 'archivist1'", "username = 'mallory'")),
               Row("users", "mallory"), "row_not_in_log", "", [](const Seed&) { return RefusesStart(); }});
  c.push_back({"users_deleted", Text("DELETE FROM users WHERE username = 'dave'"), Row("users", "dave"),
               "row_missing", "", [](const Seed&) {
                 ServerExpectation e = Answers("", "/v1/session", 401, "invalid_credentials");
                 e.method = "POST";
                 e.body = std::string("{\"username\":\"dave\",\"password\":\"") + kPassword + "\"}";
                 return e;
               }});
  // sessions
  c.push_back({"sessions_expiry_extended",
               [kLong](const Seed& s, const std::string&) {
                 return "UPDATE sessions SET expires_at = " + kLong + " WHERE token_hash = " + Q(s["bob_session"]);
               },
               RowOf("sessions", Key("bob_session")), "row_differs", "expires_at",
               [](const Seed&) { return RefusesStart(); }});
  c.push_back({"sessions_forged_row",
               [](const Seed& s, const std::string&) {
                 return Forge("sessions", "token_hash = " + Q(s["bob_session"]),
                              "token_hash = " + Q(crypto::HexEncode(crypto::Sha256Of(kForgedToken))));
               },
               Row("sessions", crypto::HexEncode(crypto::Sha256Of(kForgedToken))), "row_not_in_log", "",
               [](const Seed&) { return RefusesStart(); }});
  c.push_back({"sessions_deleted",
               [](const Seed& s, const std::string&) {
                 return "DELETE FROM sessions WHERE token_hash = " + Q(s["bob_session"]);
               },
               RowOf("sessions", Key("bob_session")), "row_missing", "",
               [](const Seed&) { return Answers("bob", "/v1/me", 401, "session_invalid"); }});
  // records
  c.push_back({"records_classification_lowered",
               [](const Seed& s, const std::string&) {
                 return "UPDATE records SET classification = 'public' WHERE id = " + Q(s["a"]);
               },
               RowOf("records", Key("a")), "row_differs", "classification",
               [](const Seed& s) { return IntegrityError("/v1/records/" + s["a"]); }});
  c.push_back({"records_forged_row",
               [](const Seed& s, const std::string&) {
                 return Forge("records", "id = " + Q(s["d"]), "id = " + Q(OtherSerial(s["d"])));
               },
               RowOf("records", [](const Seed& s) { return OtherSerial(s["d"]); }), "row_not_in_log", "",
               [](const Seed& s) {
                 return IntegrityError("/v1/records/" + OtherSerial(s["d"]));
               }});
  c.push_back({"records_deleted",
               [](const Seed& s, const std::string&) {
                 const std::string d = Q(s["d"]);
                 return "DELETE FROM files WHERE record_id = " + d + "; DELETE FROM versions WHERE record_id = " + d +
                        "; DELETE FROM records WHERE id = " + d;
               },
               RowOf("records", Key("d")), "row_missing", "",
               [](const Seed& s) { return Answers("archivist", "/v1/records/" + s["d"], 404, "record_not_found"); }});
  // versions
  c.push_back({"versions_note_changed",
               [](const Seed& s, const std::string&) {
                 return "UPDATE versions SET note = '伪造的说明' WHERE record_id = " + Q(s["a"]) + " AND number = 2";
               },
               RowOf("versions", Key("a", "", "/2")), "row_differs", "note",
               [](const Seed& s) {
                 return IntegrityError("/v1/records/" + s["a"] + "/versions/2");
               }});
  c.push_back({"versions_forged_row",
               [](const Seed& s, const std::string&) {
                 return Forge("versions", "record_id = " + Q(s["a"]) + " AND number = 2", "number = 3");
               },
               RowOf("versions", Key("a", "", "/3")), "row_not_in_log", "",
               [](const Seed& s) {
                 return IntegrityError("/v1/records/" + s["a"] + "/versions/3");
               }});
  c.push_back({"versions_newest_deleted",
               [](const Seed& s, const std::string&) {
                 return "DELETE FROM files WHERE record_id = " + Q(s["a"]) +
                        " AND version = 2; DELETE FROM versions WHERE record_id = " + Q(s["a"]) + " AND number = 2";
               },
               RowOf("versions", Key("a", "", "/2")), "row_missing", "",
               [](const Seed& s) {
                 return Answers("archivist", "/v1/records/" + s["a"] + "/versions/2", 404);
               }});
  // files
  const std::string kForgedFile(32, 'f');
  c.push_back({"files_name_changed",
               [](const Seed& s, const std::string&) {
                 return "UPDATE files SET name = '改名.bin' WHERE id = " + Q(s["a_v2_file"]);
               },
               RowOf("files", Key("a_v2_file")), "row_differs", "name",
               [](const Seed& s) {
                 return IntegrityError("/v1/records/" + s["a"] + "/versions/2/files/" + s["a_v2_file"]);
               }});
  c.push_back({"files_forged_row",
               [kForgedFile](const Seed& s, const std::string&) {
                 return Forge("files", "id = " + Q(s["a_v2_file"]),
                              "id = " + Q(kForgedFile) + ", blob_id = " + Q(std::string(64, 'f')));
               },
               Row("files", kForgedFile), "row_not_in_log", "",
               [kForgedFile](const Seed& s) {
                 return IntegrityError("/v1/records/" + s["a"] + "/versions/2/files/" + kForgedFile);
               }});
  c.push_back({"files_deleted",
               [](const Seed& s, const std::string&) { return "DELETE FROM files WHERE id = " + Q(s["d_file"]); },
               RowOf("files", Key("d_file")), "row_missing", "",
               [](const Seed& s) {
                 return Answers("archivist", "/v1/records/" + s["d"] + "/versions/1/files/" + s["d_file"], 404);
               }});
  // documents, one of each kind the seed has
  struct DocKind {
    std::string kind;
    std::string id_name;  // the seed value naming its id ("" for `fixed_id`)
    std::string fixed_id;
    std::string change_name;  // the case name's fault
    std::string change_sets;
    std::string column;
    std::string forged_sets;  // in terms of the copied row
    std::string forged_id;    // "" for OtherSerial(id)
    std::function<ServerExpectation(const Seed&)> deleted;
    std::string deleted_gap;
  };
  std::vector<DocKind> kinds = {
      {"loan", "loan", "", "state_forged", "state = 'checked_out'", "state", "", "",
       [](const Seed& s) { return Answers("archivist", "/v1/loans/" + s["loan"], 404); }},
      // The record stays under the hold: deleting the hold or its member
      // must not free it (its retention cannot be shortened).
      {"hold", "hold", "", "released", "state = 'released'", "state", "", "",
       [](const Seed& s) { return ShortenRetentionOf(s["b"]); }},
      // A deleted member would free its record: the set seal of documents
      // (storage/row_set.h) stops the start instead.
      {"hold_item", "", "", "moved", "", "subject", "", "", [](const Seed&) { return RefusesStart(); }},
      {"retention_schedule", "", "contract", "shortened", "body = replace(body, 'P30Y', 'P1D')", "body",
       "", "general",
       // A deleted schedule would put its type back on the shorter
       // default: the set seal of documents stops the start instead.
       [](const Seed&) { return RefusesStart(); }},
      {"retention_override", "c", "", "lengthened", "body = replace(body, 'P1D', 'P99Y')", "body", "", "",
       // Without its override the record falls back to its schedule, which
       // keeps it longer: a deleted override can delay a destruction, never
       // hasten one.
       [](const Seed& s) {
         return Answers("archivist", "/v1/records/" + s["c"] + "/retention", 200, "\"source\":\"schedule\"");
       }},
      {"retention_change", "change", "", "state_changed", "state = 'rejected'", "state", "", "",
       [](const Seed& s) { return Answers("legal", "/v1/retention/changes", 200, "", s["change"]); }},
      {"destruction", "batch", "", "approved_by_sql", "state = 'approved'", "state", "", "",
       [](const Seed& s) { return Answers("archivist", "/v1/destructions/" + s["batch"], 404); }},
      {"audit_report", "report", "", "owner_changed", "owner = 'mallory'", "owner", "", "",
       [](const Seed& s) { return Answers("auditor", "/v1/audit/verify/" + s["report"], 404); }},
  };
  for (const DocKind& k : kinds) {
    auto id = [k](const Seed& s) -> std::string {
      if (k.kind == "hold_item") return s["hold"] + "/" + s["b"];
      return k.id_name.empty() ? k.fixed_id : s[k.id_name];
    };
    auto forged_id = [k, id](const Seed& s) -> std::string {
      if (k.kind == "hold_item") return s["hold"] + "/" + s["d"];
      if (k.kind == "retention_override") return s["d"];
      return k.forged_id.empty() ? OtherSerial(id(s)) : k.forged_id;
    };
    const std::string base = "documents_" + k.kind + "_";
    c.push_back({base + k.change_name,
                 [k, id](const Seed& s, const std::string&) {
                   const std::string sets = k.kind == "hold_item" ? "subject = " + Q(s["d"]) : k.change_sets;
                   return "UPDATE documents SET " + sets + " WHERE kind = " + Q(k.kind) + " AND id = " + Q(id(s));
                 },
                 RowOf("documents", [k, id](const Seed& s) { return k.kind + "/" + id(s); }), "row_differs", k.column,
                 [](const Seed&) { return RefusesStart(); }});
    c.push_back({base + "forged_row",
                 [k, id, forged_id](const Seed& s, const std::string&) {
                   std::string sets = "id = " + Q(forged_id(s));
                   if (k.kind == "hold_item" || k.kind == "retention_override") sets += ", subject = " + Q(s["d"]);
                   return Forge("documents", "kind = " + Q(k.kind) + " AND id = " + Q(id(s)), sets);
                 },
                 RowOf("documents", [k, forged_id](const Seed& s) { return k.kind + "/" + forged_id(s); }),
                 "row_not_in_log", "", [](const Seed&) { return RefusesStart(); }});
    c.push_back({base + "deleted",
                 [k, id](const Seed& s, const std::string&) {
                   return "DELETE FROM documents WHERE kind = " + Q(k.kind) + " AND id = " + Q(id(s));
                 },
                 RowOf("documents", [k, id](const Seed& s) { return k.kind + "/" + id(s); }), "row_missing", "",
                 k.deleted, k.deleted_gap});
  }
  // exports
  c.push_back({"exports_expiry_extended",
               [kLong](const Seed& s, const std::string&) {
                 return "UPDATE exports SET expires_at = " + kLong + " WHERE id = " + Q(s["export"]);
               },
               RowOf("exports", Key("export")), "row_differs", "expires_at",
               [](const Seed&) { return RefusesStart(); }});
  c.push_back({"exports_forged_row",
               [](const Seed& s, const std::string&) {
                 return Forge("exports", "id = " + Q(s["export"]),
                              "id = 'EX-forged', blob_id = " + Q(std::string(64, 'e')));
               },
               Row("exports", "EX-forged"), "row_not_in_log", "", [](const Seed&) { return RefusesStart(); }});
  c.push_back({"exports_deleted",
               [](const Seed& s, const std::string&) {
                 return "DELETE FROM export_records WHERE export_id = " + Q(s["export"]) +
                        "; DELETE FROM exports WHERE id = " + Q(s["export"]);
               },
               RowOf("exports", Key("export")), "row_missing", "",
               [](const Seed& s) {
                 return Answers("archivist", "/v1/exports/" + s["export"] + "/job", 404, "export_not_found");
               }});
  // the log's new event kinds
  c.push_back({"log_state_rows_event_changed",
               [](const Seed&, const std::string& data) {
                 return "UPDATE log_leaves SET leaf = replace(leaf, 'state.rows', 'state.rowz') WHERE seq = " +
                        EntryWith(data, "\"state.rows\"");
               },
               [](const Seed&, const std::string& data) { return "log entry " + EntryWith(data, "\"state.rows\""); },
               "", "", nullptr});
  c.push_back({"log_entry_redacted_without_destruction",
               [](const Seed& s, const std::string& data) {
                 return "UPDATE log_leaves SET leaf = '' WHERE seq = " +
                        QueryText(data, "SELECT MIN(seq) FROM log_leaves WHERE subject = " + Q(s["d"]));
               },
               [](const Seed& s, const std::string& data) {
                 return "log entry " + QueryText(data, "SELECT MIN(seq) FROM log_leaves WHERE subject = " + Q(s["d"]));
               },
               "log_entry_redacted", "", nullptr});
  return c;
}

// ------------------------------------------------------------- the checks

// A finding whose object is `object` (or starts with it and a space) with
// `code` (any when empty) whose problem names `column` (when given).
bool Names(const Verdict& v, const std::string& object, const std::string& code, const std::string& column) {
  for (const Finding& f : v.findings) {
    if (f.object != object && f.object.rfind(object + " ", 0) != 0) continue;
    if (!code.empty() && f.code != code) continue;
    if (!column.empty() && f.problem.find("column " + column + " ") == std::string::npos) continue;
    return true;
  }
  return false;
}

std::string TokenOf(const Seed& seed, const std::string& who) {
  if (who.empty()) return "";
  if (who == "forged") return kForgedToken;
  return seed[who + "_token"];
}

// custosd on `data` must exit without serving, and say why naming `object`.
struct StartAttempt {
  bool served = false;  // it listened (and was stopped again)
  int exit_code = -1;
  std::string log;
};

// Starts custosd on `data` and waits until it listens (then stops it) or
// exits.
StartAttempt TryStart(const std::string& data) {
  SetConfigLines(data + "/custos.conf", "auth.password_memory_kib = 19456\n");
  const std::string out = data + "/../custosd.out", err = data + "/../custosd.err";
  StartAttempt a;
  ChildProcess custosd;
  if (!custosd.Start({BinDir() + "/custosd", "--data", data, "--listen", "127.0.0.1:0"}, out, err)) {
    ADD_FAILURE() << "cannot run custosd";
    return a;
  }
  WaitFor(
      [&] {
        a.exit_code = custosd.Wait(0);
        std::ifstream in(err);
        a.log.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        a.served = a.log.find("\"msg\":\"listening\"") != std::string::npos;
        return a.served || a.exit_code != -1;
      },
      20000);
  if (a.served) {
    custosd.Signal(SIGTERM);
    a.exit_code = custosd.Wait(30000);
  }
  return a;
}

// The refusal of custosd names the row's table, and its key when
// `with_key`: a changed row fails its seal by key, while a row added or
// deleted may be named by its table's sealed row count alone.
::testing::AssertionResult RefusalNames(const StartAttempt& a, const std::string& object, bool with_key) {
  if (a.served) return ::testing::AssertionFailure() << "custosd served the tampered copy: " << a.log;
  if (a.exit_code == 0 || a.exit_code == -1) {
    return ::testing::AssertionFailure() << "custosd did not refuse (exit " << a.exit_code << "): " << a.log;
  }
  // object: "row <table> <key>"
  const size_t table_at = object.find(' ') + 1, key_at = object.find(' ', table_at) + 1;
  const std::string table = object.substr(table_at, key_at - 1 - table_at), key = object.substr(key_at);
  // Its reason: the line custosd ends with ("custosd: …") and what follows.
  const size_t why_at = a.log.rfind("custosd: ");
  const std::string why = why_at == std::string::npos ? "" : a.log.substr(why_at);
  const bool names_table =
      why.find("row " + table + " ") != std::string::npos || why.find("table " + table) != std::string::npos;
  if (!names_table || (with_key && why.find(key) == std::string::npos)) {
    return ::testing::AssertionFailure() << "custosd's refusal does not name " << object << ": " << a.log;
  }
  return ::testing::AssertionSuccess();
}

// custosd on `data` serves, and answers each request as expected.
void ExpectAnswers(const Seed& seed, const std::string& data, const std::vector<ServerExpectation>& expected) {
  ServerProcess server;
  ASSERT_TRUE(server.Start(data));
  HttpsClient client(server.port(), data + "/tls/cert.pem");
  for (const ServerExpectation& e : expected) {
    HttpResult r = Call(client, TokenOf(seed, e.who), e.method, e.path, e.body);
    EXPECT_EQ(r.status, e.status) << e.method << " " << e.path << ": " << r.body << r.transport_error;
    if (!e.says.empty()) EXPECT_NE(r.body.find(e.says), std::string::npos) << e.path << ": " << r.body;
    if (!e.lacks.empty()) EXPECT_EQ(r.body.find(e.lacks), std::string::npos) << e.path << ": " << r.body;
  }
  EXPECT_EQ(server.Stop(), 0) << server.Log();
}

// The case's name in failure messages.
void PrintTo(const TamperCase& c, std::ostream* os) { *os << c.name; }

class TamperTable : public ::testing::TestWithParam<TamperCase> {
 protected:
  Seed seed_;
  TempDir tmp_;
};

TEST_P(TamperTable, VerifyNamesItAndTheServerRefuses) {
  const TamperCase& c = GetParam();
  const std::string data = tmp_.Sub("data");
  ASSERT_TRUE(CopyOfSeed(seed_, data)) << "the seed archive could not be made";
  const std::string object = c.object(seed_, data);
  const std::string sql = c.sql(seed_, data);
  ASSERT_NO_FATAL_FAILURE(ExecSql(data, sql));

  Verdict v = RunVerdict({Ctl(), "verify", "--data", data, "--json"}, "object");
  EXPECT_EQ(v.exit_code, 1) << Dump(v);
  EXPECT_TRUE(Names(v, object, c.code, c.column))
      << "verify does not name " << object << " (" << c.code << (c.column.empty() ? "" : ", column " + c.column)
      << "):\n" << Dump(v);
  // A changed or forged row also fails its seal (docs/security.md "Row
  // seals"); a deleted one leaves no row to check.
  if (c.code == "row_differs" || c.code == "row_not_in_log") {
    EXPECT_TRUE(Names(v, object, "row_seal_invalid", "")) << "verify names no bad seal of " << object << ":\n"
                                                          << Dump(v);
  }

  if (!c.server) return;
  const ServerExpectation e = c.server(seed_);
  const bool changed = c.code == "row_differs";
  if (e.refuses_start) {
    EXPECT_TRUE(RefusalNames(TryStart(data), object, changed));
    return;
  }
  // A row added or deleted may stop the start as well (its table's row
  // count no longer matches), which is as good as refusing the request.
  if (e.or_refuses_start || !changed || !c.gap.empty()) {
    StartAttempt a = TryStart(data);
    if (!a.served) {
      EXPECT_TRUE(RefusalNames(a, object, changed));
      return;
    }
  }
  if (!c.gap.empty()) GTEST_SKIP() << "known gap: " << c.gap;
  ExpectAnswers(seed_, data, {e});
}

// The untouched seed: verify is clean and every request the table makes
// answers as it should, so that each case's answer is the tampering's.
TEST(TamperTableSeed, UntouchedCopyVerifiesCleanAndServes) {
  Seed seed;
  TempDir tmp;
  const std::string data = tmp.Sub("data");
  ASSERT_TRUE(CopyOfSeed(seed, data));
  Verdict v = RunVerdict({Ctl(), "verify", "--data", data, "--json"}, "object");
  EXPECT_EQ(v.exit_code, 0) << Dump(v);
  EXPECT_TRUE(v.clean) << Dump(v);
  const std::string a = "/v1/records/" + seed["a"];
  ExpectAnswers(seed, data,
                {Answers("archivist", a, 200), Answers("archivist", a + "/versions/2", 200),
                 Answers("archivist", a + "/versions/2/files/" + seed["a_v2_file"], 200),
                 Answers("archivist", "/v1/loans/" + seed["loan"], 200, "年度审计"),
                 Answers("legal", "/v1/holds/" + seed["hold"], 200, "诉讼保全"), ShortenRetentionOf(seed["b"]),
                 Answers("archivist", "/v1/retention/schedules", 200, "P30Y"),
                 Answers("archivist", "/v1/records/" + seed["c"] + "/retention", 200, "P1D"),
                 Answers("legal", "/v1/retention/changes", 200, seed["change"]),
                 Answers("archivist", "/v1/destructions/" + seed["batch"], 200),
                 Answers("auditor", "/v1/audit/verify/" + seed["report"], 200),
                 Answers("archivist", "/v1/exports/" + seed["export"] + "/job", 200),
                 Answers("bob", "/v1/me", 200), Answers("bob", "/v1/departments", 200, kDepartment)});
}

INSTANTIATE_TEST_SUITE_P(Cases, TamperTable, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<TamperCase>& info) { return info.param.name; });

}  // namespace
}  // namespace custos::testing
