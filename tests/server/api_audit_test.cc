// The auditor's toolkit over the real HTTPS API (DESIGN §5): full archive
// verification as a background job that only auditors start and read,
// whose outcome is an `audit.verify` log event; and audit-package exports
// (202 while the package is written, the package bytes when done) that
// custosctl verify-package accepts with the key GET /v1/log/key serves.
// An export is an `export.create` event naming its records; content the
// exporter may not read is withheld; another user's export is not found;
// malformed requests are refused before any job starts.
//
// One server serves the whole suite (starting one costs seconds); every test
// checks in its own records, so each assertion holds whatever ran before it.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/log.h"
#include "server/services/audit_service.h"
#include "storage/archive.h"
#include "storage/custody.h"
#include "storage/data_dir.h"
#include "tests/server/api_fixture.h"
#include "tests/tools/python.h"

namespace custos::testing::api {
namespace {

// Polls can take this long: a verification reads every blob of the
// archive, and jobs run one after another on one worker.
constexpr int kJobTimeoutMs = 60000;

struct Entry {
  std::string path;  // "<bag>/…"
  std::string bytes;
};

// The regular files of a package (tar.gz or zip) held in memory.
std::vector<Entry> PackageEntries(const std::string& bytes) {
  std::vector<Entry> out;
  std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(a.get());
  archive_read_support_format_all(a.get());
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
    ADD_FAILURE() << "not a package: " << archive_error_string(a.get());
    return out;
  }
  for (;;) {
    struct archive_entry* e = nullptr;
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK) {
      ADD_FAILURE() << "package unreadable: " << archive_error_string(a.get());
      return out;
    }
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    Entry entry{archive_entry_pathname(e), ""};
    char buf[16 * 1024];
    for (la_ssize_t n; (n = archive_read_data(a.get(), buf, sizeof buf)) > 0;) {
      entry.bytes.append(buf, static_cast<size_t>(n));
    }
    out.push_back(std::move(entry));
  }
  return out;
}

std::string Relative(const Entry& e) { return e.path.substr(e.path.find('/') + 1); }

const Entry* FindEntry(const std::vector<Entry>& entries, const std::string& relative) {
  for (const Entry& e : entries) {
    if (Relative(e) == relative) return &e;
  }
  return nullptr;
}

size_t DataFiles(const std::vector<Entry>& entries) {
  size_t n = 0;
  for (const Entry& e : entries) n += Relative(e).rfind("data/", 0) == 0 ? 1 : 0;
  return n;
}

std::vector<std::string> Strings(const Poco::JSON::Array::Ptr& arr) {
  std::vector<std::string> out;
  for (size_t i = 0; arr && i < arr->size(); ++i) out.push_back(arr->get(static_cast<unsigned>(i)).convert<std::string>());
  return out;
}

// custosctl verify-package --json on a package file.
struct PackageVerdict {
  int exit_code = -1;
  Poco::JSON::Object::Ptr report;
  std::string output;
};

PackageVerdict VerifyPackage(const std::string& package, const std::string& vkey) {
  RunResult r = RunProgram({BinDir() + "/custosctl", "verify-package", package, "--vkey", vkey, "--json"});
  return {r.exit_code, JsonObject(r.out), r.out + r.err};
}

int64_t Counted(const PackageVerdict& v, const std::string& key) {
  return v.report && v.report->has("counts") ? Int(v.report->getObject("counts"), key) : -1;
}

class ApiAudit : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::vector<std::string> roles = kUserRoles;
    roles.push_back(kSecurityAuditor);
    server_ = ApiServer::Create("", roles).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr) << "the server did not come up"; }

  ApiServer& S() { return *server_; }

  // A general record of "sales" with one file per content, checked in by
  // the archivist; its id ("" on failure).
  std::string CheckIn(const std::string& title, const std::vector<std::string>& contents,
                      const std::string& classification = "internal") {
    std::vector<Part> files;
    for (size_t i = 0; i < contents.size(); ++i) {
      files.push_back(FilePart("page-" + std::to_string(i) + ".pdf", contents[i]));
    }
    Poco::JSON::Object::Ptr rec = S().CheckInOk("archivist", GeneralJson(title, classification), files);
    return Str(rec, "id");
  }

  // Polls GET /v1/audit/verify/{id} as the auditor until the job finished;
  // the job, or null after a time-out.
  Poco::JSON::Object::Ptr WaitForVerification(const std::string& id) {
    Poco::JSON::Object::Ptr job;
    bool finished = WaitFor(
        [&] {
          HttpResult r = S().As("auditor", "GET", "/v1/audit/verify/" + id);
          EXPECT_EQ(r.status, 200) << Describe(r);
          job = JsonObject(r.body);
          std::string state = Str(job, "state");
          return r.status != 200 || state == "done" || state == "failed";
        },
        kJobTimeoutMs);
    if (!finished) ADD_FAILURE() << "verification " << id << " did not finish";
    return job;
  }

  // Starts an export as `role`; the job id ("" after a failure).
  std::string StartExport(const std::string& role, const std::string& body) {
    HttpResult r = S().As(role, "POST", "/v1/exports", body, kJson);
    EXPECT_EQ(r.status, 202) << Describe(r);
    Poco::JSON::Object::Ptr job = JsonObject(r.body);
    EXPECT_EQ(Str(job, "kind"), "export");
    EXPECT_EQ(Str(job, "owner"), S().account(role).username);
    return r.status == 202 ? Str(job, "id") : "";
  }

  // Polls GET /v1/exports/{id} as `role` until it answers other than 202.
  HttpResult WaitForExport(const std::string& role, const std::string& id) {
    HttpResult last;
    bool finished = WaitFor(
        [&] {
          last = S().As(role, "GET", "/v1/exports/" + id);
          if (last.status == 202) {
            Poco::JSON::Object::Ptr job = JsonObject(last.body);
            std::string state = Str(job, "state");
            EXPECT_TRUE(state == "queued" || state == "running") << Describe(last);
          }
          return last.status != 202;
        },
        kJobTimeoutMs);
    if (!finished) ADD_FAILURE() << "export " << id << " did not finish";
    return last;
  }

  // Saves `bytes` and the served verifier key; runs verify-package.
  PackageVerdict VerifyServedPackage(const std::string& bytes, const std::string& name) {
    HttpResult key = S().As(kAnonymous, "GET", "/v1/log/key");
    EXPECT_EQ(key.status, 200) << Describe(key);
    const std::string vkey = tmp_.Sub("served.vkey");
    WriteFile(vkey, key.body);
    const std::string package = tmp_.Sub(name);
    WriteFile(package, bytes);
    return VerifyPackage(package, vkey);
  }

  // The log entries (index, event) whose event has `action`, read as the
  // archivist, newest last.
  std::vector<Poco::JSON::Object::Ptr> EventsOf(const std::string& action) {
    std::vector<Poco::JSON::Object::Ptr> out;
    const uint64_t size = S().LogSize();
    for (uint64_t start = 0; start < size; start += 1000) {
      uint64_t end = std::min<uint64_t>(size, start + 1000);
      HttpResult r = S().As("archivist", "GET",
                            "/v1/log/entries?start=" + std::to_string(start) + "&end=" + std::to_string(end));
      EXPECT_EQ(r.status, 200) << Describe(r);
      Poco::JSON::Array::Ptr arr = JsonArray(r.body);
      for (size_t i = 0; arr && i < arr->size(); ++i) {
        Poco::JSON::Object::Ptr event = arr->getObject(static_cast<unsigned>(i))->getObject("event");
        if (Str(event, "action") == action) out.push_back(event);
      }
    }
    return out;
  }

  // The export.create event of export job `id`, or null.
  Poco::JSON::Object::Ptr ExportEvent(const std::string& id) {
    for (const auto& e : EventsOf("export.create")) {
      if (Str(e, "subject") == "export:custos-export-" + id) return e;
    }
    ADD_FAILURE() << "no export.create event for " << id;
    return {};
  }

  // GET /v1/exports/{id}/job as `role`: the one withheld file it lists.
  Poco::JSON::Object::Ptr OnlyWithheld(const std::string& job, const std::string& role) {
    HttpResult r = S().As(role, "GET", "/v1/exports/" + job + "/job");
    EXPECT_EQ(r.status, 200) << Describe(r);
    Poco::JSON::Object::Ptr o = JsonObject(r.body);
    EXPECT_EQ(Str(o, "state"), "done") << r.body;
    Poco::JSON::Object::Ptr package = o ? o->getObject("package") : nullptr;
    Poco::JSON::Array::Ptr withheld = package ? package->getArray("withheld") : nullptr;
    if (!withheld || withheld->size() != 1) {
      ADD_FAILURE() << "expected one withheld file: " << r.body;
      return {};
    }
    return withheld->getObject(0);
  }

  static ApiServer* server_;
  TempDir tmp_;
};

ApiServer* ApiAudit::server_ = nullptr;

// ------------------------------------------------------------ verification

TEST_F(ApiAudit, AuditorVerificationRunsInTheBackgroundAndIsLogged) {
  ASSERT_FALSE(CheckIn("Verified minutes", {PatternBytes(9000, 11)}).empty());
  HttpResult started = S().As("auditor", "POST", "/v1/audit/verify");
  ASSERT_EQ(started.status, 202) << Describe(started);
  Poco::JSON::Object::Ptr job = JsonObject(started.body);
  const std::string id = Str(job, "id");
  ASSERT_FALSE(id.empty()) << Describe(started);
  EXPECT_EQ(Str(job, "kind"), "verify");
  EXPECT_EQ(Str(job, "owner"), "auditor");
  EXPECT_TRUE(job->has("progress")) << started.body;

  Poco::JSON::Object::Ptr done = WaitForVerification(id);
  ASSERT_TRUE(done);
  ASSERT_EQ(Str(done, "state"), "done") << Stringify(done);
  EXPECT_TRUE(done->getValue<bool>("clean")) << Stringify(done);
  ASSERT_TRUE(done->has("report") && !done->isNull("report")) << Stringify(done);
  Poco::JSON::Object::Ptr report = done->getObject("report");
  EXPECT_TRUE(report->getValue<bool>("clean"));
  EXPECT_EQ(report->getArray("findings")->size(), 0u) << Stringify(report);
  Poco::JSON::Object::Ptr counts = report->getObject("counts");
  ASSERT_TRUE(counts) << Stringify(report);
  for (const char* key : {"logEntries", "logNodes", "checkpoints", "records", "versions", "files", "contentBytes"}) {
    EXPECT_TRUE(counts->has(key)) << key;
  }
  EXPECT_GE(Int(counts, "records"), 1);
  EXPECT_GE(Int(counts, "files"), 1);
  EXPECT_GE(Int(counts, "contentBytes"), 9000);
  EXPECT_GE(Int(counts, "logEntries"), 1);
  // The last progress step is the files phase, complete: never a total of 0
  // beside a count of files done.
  Poco::JSON::Object::Ptr progress = done->getObject("progress");
  ASSERT_TRUE(progress) << Stringify(done);
  EXPECT_EQ(Str(progress, "phase"), "files");
  EXPECT_GT(Int(progress, "total"), 0) << Stringify(progress);
  EXPECT_EQ(Int(progress, "done"), Int(progress, "total")) << Stringify(progress);
  EXPECT_EQ(Int(progress, "total"), Int(counts, "files")) << Stringify(progress);

  // logIndex is the audit.verify event recording the outcome.
  const int64_t index = Int(done, "logIndex");
  ASSERT_GE(index, 0) << Stringify(done);
  HttpResult entry = S().As("auditor", "GET",
                            "/v1/log/entries?start=" + std::to_string(index) + "&end=" + std::to_string(index + 1));
  ASSERT_EQ(entry.status, 200) << Describe(entry);
  Poco::JSON::Array::Ptr arr = JsonArray(entry.body);
  ASSERT_TRUE(arr && arr->size() == 1) << entry.body;
  Poco::JSON::Object::Ptr event = arr->getObject(0)->getObject("event");
  EXPECT_EQ(Str(event, "action"), "audit.verify");
  EXPECT_EQ(Str(event, "actor"), "auditor");
  EXPECT_EQ(Str(event, "subject"), "audit:" + id);
  Poco::JSON::Object::Ptr details = event->getObject("details");
  ASSERT_TRUE(details) << Stringify(event);
  EXPECT_EQ(Str(details, "job"), id);
  EXPECT_TRUE(details->getValue<bool>("clean"));
  EXPECT_EQ(Int(details, "findings"), 0);
  EXPECT_EQ(Int(details, "files"), Int(counts, "files"));
  EXPECT_EQ(Str(details, "reportSha256").size(), 64u);

  // The finished report is still there for the next read.
  HttpResult again = S().As("auditor", "GET", "/v1/audit/verify/" + id);
  ASSERT_EQ(again.status, 200) << Describe(again);
  EXPECT_EQ(Int(JsonObject(again.body), "logIndex"), index);
}

TEST_F(ApiAudit, VerificationIsForAuditorsOnly) {
  for (const char* role :
       {"archivist", "staff", "approver", "legal", kAdmin, kSecurity, kSecurityAuditor}) {
    HttpResult r = S().As(role, "POST", "/v1/audit/verify");
    EXPECT_EQ(r.status, 403) << role << ": " << Describe(r);
    EXPECT_EQ(ErrorCode(r), "forbidden") << role;
  }
  EXPECT_EQ(S().As(kAnonymous, "POST", "/v1/audit/verify").status, 401);

  // Nor may others read an auditor's job.
  HttpResult started = S().As("auditor", "POST", "/v1/audit/verify");
  ASSERT_EQ(started.status, 202) << Describe(started);
  const std::string id = Str(JsonObject(started.body), "id");
  for (const char* role : {"archivist", "staff"}) {
    HttpResult r = S().As(role, "GET", "/v1/audit/verify/" + id);
    EXPECT_EQ(r.status, 403) << role << ": " << Describe(r);
  }
  ASSERT_TRUE(WaitForVerification(id));
}

// The security auditor reads the whole log, the other two administrative
// roles' actions included: who created, granted, issued a code and set up
// each account. No entry holds a set-up code or a password.
TEST_F(ApiAudit, SecurityAuditorReadsTheAdministratorsActionsAndNoSecret) {
  ASSERT_EQ(S().PostUser("log-probe", "sales").status, 201);
  HttpResult issued = S().IssueSetupCode("log-probe");
  ASSERT_EQ(issued.status, 201) << Describe(issued);
  const std::string code = Str(JsonObject(issued.body), "code");
  ASSERT_FALSE(code.empty());
  const std::string password = "日志探针的口令 log-probe-secret";
  ASSERT_EQ(S().CompleteSetup("log-probe", code, password).status, 204);

  const uint64_t size = S().LogSize();
  std::set<std::string> seen;  // "action actor subject"
  std::string everything;
  for (uint64_t at = 0; at < size;) {
    HttpResult r = S().As(kSecurityAuditor, "GET",
                          "/v1/log/entries?start=" + std::to_string(at) + "&end=" + std::to_string(size));
    ASSERT_EQ(r.status, 200) << Describe(r);
    Poco::JSON::Array::Ptr page = JsonArray(r.body);
    ASSERT_TRUE(page && page->size() > 0) << r.body.substr(0, 200);
    for (size_t i = 0; i < page->size(); ++i) {
      Poco::JSON::Object::Ptr e = page->getObject(static_cast<unsigned>(i))->getObject("event");
      seen.insert(Str(e, "action") + " " + Str(e, "actor") + " " + Str(e, "subject"));
    }
    everything += r.body;
    at += page->size();
  }
  for (const std::string& expected :
       {"department.create admin sales", "user.create admin archivist",
        "user.setup_code_issued security archivist", "user.setup_completed archivist archivist",
        "user.create admin log-probe", "user.setup_code_issued security log-probe",
        "user.setup_completed log-probe log-probe"}) {
    EXPECT_TRUE(seen.count(expected)) << "missing: " << expected;
  }
  auto by = [&](const std::string& action, const std::string& actor) {
    return std::count_if(seen.begin(), seen.end(), [&](const std::string& s) {
      return s.rfind(action + " " + actor + " ", 0) == 0;
    });
  };
  // One proposal by the security officer and one confirmation by the admin
  // for each granted role of the fixture (all but staff).
  EXPECT_EQ(by("grant.propose", kSecurity), 5) << "archivist, approver, legal, auditor, security_auditor";
  EXPECT_EQ(by("grant.confirm", kAdmin), 5);
  EXPECT_EQ(everything.find(code), std::string::npos) << "a set-up code is in the log";
  EXPECT_EQ(everything.find("log-probe-secret"), std::string::npos) << "a password is in the log";
  EXPECT_EQ(everything.find(S().account("archivist").password), std::string::npos);
}

TEST_F(ApiAudit, UnknownVerificationIsNotFound) {
  HttpResult r = S().As("auditor", "GET", "/v1/audit/verify/AV-000000000000000000000000");
  EXPECT_EQ(r.status, 404) << Describe(r);
  EXPECT_EQ(ErrorCode(r), "job_not_found");
}

// ----------------------------------------------------------------- exports

TEST_F(ApiAudit, ArchivistExportVerifiesWithTheServedKey) {
  const std::string a = PatternBytes(12000, 21), b = PatternBytes(800, 22);
  const std::string id = CheckIn("Exported contract file", {a, b});
  ASSERT_FALSE(id.empty());
  const std::string job = StartExport("archivist", "{\"recordIds\":[\"" + id + "\"]}");
  ASSERT_FALSE(job.empty());

  HttpResult r = WaitForExport("archivist", job);
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.headers["Content-Type"], "application/gzip");
  ASSERT_GE(r.body.size(), 2u);
  EXPECT_EQ(static_cast<uint8_t>(r.body[0]), 0x1f);
  EXPECT_EQ(static_cast<uint8_t>(r.body[1]), 0x8b);

  PackageVerdict v = VerifyServedPackage(r.body, "export.tar.gz");
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_EQ(Counted(v, "payloadFiles"), 2) << v.output;
  EXPECT_EQ(Counted(v, "payloadBytes"), 12800) << v.output;
  // Version 1's, and the record's newest recordHash (its check-in, the
  // same entry).
  EXPECT_EQ(Counted(v, "receipts"), 2) << v.output;

  // The files inside are the bytes checked in.
  std::vector<Entry> entries = PackageEntries(r.body);
  ASSERT_FALSE(entries.empty());
  EXPECT_EQ(entries[0].path.rfind("custos-export-" + job + "/", 0), 0u) << entries[0].path;
  std::set<std::string> contents;
  for (const Entry& e : entries) {
    if (Relative(e).rfind("data/" + id + "/v1/", 0) == 0) contents.insert(e.bytes);
  }
  EXPECT_EQ(contents, (std::set<std::string>{a, b}));

  // The export is an audit event naming the record and the files released.
  Poco::JSON::Object::Ptr event = ExportEvent(job);
  ASSERT_TRUE(event);
  EXPECT_EQ(Str(event, "actor"), "archivist");
  Poco::JSON::Object::Ptr details = event->getObject("details");
  EXPECT_EQ(Strings(details->getArray("recordIds")), std::vector<std::string>{id});
  EXPECT_EQ(details->getArray("filesWithContent")->size(), 2u);
}

TEST_F(ApiAudit, ZipExportVerifies) {
  const std::string id = CheckIn("Zipped register", {PatternBytes(4000, 31)});
  ASSERT_FALSE(id.empty());
  const std::string job = StartExport("archivist", "{\"recordIds\":[\"" + id + "\"],\"format\":\"zip\"}");
  ASSERT_FALSE(job.empty());
  HttpResult r = WaitForExport("archivist", job);
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.headers["Content-Type"], "application/zip");
  EXPECT_EQ(r.body.substr(0, 2), "PK");
  PackageVerdict v = VerifyServedPackage(r.body, "export.zip");
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_EQ(Counted(v, "payloadFiles"), 1) << v.output;
}

// Issue 20 item 9: an export of Chinese file names ended 409 export_failed.
// Both formats now come out whole, valid for a BagIt checker written from
// RFC 8493 and with every name exact in Python's zipfile and tarfile.
TEST_F(ApiAudit, ChineseFileNamesExportInBothFormats) {
  const std::string a = PatternBytes(5000, 51), b = PatternBytes(700, 52);
  Poco::JSON::Object::Ptr rec = S().CheckInOk(
      "archivist", ContractJson("供货合同（2026）华东 Supply contract", "华东供应链有限公司"),
      {FilePart("合同正本.pdf", a), FilePart("补充协议 v2 (签字版).docx", b)});
  ASSERT_TRUE(rec);
  const std::string id = Str(rec, "id");
  Poco::JSON::Array::Ptr files = rec->getArray("versions")->getObject(0)->getArray("files");
  const std::set<std::string> want = {
      "data/" + id + "/v1/" + Str(files->getObject(0), "id") + "-合同正本.pdf",
      "data/" + id + "/v1/" + Str(files->getObject(1), "id") + "-补充协议 v2 (签字版).docx"};
  // Lists the member names as Python's own modules decode them.
  const std::string kNames =
      "import sys, tarfile, zipfile\n"
      "p = sys.argv[1]\n"
      "names = zipfile.ZipFile(p).namelist() if p.endswith('.zip') else tarfile.open(p).getnames()\n"
      "sys.stdout.buffer.write('\\n'.join(names).encode('utf-8'))\n";
  for (const std::string format : {"tar.gz", "zip"}) {
    SCOPED_TRACE(format);
    const std::string job =
        StartExport("archivist", "{\"recordIds\":[\"" + id + "\"],\"format\":\"" + format + "\"}");
    ASSERT_FALSE(job.empty());
    HttpResult r = WaitForExport("archivist", job);
    ASSERT_EQ(r.status, 200) << Describe(r);
    const std::string package = tmp_.Sub("chinese." + format);
    WriteFile(package, r.body);

    RunResult bag = RunProgram({Python(), "tests/tools/bagit_check.py", "--all-tags-listed", package});
    EXPECT_EQ(bag.exit_code, 0) << bag.out << bag.err;
    RunResult names = RunProgram({Python(), "-c", kNames, package});
    ASSERT_EQ(names.exit_code, 0) << names.err;
    std::set<std::string> data;
    std::istringstream lines(names.out);
    for (std::string line; std::getline(lines, line);) {
      std::string rel = line.substr(line.find('/') + 1);
      if (rel.rfind("data/" + id + "/", 0) == 0) data.insert(rel);
    }
    EXPECT_EQ(data, want) << names.out;
    PackageVerdict v = VerifyServedPackage(r.body, "chinese-verify." + format);
    EXPECT_EQ(v.exit_code, 0) << v.output;
  }
}

TEST_F(ApiAudit, ExportByQueryHoldsTheMatchingRecords) {
  const std::string id = CheckIn("Quarterly zebrafish survey", {PatternBytes(1500, 41)});
  ASSERT_FALSE(id.empty());
  const std::string job = StartExport("archivist", "{\"query\":{\"q\":\"zebrafish\"},\"includeContent\":false}");
  ASSERT_FALSE(job.empty());
  HttpResult r = WaitForExport("archivist", job);
  ASSERT_EQ(r.status, 200) << Describe(r);
  std::vector<Entry> entries = PackageEntries(r.body);
  EXPECT_NE(FindEntry(entries, "metadata/" + id + ".json"), nullptr);
  EXPECT_EQ(DataFiles(entries), 0u);
  PackageVerdict v = VerifyServedPackage(r.body, "query.tar.gz");
  EXPECT_EQ(v.exit_code, 0) << v.output;
}

TEST_F(ApiAudit, StaffExportWithholdsContentTheyMayNotRead) {
  // Staff see internal records of their department but read content only
  // under a loan: the package holds the metadata and no data file.
  const std::string id = CheckIn("Staff-visible minutes", {PatternBytes(6000, 51)});
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(S().As("staff", "GET", "/v1/records/" + id).status, 200);
  const std::string job = StartExport("staff", "{\"recordIds\":[\"" + id + "\"]}");
  ASSERT_FALSE(job.empty());
  HttpResult r = WaitForExport("staff", job);
  ASSERT_EQ(r.status, 200) << Describe(r);

  std::vector<Entry> entries = PackageEntries(r.body);
  EXPECT_EQ(DataFiles(entries), 0u);
  const Entry* meta = FindEntry(entries, "metadata/" + id + ".json");
  ASSERT_NE(meta, nullptr);
  Poco::JSON::Object::Ptr record = JsonObject(meta->bytes);
  ASSERT_TRUE(record) << meta->bytes;
  EXPECT_EQ(Str(record, "title"), "Staff-visible minutes");
  Poco::JSON::Object::Ptr file =
      record->getArray("versions")->getObject(0)->getArray("files")->getObject(0);
  EXPECT_TRUE(file->isNull("path"));
  EXPECT_EQ(Str(file, "withheld"), "the exporter may not read this content");
  EXPECT_EQ(Str(file, "sha256"), Sha256Hex(PatternBytes(6000, 51)));
  EXPECT_NE(FindEntry(entries, "receipts/" + id + "-v1.tlog-proof"), nullptr);

  PackageVerdict v = VerifyServedPackage(r.body, "staff.tar.gz");
  EXPECT_EQ(v.exit_code, 0) << v.output;
  EXPECT_EQ(Counted(v, "payloadFiles"), 0) << v.output;

  Poco::JSON::Object::Ptr event = ExportEvent(job);
  ASSERT_TRUE(event);
  EXPECT_EQ(Str(event, "actor"), "staff");
  EXPECT_EQ(event->getObject("details")->getArray("filesWithContent")->size(), 0u);

  // The answer says which file was left out and why.
  EXPECT_EQ(r.headers["X-Custos-Withheld-Files"], "1");
  Poco::JSON::Object::Ptr withheld = OnlyWithheld(job, "staff");
  ASSERT_TRUE(withheld);
  EXPECT_EQ(Str(withheld, "recordId"), id);
  EXPECT_EQ(Int(withheld, "version"), 1);
  EXPECT_EQ(Str(withheld, "fileId"), Str(file, "id"));
  EXPECT_EQ(Str(withheld, "name"), "page-0.pdf");
  EXPECT_EQ(Str(withheld, "reason"), "not_permitted");
}

TEST_F(ApiAudit, MetadataOnlyExportListsEveryFileAsNotRequested) {
  const std::string id = CheckIn("仅元数据导出 metadata only", {PatternBytes(700, 52)});
  ASSERT_FALSE(id.empty());
  const std::string job = StartExport("archivist", "{\"recordIds\":[\"" + id + "\"],\"includeContent\":false}");
  ASSERT_FALSE(job.empty());
  ASSERT_EQ(WaitForExport("archivist", job).status, 200);
  Poco::JSON::Object::Ptr withheld = OnlyWithheld(job, "archivist");
  ASSERT_TRUE(withheld);
  EXPECT_EQ(Str(withheld, "recordId"), id);
  EXPECT_EQ(Str(withheld, "reason"), "not_requested");
}

TEST_F(ApiAudit, AnotherUsersExportIsNotFound) {
  const std::string id = CheckIn("Private export", {PatternBytes(500, 61)});
  ASSERT_FALSE(id.empty());
  const std::string job = StartExport("archivist", "{\"recordIds\":[\"" + id + "\"]}");
  ASSERT_FALSE(job.empty());
  ASSERT_EQ(WaitForExport("archivist", job).status, 200);
  for (const char* role : {"staff", "auditor", "legal"}) {
    HttpResult r = S().As(role, "GET", "/v1/exports/" + job);
    EXPECT_EQ(r.status, 404) << role << ": " << Describe(r);
    EXPECT_EQ(ErrorCode(r), "export_not_found") << role;
  }
  HttpResult unknown = S().As("archivist", "GET", "/v1/exports/EX-000000000000000000000000");
  EXPECT_EQ(unknown.status, 404) << Describe(unknown);
  // The owner still gets it.
  EXPECT_EQ(S().As("archivist", "GET", "/v1/exports/" + job).status, 200);
}

TEST_F(ApiAudit, ExportOfAMissingRecordFails) {
  const std::string job = StartExport("archivist", "{\"recordIds\":[\"GN-2026-999999\"]}");
  ASSERT_FALSE(job.empty());
  HttpResult r = WaitForExport("archivist", job);
  EXPECT_EQ(r.status, 409) << Describe(r);
  EXPECT_EQ(ErrorCode(r), "export_failed");
  // The server log names the job and the error.
  const std::string log = S().process().Log();
  size_t line = log.find("\"job\":\"" + job + "\"");
  ASSERT_NE(line, std::string::npos) << log.substr(log.size() > 3000 ? log.size() - 3000 : 0);
  size_t start = log.rfind('\n', line) + 1;
  const std::string text = log.substr(start, log.find('\n', line) - start);
  EXPECT_NE(text.find("export job failed"), std::string::npos) << text;
  EXPECT_NE(text.find("GN-2026-999999"), std::string::npos) << text;
}

TEST_F(ApiAudit, MalformedExportRequestsAreRefused) {
  const std::string id = CheckIn("Refusal target", {PatternBytes(300, 71)});
  ASSERT_FALSE(id.empty());
  const std::string ids = "\"recordIds\":[\"" + id + "\"]";
  struct Case {
    std::string body;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"this is not json", 400, "malformed_json"},
      {"[\"" + id + "\"]", 400, "malformed_json"},
      {"{" + ids + ",\"recordIdz\":[]}", 400, "unknown_field"},
      {"{" + ids + ",\"format\":\"rar\"}", 422, "invalid_format"},
      {"{" + ids + ",\"format\":7}", 400, ""},
      {"{\"recordIds\":\"" + id + "\"}", 400, "invalid_field"},
      {"{\"recordIds\":[7]}", 400, "invalid_field"},
      {"{" + ids + ",\"includeContent\":\"yes\"}", 400, ""},
      {"{\"query\":{\"colour\":\"red\"}}", 400, "unknown_field"},
      {"{}", 422, "invalid_export"},
  };
  for (const Case& c : cases) {
    HttpResult r = S().As("archivist", "POST", "/v1/exports", c.body, kJson);
    EXPECT_EQ(r.status, c.status) << c.body << ": " << Describe(r);
    if (!c.code.empty()) {
      EXPECT_EQ(ErrorCode(r), c.code) << c.body;
    }
  }
  for (const char* administrative : {kAdmin, kSecurity, kSecurityAuditor}) {
    HttpResult r = S().As(administrative, "POST", "/v1/exports", "{" + ids + "}", kJson);
    EXPECT_EQ(r.status, 403) << administrative << ": " << Describe(r);
  }
  EXPECT_EQ(S().As(kAnonymous, "POST", "/v1/exports", "{" + ids + "}", kJson).status, 401);
}


// ------------------------------------------- exports after the rights changed

// A digital loan of `record` by staff, approved; its id.
std::string ApprovedDigitalLoan(ApiServer& s, const std::string& record) {
  Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
  body->set("recordId", record);
  body->set("kind", "digital");
  body->set("purpose", "审计核对 audit check");
  body->set("dueAt", domain::FormatTime(std::chrono::system_clock::now() + std::chrono::hours(48)));
  HttpResult asked = s.As("staff", "POST", "/v1/loans", Stringify(body), kJson);
  EXPECT_EQ(asked.status, 201) << Describe(asked);
  const std::string loan = Str(JsonObject(asked.body), "id");
  HttpResult approved = s.As("approver", "POST", "/v1/loans/" + loan + "/approve");
  EXPECT_EQ(approved.status, 200) << Describe(approved);
  return loan;
}

// The actions of GET /v1/records/{id}/history as `role`, each with its actor.
std::vector<std::pair<std::string, std::string>> HistoryActions(ApiServer& s, const std::string& id,
                                                               const std::string& role) {
  HttpResult r = s.As(role, "GET", "/v1/records/" + id + "/history");
  EXPECT_EQ(r.status, 200) << Describe(r);
  std::vector<std::pair<std::string, std::string>> out;
  Poco::JSON::Object::Ptr o = JsonObject(r.body);
  Poco::JSON::Array::Ptr entries = o ? o->getArray("entries") : nullptr;
  for (size_t i = 0; entries && i < entries->size(); ++i) {
    Poco::JSON::Object::Ptr e = entries->getObject(static_cast<unsigned>(i))->getObject("event");
    out.emplace_back(Str(e, "action"), Str(e, "actor"));
  }
  return out;
}

size_t Downloads(const std::vector<std::pair<std::string, std::string>>& history, const std::string& actor) {
  size_t n = 0;
  for (const auto& [action, who] : history) n += action == "export.download" && who == actor ? 1 : 0;
  return n;
}

TEST_F(ApiAudit, RevokedLoanExportIsRefused) {
  const std::string content = PatternBytes(5000, 81);
  const std::string id = CheckIn("借阅导出 销售合同 loan export", {content});
  ASSERT_FALSE(id.empty());
  const std::string loan = ApprovedDigitalLoan(S(), id);
  ASSERT_FALSE(loan.empty());
  const std::string job = StartExport("staff", "{\"recordIds\":[\"" + id + "\"]}");
  ASSERT_FALSE(job.empty());

  // Under the loan the package holds the content, and its download is in
  // the record's history before the bytes leave.
  HttpResult r = WaitForExport("staff", job);
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(DataFiles(PackageEntries(r.body)), 1u);
  EXPECT_EQ(Downloads(HistoryActions(S(), id, "archivist"), "staff"), 1u);

  HttpResult revoked = S().As("approver", "POST", "/v1/loans/" + loan + "/revoke", "{\"reason\":\"提前收回\"}", kJson);
  ASSERT_EQ(revoked.status, 200) << Describe(revoked);
  HttpResult again = S().As("staff", "GET", "/v1/exports/" + job);
  EXPECT_EQ(again.status, 403) << Describe(again);
  EXPECT_EQ(ErrorCode(again), "export_forbidden");
  EXPECT_NE(ErrorMessage(again).find(id), std::string::npos) << ErrorMessage(again);
  EXPECT_EQ(again.body.find(content.substr(0, 64)), std::string::npos);
  EXPECT_EQ(Downloads(HistoryActions(S(), id, "archivist"), "staff"), 1u);
  // The job itself still answers.
  HttpResult jobview = S().As("staff", "GET", "/v1/exports/" + job + "/job");
  EXPECT_EQ(jobview.status, 200) << Describe(jobview);
}

TEST_F(ApiAudit, ExportOfARecordTheOwnerMayNoLongerSeeIsRefused) {
  // A metadata-only package still names the record: after the record
  // became secret, staff may not see it any more, so nothing is served.
  const std::string id = CheckIn("密级调整 classification change", {PatternBytes(400, 82)});
  ASSERT_FALSE(id.empty());
  const std::string job = StartExport("staff", "{\"recordIds\":[\"" + id + "\"],\"includeContent\":false}");
  ASSERT_FALSE(job.empty());
  ASSERT_EQ(WaitForExport("staff", job).status, 200);
  HttpResult patched = S().As("archivist", "PATCH", "/v1/records/" + id, "{\"classification\":\"secret\"}", kJson);
  ASSERT_EQ(patched.status, 200) << Describe(patched);
  HttpResult again = S().As("staff", "GET", "/v1/exports/" + job);
  EXPECT_EQ(again.status, 403) << Describe(again);
  EXPECT_EQ(ErrorCode(again), "export_forbidden");
}

// Makes every general record due (a shortened schedule, approved by legal).
void GeneralRecordsDueNow(ApiServer& s) {
  static bool done = false;
  if (done) return;
  HttpResult put = s.As("archivist", "PUT", "/v1/retention/schedules/general",
                        "{\"trigger\":\"created\",\"period\":\"P0D\",\"action\":\"destroy\"}", kJson);
  ASSERT_EQ(put.status, 202) << Describe(put);
  HttpResult ok = s.As("legal", "POST", "/v1/retention/changes/" + Str(JsonObject(put.body), "id") + "/approve");
  ASSERT_EQ(ok.status, 200) << Describe(ok);
  done = true;
}

// Proposes, approves and executes the destruction of `ids`; the batch id.
std::string Destroy(ApiServer& s, const std::vector<std::string>& ids) {
  GeneralRecordsDueNow(s);
  Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
  for (const auto& id : ids) arr->add(id);
  Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
  body->set("recordIds", arr);
  body->set("reason", "保管期满 retention ended");
  HttpResult proposed = s.As("archivist", "POST", "/v1/destructions", Stringify(body), kJson);
  EXPECT_EQ(proposed.status, 201) << Describe(proposed);
  const std::string batch = Str(JsonObject(proposed.body), "id");
  for (const char* role : {"approver", "legal"}) {
    HttpResult a = s.As(role, "POST", "/v1/destructions/" + batch + "/approve");
    EXPECT_EQ(a.status, 200) << role << ": " << Describe(a);
  }
  HttpResult executed = s.As("archivist", "POST", "/v1/destructions/" + batch + "/execute");
  EXPECT_EQ(executed.status, 200) << Describe(executed);
  return batch;
}

// Stored exports as the archive holds them, read from a stopped server's
// data directory (or a copy of it).
std::unique_ptr<storage::ArchiveStorage> OpenStopped(const std::string& data_dir) {
  storage::DataDir dir(data_dir);
  auto text = storage::ReadSmallFile(dir.ConfigFile());
  auto config = text.ok() ? ParseConfig(*text) : StatusOr<Config>(text.status());
  if (!config.ok()) {
    ADD_FAILURE() << config.status().ToString();
    return nullptr;
  }
  auto archive = storage::ArchiveStorage::Open(dir, *config);
  if (!archive.ok()) {
    ADD_FAILURE() << archive.status().ToString();
    return nullptr;
  }
  return std::move(archive).value();
}

TEST_F(ApiAudit, DestroyedRecordsExportIsShreddedRefusedAndCounted) {
  const std::string doomed = CheckIn("待销毁会议纪要 minutes to destroy", {PatternBytes(3000, 91)});
  const std::string kept = CheckIn("保留的记录 kept", {PatternBytes(3000, 92)});
  ASSERT_FALSE(doomed.empty());
  ASSERT_FALSE(kept.empty());
  // Two packages name the doomed record (tar.gz with content, zip without);
  // one names only the kept record.
  const std::string both = StartExport("archivist", "{\"recordIds\":[\"" + doomed + "\",\"" + kept + "\"]}");
  ASSERT_FALSE(both.empty());
  ASSERT_EQ(WaitForExport("archivist", both).status, 200);
  const std::string meta = StartExport(
      "auditor", "{\"recordIds\":[\"" + doomed + "\"],\"includeContent\":false,\"format\":\"zip\"}");
  ASSERT_FALSE(meta.empty());
  ASSERT_EQ(WaitForExport("auditor", meta).status, 200);
  const std::string other = StartExport("archivist", "{\"recordIds\":[\"" + kept + "\"]}");
  ASSERT_FALSE(other.empty());
  ASSERT_EQ(WaitForExport("archivist", other).status, 200);
  const size_t blobs_before = CountBlobs(S().data_dir());

  const std::string batch = Destroy(S(), {doomed});
  ASSERT_FALSE(batch.empty());

  for (const auto& [role, job] : {std::pair<std::string, std::string>{"archivist", both}, {"auditor", meta}}) {
    HttpResult r = S().As(role, "GET", "/v1/exports/" + job);
    EXPECT_EQ(r.status, 410) << Describe(r);
    EXPECT_EQ(ErrorCode(r), "export_shredded") << job;
    HttpResult view = S().As(role, "GET", "/v1/exports/" + job + "/job");
    ASSERT_EQ(view.status, 200) << Describe(view);
    Poco::JSON::Object::Ptr o = JsonObject(view.body);
    EXPECT_EQ(Str(o, "state"), "shredded");
    EXPECT_EQ(Str(o, "shreddedBy"), batch);
    EXPECT_FALSE(o->has("package")) << "nothing descriptive stays of a shredded package";
  }
  // The package naming only the kept record is untouched.
  EXPECT_EQ(S().As("archivist", "GET", "/v1/exports/" + other).status, 200);
  // Two package blobs and the doomed record's file are gone.
  EXPECT_EQ(CountBlobs(S().data_dir()), blobs_before - 3);

  HttpResult cert = S().As("auditor", "GET", "/v1/destructions/" + batch + "/certificate");
  ASSERT_EQ(cert.status, 200) << Describe(cert);
  EXPECT_NE(cert.body.find("\"exportsShredded\":2"), std::string::npos) << cert.body;

  // A package made after the destruction names only the tombstone: it is
  // served, and lists the file as destroyed.
  const std::string tombstone = StartExport("auditor", "{\"recordIds\":[\"" + doomed + "\"]}");
  ASSERT_FALSE(tombstone.empty());
  HttpResult after = WaitForExport("auditor", tombstone);
  EXPECT_EQ(after.status, 200) << Describe(after);
  EXPECT_EQ(DataFiles(PackageEntries(after.body)), 0u);
  Poco::JSON::Object::Ptr withheld = OnlyWithheld(tombstone, "auditor");
  ASSERT_TRUE(withheld);
  EXPECT_EQ(Str(withheld, "reason"), "destroyed");
}

TEST_F(ApiAudit, StartSweepRemovesExpiredAndLeftoverPackagesAndVerifyReportsAnExportOfADestroyedRecord) {
  const std::string id = CheckIn("过期导出 expiring export", {PatternBytes(2000, 101)});
  ASSERT_FALSE(id.empty());
  const std::string expiring = StartExport("archivist", "{\"recordIds\":[\"" + id + "\"]}");
  const std::string fresh = StartExport("legal", "{\"recordIds\":[\"" + id + "\"],\"format\":\"zip\"}");
  ASSERT_FALSE(expiring.empty());
  ASSERT_FALSE(fresh.empty());
  ASSERT_EQ(WaitForExport("archivist", expiring).status, 200);
  ASSERT_EQ(WaitForExport("legal", fresh).status, 200);
  const std::string doomed = CheckIn("已销毁 destroyed for verify", {PatternBytes(900, 102)});
  ASSERT_FALSE(doomed.empty());
  ASSERT_FALSE(Destroy(S(), {doomed}).empty());
  const size_t blobs_before = CountBlobs(S().data_dir());

  ASSERT_EQ(S().Stop(), 0);
  // A copy in which a stored export still holding its key names the
  // destroyed record (as if the destruction had not shredded it). The
  // planted row is logged (a state.rows event), so the copy takes the
  // signing custody, as a move would.
  const std::string copy = tmp_.Sub("copy");
  std::filesystem::copy(S().data_dir(), copy, std::filesystem::copy_options::recursive);
  ASSERT_TRUE(storage::BindCustody(storage::DataDir(copy), "test copy").ok());
  {
    auto archive = OpenStopped(copy);
    ASSERT_TRUE(archive);
    Status planted = archive->store().Write([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(std::optional<storage::StoredExport> e, tx.exports().Find(fresh));
      if (!e) return NotFound("no export " + fresh);
      e->id = "EX-00000000000000000000beef";
      e->blob_id = domain::BlobId{std::string(32, 'e')};
      e->records.push_back({domain::RecordId{doomed}, true});
      return tx.exports().Insert(*e);
    });
    ASSERT_TRUE(planted.ok()) << planted.ToString();
  }
  RunResult verify = RunProgram({BinDir() + "/custosctl", "verify", "--data", copy, "--json"});
  EXPECT_EQ(verify.exit_code, 1) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("export_holds_destroyed"), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find("EX-00000000000000000000beef"), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find(doomed), std::string::npos) << verify.out;

  // In the real directory: one package past its expiry (as after a crash
  // that left it a day), and plaintext leftovers of an older version.
  {
    auto archive = OpenStopped(S().data_dir());
    ASSERT_TRUE(archive);
    Status aged = archive->store().Write([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(std::optional<storage::StoredExport> e, tx.exports().Find(expiring));
      if (!e) return NotFound("no export " + expiring);
      e->expires_at = std::chrono::system_clock::now() - std::chrono::hours(1);
      CUSTOS_RETURN_IF_ERROR(tx.exports().Delete(expiring));
      return tx.exports().Insert(*e);
    });
    ASSERT_TRUE(aged.ok()) << aged.ToString();
  }
  const std::string legacy = S().data_dir() + "/exports";
  std::filesystem::create_directories(legacy);
  WriteFile(legacy + "/EX-0123456789abcdef01234567.tar.gz", "旧版明文导出 plaintext package");
  WriteFile(legacy + "/EX-0123456789abcdef01234568.zip.tmp", "half a package");
  RunResult leftover = RunProgram({BinDir() + "/custosctl", "verify", "--data", S().data_dir(), "--json"});
  EXPECT_EQ(leftover.exit_code, 1) << leftover.out << leftover.err;
  EXPECT_NE(leftover.out.find("export_plaintext_leftover"), std::string::npos) << leftover.out;
  ASSERT_TRUE(S().Restart());

  EXPECT_FALSE(std::filesystem::exists(legacy));
  EXPECT_EQ(CountBlobs(S().data_dir()), blobs_before - 1);
  HttpResult gone = S().As("archivist", "GET", "/v1/exports/" + expiring);
  EXPECT_EQ(gone.status, 404) << Describe(gone);
  EXPECT_EQ(ErrorCode(gone), "export_not_found");
  // A package within its lifetime survives the restart.
  HttpResult kept = S().As("legal", "GET", "/v1/exports/" + fresh);
  EXPECT_EQ(kept.status, 200) << Describe(kept);
  EXPECT_EQ(kept.body.substr(0, 2), "PK");
  EXPECT_NE(S().process().Log().find("expired exports removed"), std::string::npos);
  RunResult clean = RunProgram({BinDir() + "/custosctl", "verify", "--data", S().data_dir(), "--json"});
  EXPECT_EQ(clean.exit_code, 0) << clean.out << clean.err;

  // A key rotation destroys the KEK that wrapped the packages' keys: they
  // can no longer be decrypted, and the next start removes them.
  ASSERT_EQ(S().Stop(), 0);
  RunResult rotated = RunProgram({BinDir() + "/custosctl", "keys", "rotate", "--data", S().data_dir()});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.out << rotated.err;
  const size_t blobs_rotated = CountBlobs(S().data_dir());
  ASSERT_TRUE(S().Restart());
  HttpResult rotated_away = S().As("legal", "GET", "/v1/exports/" + fresh);
  EXPECT_EQ(rotated_away.status, 404) << Describe(rotated_away);
  EXPECT_LT(CountBlobs(S().data_dir()), blobs_rotated);
  // Records' content was re-wrapped and still reads, and new exports work.
  const std::string after = StartExport("archivist", "{\"recordIds\":[\"" + id + "\"]}");
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(WaitForExport("archivist", after).status, 200);
}

// ------------------------------------------------------- per-user job limits

// A real archive and the audit service over it, with a verification that
// waits until the test lets it finish.
class AuditJobs : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<storage::DataDir>(tmp_.Sub("data"));
    ASSERT_TRUE(dir_->CreateFresh().ok());
    ASSERT_TRUE(storage::ArchiveStorage::Create(*dir_, config_).ok());
    auto opened = storage::ArchiveStorage::Open(*dir_, config_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    archive_ = std::move(opened).value();
    exporter_ = std::make_unique<services::PackageExporter>(archive_->store(), archive_->content(),
                                                            archive_->keyring().VerifierKeys(), clock_);
    audit_ = std::make_unique<services::AuditService>(
        archive_->store(),
        [this](const auto&) -> StatusOr<storage::VerifyReport> {
          std::unique_lock<std::mutex> lock(mu_);
          cv_.wait(lock, [&] { return released_; });
          return storage::VerifyReport{};
        },
        *exporter_, archive_->content(), archive_->blobs(), dir_->root() + "/exports", clock_, logger_);
  }
  void TearDown() override {
    Release();
    audit_.reset();
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }

  TempDir tmp_;
  Config config_;
  std::unique_ptr<storage::DataDir> dir_;
  std::unique_ptr<storage::ArchiveStorage> archive_;
  services::SystemClock clock_;
  Logger logger_{2, LogLevel::kError};
  std::unique_ptr<services::PackageExporter> exporter_;
  std::unique_ptr<services::AuditService> audit_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;  // GUARDED_BY(mu_)
};

TEST_F(AuditJobs, AThirdQueuedJobOfOneUserIsRefused) {
  const services::Principal zhang{domain::Username{"张审计"}, domain::Role::kAuditor, "audit"};
  const services::Principal li{domain::Username{"李审计"}, domain::Role::kAuditor, "audit"};
  auto first = audit_->StartVerify(zhang);
  auto second = audit_->StartVerify(zhang);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  // One running (waiting) and one queued: a third job, of either kind, is refused.
  auto third = audit_->StartVerify(zhang);
  EXPECT_EQ(third.status().code(), custos::ErrorCode::kConflict);
  EXPECT_EQ(third.status().reason(), "too_many_jobs");
  services::ExportRequest request;
  request.record_ids = {"GN-2026-000001"};
  auto export_job = audit_->StartExport(zhang, request);
  EXPECT_EQ(export_job.status().reason(), "too_many_jobs");
  // Another user is not held up by it.
  EXPECT_TRUE(audit_->StartVerify(li).ok());
  // Once the jobs ran, the user may start again.
  Release();
  ASSERT_TRUE(WaitFor([&] {
    auto j = audit_->GetVerify(zhang, second->id);
    return j.ok() && j->state == domain::JobState::kDone;
  }));
  EXPECT_TRUE(audit_->StartVerify(zhang).ok());
}

}  // namespace
}  // namespace custos::testing::api
