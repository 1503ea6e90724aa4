// Stamped loan copies through the real server (docs/api.md "Loan copies",
// docs/security.md "Loan copies"): a borrower of a confidential record gets
// a copy stamped by the custos-stamp worker, whose hash is in the
// content.read event and which `custosctl trace` traces back to the loan;
// direct readers and borrowers of unstamped classifications get the
// original; a type that cannot be stamped and a hostile PDF get nothing.
#include <filesystem>
#include <fstream>

#include "domain/model.h"
#include "tests/server/api_fixture.h"

namespace custos::testing::api {
namespace {

namespace fs = std::filesystem;

std::string HoursFromNow(int hours) {
  return domain::FormatTime(std::chrono::system_clock::now() + std::chrono::hours(hours));
}

std::string LoanBody(const std::string& record_id, const std::string& due_at) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set("recordId", record_id);
  o->set("kind", "digital");
  o->set("purpose", "合同审阅 contract review");
  o->set("dueAt", due_at);
  return Stringify(o);
}

std::string Hex(const std::string& bytes) { return Sha256Hex(bytes); }

// Whether any file under `dir` holds `needle`.
bool AnyFileHolds(const std::string& dir, const std::string& needle) {
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec)) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (content.find(needle) != std::string::npos) return true;
  }
  return false;
}

class ApiLoanCopy : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    docs_ = new TempDir();
    RunResult made =
        RunProgram({"/usr/bin/python3", SourceDir() + "/tests/extract/make_stamp_documents.py",
                    docs_->path()});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    server_ = ApiServer::Create().release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete docs_;
    docs_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr) << "the server did not come up"; }

  static std::string Pdf() { return ReadFileOrDie(docs_->Sub("pages20.pdf")); }

  struct Checked {
    std::string id;
    std::string content_path;
  };
  // Checks in a "sales" record of `classification` with one file.
  static Checked CheckIn(ApiServer& s, const std::string& classification, const std::string& name,
                         const std::string& bytes) {
    Poco::JSON::Object::Ptr rec =
        s.CheckInOk("archivist", GeneralJson("借阅合同 Loan copy contract", classification),
                    {FilePart(name, bytes)});
    if (!rec) return {};
    Poco::JSON::Object::Ptr f =
        rec->getArray("versions")->getObject(0)->getArray("files")->getObject(0);
    return {Str(rec, "id"), "/v1/records/" + Str(rec, "id") + "/versions/1/files/" + Str(f, "id")};
  }

  // A digital loan of `record_id` to staff, approved (checked out); its id.
  static std::string Lend(ApiServer& s, const std::string& record_id) {
    HttpResult asked =
        s.As("staff", "POST", "/v1/loans", LoanBody(record_id, HoursFromNow(72)), kJson);
    if (asked.status != 201) {
      ADD_FAILURE() << "loan request: " << Describe(asked);
      return "";
    }
    const std::string id = Str(JsonObject(asked.body), "id");
    HttpResult approved = s.As("approver", "POST", "/v1/loans/" + id + "/approve");
    EXPECT_EQ(approved.status, 200) << Describe(approved);
    EXPECT_EQ(Str(JsonObject(approved.body), "state"), "checked_out");
    return id;
  }

  static Poco::JSON::Object::Ptr Event(ApiServer& s, const std::string& index) {
    HttpResult r =
        s.As("auditor", "GET",
             "/v1/log/entries?start=" + index + "&end=" + std::to_string(std::stoull(index) + 1));
    EXPECT_EQ(r.status, 200) << Describe(r);
    Poco::JSON::Array::Ptr arr = JsonArray(r.body);
    if (!arr || arr->size() != 1) return {};
    return arr->getObject(0)->getObject("event");
  }

  static std::string PdfText(const std::string& pdf) {
    const std::string path = docs_->Sub("served.pdf");
    WriteFile(path, pdf);
    RunResult r = RunProgram({"/usr/bin/pdftotext", path, "-"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  static RunResult Trace(const std::string& bytes) {
    const std::string path = docs_->Sub("found-outside.bin");
    WriteFile(path, bytes);
    return RunProgram({BinDir() + "/custosctl", "trace", path, "--data", server_->data_dir()});
  }

  static ApiServer* server_;
  static TempDir* docs_;
};
ApiServer* ApiLoanCopy::server_ = nullptr;
TempDir* ApiLoanCopy::docs_ = nullptr;

size_t Count(const std::string& text, const std::string& word) {
  size_t n = 0;
  for (size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1)) ++n;
  return n;
}

// The borrower of a confidential record reads a stamped copy: every page
// names the loan, the event holds the copy's hash, the archivist (a direct
// reader) still reads the original, nothing of the copy is left under the
// data directory, and custosctl trace leads from the copy to the loan.
TEST_F(ApiLoanCopy, BorrowerOfConfidentialRecordGetsATraceableCopy) {
  ApiServer& s = *server_;
  const std::string original = Pdf();
  Checked rec = CheckIn(s, "confidential", "借阅合同-contract.pdf", original);
  ASSERT_NE(rec.id, "");
  const std::string loan = Lend(s, rec.id);
  ASSERT_NE(loan, "");

  HttpResult copy = s.As("staff", "GET", rec.content_path);
  ASSERT_EQ(copy.status, 200) << Describe(copy);
  EXPECT_EQ(copy.headers["X-Custos-Copy"], "stamped");
  EXPECT_EQ(copy.headers["X-Custos-Loan"], loan);
  EXPECT_EQ(copy.headers["Content-Type"], "application/pdf");
  EXPECT_EQ(copy.headers["Cache-Control"], "no-store");
  EXPECT_NE(copy.body, original);
  const std::string sha = Hex(copy.body);
  EXPECT_EQ(copy.headers["ETag"], "\"" + sha + "\"");
  const std::string text = PdfText(copy.body);
  EXPECT_EQ(Count(text, "Loan " + loan + " due"), 20u) << text.substr(0, 800);
  EXPECT_NE(text.find("Borrower: staff (sales)"), std::string::npos);
  EXPECT_NE(text.find("借阅副本"), std::string::npos);
  EXPECT_NE(text.find("价格调整通知"), std::string::npos) << "the document's own text is kept";

  Poco::JSON::Object::Ptr event = Event(s, copy.headers["X-Custos-Log-Index"]);
  ASSERT_TRUE(event);
  EXPECT_EQ(Str(event, "action"), "content.read");
  EXPECT_EQ(Str(event, "actor"), "staff");
  Poco::JSON::Object::Ptr details = event->getObject("details");
  ASSERT_TRUE(details);
  EXPECT_EQ(Str(details, "loan"), loan);
  EXPECT_EQ(Str(details, "copySha256"), sha);
  EXPECT_TRUE(details->getValue<bool>("stamped"));
  EXPECT_EQ(Str(details, "sha256"), Hex(original)) << "the event still names the original";

  // A second copy is made afresh (its time differs) and logged on its own.
  HttpResult again = s.As("staff", "GET", rec.content_path);
  ASSERT_EQ(again.status, 200) << Describe(again);
  EXPECT_NE(again.headers["X-Custos-Log-Index"], copy.headers["X-Custos-Log-Index"]);

  HttpResult direct = s.As("archivist", "GET", rec.content_path);
  ASSERT_EQ(direct.status, 200) << Describe(direct);
  EXPECT_EQ(direct.body, original);
  EXPECT_EQ(direct.headers.count("X-Custos-Copy"), 0u);
  EXPECT_EQ(direct.headers["ETag"], "\"" + Hex(original) + "\"");

  // No copy in clear under the data directory: pieces of its bytes from
  // three places, none of which the original holds.
  for (size_t at : {copy.body.size() / 3, copy.body.size() / 2, copy.body.size() - 200}) {
    std::string piece = copy.body.substr(at, 48);
    if (original.find(piece) != std::string::npos) continue;
    EXPECT_FALSE(AnyFileHolds(s.data_dir(), piece))
        << "bytes of the copy at " << at << " lie on disk";
  }

  RunResult traced = Trace(copy.body);
  ASSERT_EQ(traced.exit_code, 0) << traced.err;
  EXPECT_NE(traced.out.find("loan:      " + loan), std::string::npos) << traced.out;
  EXPECT_NE(traced.out.find("borrower:  staff"), std::string::npos) << traced.out;
  EXPECT_NE(traced.out.find("record:    " + rec.id), std::string::npos) << traced.out;
  EXPECT_NE(traced.out.find("log index: " + copy.headers["X-Custos-Log-Index"] + "\n"),
            std::string::npos)
      << traced.out;

  RunResult of_original = Trace(original);
  EXPECT_EQ(of_original.exit_code, 1) << of_original.out;
  EXPECT_NE(of_original.err.find("no loan copy with this SHA-256"), std::string::npos)
      << of_original.err;
  EXPECT_EQ(Trace("随机 random bytes 8c1f0e").exit_code, 1);
}

// Text carries no stamp: a borrower of a record lent as stamped copies
// gets neither its extracted text nor a comparison of its versions (403
// stamped_copy_only, nothing logged), while a direct reader gets both; the
// borrower's previews are pages of their own stamped copy, never taken
// from or put into the cache that direct readers share.
TEST_F(ApiLoanCopy, BorrowerOfStampedRecordGetsNoTextAndPreviewsOfTheCopy) {
  ApiServer& s = *server_;
  Checked rec = CheckIn(s, "confidential", "预览合同-preview.pdf", Pdf());
  ASSERT_NE(rec.id, "");
  HttpResult v2 = s.As("archivist", "POST", "/v1/records/" + rec.id + "/versions",
                       MultipartBody({MetadataPart("{\"kind\":\"amendment\",\"note\":\"补充 annex\"}"),
                                      FilePart("预览合同-preview.pdf", Pdf())}),
                       MultipartType());
  ASSERT_EQ(v2.status, 201) << Describe(v2);
  const std::string loan = Lend(s, rec.id);
  ASSERT_NE(loan, "");
  ASSERT_TRUE(WaitFor([&] { return s.As("archivist", "GET", rec.content_path + "/text").status == 200; },
                      120000))
      << "the pipeline never extracted the file";

  const uint64_t before = s.LogSize();
  HttpResult text = s.As("staff", "GET", rec.content_path + "/text");
  EXPECT_EQ(text.status, 403) << Describe(text);
  EXPECT_EQ(ErrorCode(text), "stamped_copy_only");
  HttpResult compare = s.As("staff", "GET", "/v1/records/" + rec.id + "/compare?from=1&to=2");
  EXPECT_EQ(compare.status, 403) << Describe(compare);
  EXPECT_EQ(ErrorCode(compare), "stamped_copy_only");
  EXPECT_EQ(s.LogSize(), before) << "a refused text read was logged";
  EXPECT_EQ(s.As("archivist", "GET", "/v1/records/" + rec.id + "/compare?from=1&to=2").status, 200);

  // The direct reader's page goes into the shared cache; the borrower's is
  // their own copy's page: another image, logged as stamped, not cached.
  HttpResult direct = s.As("archivist", "GET", rec.content_path + "/preview?size=page");
  ASSERT_EQ(direct.status, 200) << Describe(direct);
  HttpResult lent = s.As("staff", "GET", rec.content_path + "/preview?size=page");
  ASSERT_EQ(lent.status, 200) << Describe(lent);
  EXPECT_EQ(lent.headers["Content-Type"], "image/png");
  EXPECT_NE(lent.body, direct.body) << "the borrower saw the unstamped page";
  Poco::JSON::Object::Ptr event = Event(s, lent.headers["X-Custos-Log-Index"]);
  ASSERT_TRUE(event);
  Poco::JSON::Object::Ptr details = event->getObject("details");
  ASSERT_TRUE(details);
  EXPECT_EQ(Str(details, "derived"), "preview");
  EXPECT_EQ(Str(details, "loan"), loan);
  EXPECT_TRUE(details->optValue("stamped", false));
  HttpResult again = s.As("archivist", "GET", rec.content_path + "/preview?size=page");
  ASSERT_EQ(again.status, 200) << Describe(again);
  EXPECT_EQ(again.body, direct.body) << "the shared cache now holds the borrower's page";
}

// Internal is not in the default loans.stamp_classifications: the
// borrower reads the original.
TEST_F(ApiLoanCopy, InternalRecordUnderLoanIsTheOriginalByDefault) {
  ApiServer& s = *server_;
  const std::string original = Pdf();
  Checked rec = CheckIn(s, "internal", "内部-internal.pdf", original);
  ASSERT_NE(rec.id, "");
  ASSERT_NE(Lend(s, rec.id), "");
  HttpResult read = s.As("staff", "GET", rec.content_path);
  ASSERT_EQ(read.status, 200) << Describe(read);
  EXPECT_EQ(read.body, original);
  EXPECT_EQ(read.headers.count("X-Custos-Copy"), 0u);
}

// A borrower who must get a traceable copy never gets an untraceable one:
// a type the worker cannot stamp is 422 and no read is logged.
TEST_F(ApiLoanCopy, UnsupportedTypeUnderStampedLoanIsRefusedAndNotLogged) {
  ApiServer& s = *server_;
  Checked rec =
      CheckIn(s, "confidential", "说明-notes.txt", "借阅说明 plain notes, not stampable\n");
  ASSERT_NE(rec.id, "");
  ASSERT_NE(Lend(s, rec.id), "");
  const uint64_t before = s.LogSize();
  HttpResult read = s.As("staff", "GET", rec.content_path);
  EXPECT_EQ(read.status, 422) << Describe(read);
  EXPECT_EQ(ErrorCode(read), "copy_unsupported");
  EXPECT_EQ(read.body.find("借阅说明"), std::string::npos);
  EXPECT_EQ(s.LogSize(), before) << "a refused copy was logged as a read";
}

// A hostile PDF ends only the worker: 503 copy_failed, nothing logged,
// and custosd goes on serving.
TEST_F(ApiLoanCopy, HostilePdfFailsTheCopyAndTheServerLives) {
  ApiServer& s = *server_;
  Checked rec = CheckIn(s, "confidential", "损坏-broken.pdf",
                        "%PDF-1.7\n" + std::string(4000, '\x13') + "trailer <<");
  ASSERT_NE(rec.id, "");
  ASSERT_NE(Lend(s, rec.id), "");
  const uint64_t before = s.LogSize();
  HttpResult read = s.As("staff", "GET", rec.content_path);
  EXPECT_EQ(read.status, 503) << Describe(read);
  EXPECT_EQ(ErrorCode(read), "copy_failed");
  EXPECT_EQ(s.LogSize(), before);
  EXPECT_EQ(s.As("staff", "GET", "/v1/me").status, 200) << "custosd stopped answering";
}

// The configuration decides which classifications are stamped: with
// internal listed, the internal record's borrower gets a copy.
TEST(ApiLoanCopyConfig, ConfiguredInternalIsStamped) {
  TempDir docs;
  RunResult made = RunProgram(
      {"/usr/bin/python3", SourceDir() + "/tests/extract/make_stamp_documents.py", docs.path()});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto s = ApiServer::Create("loans.stamp_classifications = internal\n");
  ASSERT_TRUE(s);
  const std::string original = ReadFileOrDie(docs.Sub("turned.pdf"));
  Poco::JSON::Object::Ptr rec =
      s->CheckInOk("archivist", GeneralJson("内部通知 Internal notice", "internal"),
                   {FilePart("notice.pdf", original)});
  ASSERT_TRUE(rec);
  Poco::JSON::Object::Ptr f =
      rec->getArray("versions")->getObject(0)->getArray("files")->getObject(0);
  const std::string path = "/v1/records/" + Str(rec, "id") + "/versions/1/files/" + Str(f, "id");
  HttpResult asked =
      s->As("staff", "POST", "/v1/loans", LoanBody(Str(rec, "id"), HoursFromNow(48)), kJson);
  ASSERT_EQ(asked.status, 201) << Describe(asked);
  const std::string loan = Str(JsonObject(asked.body), "id");
  ASSERT_EQ(s->As("approver", "POST", "/v1/loans/" + loan + "/approve").status, 200);
  HttpResult read = s->As("staff", "GET", path);
  ASSERT_EQ(read.status, 200) << Describe(read);
  EXPECT_EQ(read.headers["X-Custos-Copy"], "stamped");
  EXPECT_EQ(read.headers["X-Custos-Loan"], loan);
  EXPECT_NE(read.body, original);
}

}  // namespace
}  // namespace custos::testing::api
