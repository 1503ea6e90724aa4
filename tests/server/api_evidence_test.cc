// Evidence bundles over the real HTTPS API (docs/formats/evidence-bundle.md):
// GET /v1/records/{id}/evidence answers a zip named after the archive
// number that a BagIt checker written from RFC 8493 accepts, whose Chinese
// names Python's zipfile reads exactly, and that custosctl verify-package
// accepts with the key GET /v1/log/key serves; the read is logged before
// the bundle leaves, and the bundle holds that event with its proof. A
// caller who may see a record but not read its content gets a bundle
// without originals that says why; a record the caller may not see, or
// none, is 404.
//
// One server serves the whole suite; every test checks in its own records.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <locale.h>

#include <chrono>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "domain/model.h"
#include "tests/server/api_fixture.h"
#include "tests/tools/python.h"

namespace custos::testing::api {
namespace {

struct Entry {
  std::string path;  // relative to the bag's folder
  std::string bytes;
};

std::vector<Entry> BundleEntries(const std::string& bytes) {
  std::vector<Entry> out;
  // libarchive converts the UTF-8 names through the thread's locale.
  locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
  locale_t previous = utf8 ? uselocale(utf8) : static_cast<locale_t>(0);
  struct Restore {
    locale_t utf8, previous;
    ~Restore() {
      if (utf8) {
        uselocale(previous);
        freelocale(utf8);
      }
    }
  } restore{utf8, previous};
  std::unique_ptr<struct archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_format_zip(a.get());
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
    ADD_FAILURE() << "not a zip: " << archive_error_string(a.get());
    return out;
  }
  for (struct archive_entry* e = nullptr;;) {
    int rc = archive_read_next_header(a.get(), &e);
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) break;
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    const char* utf8 = archive_entry_pathname_utf8(e);
    if (utf8 == nullptr) continue;
    std::string name = utf8;
    Entry entry{name.substr(name.find('/') + 1), ""};
    char buf[16 * 1024];
    for (la_ssize_t n; (n = archive_read_data(a.get(), buf, sizeof buf)) > 0;) entry.bytes.append(buf, static_cast<size_t>(n));
    out.push_back(std::move(entry));
  }
  return out;
}

const Entry* FindEntry(const std::vector<Entry>& entries, const std::string& path) {
  for (const Entry& e : entries) {
    if (e.path == path) return &e;
  }
  return nullptr;
}

size_t DataFiles(const std::vector<Entry>& entries) {
  size_t n = 0;
  for (const Entry& e : entries) n += e.path.rfind("data/", 0) == 0 ? 1 : 0;
  return n;
}

// A digital loan of `record` to staff, approved (checked out): its id.
std::string LendToStaff(ApiServer& s, const std::string& record) {
  Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
  body->set("recordId", record);
  body->set("kind", "digital");
  body->set("purpose", "证据核对 evidence check");
  body->set("dueAt", domain::FormatTime(std::chrono::system_clock::now() + std::chrono::hours(72)));
  HttpResult asked = s.As("staff", "POST", "/v1/loans", Stringify(body), kJson);
  if (asked.status != 201) {
    ADD_FAILURE() << "loan request: " << Describe(asked);
    return "";
  }
  const std::string id = Str(JsonObject(asked.body), "id");
  HttpResult approved = s.As("approver", "POST", "/v1/loans/" + id + "/approve");
  EXPECT_EQ(Str(JsonObject(approved.body), "state"), "checked_out") << Describe(approved);
  return id;
}

class ApiEvidence : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = ApiServer::Create().release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr) << "the server did not come up"; }

  ApiServer& S() { return *server_; }

  // custosctl verify-package on `bundle` with the served key: its exit code
  // and output.
  std::pair<int, std::string> Verify(const std::string& bundle) {
    HttpResult key = S().As(kAnonymous, "GET", "/v1/log/key");
    EXPECT_EQ(key.status, 200);
    const std::string vkey = tmp_.Sub("served.vkey");
    WriteFile(vkey, key.body);
    RunResult r = RunProgram({BinDir() + "/custosctl", "verify-package", bundle, "--vkey", vkey});
    return {r.exit_code, r.out + r.err};
  }

  static ApiServer* server_;
  TempDir tmp_;
};

ApiServer* ApiEvidence::server_ = nullptr;

TEST_F(ApiEvidence, BundleWithChineseNamesIsValidVerifiesAndHoldsItsOwnLoggedRead) {
  const std::string a = PatternBytes(5000, 71), b = PatternBytes(800, 72);
  Poco::JSON::Object::Ptr rec = S().CheckInOk("archivist", GeneralJson("档案移交清单（2026）Transfer list"),
                                              {FilePart("移交清单正本.pdf", a), FilePart("附件 二 (签字版).pdf", b)});
  ASSERT_TRUE(rec);
  const std::string id = Str(rec, "id");
  HttpResult r = S().As("archivist", "GET", "/v1/records/" + id + "/evidence");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(r.headers["Content-Type"], "application/zip");
  EXPECT_NE(r.headers["Content-Disposition"].find("filename*=UTF-8''evidence-" + id + ".zip"), std::string::npos)
      << r.headers["Content-Disposition"];
  const std::string bundle = tmp_.Sub("evidence.zip");
  WriteFile(bundle, r.body);

  RunResult bag = RunProgram({Python(), "tests/tools/bagit_check.py", "--all-tags-listed", bundle});
  EXPECT_EQ(bag.exit_code, 0) << bag.out << bag.err;
  RunResult names = RunProgram({Python(), "-c",
                                "import sys, zipfile\n"
                                "sys.stdout.buffer.write('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()).encode())\n",
                                bundle});
  ASSERT_EQ(names.exit_code, 0) << names.err;
  Poco::JSON::Array::Ptr files = rec->getArray("versions")->getObject(0)->getArray("files");
  for (const std::string want : {"evidence-" + id + "/data/v1/" + Str(files->getObject(0), "id") + "-移交清单正本.pdf",
                                 "evidence-" + id + "/data/v1/" + Str(files->getObject(1), "id") + "-附件 二 (签字版).pdf",
                                 "evidence-" + id + "/summary.md"}) {
    EXPECT_NE(names.out.find(want + "\n"), std::string::npos) << want << "\n" << names.out;
  }
  auto [code, output] = Verify(bundle);
  EXPECT_EQ(code, 0) << output;

  // The read was logged before the bundle left, and the bundle proves it.
  const std::string index = r.headers["X-Custos-Log-Index"];
  ASSERT_FALSE(index.empty());
  std::vector<Entry> entries = BundleEntries(r.body);
  const Entry* event = FindEntry(entries, "events/" + index + ".json");
  ASSERT_NE(event, nullptr) << "the bundle lacks its own read event " << index;
  Poco::JSON::Object::Ptr leaf = JsonObject(event->bytes);
  ASSERT_TRUE(leaf);
  EXPECT_EQ(Str(leaf, "action"), "export.create");
  EXPECT_EQ(Str(leaf, "actor"), "archivist");
  EXPECT_EQ(Str(leaf->getObject("details"), "evidence"), "evidence-" + id);
  EXPECT_EQ(leaf->getObject("details")->getArray("filesWithContent")->size(), 2u);
  EXPECT_NE(FindEntry(entries, "proofs/" + index + ".tlog-proof"), nullptr);
  const Entry* summary = FindEntry(entries, "summary.md");
  ASSERT_NE(summary, nullptr);
  EXPECT_NE(summary->bytes.find("档案移交清单（2026）Transfer list"), std::string::npos);
  EXPECT_NE(summary->bytes.find("生成证据包 / made an evidence bundle"), std::string::npos);
  HttpResult history = S().As("archivist", "GET", "/v1/records/" + id + "/history");
  EXPECT_NE(history.body.find("\"evidence\":\"evidence-" + id + "\""), std::string::npos) << history.body;
}

TEST_F(ApiEvidence, ReaderWithoutContentRightsGetsNoOriginals) {
  // Staff see internal records of their department but read content only
  // under a loan.
  const std::string content = PatternBytes(3000, 73);
  Poco::JSON::Object::Ptr rec = S().CheckInOk("archivist", GeneralJson("部门周报 weekly report"),
                                              {FilePart("周报.pdf", content)});
  ASSERT_TRUE(rec);
  const std::string id = Str(rec, "id");
  const std::string file = Str(rec->getArray("versions")->getObject(0)->getArray("files")->getObject(0), "id");
  HttpResult r = S().As("staff", "GET", "/v1/records/" + id + "/evidence");
  ASSERT_EQ(r.status, 200) << Describe(r);
  std::vector<Entry> entries = BundleEntries(r.body);
  EXPECT_EQ(DataFiles(entries), 0u);
  const Entry* info = FindEntry(entries, "bag-info.txt");
  ASSERT_NE(info, nullptr);
  EXPECT_NE(info->bytes.find("Custos-Withheld: v1/" + file + " not_permitted\n"), std::string::npos) << info->bytes;
  const Entry* signature = FindEntry(entries, "signatures/v1/" + file + ".json");
  ASSERT_NE(signature, nullptr);
  EXPECT_EQ(Str(JsonObject(signature->bytes), "sha256"), Sha256Hex(content));
  const Entry* summary = FindEntry(entries, "summary.md");
  ASSERT_NE(summary, nullptr);
  EXPECT_NE(summary->bytes.find("无权读取原件 / the bundle's maker may not read it"), std::string::npos);
  const std::string bundle = tmp_.Sub("staff.zip");
  WriteFile(bundle, r.body);
  auto [code, output] = Verify(bundle);
  EXPECT_EQ(code, 0) << output;
  // The event says no content left.
  Poco::JSON::Object::Ptr leaf = JsonObject(FindEntry(entries, "events/" + r.headers["X-Custos-Log-Index"] + ".json")
                                                ? FindEntry(entries, "events/" + r.headers["X-Custos-Log-Index"] + ".json")->bytes
                                                : "");
  ASSERT_TRUE(leaf);
  EXPECT_EQ(Str(leaf, "actor"), "staff");
  EXPECT_EQ(leaf->getObject("details")->getArray("filesWithContent")->size(), 0u);
}

// A borrower reads originals through a digital loan, except of a record
// lent as stamped copies only (confidential, by default): then the bundle
// holds none, and says so.
TEST_F(ApiEvidence, BorrowerGetsOriginalsUnlessLentAsStampedCopies) {
  for (const std::string classification : {"internal", "confidential"}) {
    SCOPED_TRACE(classification);
    Poco::JSON::Object::Ptr rec = S().CheckInOk("archivist", GeneralJson("借阅档案 lent " + classification, classification),
                                                {FilePart("借阅.pdf", PatternBytes(1500, 75))});
    ASSERT_TRUE(rec);
    const std::string id = Str(rec, "id");
    const std::string file = Str(rec->getArray("versions")->getObject(0)->getArray("files")->getObject(0), "id");
    const std::string loan = LendToStaff(S(), id);
    ASSERT_FALSE(loan.empty());
    HttpResult r = S().As("staff", "GET", "/v1/records/" + id + "/evidence");
    ASSERT_EQ(r.status, 200) << Describe(r);
    std::vector<Entry> entries = BundleEntries(r.body);
    const Entry* info = FindEntry(entries, "bag-info.txt");
    ASSERT_NE(info, nullptr);
    const Entry* event = FindEntry(entries, "events/" + r.headers["X-Custos-Log-Index"] + ".json");
    ASSERT_NE(event, nullptr);
    Poco::JSON::Object::Ptr details = JsonObject(event->bytes)->getObject("details");
    EXPECT_EQ(Str(details, "loan"), loan);
    if (classification == "internal") {
      EXPECT_EQ(DataFiles(entries), 1u);
      EXPECT_EQ(details->getArray("filesWithContent")->size(), 1u);
    } else {
      EXPECT_EQ(DataFiles(entries), 0u);
      EXPECT_EQ(details->getArray("filesWithContent")->size(), 0u);
      EXPECT_NE(info->bytes.find("Custos-Withheld: v1/" + file + " stamped_copy_only\n"), std::string::npos)
          << info->bytes;
      EXPECT_NE(FindEntry(entries, "summary.md")->bytes.find("仅提供盖章副本"), std::string::npos);
    }
  }
}

TEST_F(ApiEvidence, UnknownOrInvisibleRecordIsNotFound) {
  HttpResult unknown = S().As("archivist", "GET", "/v1/records/GN-1999-999999/evidence");
  EXPECT_EQ(unknown.status, 404) << Describe(unknown);
  EXPECT_EQ(ErrorCode(unknown), "record_not_found");
  Poco::JSON::Object::Ptr secret = S().CheckInOk("archivist", GeneralJson("机密 secret minutes", "secret"),
                                                 {FilePart("minutes.pdf", PatternBytes(400, 74))});
  ASSERT_TRUE(secret);
  HttpResult hidden = S().As("staff", "GET", "/v1/records/" + Str(secret, "id") + "/evidence");
  EXPECT_EQ(hidden.status, 404) << Describe(hidden);
  EXPECT_EQ(S().As(kAnonymous, "GET", "/v1/records/" + Str(secret, "id") + "/evidence").status, 401);
}

}  // namespace
}  // namespace custos::testing::api
