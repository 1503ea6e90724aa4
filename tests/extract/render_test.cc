// The preview worker custos-render (docs/formats/render.md) run as the
// server runs it, through RunWorker under the extraction limits (which
// include RLIMIT_FSIZE 0: a worker that wrote a file would fail): PDF
// pages with Chinese text at the asked width, the last page and the one
// after it, the pages of a multi-page TIFF, a very tall image scaled to
// four widths of height, and the exit codes for unsupported types, damaged
// documents and bad arguments.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "server/services/extraction_runner.h"
#include "tests/testutil/testutil.h"

namespace custos::services {
namespace {

using custos::testing::BinDir;
using custos::testing::ReadFileOrDie;
using custos::testing::SourceDir;
using custos::testing::TempDir;

const char* const kFont = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";

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

class RenderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const std::string d = dir_->path();
    Shell("python3 " + SourceDir() + "/tests/extract/make_documents.py " + d);
    Shell(std::string("convert -size 600x200 xc:white -font ") + kFont +
          " -fill black -pointsize 30 -annotate +20+100 '价格调整 Price' " + d + "/notice.png");
    Shell("convert " + d + "/notice.png " + d + "/notice.png " + d + "/two_pages.tif");
    Shell("convert -size 100x1000 xc:white " + d + "/tall.png");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static WorkerRun Render(const std::string& name, std::vector<std::string> args) {
    std::vector<std::string> argv = {BinDir() + "/custos-render"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunWorker(ExtractionLimits{}, argv, ReadFileOrDie(dir_->Sub(name)));
  }
  static WorkerRun Render(const std::string& name, int page, int width) {
    return Render(name, {"--page", std::to_string(page), "--width", std::to_string(width)});
  }

  static void ExpectExit(const WorkerRun& run, int code) {
    ASSERT_TRUE(run.started) << run.err;
    EXPECT_TRUE(run.exited) << "signal " << run.signal << ": " << run.err;
    EXPECT_EQ(run.exit_code, code) << run.err;
    EXPECT_TRUE(run.out.empty()) << "a failed run wrote " << run.out.size() << " bytes";
    EXPECT_EQ(run.err.rfind("custos-render: ", 0), 0u) << run.err;
  }

  static TempDir* dir_;
};
TempDir* RenderTest::dir_ = nullptr;

TEST_F(RenderTest, PdfPageWithChineseTextAtTheAskedWidth) {
  for (int width : {240, 1200}) {
    WorkerRun run = Render("cjk_text.pdf", 1, width);
    ASSERT_EQ(run.exit_code, 0) << run.err;
    auto [w, h] = PngSize(run.out);
    EXPECT_EQ(w, width);
    EXPECT_NEAR(static_cast<double>(h) / w, 842.0 / 595.0, 0.01);  // A4 kept
  }
}

TEST_F(RenderTest, LastPageRendersAndThePageAfterItIsNoSuchPage) {
  WorkerRun last = Render("pages20.pdf", 20, 240);
  ASSERT_EQ(last.exit_code, 0) << last.err;
  EXPECT_EQ(PngSize(last.out).first, 240);
  WorkerRun first = Render("pages20.pdf", 1, 240);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out, last.out);  // each page shows its own number
  ExpectExit(Render("pages20.pdf", 21, 240), 7);
}

TEST_F(RenderTest, EveryPageOfAMultiPageTiffAndNoMore) {
  for (int page : {1, 2}) {
    WorkerRun run = Render("two_pages.tif", page, 300);
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(PngSize(run.out), std::make_pair(300, 100));
  }
  ExpectExit(Render("two_pages.tif", 3, 300), 7);
  ExpectExit(Render("notice.png", 2, 300), 7);  // other images have one page
}

TEST_F(RenderTest, VeryTallImageIsScaledToFourWidthsOfHeight) {
  WorkerRun run = Render("tall.png", 1, 240);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(PngSize(run.out), std::make_pair(96, 960));
}

TEST_F(RenderTest, TypesWithoutARendererAreUnsupported) {
  ExpectExit(Render("contract.docx", 1, 240), 6);
  ExpectExit(Render("invoice.ofd", 1, 240), 6);
  WorkerRun text =
      RunWorker(ExtractionLimits{}, {BinDir() + "/custos-render", "--page", "1", "--width", "240"},
                "价格调整 plain text\n");
  ExpectExit(text, 6);
}

TEST_F(RenderTest, DamagedPdfIsUnreadable) {
  WorkerRun run = RunWorker(
      ExtractionLimits{}, {BinDir() + "/custos-render", "--page", "1", "--width", "240"},
      std::string("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n") + std::string(3000, 'x'));
  ExpectExit(run, 3);
}

TEST_F(RenderTest, BadArgumentsAreUsageErrors) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--page", "0", "--width", "240"},
                                             {"--page", "1", "--width", "8"},
                                             {"--page", "1", "--width", "5000"},
                                             {"--page", "1"},
                                             {"--page", "x", "--width", "240"},
                                             {"--page", "1", "--width", "240", "--colour", "red"},
                                             {"--page", "1", "--width"}}) {
    ExpectExit(Render("cjk_text.pdf", args), 2);
  }
}

TEST_F(RenderTest, InputOverMaxBytesIsALimit) {
  ExpectExit(Render("pages20.pdf", {"--page", "1", "--width", "240", "--max-bytes", "100"}), 5);
}

}  // namespace
}  // namespace custos::services
