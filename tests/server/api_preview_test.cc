// Previews end to end (docs/api.md "Previews"): a real custosd renders
// pages through the real custos-render worker. A reader gets page images
// of a generated PDF with Chinese text and of PNG and JPEG images at the
// two widths; each served preview is a content.read event ("derived":
// "preview", "page"); the second view of a page comes from the encrypted
// cache (no worker run: custos_preview_renders_total stays) and is logged
// again. A non-reader is refused with nothing logged, a borrower under a
// digital loan is served, a bad page or size and a text file are 422 with
// nothing logged or cached, a corrupt PDF is 503 preview_failed while
// custosd keeps serving, and after a destruction no cache row, file text
// or blob of the record, nor the image in clear, remains under the data
// directory.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "domain/model.h"
#include "tests/server/api_fixture.h"

namespace custos::testing::api {
namespace {

const char* const kFont = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void Shell(const std::string& command) { ASSERT_EQ(std::system(command.c_str()), 0) << command; }

// Width and height from a PNG's IHDR; {0, 0} if `png` is not a PNG.
std::pair<int, int> PngSize(const std::string& png) {
  if (png.size() < 24 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0 ||
      png.compare(12, 4, "IHDR") != 0) {
    return {0, 0};
  }
  auto be32 = [&](size_t at) {
    return (static_cast<unsigned char>(png[at]) << 24) |
           (static_cast<unsigned char>(png[at + 1]) << 16) |
           (static_cast<unsigned char>(png[at + 2]) << 8) | static_cast<unsigned char>(png[at + 3]);
  };
  return {be32(16), be32(20)};
}

// The value of one series of a counter in /metrics text (0 when absent).
double MetricValue(const std::string& metrics, const std::string& series) {
  const size_t at = metrics.find(series + " ");
  if (at == std::string::npos) return 0;
  return std::stod(metrics.substr(at + series.size() + 1));
}

std::vector<std::string> FilesContaining(const std::string& root, const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (e.is_regular_file() && ReadAll(e.path().string()).find(needle) != std::string::npos) {
      out.push_back(e.path().string());
    }
  }
  return out;
}

// One integer from custosd's SQLite database (read-only, beside the server).
int64_t DbCount(const std::string& data_dir, const std::string& query) {
  sqlite3* db = nullptr;
  int64_t n = -1;
  if (sqlite3_open_v2((data_dir + "/custos.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
      SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, query.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  if (n < 0) ADD_FAILURE() << "query failed: " << query;
  return n;
}

// Every sealed preview of a record, as stored.
std::vector<std::string> SealedPreviews(const std::string& data_dir, const std::string& record) {
  std::vector<std::string> out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2((data_dir + "/custos.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
      SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, "SELECT sealed FROM derived_cache WHERE record_id = ?1", -1, &st,
                       nullptr);
    sqlite3_bind_text(st, 1, record.c_str(), -1, SQLITE_TRANSIENT);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
      out.emplace_back(static_cast<const char*>(sqlite3_column_blob(st, 0)),
                       static_cast<size_t>(sqlite3_column_bytes(st, 0)));
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return out;
}

struct Checked {
  std::string id;
  std::string file_path;  // /v1/records/{id}/versions/1/files/{fileId}
};

class ApiPreview : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    docs_ = new TempDir();
    const std::string d = docs_->path();
    Shell("python3 " + SourceDir() + "/tests/extract/make_documents.py " + d);
    Shell(std::string("convert -size 900x300 xc:white -font ") + kFont +
          " -fill black -pointsize 40 -annotate +40+120 '价格调整通知 Price notice' " + d +
          "/notice.png");
    Shell("convert " + d + "/notice.png -quality 90 " + d + "/notice.jpg");
    server_ = ApiServer::Create().release();
    ASSERT_NE(server_, nullptr);
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete docs_;
    docs_ = nullptr;
  }

  static ApiServer& S() { return *server_; }
  static std::string Doc(const std::string& name) { return ReadAll(docs_->Sub(name)); }

  // Checks in one file as the archivist and waits until the pipeline has
  // looked at it.
  static Checked CheckInFile(const std::string& title, const std::string& name,
                             const std::string& bytes, const std::string& type) {
    Poco::JSON::Object::Ptr rec =
        S().CheckInOk("archivist", GeneralJson(title), {FilePart(name, bytes, type)});
    if (!rec) return {};
    const std::string id = Str(rec, "id");
    const std::string file =
        Str(rec->getArray("versions")->getObject(0)->getArray("files")->getObject(0), "id");
    Checked out{id, "/v1/records/" + id + "/versions/1/files/" + file};
    const bool seen = WaitFor(
        [&] {
          Poco::JSON::Object::Ptr f = FileOf(id);
          return f && f->has("extraction") && Str(f->getObject("extraction"), "state") != "pending";
        },
        120000);
    if (!seen) ADD_FAILURE() << "the pipeline never looked at " << name;
    return out;
  }

  // The first file of version 1 in the record view, as the archivist.
  static Poco::JSON::Object::Ptr FileOf(const std::string& id) {
    Poco::JSON::Object::Ptr o = JsonObject(S().As("archivist", "GET", "/v1/records/" + id).body);
    if (!o || !o->has("versions")) return {};
    return o->getArray("versions")->getObject(0)->getArray("files")->getObject(0);
  }

  static HttpResult Preview(const std::string& role, const Checked& c, const std::string& query) {
    return S().As(role, "GET", c.file_path + "/preview" + query);
  }

  // The audit event at log index `i`, read as the auditor.
  static Poco::JSON::Object::Ptr LogEvent(const std::string& index) {
    const uint64_t i = std::stoull(index);
    HttpResult r =
        S().As("auditor", "GET",
               "/v1/log/entries?start=" + std::to_string(i) + "&end=" + std::to_string(i + 1));
    Poco::JSON::Array::Ptr arr = JsonArray(r.body);
    if (r.status != 200 || !arr || arr->size() != 1) {
      ADD_FAILURE() << "log entry " << i << ": " << Describe(r);
      return {};
    }
    return arr->getObject(0)->getObject("event");
  }

  static double Renders(const std::string& result) {
    HttpResult m = S().NewClient()->Request("GET", "/metrics");
    EXPECT_EQ(m.status, 200);
    return MetricValue(m.body, "custos_preview_renders_total{result=\"" + result + "\"}");
  }

  static void ExpectError(const HttpResult& r, int status, const std::string& code) {
    EXPECT_EQ(r.status, status) << Describe(r);
    EXPECT_EQ(ErrorCode(r), code) << Describe(r);
  }

  static TempDir* docs_;
  static ApiServer* server_;
};
TempDir* ApiPreview::docs_ = nullptr;
ApiServer* ApiPreview::server_ = nullptr;

TEST_F(ApiPreview, PdfPagesAtBothWidthsEachViewLoggedAsAPreviewRead) {
  Checked c = CheckInFile("二十页合同 Twenty pages", "合同 contract.pdf", Doc("pages20.pdf"),
                          "application/pdf");
  ASSERT_FALSE(c.id.empty());
  Poco::JSON::Object::Ptr file = FileOf(c.id);
  ASSERT_TRUE(file && file->has("preview")) << Stringify(file);
  EXPECT_EQ(Int(file->getObject("preview"), "pages"), 20);

  HttpResult thumb = Preview("archivist", c, "?page=3&size=thumb");
  ASSERT_EQ(thumb.status, 200) << Describe(thumb);
  EXPECT_EQ(thumb.headers["Content-Type"], "image/png");
  EXPECT_EQ(thumb.headers["Cache-Control"], "no-store");
  EXPECT_EQ(thumb.headers["X-Custos-Pages"], "20");
  auto [tw, th] = PngSize(thumb.body);
  EXPECT_EQ(tw, 240);
  EXPECT_GT(th, tw);  // an A4 page is taller than wide

  HttpResult page = Preview("archivist", c, "");  // page 1, size page
  ASSERT_EQ(page.status, 200) << Describe(page);
  EXPECT_EQ(PngSize(page.body).first, 1200);
  EXPECT_NE(page.body, thumb.body);

  Poco::JSON::Object::Ptr event = LogEvent(thumb.headers["X-Custos-Log-Index"]);
  ASSERT_TRUE(event);
  EXPECT_EQ(Str(event, "action"), "content.read");
  EXPECT_EQ(Str(event, "actor"), "archivist");
  EXPECT_EQ(Str(event, "subject"), c.id);
  Poco::JSON::Object::Ptr details = event->getObject("details");
  ASSERT_TRUE(details);
  EXPECT_EQ(Str(details, "derived"), "preview");
  EXPECT_EQ(Int(details, "page"), 3);
  EXPECT_EQ(Int(details, "version"), 1);
  Poco::JSON::Object::Ptr first = LogEvent(page.headers["X-Custos-Log-Index"]);
  ASSERT_TRUE(first);
  EXPECT_EQ(Int(first->getObject("details"), "page"), 1);
}

TEST_F(ApiPreview, SecondViewComesFromTheCacheWithoutAWorkerRunAndIsLoggedAgain) {
  Checked c = CheckInFile("缓存 Cached", "cjk.pdf", Doc("cjk_text.pdf"), "application/pdf");
  ASSERT_FALSE(c.id.empty());
  const double before = Renders("ok");
  HttpResult one = Preview("archivist", c, "?size=thumb");
  ASSERT_EQ(one.status, 200) << Describe(one);
  EXPECT_EQ(Renders("ok"), before + 1);
  EXPECT_EQ(DbCount(S().data_dir(),
                    "SELECT COUNT(*) FROM derived_cache WHERE record_id = '" + c.id + "'"),
            1);

  HttpResult two = Preview("archivist", c, "?size=thumb&page=1");
  ASSERT_EQ(two.status, 200) << Describe(two);
  EXPECT_EQ(two.body, one.body);
  EXPECT_EQ(Renders("ok"), before + 1) << "the second view ran the worker";
  EXPECT_NE(two.headers["X-Custos-Log-Index"], one.headers["X-Custos-Log-Index"]);
  Poco::JSON::Object::Ptr event = LogEvent(two.headers["X-Custos-Log-Index"]);
  ASSERT_TRUE(event);
  EXPECT_EQ(Str(event->getObject("details"), "derived"), "preview");

  // The cache holds the image sealed, never in clear.
  std::vector<std::string> sealed = SealedPreviews(S().data_dir(), c.id);
  ASSERT_EQ(sealed.size(), 1u);
  EXPECT_EQ(sealed[0].find(one.body.substr(one.body.size() / 2, 64)), std::string::npos);
  EXPECT_TRUE(FilesContaining(S().data_dir(), one.body.substr(one.body.size() / 2, 64)).empty());
}

TEST_F(ApiPreview, PngAndJpegImagesHaveOnePage) {
  for (const auto& [name, type] : std::vector<std::pair<std::string, std::string>>{
           {"notice.png", "image/png"}, {"notice.jpg", "image/jpeg"}}) {
    Checked c = CheckInFile("通知扫描 Scanned notice", "通知 " + name, Doc(name), type);
    ASSERT_FALSE(c.id.empty());
    Poco::JSON::Object::Ptr file = FileOf(c.id);
    ASSERT_TRUE(file && file->has("preview")) << name << " " << Stringify(file);
    EXPECT_EQ(Int(file->getObject("preview"), "pages"), 1);
    HttpResult r = Preview("archivist", c, "?size=thumb");
    ASSERT_EQ(r.status, 200) << name << " " << Describe(r);
    EXPECT_EQ(PngSize(r.body), std::make_pair(240, 80)) << name;  // 900x300 kept at 3:1
    EXPECT_EQ(r.headers["X-Custos-Pages"], "1");
    ExpectError(Preview("archivist", c, "?page=2"), 422, "invalid_preview");
  }
}

TEST_F(ApiPreview, NonReaderIsRefusedAndNothingIsLogged) {
  Checked c = CheckInFile("内部 Internal", "内部.pdf", Doc("cjk_text.pdf"), "application/pdf");
  ASSERT_FALSE(c.id.empty());
  const uint64_t log_before = S().LogSize();
  const double renders = Renders("ok");
  HttpResult r = Preview("staff", c, "?size=thumb");
  ExpectError(r, 403, "content_forbidden");
  EXPECT_TRUE(r.body.find("PNG") == std::string::npos);
  EXPECT_EQ(S().LogSize(), log_before);
  EXPECT_EQ(Renders("ok"), renders);
  EXPECT_EQ(DbCount(S().data_dir(),
                    "SELECT COUNT(*) FROM derived_cache WHERE record_id = '" + c.id + "'"),
            0);
}

TEST_F(ApiPreview, BorrowerUnderADigitalLoanIsServed) {
  Checked c = CheckInFile("借阅 Lent", "lent.pdf", Doc("cjk_text.pdf"), "application/pdf");
  ASSERT_FALSE(c.id.empty());
  ExpectError(Preview("staff", c, ""), 403, "content_forbidden");
  Poco::JSON::Object::Ptr body = new Poco::JSON::Object;
  body->set("recordId", c.id);
  body->set("kind", "digital");
  body->set("purpose", "投标 tender");
  body->set("dueAt",
            custos::domain::FormatTime(std::chrono::system_clock::now() + std::chrono::hours(72)));
  HttpResult loan = S().As("staff", "POST", "/v1/loans", Stringify(body), kJson);
  ASSERT_EQ(loan.status, 201) << Describe(loan);
  const std::string loan_id = Str(JsonObject(loan.body), "id");
  HttpResult approved = S().As("approver", "POST", "/v1/loans/" + loan_id + "/approve");
  ASSERT_EQ(approved.status, 200) << Describe(approved);
  ASSERT_EQ(Str(JsonObject(approved.body), "state"), "checked_out");

  HttpResult r = Preview("staff", c, "?size=page");
  ASSERT_EQ(r.status, 200) << Describe(r);
  EXPECT_EQ(PngSize(r.body).first, 1200);
  Poco::JSON::Object::Ptr event = LogEvent(r.headers["X-Custos-Log-Index"]);
  ASSERT_TRUE(event);
  EXPECT_EQ(Str(event, "actor"), "staff");
  EXPECT_EQ(Str(event->getObject("details"), "loan"), loan_id);
  EXPECT_EQ(Str(event->getObject("details"), "derived"), "preview");
}

TEST_F(ApiPreview, BadPageOrSizeIs422AndChangesNothing) {
  Checked c =
      CheckInFile("坏参数 Bad parameters", "bad.pdf", Doc("pages20.pdf"), "application/pdf");
  ASSERT_FALSE(c.id.empty());
  const uint64_t log_before = S().LogSize();
  for (const std::string query :
       {"?page=0", "?page=21", "?page=-1", "?page=abc", "?page=1x", "?page=99999999999",
        "?size=huge", "?size=THUMB", "?page=2&size=%E5%A4%A7"}) {
    ExpectError(Preview("archivist", c, query), 422, "invalid_preview");
  }
  EXPECT_EQ(S().LogSize(), log_before);
  EXPECT_EQ(DbCount(S().data_dir(),
                    "SELECT COUNT(*) FROM derived_cache WHERE record_id = '" + c.id + "'"),
            0);
  // Unknown record, version and file.
  ExpectError(S().As("archivist", "GET", "/v1/records/GN-0000-999999/versions/1/files/x/preview"),
              404, "record_not_found");
  const std::string file_id = c.file_path.substr(c.file_path.rfind('/') + 1);
  ExpectError(S().As("archivist", "GET",
                     "/v1/records/" + c.id + "/versions/9/files/" + file_id + "/preview"),
              404, "version_not_found");
  ExpectError(S().As("archivist", "GET", "/v1/records/" + c.id + "/versions/1/files/00/preview"),
              404, "file_not_found");
}

TEST_F(ApiPreview, TextFileIsUnsupportedAndShowsNoPreview) {
  Checked c = CheckInFile("文本 Text", "说明 notes.txt", "价格调整 plain text\n", "text/plain");
  ASSERT_FALSE(c.id.empty());
  Poco::JSON::Object::Ptr file = FileOf(c.id);
  ASSERT_TRUE(file);
  EXPECT_FALSE(file->has("preview")) << Stringify(file);
  const uint64_t log_before = S().LogSize();
  ExpectError(Preview("archivist", c, ""), 422, "preview_unsupported");
  EXPECT_EQ(S().LogSize(), log_before);
}

TEST_F(ApiPreview, CorruptPdfIsPreviewFailedAndTheServerLives) {
  // Identified as a PDF by its header; poppler cannot open it.
  const std::string corrupt =
      "%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n" + PatternBytes(4000, 7);
  Checked c = CheckInFile("损坏 Corrupt", "损坏 broken.pdf", corrupt, "application/pdf");
  ASSERT_FALSE(c.id.empty());
  const uint64_t log_before = S().LogSize();
  HttpResult r = Preview("archivist", c, "");
  ExpectError(r, 503, "preview_failed");
  Poco::JSON::Object::Ptr error = JsonObject(r.body)->getObject("error");
  ASSERT_TRUE(error && error->has("params")) << r.body;
  EXPECT_EQ(Str(error->getObject("params"), "reason"), "extraction_unreadable") << r.body;
  EXPECT_EQ(S().LogSize(), log_before);
  EXPECT_EQ(S().As(kAnonymous, "GET", "/healthz").status, 200);
  // A good preview still works afterwards.
  Checked good = CheckInFile("完好 Sound", "sound.pdf", Doc("cjk_text.pdf"), "application/pdf");
  EXPECT_EQ(Preview("archivist", good, "?size=thumb").status, 200);
}

// Makes every general record due at once (schedule P0D: the archivist
// shortens, legal approves) and destroys `id` through a batch the
// archivist proposes, the approver and legal approve and the archivist
// executes.
void Destroy(ApiServer& s, const std::string& id) {
  HttpResult put =
      s.As("archivist", "PUT", "/v1/retention/schedules/general",
           "{\"trigger\":\"created\",\"period\":\"P0D\",\"action\":\"destroy\"}", kJson);
  ASSERT_EQ(put.status, 202) << Describe(put);
  HttpResult ok = s.As("legal", "POST",
                       "/v1/retention/changes/" + Str(JsonObject(put.body), "id") + "/approve");
  ASSERT_EQ(ok.status, 200) << Describe(ok);
  HttpResult proposed =
      s.As("archivist", "POST", "/v1/destructions",
           "{\"recordIds\":[\"" + id + "\"],\"reason\":\"保管期满 retention ended\"}", kJson);
  ASSERT_EQ(proposed.status, 201) << Describe(proposed);
  const std::string batch = Str(JsonObject(proposed.body), "id");
  ASSERT_EQ(s.As("approver", "POST", "/v1/destructions/" + batch + "/approve").status, 200);
  ASSERT_EQ(s.As("legal", "POST", "/v1/destructions/" + batch + "/approve").status, 200);
  HttpResult executed = s.As("archivist", "POST", "/v1/destructions/" + batch + "/execute");
  ASSERT_EQ(executed.status, 200) << Describe(executed);
  ASSERT_EQ(Str(JsonObject(executed.body), "state"), "executed");
}

// Its own server: the destruction changes the general schedule.
TEST(ApiPreviewDestruction, NoPreviewTextOrBlobOfADestroyedRecordRemainsUnderTheDataDirectory) {
  TempDir docs;
  ASSERT_EQ(
      std::system(
          ("python3 " + SourceDir() + "/tests/extract/make_documents.py " + docs.path()).c_str()),
      0);
  auto s = ApiServer::Create();
  ASSERT_NE(s, nullptr);
  Poco::JSON::Object::Ptr rec =
      s->CheckInOk("archivist", GeneralJson("待销毁合同 Contract to destroy"),
                   {FilePart("待销毁.pdf", ReadAll(docs.Sub("pages20.pdf")))});
  ASSERT_TRUE(rec);
  const std::string id = Str(rec, "id");
  const std::string file_id =
      Str(rec->getArray("versions")->getObject(0)->getArray("files")->getObject(0), "id");
  const std::string path = "/v1/records/" + id + "/versions/1/files/" + file_id;
  ASSERT_TRUE(
      WaitFor([&] { return s->As("archivist", "GET", path + "/preview?size=thumb").status == 200; },
              120000));
  std::vector<std::string> images;
  for (const std::string query : {"?size=thumb", "?page=2", "?page=20&size=thumb"}) {
    HttpResult r = s->As("archivist", "GET", path + "/preview" + query);
    ASSERT_EQ(r.status, 200) << Describe(r);
    images.push_back(r.body);
  }
  const std::vector<std::string> sealed = SealedPreviews(s->data_dir(), id);
  ASSERT_EQ(sealed.size(), 3u);
  EXPECT_FALSE(FilesContaining(s->data_dir(), sealed[0].substr(sealed[0].size() / 2, 64)).empty())
      << "the scan should find the sealed preview before destruction";
  EXPECT_EQ(
      DbCount(s->data_dir(), "SELECT COUNT(*) FROM file_texts WHERE record_id = '" + id + "'"), 1);
  const size_t blobs = CountBlobs(s->data_dir());

  Destroy(*s, id);
  {
    HttpResult gone = s->As("archivist", "GET", path + "/preview?size=thumb");
    EXPECT_EQ(gone.status, 410) << Describe(gone);
    EXPECT_EQ(ErrorCode(gone), "content_destroyed");
  }
  EXPECT_EQ(
      DbCount(s->data_dir(), "SELECT COUNT(*) FROM derived_cache WHERE record_id = '" + id + "'"),
      0);
  EXPECT_EQ(
      DbCount(s->data_dir(), "SELECT COUNT(*) FROM file_texts WHERE record_id = '" + id + "'"), 0);
  EXPECT_EQ(CountBlobs(s->data_dir()), blobs - 1);
  ASSERT_EQ(s->Stop(), 0);  // every database file complete on disk
  for (const std::string& png : images) {
    EXPECT_TRUE(FilesContaining(s->data_dir(), png.substr(png.size() / 2, 64)).empty());
  }
  for (const std::string& bytes : sealed) {
    const std::vector<std::string> found =
        FilesContaining(s->data_dir(), bytes.substr(bytes.size() / 2, 64));
    EXPECT_TRUE(found.empty()) << "a sealed preview remains in " << found.front();
  }
}

}  // namespace
}  // namespace custos::testing::api
