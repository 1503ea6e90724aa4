// custosctl migrate: an archive built through the real custosd on SQLite
// moves to an empty PostgreSQL database and custosd serves it from there with
// the same log (consistency proof from the old checkpoint), the same records,
// loans, holds and tombstones, identical content, and archive numbers that
// continue without a gap. The refusals (custosd still running, a database
// that holds an archive, an archive already on PostgreSQL, a connection
// string that does not lead anywhere) exit 2 and leave the archive on SQLite
// exactly as it was.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <postgresql/libpq-fe.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "crypto/bytes.h"
#include "crypto/merkle.h"
#include "crypto/signed_note.h"
#include "domain/model.h"
#include "tests/admin/cli_probes.h"
#include "tests/admin/live_archive.h"
#include "tests/server/api_fixture.h"
#include "tests/testutil/https_client.h"
#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"

namespace custos::testing {
namespace {

namespace fs = std::filesystem;
namespace merkle = crypto::merkle;
using api::ApiServer;
using api::Describe;
using api::FilePart;
using api::Int;
using api::JsonArray;
using api::JsonObject;
using api::kJson;
using api::PatternBytes;
using api::Sha256Hex;
using api::Str;
using api::Stringify;

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ------------------------------------------------------------- small probes

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The key=value pairs of a libpq connection string without quoting (the
// form the test server's connection strings have).
std::map<std::string, std::string> DsnFields(const std::string& dsn) {
  std::map<std::string, std::string> out;
  std::istringstream in(dsn);
  std::string word;
  while (in >> word) {
    size_t eq = word.find('=');
    if (eq != std::string::npos) out[word.substr(0, eq)] = word.substr(eq + 1);
  }
  return out;
}

// The same database as a postgresql:// URI.
std::string PostgresUri(const std::string& dsn) {
  auto f = DsnFields(dsn);
  return "postgresql://" + f["user"] + "@" + f["host"] + ":" + f["port"] + "/" + f["dbname"];
}

// The first column of the first row of `query` on `dsn` as an integer, or
// -1 (after ADD_FAILURE) if it cannot be asked.
int64_t PgValue(const std::string& dsn, const std::string& query) {
  PGconn* conn = PQconnectdb(dsn.c_str());
  int64_t value = -1;
  if (PQstatus(conn) != CONNECTION_OK) {
    ADD_FAILURE() << "cannot connect to " << dsn << ": " << PQerrorMessage(conn);
  } else {
    PGresult* r = PQexec(conn, query.c_str());
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
      value = std::stoll(PQgetvalue(r, 0, 0));
    } else {
      ADD_FAILURE() << query << ": " << PQresultErrorMessage(r);
    }
    PQclear(r);
  }
  PQfinish(conn);
  return value;
}

// Tables outside the system schemas: 0 for a database nobody touched.
int64_t TablesIn(const std::string& dsn) {
  return PgValue(dsn,
                 "SELECT count(*) FROM information_schema.tables "
                 "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')");
}

// A TCP port on 127.0.0.1 that nothing listens on (bound, then released).
int UnusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) ::close(fd);
  EXPECT_GT(port, 0);
  return port;
}

RunResult RunMigrate(const std::string& data, const std::string& dsn) {
  return RunProgram({Ctl(), "migrate", "--from", data, "--to", dsn});
}

RunResult RunVerify(const std::string& data) {
  return RunProgram({Ctl(), "verify", "--data", data});
}

// What a refused migration must leave as it found it.
struct DirState {
  std::string config;
  std::string database_sha256;
};

DirState StateOf(const std::string& data) {
  return {ReadFileOrDie(data + "/custos.conf"), Sha256Hex(ReadFileOrDie(data + "/custos.db"))};
}

// The archive in `data` is still on SQLite and unchanged since `before`
// (custos.db byte for byte when `same_bytes`; a custosd that ran meanwhile
// may have rewritten pages without changing the archive).
void ExpectStillOnSqlite(const std::string& data, const DirState& before, bool same_bytes = true) {
  EXPECT_EQ(ReadFileOrDie(data + "/custos.conf"), before.config);
  auto config = ParseConfig(ReadFileOrDie(data + "/custos.conf"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->storage_backend, "sqlite");
  ASSERT_TRUE(fs::exists(data + "/custos.db"));
  if (same_bytes) {
    EXPECT_EQ(Sha256Hex(ReadFileOrDie(data + "/custos.db")), before.database_sha256)
        << "custos.db changed";
  }
  EXPECT_FALSE(fs::exists(data + "/custos.db.migrated"));
  EXPECT_FALSE(fs::exists(data + "/custos.conf.migrate"));
}

// ------------------------------------------------------------- the API side

std::vector<Poco::JSON::Object::Ptr> Objects(const Poco::JSON::Array::Ptr& arr) {
  std::vector<Poco::JSON::Object::Ptr> out;
  for (size_t i = 0; arr && i < arr->size(); ++i) {
    out.push_back(arr->getObject(static_cast<unsigned>(i)));
  }
  return out;
}

std::string HoursFromNow(int hours) {
  return domain::FormatTime(std::chrono::system_clock::now() + std::chrono::hours(hours));
}

// The next archive number after `id` ("CT-2026-000003" -> "CT-2026-000004").
std::string NextNumber(const std::string& id) {
  size_t dash = id.rfind('-');
  if (dash == std::string::npos) return "";
  const std::string digits = id.substr(dash + 1);
  std::string next = std::to_string(std::stoull(digits) + 1);
  if (next.size() < digits.size()) next.insert(0, digits.size() - next.size(), '0');
  return id.substr(0, dash + 1) + next;
}

// One live file of the archive and the bytes checked in.
struct StoredFile {
  std::string path;  // /v1/records/{id}/versions/{n}/files/{file}
  std::string bytes;
};

// The signed checkpoint custosd serves, opened with its published key.
struct SeenCheckpoint {
  std::string text;
  crypto::Checkpoint checkpoint;
};

std::optional<SeenCheckpoint> FetchCheckpoint(ApiServer& s) {
  HttpResult key = s.As(api::kAnonymous, "GET", "/v1/log/key");
  HttpResult cp = s.As(api::kAnonymous, "GET", "/v1/log/checkpoint");
  if (key.status != 200 || cp.status != 200) {
    ADD_FAILURE() << "key: " << Describe(key) << "; checkpoint: " << Describe(cp);
    return std::nullopt;
  }
  std::vector<crypto::note::KeyVerifier> keys;
  std::istringstream lines(key.body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    auto v = crypto::note::KeyVerifier::FromVerifierKey(line);
    if (!v.ok()) {
      ADD_FAILURE() << line << ": " << v.status().ToString();
      return std::nullopt;
    }
    keys.push_back(std::move(v).value());
  }
  std::vector<const crypto::note::Verifier*> verifiers;
  for (const auto& k : keys) verifiers.push_back(&k);
  auto opened = crypto::OpenCheckpoint(cp.body, verifiers);
  if (!opened.ok()) {
    ADD_FAILURE() << "checkpoint does not open: " << opened.status().ToString() << "\n" << cp.body;
    return std::nullopt;
  }
  return SeenCheckpoint{cp.body, opened->checkpoint};
}

// Log entries [0, size) as the auditor sees them, page by page.
std::vector<std::string> LogEntries(ApiServer& s, uint64_t size) {
  std::vector<std::string> out;
  for (uint64_t start = 0; start < size;) {
    uint64_t end = std::min<uint64_t>(size, start + 1000);
    HttpResult r = s.As("auditor", "GET",
                        "/v1/log/entries?start=" + std::to_string(start) +
                            "&end=" + std::to_string(end));
    if (r.status != 200) {
      ADD_FAILURE() << "entries: " << Describe(r);
      return out;
    }
    auto entries = Objects(JsonArray(r.body));
    if (entries.empty()) {
      ADD_FAILURE() << "no entries from " << start;
      return out;
    }
    for (const auto& e : entries) out.push_back(Stringify(e));
    start += entries.size();
  }
  return out;
}

// Record ids and total of a catalogue search as the auditor.
std::string SearchResult(ApiServer& s, const std::string& query) {
  HttpResult r = s.As("auditor", "GET", "/v1/records?pageSize=500&" + query);
  EXPECT_EQ(r.status, 200) << Describe(r);
  Poco::JSON::Object::Ptr o = JsonObject(r.body);
  if (!o) return "";
  std::string out = "total=" + std::to_string(Int(o, "total")) + ":";
  for (const auto& rec : Objects(o->getArray("records"))) out += " " + Str(rec, "id");
  return out;
}

// Waits until the content pipeline has looked at every live file of `ids`
// (each has an extraction state other than pending), so that what the
// round trip observes does not change under it while the server runs.
void WaitForPipeline(ApiServer& s, const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    bool done = false;
    for (int i = 0; i < 1200 && !done; ++i) {
      HttpResult r = s.As("auditor", "GET", "/v1/records/" + id);
      Poco::JSON::Object::Ptr o = JsonObject(r.body);
      done = o != nullptr;
      if (o) {
        for (const auto& v : Objects(o->getArray("versions"))) {
          for (const auto& f : Objects(v->getArray("files"))) {
            if (f->optValue("destroyed", false)) continue;
            if (!f->has("extraction") || Str(f->getObject("extraction"), "state") == "pending") {
              done = false;
            }
          }
        }
      }
      if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(done) << "the content pipeline never finished " << id;
  }
}

// Everything the round trip compares before and after the migration.
struct Observed {
  std::map<std::string, std::string> records;  // id -> GET /v1/records/{id}
  std::map<std::string, std::string> searches;
  std::string loans;
  std::string holds;
  std::string destructions;
  std::string schedules;
};

Observed Observe(ApiServer& s, const std::vector<std::string>& ids,
                 const std::vector<std::string>& queries) {
  Observed o;
  for (const std::string& id : ids) {
    HttpResult r = s.As("auditor", "GET", "/v1/records/" + id);
    EXPECT_EQ(r.status, 200) << id << ": " << Describe(r);
    o.records[id] = r.body;
  }
  for (const std::string& q : queries) o.searches[q] = SearchResult(s, q);
  auto body = [&](const std::string& path) {
    HttpResult r = s.As("auditor", "GET", path);
    EXPECT_EQ(r.status, 200) << path << ": " << Describe(r);
    return r.body;
  };
  o.loans = body("/v1/loans");
  o.holds = body("/v1/holds");
  o.destructions = body("/v1/destructions");
  o.schedules = body("/v1/retention/schedules");
  return o;
}

// ------------------------------------------------------------------ fixture

// Most refusals need only some archive on SQLite: one is made through the
// real server on first use and copied for each test.
class Migrate : public ::testing::Test {
 protected:
  static void TearDownTestSuite() { seed_.Clear(); }

  // A stopped SQLite archive with the seed's records, in a new folder.
  std::string CopyOfSeed(const std::string& name) {
    if (!seed_.made()) seed_.Make(live::ContentArchiveOf(/*records=*/3, /*files=*/2));
    EXPECT_TRUE(seed_.made()) << "the seed archive could not be made";
    return seed_.made() ? seed_.CopyData(tmp_, name) : "";
  }

  static inline live::SuiteSeed<live::ContentArchive> seed_;
  TempDir tmp_;
};

// --------------------------------------------------------------- round trip

TEST_F(Migrate, RoundTripKeepsRootRecordsAndContent) {
  const std::string dsn = NewPostgresDatabase();
  CUSTOS_REQUIRE_POSTGRES(dsn);
  const auto started = Clock::now();
  std::unique_ptr<ApiServer> server = ApiServer::Create();
  ASSERT_TRUE(server);
  ApiServer& s = *server;
  const std::string data = s.data_dir();

  // --- content on SQLite: contracts (one with two files, one empty, one
  // over a 64 KiB chunk, non-ASCII text), a second version, a loan, a hold
  // and a destroyed general record.
  std::vector<std::string> ids;
  std::vector<StoredFile> files;
  auto check_in = [&](const std::string& metadata, const std::vector<api::Part>& parts) {
    Poco::JSON::Object::Ptr rec = s.CheckInOk("archivist", metadata, parts);
    if (!rec) return std::string();
    const std::string id = Str(rec, "id");
    auto shown = Objects(rec->getArray("versions")->getObject(0)->getArray("files"));
    EXPECT_EQ(shown.size(), parts.size());
    for (size_t i = 0; i < shown.size() && i < parts.size(); ++i) {
      EXPECT_EQ(Str(shown[i], "sha256"), Sha256Hex(parts[i].body));
      files.push_back({"/v1/records/" + id + "/versions/1/files/" + Str(shown[i], "id"),
                       parts[i].body});
    }
    ids.push_back(id);
    return id;
  };
  const std::string c0 = check_in(
      api::ContractJson("Liefervertrag Müller 供货合同 2026", "Müller & Söhne GmbH", "internal",
                        "sales", "MG-2026-0001"),
      {FilePart("vertrag.pdf", PatternBytes(70000, 1)),
       FilePart("anlage-übersicht.pdf", PatternBytes(3100, 2))});
  const std::string c1 =
      check_in(api::ContractJson("Distribution agreement Ningbo", "Ningbo Ports", "internal",
                                 "sales", "MG-2026-0002"),
               {FilePart("distribution.pdf", PatternBytes(5000, 3))});
  const std::string c2 =
      check_in(api::ContractJson("Framework agreement Lakeside", "Lakeside Ltd.", "confidential",
                                 "sales", "MG-2026-0003"),
               {FilePart("framework.pdf", PatternBytes(9000, 4)), FilePart("placeholder.pdf", "")});
  const std::string g0 = check_in(api::GeneralJson("Expired visitor log 2019"),
                                  {FilePart("visitors.pdf", PatternBytes(4000, 5))});
  ASSERT_FALSE(c0.empty() || c1.empty() || c2.empty() || g0.empty());
  const std::string destroyed_path = files.back().path;
  files.pop_back();  // g0's file will be gone

  const std::string amendment = PatternBytes(2500, 6);
  HttpResult v2 = s.As("archivist", "POST", "/v1/records/" + c0 + "/versions",
                       api::MultipartBody({api::MetadataPart(
                                               "{\"kind\":\"amendment\",\"note\":\"Preisänderung\"}"),
                                           FilePart("nachtrag.pdf", amendment)}),
                       api::MultipartType());
  ASSERT_EQ(v2.status, 201) << Describe(v2);
  {
    Poco::JSON::Object::Ptr v = JsonObject(v2.body);
    ASSERT_EQ(Int(v, "number"), 2);
    Poco::JSON::Object::Ptr f = v->getArray("files")->getObject(0);
    files.push_back({"/v1/records/" + c0 + "/versions/2/files/" + Str(f, "id"), amendment});
  }

  // A digital loan of c1 to staff, approved: checked out across the move.
  HttpResult loan = s.As("staff", "POST", "/v1/loans",
                         "{\"recordId\":\"" + c1 + "\",\"kind\":\"digital\",\"purpose\":\"tender\","
                         "\"dueAt\":\"" + HoursFromNow(72) + "\"}",
                         kJson);
  ASSERT_EQ(loan.status, 201) << Describe(loan);
  const std::string loan_id = Str(JsonObject(loan.body), "id");
  HttpResult approved = s.As("approver", "POST", "/v1/loans/" + loan_id + "/approve");
  ASSERT_EQ(approved.status, 200) << Describe(approved);
  ASSERT_EQ(Str(JsonObject(approved.body), "state"), "checked_out");
  const std::string loaned_path = files[2].path;  // c1's only file
  ASSERT_EQ(s.As("staff", "GET", loaned_path).status, 200);

  // A legal hold on c2.
  HttpResult hold = s.As("legal", "POST", "/v1/holds",
                         "{\"name\":\"Lakeside dispute\",\"reason\":\"pending litigation\","
                         "\"caseRef\":\"CASE-2026-017\",\"recordIds\":[\"" + c2 + "\"]}",
                         kJson);
  ASSERT_EQ(hold.status, 201) << Describe(hold);
  const std::string hold_id = Str(JsonObject(hold.body), "id");

  // g0 destroyed: general records become due at check-in, two approvals.
  HttpResult put = s.As("archivist", "PUT", "/v1/retention/schedules/general",
                        "{\"trigger\":\"created\",\"period\":\"P0D\",\"action\":\"destroy\"}", kJson);
  ASSERT_EQ(put.status, 202) << Describe(put);
  HttpResult change = s.As("legal", "POST",
                           "/v1/retention/changes/" + Str(JsonObject(put.body), "id") + "/approve");
  ASSERT_EQ(change.status, 200) << Describe(change);
  HttpResult proposed =
      s.As("archivist", "POST", "/v1/destructions",
           "{\"recordIds\":[\"" + g0 + "\"],\"reason\":\"retention period ended\"}", kJson);
  ASSERT_EQ(proposed.status, 201) << Describe(proposed);
  const std::string batch_id = Str(JsonObject(proposed.body), "id");
  ASSERT_EQ(s.As("approver", "POST", "/v1/destructions/" + batch_id + "/approve").status, 200);
  ASSERT_EQ(s.As("legal", "POST", "/v1/destructions/" + batch_id + "/approve").status, 200);
  HttpResult executed = s.As("archivist", "POST", "/v1/destructions/" + batch_id + "/execute");
  ASSERT_EQ(executed.status, 200) << Describe(executed);
  ASSERT_EQ(Str(JsonObject(executed.body), "state"), "executed");
  HttpResult gone = s.As("archivist", "GET", destroyed_path);
  ASSERT_EQ(gone.status, 410) << Describe(gone);

  // The content as checked in, read back on SQLite.
  for (const StoredFile& f : files) {
    HttpResult r = s.As("archivist", "GET", f.path);
    ASSERT_EQ(r.status, 200) << f.path << ": " << Describe(r);
    ASSERT_EQ(r.body, f.bytes) << f.path;
  }

  const std::vector<std::string> queries = {"q=Müller", "q=供货合", "q=agreement", "type=contract",
                                            "state=destroyed", "state=on_hold"};
  WaitForPipeline(s, ids);
  if (::testing::Test::HasFatalFailure()) return;
  const Observed before = Observe(s, ids, queries);
  EXPECT_TRUE(Contains(before.searches.at("q=Müller"), c0)) << before.searches.at("q=Müller");
  auto old_cp = FetchCheckpoint(s);
  ASSERT_TRUE(old_cp);
  const uint64_t old_size = old_cp->checkpoint.size;
  const std::vector<std::string> old_entries = LogEntries(s, old_size);
  ASSERT_EQ(old_entries.size(), old_size);
  ASSERT_EQ(s.Stop(), 0) << s.process().Log();
  const double build_seconds = SecondsSince(started);

  RunResult sqlite_verify = RunVerify(data);
  ASSERT_EQ(sqlite_verify.exit_code, 0) << sqlite_verify.out << sqlite_verify.err;
  auto old_config = ParseConfig(ReadFileOrDie(data + "/custos.conf"));
  ASSERT_TRUE(old_config.ok()) << old_config.status().ToString();
  ASSERT_EQ(old_config->storage_backend, "sqlite");

  // --- the migration, into the URI form of the connection string.
  const std::string uri = PostgresUri(dsn);
  ASSERT_EQ(uri.rfind("postgresql://", 0), 0u) << uri;
  const auto migrate_start = Clock::now();
  RunResult m = RunMigrate(data, uri);
  const double migrate_seconds = SecondsSince(migrate_start);
  ASSERT_EQ(m.exit_code, 0) << m.out << m.err;
  EXPECT_TRUE(Contains(m.out, "Migrated " + data + " to PostgreSQL")) << m.out;
  // The log it verified before and after: at least what custosd signed
  // last, with that root if custosd appended nothing on its way out.
  {
    const std::string marker = "  log: size ";
    size_t at = m.out.find(marker);
    ASSERT_NE(at, std::string::npos) << m.out;
    std::istringstream line(m.out.substr(at + marker.size()));
    uint64_t size = 0;
    std::string comma, word, root;
    line >> size >> comma >> word >> root;  // "N" "," "root" "R"
    EXPECT_GE(size, old_size) << m.out;
    if (size == old_size) {
      EXPECT_EQ(root, crypto::Base64Encode(old_cp->checkpoint.root)) << m.out;
    }
  }

  // custos.conf: the same settings, now on PostgreSQL.
  auto new_config = ParseConfig(ReadFileOrDie(data + "/custos.conf"));
  ASSERT_TRUE(new_config.ok()) << new_config.status().ToString();
  EXPECT_EQ(new_config->storage_backend, "postgresql");
  EXPECT_EQ(new_config->storage_dsn, uri);
  {
    Config expected = *old_config;
    ASSERT_TRUE(SetConfigValue(expected, "storage.backend", "postgresql").ok());
    ASSERT_TRUE(SetConfigValue(expected, "storage.dsn", uri).ok());
    EXPECT_EQ(FormatConfigFile(*new_config), FormatConfigFile(expected));
  }
  EXPECT_EQ(ModeOf(data + "/custos.conf"), 0600u);
  EXPECT_FALSE(fs::exists(data + "/custos.conf.migrate"));
  EXPECT_FALSE(fs::exists(data + "/custos.db"));
  EXPECT_FALSE(fs::exists(data + "/custos.db-wal"));
  ASSERT_TRUE(fs::exists(data + "/custos.db.migrated"));
  EXPECT_EQ(ModeOf(data + "/custos.db.migrated"), 0600u);
  EXPECT_GT(PgValue(dsn, "SELECT count(*) FROM log_leaves"), 0);

  // The same archive verifies on PostgreSQL, counted the same.
  const auto verify_start = Clock::now();
  RunResult pg_verify = RunVerify(data);
  const double verify_seconds = SecondsSince(verify_start);
  ASSERT_EQ(pg_verify.exit_code, 0) << pg_verify.out << pg_verify.err;
  EXPECT_EQ(pg_verify.out, sqlite_verify.out);

  // --- custosd on PostgreSQL. Sessions moved with the database, so every
  // token from before still signs its user in.
  ASSERT_TRUE(s.Restart()) << s.process().Log();
  auto new_cp = FetchCheckpoint(s);
  ASSERT_TRUE(new_cp);
  ASSERT_GE(new_cp->checkpoint.size, old_size);
  if (new_cp->checkpoint.size == old_size) {
    EXPECT_EQ(new_cp->checkpoint.root, old_cp->checkpoint.root);
    EXPECT_EQ(new_cp->text, old_cp->text);
  }
  auto expect_consistent = [&](const crypto::Checkpoint& now) {
    if (now.size == old_size) {
      EXPECT_EQ(now.root, old_cp->checkpoint.root);
      return;
    }
    HttpResult r = s.As("auditor", "GET",
                        "/v1/log/proof/consistency?from=" + std::to_string(old_size) +
                            "&to=" + std::to_string(now.size));
    ASSERT_EQ(r.status, 200) << Describe(r);
    std::vector<crypto::Bytes> proof;
    Poco::JSON::Object::Ptr o = JsonObject(r.body);
    ASSERT_TRUE(o && o->has("proof")) << r.body;
    Poco::JSON::Array::Ptr arr = o->getArray("proof");
    for (size_t i = 0; i < arr->size(); ++i) {
      auto b = crypto::Base64Decode(arr->get(static_cast<unsigned>(i)).convert<std::string>());
      ASSERT_TRUE(b);
      proof.push_back(*b);
    }
    Status st = merkle::VerifyConsistency(old_size, now.size, proof, old_cp->checkpoint.root,
                                          now.root);
    EXPECT_TRUE(st.ok()) << "from " << old_size << " to " << now.size << ": " << st.ToString();
  };
  expect_consistent(new_cp->checkpoint);
  EXPECT_EQ(LogEntries(s, old_size), old_entries);

  const Observed after = Observe(s, ids, queries);
  for (const std::string& id : ids) {
    EXPECT_EQ(after.records.at(id), before.records.at(id)) << id;
  }
  EXPECT_EQ(after.searches, before.searches);
  EXPECT_EQ(after.loans, before.loans);
  EXPECT_EQ(after.holds, before.holds);
  EXPECT_EQ(after.destructions, before.destructions);
  EXPECT_EQ(after.schedules, before.schedules);

  // Content: the same bytes, the same hashes; the destroyed file stays gone.
  for (const StoredFile& f : files) {
    HttpResult r = s.As("archivist", "GET", f.path);
    ASSERT_EQ(r.status, 200) << f.path << ": " << Describe(r);
    EXPECT_EQ(r.body, f.bytes) << f.path;
    EXPECT_EQ(r.headers["ETag"], "\"" + Sha256Hex(f.bytes) + "\"") << f.path;
  }
  HttpResult still_gone = s.As("archivist", "GET", destroyed_path);
  EXPECT_EQ(still_gone.status, 410) << Describe(still_gone);
  EXPECT_EQ(api::ErrorCode(still_gone), "content_destroyed");

  // The loan still opens c1 for staff until it is returned.
  HttpResult under_loan = s.As("staff", "GET", loaned_path);
  ASSERT_EQ(under_loan.status, 200) << Describe(under_loan);
  EXPECT_EQ(under_loan.body, files[2].bytes);
  HttpResult returned = s.As("staff", "POST", "/v1/loans/" + loan_id + "/return");
  ASSERT_EQ(returned.status, 200) << Describe(returned);
  EXPECT_EQ(Str(JsonObject(returned.body), "state"), "returned");
  EXPECT_EQ(api::ErrorCode(s.As("staff", "GET", loaned_path)), "content_forbidden");

  // The hold still protects c2.
  HttpResult held = s.As("legal", "GET", "/v1/holds/" + hold_id);
  ASSERT_EQ(held.status, 200) << Describe(held);
  EXPECT_EQ(Str(JsonObject(held.body), "state"), "active");
  EXPECT_EQ(Str(JsonObject(s.As("auditor", "GET", "/v1/records/" + c2).body), "state"), "on_hold");

  // Numbers continue where SQLite left off: no duplicate, no gap.
  const std::string c3 = check_in(
      api::ContractJson("Supply agreement after the move", "Harbour Ltd.", "internal", "sales",
                        "MG-2026-0004"),
      {FilePart("after.pdf", PatternBytes(6000, 7))});
  EXPECT_EQ(c3, NextNumber(c2));
  const std::string g1 =
      check_in(api::GeneralJson("Visitor log 2026"), {FilePart("v.pdf", PatternBytes(100, 8))});
  EXPECT_EQ(g1, NextNumber(g0));
  HttpResult v3 = s.As("archivist", "POST", "/v1/records/" + c0 + "/versions",
                       api::MultipartBody({api::MetadataPart("{\"kind\":\"amendment\"}"),
                                           FilePart("nachtrag-2.pdf", PatternBytes(700, 9))}),
                       api::MultipartType());
  ASSERT_EQ(v3.status, 201) << Describe(v3);
  EXPECT_EQ(Int(JsonObject(v3.body), "number"), 3);
  HttpResult loan2 = s.As("staff", "POST", "/v1/loans",
                          "{\"recordId\":\"" + c1 + "\",\"kind\":\"physical\","
                          "\"dueAt\":\"" + HoursFromNow(48) + "\"}",
                          kJson);
  ASSERT_EQ(loan2.status, 201) << Describe(loan2);
  EXPECT_EQ(Str(JsonObject(loan2.body), "id"), NextNumber(loan_id));
  HttpResult fresh = s.As("archivist", "GET", files.back().path);
  EXPECT_EQ(fresh.body, files.back().bytes);

  // The grown log still extends the checkpoint signed on SQLite.
  auto grown = FetchCheckpoint(s);
  ASSERT_TRUE(grown);
  EXPECT_GT(grown->checkpoint.size, new_cp->checkpoint.size);
  expect_consistent(grown->checkpoint);
  EXPECT_EQ(s.Stop(), 0) << s.process().Log();

  RunResult final_verify = RunVerify(data);
  EXPECT_EQ(final_verify.exit_code, 0) << final_verify.out << final_verify.err;
  EXPECT_FALSE(fs::exists(data + "/custos.db"));

  std::cout << "[ figures  ] archive built in " << build_seconds << " s; log " << old_size
            << " entries before the move, " << new_cp->checkpoint.size << " after restart, "
            << grown->checkpoint.size << " at the end; migrate " << migrate_seconds << " s; verify on PostgreSQL "
            << verify_seconds << " s; total " << SecondsSince(started) << " s\n";
}

// ----------------------------------------------------------------- refusals

TEST_F(Migrate, RefusesWhileCustosdRuns) {
  const std::string dsn = NewPostgresDatabase();
  CUSTOS_REQUIRE_POSTGRES(dsn);
  const std::string data = CopyOfSeed("data");
  ASSERT_FALSE(data.empty());
  const DirState state = StateOf(data);
  RunResult v_before = RunVerify(data);
  ASSERT_EQ(v_before.exit_code, 0) << v_before.out << v_before.err;

  ServerProcess server;
  ASSERT_TRUE(server.Start(data));
  RunResult m = RunMigrate(data, PostgresUri(dsn));
  EXPECT_TRUE(Refused(m));
  EXPECT_EQ(m.err.rfind("custosctl: migrate: ", 0), 0u) << m.err;
  EXPECT_TRUE(Contains(m.err, "stop custosd")) << m.err;
  EXPECT_TRUE(Contains(m.err, "data_dir_in_use")) << m.err;
  EXPECT_EQ(TablesIn(dsn), 0) << "the target was touched";
  ASSERT_EQ(server.Stop(), 0) << server.Log();
  ExpectStillOnSqlite(data, state, /*same_bytes=*/false);
  RunResult v_after = RunVerify(data);
  EXPECT_EQ(v_after.exit_code, 0) << v_after.out << v_after.err;
  EXPECT_EQ(v_after.out, v_before.out);

  // Once custosd is stopped, the same database takes the archive.
  RunResult again = RunMigrate(data, PostgresUri(dsn));
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_FALSE(fs::exists(data + "/custos.db"));
  RunResult v = RunVerify(data);
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

TEST_F(Migrate, RefusesADatabaseThatHoldsAnArchive) {
  const std::string dsn = NewPostgresDatabase();
  CUSTOS_REQUIRE_POSTGRES(dsn);
  const std::string first = CopyOfSeed("first");
  ASSERT_FALSE(first.empty());
  RunResult m1 = RunMigrate(first, dsn);  // the key=value form
  ASSERT_EQ(m1.exit_code, 0) << m1.out << m1.err;
  const int64_t leaves = PgValue(dsn, "SELECT count(*) FROM log_leaves");
  const int64_t records = PgValue(dsn, "SELECT count(*) FROM records");
  ASSERT_GT(leaves, 0);

  // Another archive, with records of its own.
  const std::string second = tmp_.Sub("second");
  ASSERT_TRUE(live::InitWithArchivist(tmp_, second));
  {
    ServerProcess server;
    ASSERT_TRUE(server.Start(second));
    live::CheckInClient client(server.port(), second);
    ASSERT_TRUE(client.SignIn());
    auto id = client.CheckIn("Second archive record", {PatternBytes(1200, 77)});
    ASSERT_TRUE(id) << client.last_error();
    ASSERT_EQ(server.Stop(), 0) << server.Log();
  }
  const DirState state = StateOf(second);
  RunResult v_before = RunVerify(second);
  ASSERT_EQ(v_before.exit_code, 0) << v_before.out << v_before.err;

  for (const std::string& target : {dsn, PostgresUri(dsn)}) {
    RunResult m2 = RunMigrate(second, target);
    EXPECT_TRUE(Refused(m2, "database_not_empty"));
    EXPECT_TRUE(Contains(m2.err, "stays on SQLite")) << m2.err;
    ExpectStillOnSqlite(second, state);
  }
  RunResult v_after = RunVerify(second);
  EXPECT_EQ(v_after.exit_code, 0) << v_after.out << v_after.err;
  EXPECT_EQ(v_after.out, v_before.out);

  // The first archive is intact in its database.
  EXPECT_EQ(PgValue(dsn, "SELECT count(*) FROM log_leaves"), leaves);
  EXPECT_EQ(PgValue(dsn, "SELECT count(*) FROM records"), records);
  RunResult v_first = RunVerify(first);
  EXPECT_EQ(v_first.exit_code, 0) << v_first.out << v_first.err;
}

TEST_F(Migrate, RefusesAnArchiveAlreadyOnPostgres) {
  const std::string dsn = NewPostgresDatabase();
  const std::string other = NewPostgresDatabase();
  CUSTOS_REQUIRE_POSTGRES(dsn);
  const std::string data = CopyOfSeed("data");
  ASSERT_FALSE(data.empty());
  ASSERT_EQ(RunMigrate(data, dsn).exit_code, 0);
  const std::string config = ReadFileOrDie(data + "/custos.conf");
  const std::string old_db = Sha256Hex(ReadFileOrDie(data + "/custos.db.migrated"));

  for (const std::string& target : {other, dsn}) {
    RunResult m = RunMigrate(data, target);
    EXPECT_TRUE(Refused(m, "backend_not_sqlite"));
    EXPECT_EQ(ReadFileOrDie(data + "/custos.conf"), config);
    EXPECT_FALSE(fs::exists(data + "/custos.db"));
    EXPECT_EQ(Sha256Hex(ReadFileOrDie(data + "/custos.db.migrated")), old_db);
  }
  EXPECT_EQ(TablesIn(other), 0) << "the second target was touched";
  RunResult v = RunVerify(data);
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

TEST_F(Migrate, BadConnectionStringIsAClearError) {
  const std::string dsn = NewPostgresDatabase();
  CUSTOS_REQUIRE_POSTGRES(dsn);
  const std::string data = CopyOfSeed("data");
  ASSERT_FALSE(data.empty());
  const DirState state = StateOf(data);
  auto f = DsnFields(dsn);
  const std::string port = std::to_string(UnusedPort());

  struct Case {
    std::string name;
    std::string dsn;
    std::string mentions;  // a word the error must contain
  };
  const std::vector<Case> cases = {
      {"not a connection string", "not a dsn", "dsn_invalid"},
      {"empty", "", "storage.dsn"},
      {"URI of an unknown scheme", "mysql://custos@127.0.0.1/custos", ""},
      {"nothing listens on the port",
       "postgresql://" + f["user"] + "@127.0.0.1:" + port + "/" + f["dbname"], port},
      {"no such database", "host=" + f["host"] + " port=" + f["port"] +
                               " dbname=custos_missing_db user=" + f["user"],
       "custos_missing_db"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name + ": --to '" + c.dsn + "'");
    const auto start = Clock::now();
    RunResult m = RunMigrate(data, c.dsn);
    const double seconds = SecondsSince(start);
    EXPECT_EQ(m.exit_code, 2) << m.out << m.err;
    EXPECT_EQ(m.err.rfind("custosctl: migrate: ", 0), 0u) << m.err;
    EXPECT_TRUE(OneLine(m.err)) << m.err;
    if (!c.mentions.empty()) {
      EXPECT_TRUE(Contains(m.err, c.mentions)) << m.err;
    }
    ExpectStillOnSqlite(data, state);
    std::cout << "[ figures  ] " << c.name << ": refused in " << seconds << " s: " << m.err;
  }
  EXPECT_EQ(TablesIn(dsn), 0);
  RunResult v = RunVerify(data);
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;

  // The archive still moves with a good connection string afterwards.
  RunResult ok = RunMigrate(data, dsn);
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
}

}  // namespace
}  // namespace custos::testing
