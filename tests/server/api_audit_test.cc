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

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/server/api_fixture.h"

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
  static void SetUpTestSuite() { server_ = ApiServer::Create().release(); }
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
  for (const char* role : {"archivist", "staff", "approver", "legal", "admin"}) {
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
  EXPECT_EQ(Counted(v, "receipts"), 1) << v.output;

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
  HttpResult admin = S().As("admin", "POST", "/v1/exports", "{" + ids + "}", kJson);
  EXPECT_EQ(admin.status, 403) << Describe(admin);
  EXPECT_EQ(S().As(kAnonymous, "POST", "/v1/exports", "{" + ids + "}", kJson).status, 401);
}

}  // namespace
}  // namespace custos::testing::api
