// The loan copy worker (extract/stamp.cc, custos-stamp) run as the server
// runs it (server/services/extraction_runner.h RunWorker), on documents
// made at run time by make_stamp_documents.py and ImageMagick; the copies
// are read back with pdftotext and pdfinfo (poppler-utils) and leptonica's
// view of the PNG header through ImageMagick's identify
// (docs/formats/stamp.md).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "server/services/extraction_runner.h"
#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"

namespace custos::services {
namespace {

using custos::testing::BinDir;
using custos::testing::ReadFileOrDie;
using custos::testing::RunProgram;
using custos::testing::SourceDir;
using custos::testing::TempDir;
using custos::testing::WriteFile;

constexpr char kLoan[] = "LN-2026-000417";
const std::vector<std::string> kLines = {
    std::string("Custos loan copy 借阅副本 - ") + kLoan + " - not the original",
    "Borrower: zhang.wei (销售部 sales)",
    std::string("Loan ") + kLoan + " due 2026-12-31T00:00:00.000Z",
    "Made 2026-12-07T11:00:00.000Z (server time 2026-12-07 19:00:00 CST)",
};

void Shell(const std::string& command) { ASSERT_EQ(std::system(command.c_str()), 0) << command; }

struct Stamped {
  WorkerRun run;
  std::string media_type;  // from the header line
  std::string copy;        // the bytes after it
};

class StampWorker : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const std::string d = dir_->path();
    Shell("python3 " + SourceDir() + "/tests/extract/make_stamp_documents.py " + d);
    Shell("convert -size 640x300 xc:lightblue " + d + "/photo.png");
    Shell("convert " + d + "/photo.png -quality 90 " + d + "/photo.jpg");
    Shell("convert " + d + "/photo.png " + d + "/photo.gif");
    Shell("convert " + d + "/photo.png " + d + "/photo.webp");
    Shell("convert " + d + "/photo.png " + d + "/photo.png " + d + "/two_pages.tif");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string Path(const std::string& name) { return dir_->Sub(name); }

  static Stamped Stamp(const std::string& document,
                       const std::vector<std::string>& lines = kLines) {
    std::vector<std::string> argv = {BinDir() + "/custos-stamp"};
    for (const std::string& l : lines) {
      argv.push_back("--line");
      argv.push_back(l);
    }
    Stamped s;
    s.run = RunWorker(ExtractionLimits{}, argv, document);
    size_t eol = s.run.out.find('\n');
    if (s.run.exit_code == 0 && eol != std::string::npos &&
        s.run.out.rfind("custos-stamp/1 ", 0) == 0) {
      s.media_type = s.run.out.substr(15, eol - 15);
      s.copy = s.run.out.substr(eol + 1);
    }
    return s;
  }

  // pdftotext of one page of a PDF held in memory.
  static std::string PageText(const std::string& pdf, int page, bool bbox = false) {
    const std::string path = Path("copy.pdf");
    WriteFile(path, pdf);
    std::vector<std::string> argv = {"/usr/bin/pdftotext", "-f", std::to_string(page), "-l",
                                     std::to_string(page)};
    if (bbox) argv.push_back("-bbox");
    argv.push_back(path);
    argv.push_back("-");
    custos::testing::RunResult r = RunProgram(argv);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  static TempDir* dir_;
};
TempDir* StampWorker::dir_ = nullptr;

bool Contains(const std::string& s, const std::string& w) { return s.find(w) != std::string::npos; }

// pdftotext must read the stamp on every page: the loan id (ASCII,
// Helvetica) and the Chinese words (STSong-Light, UniGB-UCS2-H) alike, and
// the page's own text must still be there.
TEST_F(StampWorker, EveryPageOfAChinesePdfCarriesTheLoan) {
  Stamped s = Stamp(ReadFileOrDie(Path("pages20.pdf")));
  ASSERT_EQ(s.run.exit_code, 0) << s.run.err;
  EXPECT_EQ(s.media_type, "application/pdf");
  ASSERT_EQ(s.copy.rfind("%PDF-", 0), 0u);
  for (int page = 1; page <= 20; ++page) {
    std::string text = PageText(s.copy, page);
    EXPECT_TRUE(Contains(text, kLoan)) << "page " << page << ":\n" << text;
    EXPECT_TRUE(Contains(text, "借阅副本")) << "page " << page;
    EXPECT_TRUE(Contains(text, "销售部")) << "page " << page;
    EXPECT_TRUE(Contains(text, "价格调整通知")) << "page " << page;
    EXPECT_TRUE(Contains(text, "Contract page " + std::to_string(page))) << "page " << page;
  }
  WriteFile(Path("copy.pdf"), s.copy);
  custos::testing::RunResult info = RunProgram({"/usr/bin/pdfinfo", Path("copy.pdf")});
  size_t pages_at = info.out.find("Pages:");
  ASSERT_NE(pages_at, std::string::npos) << info.out;
  EXPECT_EQ(std::atoi(info.out.c_str() + pages_at + 6), 20) << "pages added or lost";
}

// Rotated pages, a CropBox inside the MediaBox and a MediaBox away from
// the origin: the stamp is upright as the page is shown (pdftotext's
// boxes are in the shown page's space: a horizontal word is wider than
// tall) and inside the visible box.
TEST_F(StampWorker, TurnedAndCroppedPagesGetAnUprightStamp) {
  Stamped s = Stamp(ReadFileOrDie(Path("turned.pdf")));
  ASSERT_EQ(s.run.exit_code, 0) << s.run.err;
  for (int page = 1; page <= 3; ++page) {
    std::string xml = PageText(s.copy, page, true);
    size_t at = xml.find(std::string(">") + kLoan + "<");
    ASSERT_NE(at, std::string::npos) << "page " << page << ":\n" << xml;
    size_t open = xml.rfind("<word", at);
    double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    ASSERT_EQ(
        std::sscanf(xml.c_str() + open, "<word xMin=\"%lf\" yMin=\"%lf\" xMax=\"%lf\" yMax=\"%lf\"",
                    &x0, &y0, &x1, &y1),
        4)
        << xml.substr(open, 120);
    EXPECT_GT(x1 - x0, 3 * (y1 - y0))
        << "page " << page << " stamp is not upright: " << xml.substr(open, 120);
    EXPECT_GE(x0, 0) << "page " << page;
    EXPECT_GE(y0, 0) << "page " << page;
  }
}

TEST_F(StampWorker, ImagesGetATextBandAndComeOutAsPng) {
  for (const char* name : {"photo.png", "photo.jpg", "photo.gif", "photo.webp"}) {
    Stamped s = Stamp(ReadFileOrDie(Path(name)));
    ASSERT_EQ(s.run.exit_code, 0) << name << ": " << s.run.err;
    EXPECT_EQ(s.media_type, "image/png") << name;
    ASSERT_EQ(s.copy.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << name;
    WriteFile(Path("copy.png"), s.copy);
    custos::testing::RunResult id =
        RunProgram({"/usr/bin/identify", "-format", "%w %h", Path("copy.png")});
    ASSERT_EQ(id.exit_code, 0) << id.err;
    int w = 0, h = 0;
    ASSERT_EQ(std::sscanf(id.out.c_str(), "%d %d", &w, &h), 2) << id.out;
    EXPECT_EQ(w, 640) << name;
    EXPECT_GT(h, 300 + 40) << name << ": no band of four lines below the image";
  }
}

// Types the worker cannot stamp are its own exit code, with nothing on
// stdout, so the server answers copy_unsupported and never the original.
TEST_F(StampWorker, UnsupportedTypesExitSixWithNothingOnStdout) {
  for (const std::string& doc :
       {std::string("价格调整 plain text 文本\n"), std::string("PK\x03\x04 not really a zip"),
        ReadFileOrDie(Path("two_pages.tif"))}) {
    Stamped s = Stamp(doc);
    EXPECT_EQ(s.run.exit_code, 6) << s.run.err;
    EXPECT_EQ(s.run.out, "");
  }
}

TEST_F(StampWorker, DamagedPdfExitsThree) {
  std::string damaged = "%PDF-1.4\n" + std::string(2000, '\x07');
  Stamped s = Stamp(damaged);
  EXPECT_EQ(s.run.exit_code, 3) << s.run.err;
  EXPECT_EQ(s.run.out, "");
}

TEST_F(StampWorker, BadLinesAreAUsageError) {
  EXPECT_EQ(Stamp("x", {}).run.exit_code, 2) << "no --line";
  EXPECT_EQ(Stamp("x", {"two\nlines"}).run.exit_code, 2) << "a newline inside a line";
  EXPECT_EQ(Stamp("x", {std::string("bad \xff utf-8")}).run.exit_code, 2);
  EXPECT_EQ(Stamp("x", std::vector<std::string>(9, "line")).run.exit_code, 2)
      << "more than 8 lines";
}

}  // namespace
}  // namespace custos::services
