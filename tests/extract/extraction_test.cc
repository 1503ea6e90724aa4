// The extraction worker (extract/, custos-extract) through its runner
// (server/services/extraction_runner.h), on documents made at run time by
// make_documents.py, ImageMagick and iconv (docs/formats/extraction.md).
// The runner's own failure paths use tiny shell scripts as the "worker":
// the worker has no test hooks.
#include "server/services/extraction_runner.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "tests/testutil/testutil.h"

namespace custos::services {
namespace {

using custos::testing::BinDir;
using custos::testing::ReadFileOrDie;
using custos::testing::SourceDir;
using custos::testing::TempDir;
using custos::testing::WriteFile;

const char* const kFont = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";

std::string Worker() { return BinDir() + "/custos-extract"; }

void Shell(const std::string& command) {
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

// Every document of the suite, made once.
class ExtractionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const std::string d = dir_->path();
    Shell("python3 " + SourceDir() + "/tests/extract/make_documents.py " + d);
    // A scanned page: Chinese and English rendered at 300 dpi.
    Shell(std::string("convert -size 2000x700 xc:white -units PixelsPerInch -density 300 -font ") + kFont +
        " -fill black -pointsize 28 -annotate +100+150 '价格调整通知' -annotate +100+300 '甲方与乙方签订合同'"
        " -annotate +100+450 '违约金条款 Penalty clause 2026' " + d + "/scan.png");
    Shell("convert " + d + "/scan.png -colorspace Gray -quality 92 " + d + "/scan.jpg");
    Shell("convert " + d + "/scan.png " + d + "/scan.tif");
    Shell("convert " + d + "/scan.png " + d + "/scan.png " + d + "/two_pages.tif");
    Shell("python3 " + SourceDir() + "/tests/extract/make_documents.py --image-pdf " + d + "/scan.jpg " +
        d + "/scan.pdf 2000 700 300");
    Shell("printf '价格调整 GBK 文本\\n' | iconv -f UTF-8 -t GBK > " + d + "/gbk.txt");
    Shell("printf '价格调整 UTF-8 text\\n' > " + d + "/utf8.txt");
    Shell(": > " + d + "/empty.bin");
    Shell("head -c 4096 /dev/urandom > " + d + "/random.bin");
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static std::string Path(const std::string& name) { return dir_->Sub(name); }
  static std::string Read(const std::string& name) { return ReadFileOrDie(Path(name)); }

  static StatusOr<ExtractionResult> Extract(const std::string& name, ExtractionLimits limits = {},
                                            const std::string& claimed = "") {
    return RunExtraction(limits, Worker(), Read(name), claimed);
  }

  static TempDir* dir_;
};
TempDir* ExtractionTest::dir_ = nullptr;

bool Contains(const std::string& text, const std::string& word) {
  return text.find(word) != std::string::npos;
}

bool HasWarning(const ExtractionResult& r, const std::string& w) {
  return std::find(r.warnings.begin(), r.warnings.end(), w) != r.warnings.end();
}

// The share of two-character words OCR found.
double FoundShare(const std::string& text) {
  const std::vector<std::string> words = {"价格", "调整", "通知", "甲方", "乙方",
                                          "签订", "合同", "违约", "条款"};
  int found = 0;
  for (const auto& w : words) found += Contains(text, w);
  return static_cast<double>(found) / words.size();
}

TEST_F(ExtractionTest, PdfTextLayerInChinese) {
  auto r = Extract("cjk_text.pdf");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->identified_mime, "application/pdf");
  EXPECT_EQ(r->status, "text");
  EXPECT_EQ(r->method, "pdf_text");
  EXPECT_EQ(r->pages, 1);
  EXPECT_TRUE(Contains(r->text, "价格调整")) << r->text;
  EXPECT_TRUE(Contains(r->text, "甲方与乙方签订合同")) << r->text;
  EXPECT_TRUE(Contains(r->text, "Penalty")) << r->text;
}

TEST_F(ExtractionTest, PdfTextLayerRate) {
  auto r = Extract("pages20.pdf");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pages, 20);
  EXPECT_TRUE(Contains(r->text, "Penalty clause 2026 page 20"));
  EXPECT_EQ(std::count(r->text.begin(), r->text.end(), '\f'), 19);
  std::printf("[ measure  ] PDF text layer: 20 pages in %.3f s = %.1f pages/s (whole worker run)\n",
              r->seconds, 20 / r->seconds);
}

TEST_F(ExtractionTest, ScannedPngIsOcred) {
  auto r = Extract("scan.png");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->identified_mime, "image/png");
  EXPECT_EQ(r->method, "ocr");
  EXPECT_GE(FoundShare(r->text), 0.7) << r->text;
  EXPECT_TRUE(Contains(r->text, "Penalty")) << r->text;
  std::printf("[ measure  ] OCR (chi_sim+eng) of a 2000x700 scan at 300 dpi: %.2f s per page\n", r->seconds);
}

TEST_F(ExtractionTest, ScannedJpegAndTiffAreOcred) {
  for (const char* name : {"scan.jpg", "scan.tif"}) {
    auto r = Extract(name);
    ASSERT_TRUE(r.ok()) << name << ": " << r.status().ToString();
    EXPECT_EQ(r->method, "ocr") << name;
    EXPECT_EQ(r->pages, 1) << name;
    EXPECT_GE(FoundShare(r->text), 0.7) << name << ": " << r->text;
    EXPECT_TRUE(Contains(r->text, "Penalty")) << name << ": " << r->text;
  }
}

TEST_F(ExtractionTest, MultiPageTiffGivesEveryPage) {
  auto r = Extract("two_pages.tif");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pages, 2);
  size_t feed = r->text.find('\f');
  ASSERT_NE(feed, std::string::npos) << r->text;
  EXPECT_GE(FoundShare(r->text.substr(0, feed)), 0.7) << r->text;
  EXPECT_GE(FoundShare(r->text.substr(feed)), 0.7) << r->text;
}

TEST_F(ExtractionTest, ScannedPdfWithoutTextLayerIsOcred) {
  auto r = Extract("scan.pdf");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->identified_mime, "application/pdf");
  EXPECT_EQ(r->method, "ocr");
  EXPECT_GE(FoundShare(r->text), 0.7) << r->text;
  EXPECT_TRUE(Contains(r->text, "Penalty")) << r->text;
  std::printf("[ measure  ] OCR of a scanned PDF page (render + OCR): %.2f s per page\n", r->seconds);
}

TEST_F(ExtractionTest, ScannedPdfWithOcrOffHasNoText) {
  ExtractionLimits limits;
  limits.ocr = false;
  auto r = Extract("scan.pdf", limits);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, "no_text");
  EXPECT_EQ(r->method, "none");
}

TEST_F(ExtractionTest, DocxRunsAndParagraphs) {
  auto r = Extract("contract.docx");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->method, "docx");
  EXPECT_EQ(r->status, "text");
  EXPECT_TRUE(Contains(r->text, "价格调整\n")) << r->text;  // two runs, one paragraph
  EXPECT_TRUE(Contains(r->text, "甲方 Penalty \tclause")) << r->text;
}

TEST_F(ExtractionTest, XlsxSharedAndInlineStrings) {
  auto r = Extract("prices.xlsx");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->method, "xlsx");
  EXPECT_TRUE(Contains(r->text, "价格调整")) << r->text;
  EXPECT_TRUE(Contains(r->text, "单价 unit price")) << r->text;
  EXPECT_TRUE(Contains(r->text, "违约金 penalty")) << r->text;
  EXPECT_FALSE(Contains(r->text, "12345")) << "numbers are not text";
}

TEST_F(ExtractionTest, PptxSlidesInOrder) {
  auto r = Extract("slides.pptx");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->method, "pptx");
  EXPECT_EQ(r->pages, 2);
  EXPECT_EQ(r->text, "第一页 年度报告\n第二页 second\n");
}

TEST_F(ExtractionTest, OfdTextCodes) {
  auto r = Extract("invoice.ofd");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->method, "ofd");
  EXPECT_EQ(r->pages, 2);
  EXPECT_TRUE(Contains(r->text, "电子发票\n价格调整 Invoice\n")) << r->text;
  EXPECT_LT(r->text.find("电子发票"), r->text.find("第二页")) << "pages in order";
}

TEST_F(ExtractionTest, GbkText) {
  auto r = Extract("gbk.txt");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->method, "text_gbk");
  EXPECT_EQ(r->text, "价格调整 GBK 文本\n");
}

TEST_F(ExtractionTest, Utf8Text) {
  auto r = Extract("utf8.txt");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->identified_mime, "text/plain");
  EXPECT_EQ(r->method, "text_utf8");
  EXPECT_EQ(r->text, "价格调整 UTF-8 text\n");
}

TEST_F(ExtractionTest, EmptyFileHasNoText) {
  auto r = Extract("empty.bin");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, "no_text");
  EXPECT_EQ(r->method, "none");
}

TEST_F(ExtractionTest, RandomBytesAreUnsupported) {
  auto r = Extract("random.bin");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->identified_mime, "application/octet-stream");
  EXPECT_EQ(r->status, "unsupported");
  EXPECT_EQ(r->text, "");
}

TEST_F(ExtractionTest, ClaimedTypeDoesNotDecideTheParser) {
  auto r = Extract("contract.docx", {}, "application/pdf");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->method, "docx");
  EXPECT_EQ(r->identified_mime, "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
}

TEST_F(ExtractionTest, DamagedZipIsUnreadable) {
  std::string docx = Read("contract.docx");
  auto r = RunExtraction({}, Worker(), docx.substr(0, docx.size() / 2), "");
  // Half a zip: the central directory is gone; libarchive may still stream
  // the first entries, so either the parts are missing or the zip is damaged.
  if (r.ok()) {
    EXPECT_NE(r->status, "text");
  } else {
    EXPECT_EQ(r.status().reason(), kExtractionUnreadable) << r.status().ToString();
  }
}

TEST_F(ExtractionTest, DocxZipBombIsCapped) {
  auto r = Extract("zip_bomb.docx");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, "no_text");
  EXPECT_TRUE(HasWarning(*r, "zip_entry_over_cap"));
}

TEST_F(ExtractionTest, PdfFlateBombHitsALimitOrTheTimeout) {
  ExtractionLimits limits;
  limits.cpu = std::chrono::seconds(3);
  limits.address_space_bytes = uint64_t{512} << 20;
  limits.wall = std::chrono::seconds(10);
  Shell("python3 " + SourceDir() + "/tests/extract/make_documents.py --flate-bomb " + Path("flate_bomb.pdf"));
  auto start = std::chrono::steady_clock::now();
  auto r = Extract("flate_bomb.pdf", limits);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(r.ok()) << "the bomb was parsed: " << r->text.size() << " bytes of text";
  EXPECT_TRUE(r.status().reason() == kExtractionLimit || r.status().reason() == kExtractionTimeout)
      << r.status().ToString();
  EXPECT_LT(seconds, 10 + 5);
  std::printf("[ measure  ] flate bomb PDF: %s after %.1f s\n", r.status().ToString().c_str(), seconds);
}

// --- The runner's own paths, with shell scripts as the worker ---------------

class RunnerTest : public ::testing::Test {
 protected:
  // A script worker; `body` runs under /bin/sh.
  std::string Script(const std::string& body) {
    std::string path = dir_.Sub("worker" + std::to_string(++count_) + ".sh");
    WriteFile(path, "#!/bin/sh\n" + body + "\n");
    ::chmod(path.c_str(), 0700);
    return path;
  }
  ExtractionLimits Limits() {
    ExtractionLimits limits;
    limits.temp_root = temp_root_.path();
    limits.wall = std::chrono::seconds(5);
    return limits;
  }
  bool TempRootIsEmpty() { return std::filesystem::is_empty(temp_root_.path()); }

  TempDir dir_, temp_root_;
  int count_ = 0;
};

const char* const kValidAnswer =
    R"({"version":1,"identified":{"mime":"text/plain","description":"x"},"status":"text",)"
    R"("method":"text_utf8","pages":0,"text":"价格调整","warnings":[]})";

TEST_F(RunnerTest, ValidAnswerFromAWorkerThatNeverReadsStdin) {
  // 8 MiB on stdin to a worker that does not read it: the runner must not block.
  std::string answer = std::string("echo '") + kValidAnswer + "'";
  auto r = RunExtraction(Limits(), Script("sleep 0.2\n" + answer), std::string(8 << 20, 'x'), "");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->text, "价格调整");
  EXPECT_TRUE(TempRootIsEmpty());
}

TEST_F(RunnerTest, HangingWorkerTimesOutAndItsGroupIsKilled) {
  ExtractionLimits limits = Limits();
  limits.wall = std::chrono::milliseconds(1000);
  std::string marker = dir_.Sub("grandchild-alive");
  // A grandchild in the background that would write a marker later.
  auto start = std::chrono::steady_clock::now();
  auto r = RunExtraction(limits, Script("(sleep 3; : > " + marker + ") &\nexec sleep 100"), "x", "");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), kExtractionTimeout) << r.status().ToString();
  EXPECT_LT(seconds, 3);
  ::sleep(3);
  EXPECT_FALSE(std::filesystem::exists(marker)) << "the worker's group outlived the timeout";
  EXPECT_TRUE(TempRootIsEmpty());
}

TEST_F(RunnerTest, CrashingWorker) {
  auto r = RunExtraction(Limits(), Script("kill -SEGV $$"), "x", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), kExtractionCrashed) << r.status().ToString();
}

TEST_F(RunnerTest, WorkerKilledBySigkillIsALimit) {
  auto r = RunExtraction(Limits(), Script("kill -KILL $$"), "x", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), kExtractionLimit) << r.status().ToString();
}

TEST_F(RunnerTest, CpuLimitStopsABusyWorker) {
  ExtractionLimits limits = Limits();
  limits.cpu = std::chrono::seconds(1);
  limits.wall = std::chrono::seconds(20);
  auto start = std::chrono::steady_clock::now();
  auto r = RunExtraction(limits, Script("while :; do :; done"), "x", "");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), kExtractionLimit) << r.status().ToString();
  EXPECT_LT(seconds, 10);
}

TEST_F(RunnerTest, GarbageOutputIsBadOutput) {
  auto r = RunExtraction(Limits(), Script("echo 'not json at all'"), "x", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), kExtractionBadOutput) << r.status().ToString();
}

TEST_F(RunnerTest, OutputOverTheCapIsBadOutput) {
  ExtractionLimits limits = Limits();
  limits.max_output_bytes = 1 << 20;
  auto r = RunExtraction(limits, Script("exec yes"), "x", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), kExtractionBadOutput) << r.status().ToString();
}

TEST_F(RunnerTest, ExitCodesOfTheWorker) {
  struct Case { int code; const char* reason; };
  for (Case c : {Case{3, kExtractionUnreadable}, Case{4, kExtractionLimit}, Case{5, kExtractionLimit},
                 Case{1, kExtractionFailed}, Case{2, kExtractionFailed}}) {
    auto r = RunExtraction(Limits(), Script("echo 'custos-extract: why' >&2; exit " + std::to_string(c.code)), "x", "");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().reason(), c.reason) << "exit " << c.code;
    EXPECT_NE(r.status().message().find("custos-extract: why"), std::string::npos) << r.status().message();
  }
}

TEST_F(RunnerTest, MissingWorkerFails) {
  auto r = RunExtraction(Limits(), dir_.Sub("no-such-worker"), "x", "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), kExtractionFailed) << r.status().ToString();
  EXPECT_TRUE(TempRootIsEmpty());
}

TEST_F(RunnerTest, DocumentOverTheSizeLimit) {
  ExtractionLimits limits = Limits();
  limits.max_document_bytes = 10;
  auto r = RunExtraction(limits, Script("exit 0"), std::string(11, 'x'), "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), kExtractionLimit);
}

TEST_F(RunnerTest, ChildSeesOnlyStdioAClearedEnvironmentAndAnEmptyPrivateDirectory) {
  // A descriptor without close-on-exec in this process must not reach the child.
  int leaked = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaked, 3);
  ::setenv("CUSTOS_TEST_SECRET", "do-not-pass", 1);
  WorkerRun run = RunWorker(Limits(), {"/bin/sh", "-c",
      // ls lists the shell's descriptors (no $(...) here: its pipe would be one).
      "ls /proc/$$/fd; echo cwd: $(pwd); echo files: $(ls -A | wc -l);"
      "echo limits: $(ulimit -f) $(ulimit -n) $(ulimit -t) $(ulimit -c);"
      "echo x > written 2>/dev/null && echo write: ok || echo write: refused;"
      "env | grep -v '^PWD=' | sort"}, "");
  ::close(leaked);
  ::unsetenv("CUSTOS_TEST_SECRET");
  ASSERT_TRUE(run.exited) << run.err;
  std::istringstream lines(run.out);
  std::string fds, line, cwd, files, limits, write, env;
  while (std::getline(lines, line) && line.rfind("cwd:", 0) != 0) fds += line + " ";
  cwd = line;
  std::getline(lines, files);
  std::getline(lines, limits);
  std::getline(lines, write);
  env.assign(std::istreambuf_iterator<char>(lines), {});
  EXPECT_EQ(fds, "0 1 2 ");
  EXPECT_EQ(cwd.rfind("cwd: " + temp_root_.path() + "/custos-extract-", 0), 0u) << cwd;
  EXPECT_EQ(files, "files: 0");
  EXPECT_EQ(limits, "limits: 0 32 30 0");
  EXPECT_EQ(write, "write: refused");
  EXPECT_EQ(env, "LANG=C.UTF-8\nOMP_THREAD_LIMIT=1\nPATH=/usr/bin:/bin\n");
  EXPECT_TRUE(TempRootIsEmpty()) << "the private directory is removed";
}

TEST_F(RunnerTest, ChildRunsAtTheConfiguredNicenessSoRequestsComeFirst) {
  ExtractionLimits limits = Limits();
  limits.nice = 10;
  WorkerRun run = RunWorker(limits, {"/bin/sh", "-c", "nice"}, "");
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.out, "10\n");
  // The default leaves the child as this process is.
  WorkerRun plain = RunWorker(Limits(), {"/bin/sh", "-c", "nice"}, "");
  ASSERT_TRUE(plain.exited) << plain.err;
  EXPECT_EQ(plain.out, std::to_string(::getpriority(PRIO_PROCESS, 0)) + "\n");
}

TEST(ExtractionOutputTest, RejectsWrongVersionUnknownStatusAndMissingFields) {
  EXPECT_TRUE(ParseExtractionOutput(kValidAnswer).ok());
  std::string answer = kValidAnswer;
  for (auto [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"\"version\":1", "\"version\":2"},
           {"\"status\":\"text\"", "\"status\":\"maybe\""},
           {"\"pages\":0,", ""},
           {"\"warnings\":[]", "\"warnings\":{}"},
           {"{\"version\"", "[{\"version\""}}) {
    std::string bad = answer;
    bad.replace(bad.find(from), from.size(), to);
    auto r = ParseExtractionOutput(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().reason(), kExtractionBadOutput) << bad;
  }
}

}  // namespace
}  // namespace custos::services
