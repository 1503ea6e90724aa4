// The content pipeline (server/services/content_pipeline.h) on a real
// archive (SQLite with its write-ahead log, encrypted blobs, key files) and
// the real worker custos-extract: documents made at run time (a PDF with a
// Chinese text layer, a scan OCRed, a DOCX, a GBK text) end in state text
// and their content postings match the keyed query tokens of their words;
// a claimed type the bytes contradict is a mismatch; a file without text is
// no_text; workers that crash, hang or call a document unreadable are
// retried after the backoff and failed in the end; the sealed text and the
// data directory never hold a content word in clear, before or after a
// destruction, which removes postings and texts; the catalogue's notes and
// file names are searchable at once.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/byte_stream.h"
#include "common/config.h"
#include "server/services/clock.h"
#include "server/services/content_pipeline.h"
#include "server/services/destruction_service.h"
#include "server/services/log_service.h"
#include "server/services/record_service.h"
#include "storage/archive.h"
#include "storage/data_dir.h"
#include "storage/file_texts.h"
#include "storage/search_index.h"
#include "storage/text_tokens.h"
#include "tests/testutil/testutil.h"

namespace custos::services {
namespace {

using domain::FileId;
using domain::RecordId;
using domain::Role;
using storage::FileText;
using storage::TextState;
using testing::BinDir;
using testing::ReadFileOrDie;
using testing::SourceDir;
using testing::TempDir;
using testing::WriteFile;

const char* const kFont = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";

void Shell(const std::string& command) { ASSERT_EQ(std::system(command.c_str()), 0) << command; }

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The files under `root` whose raw bytes contain `needle`.
std::vector<std::string> FilesContaining(const std::string& root, const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    if (ReadAll(e.path().string()).find(needle) != std::string::npos) out.push_back(e.path().string());
  }
  return out;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

Principal User(const std::string& name, Role role, const std::string& department) {
  return Principal{domain::Username{name}, role, department};
}

struct Doc {
  std::string name;
  std::string media_type;
  std::string bytes;
};

// The documents, made once for the suite.
class Documents {
 public:
  static void Make() {
    dir_ = new TempDir();
    const std::string d = dir_->path();
    Shell("python3 " + SourceDir() + "/tests/extract/make_documents.py " + d);
    // A scanned page with large glyphs, at 300 dpi.
    Shell(std::string("convert -size 1800x500 xc:white -units PixelsPerInch -density 300 -font ") + kFont +
          " -fill black -pointsize 40 -annotate +100+300 '价格调整通知' " + d + "/scan.png");
    Shell("printf '发票核对 GBK 文本 invoice\\n' | iconv -f UTF-8 -t GBK > " + d + "/gbk.txt");
    Shell("head -c 4096 /dev/urandom > " + d + "/random.bin");
  }
  static void Drop() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string Read(const std::string& name) { return ReadFileOrDie(dir_->Sub(name)); }

 private:
  static TempDir* dir_;
};
TempDir* Documents::dir_ = nullptr;

class ContentPipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { Documents::Make(); }
  static void TearDownTestSuite() { Documents::Drop(); }

  void SetUp() override {
    dir_ = std::make_unique<storage::DataDir>(tmp_.Sub("data"));
    ASSERT_TRUE(dir_->CreateFresh().ok());
    Status created = storage::ArchiveStorage::Create(*dir_, config_);
    ASSERT_TRUE(created.ok()) << created.ToString();
    auto opened = storage::ArchiveStorage::Open(*dir_, config_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    archive_ = std::move(opened).value();
    auto key = storage::IndexKey::LoadOrCreate(*dir_);
    ASSERT_TRUE(key.ok()) << key.status().ToString();
    key_ = std::move(key).value();
    ::mkdir(tmp_.Sub("work").c_str(), 0700);
    log_ = std::make_unique<LogService>(archive_->store(), archive_->keyring().VerifierKeys());
    RecordOptions options;
    options.index_key = key_.get();
    records_ = std::make_unique<RecordService>(archive_->store(), archive_->content(), archive_->blobs(), *log_,
                                               clock_, nullptr, options);
    destruction_ = std::make_unique<DestructionService>(archive_->store(), archive_->blobs(), *log_,
                                                        archive_->keyring().log_signers(), clock_);
    Status s = archive_->store().Write([&](storage::Transaction& tx) -> Status {
      for (const char* d : {"sales", "records"}) CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({d, clock_.Now()}));
      for (const Principal* p : {&ann_, &lee_}) {
        domain::User u;
        u.username = p->username;
        u.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA";
        u.role = p->role;
        u.department = p->department;
        u.created_at = clock_.Now() - std::chrono::hours(24 * 400);
        u.password_changed_at = u.created_at;
        CUSTOS_RETURN_IF_ERROR(tx.users().Insert(u));
      }
      return Status::Ok();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  void TearDown() override {
    destruction_.reset();
    records_.reset();
    log_.reset();
    archive_.reset();
  }

  PipelineOptions Options(const std::string& worker = "") {
    PipelineOptions o;
    o.worker_path = worker.empty() ? BinDir() + "/custos-extract" : worker;
    o.limits.temp_root = tmp_.Sub("work");
    o.limits.wall = std::chrono::seconds(60);
    o.max_attempts = 3;
    o.backoff = {std::chrono::seconds(60), std::chrono::seconds(300)};
    return o;
  }

  std::unique_ptr<ContentPipeline> Pipeline(PipelineOptions o) {
    return std::make_unique<ContentPipeline>(archive_->store(), archive_->content(), *key_, clock_, std::move(o));
  }

  PipelineStats RunUntilIdle(ContentPipeline& p) {
    auto r = p.RunUntilIdle();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : PipelineStats{};
  }

  // A shell script as worker.
  std::string Script(const std::string& body) {
    std::string path = tmp_.Sub("worker" + std::to_string(++scripts_) + ".sh");
    WriteFile(path, "#!/bin/sh\n" + body + "\n");
    ::chmod(path.c_str(), 0700);
    return path;
  }

  RecordId CheckIn(const std::string& title, const std::vector<Doc>& docs) {
    RecordInput in;
    in.type = "general";
    in.title = title;
    in.department = "sales";
    in.classification = "internal";
    auto c = records_->BeginCheckIn(arch_, in);
    if (!c.ok()) {
      ADD_FAILURE() << c.status().ToString();
      return {};
    }
    for (const Doc& d : docs) {
      crypto::Bytes bytes(d.bytes.begin(), d.bytes.end());
      MemorySource source(bytes);
      Status added = (*c)->AddFile({d.name, d.media_type}, source);
      EXPECT_TRUE(added.ok()) << added.ToString();
    }
    auto r = (*c)->Commit();
    if (!r.ok()) {
      ADD_FAILURE() << r.status().ToString();
      return {};
    }
    return r->detail.record.id;
  }

  std::vector<domain::StoredFile> FilesOf(const RecordId& id, int version = 1) {
    std::vector<domain::StoredFile> out;
    Status s = archive_->store().Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(auto v, tx.versions().Find(id, version));
      if (v) out = v->files;
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  std::vector<FileText> Texts(const RecordId& id) {
    std::vector<FileText> out;
    Status s = archive_->store().Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(out, tx.texts().OfRecord(id));
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  std::optional<FileText> Text(const FileId& file) {
    std::optional<FileText> out;
    Status s = archive_->store().Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(out, tx.texts().Find(file));
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  storage::TextCounts Counts() {
    storage::TextCounts c;
    Status s = archive_->store().Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(c, tx.texts().Counts());
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return c;
  }

  // The postings that hold every query token of `words` under the index key.
  std::vector<storage::PostingMatch> Match(const std::string& words) {
    std::vector<storage::PostingMatch> out;
    Status s = archive_->store().Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(out, tx.search().Match(key_->KeyedTokens(storage::QueryTokens(words)), 100));
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  // Whether `words` match field `field` of (record, file).
  bool Matches(const std::string& words, const std::string& field, const RecordId& id, const FileId& file) {
    for (const auto& m : Match(words)) {
      if (m.record_id == id && m.field == field && m.file_id == file) return true;
    }
    return false;
  }

  void Destroy(const RecordId& id) {
    auto batch = destruction_->Propose(arch_, {id.value}, "retention expired");
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    ASSERT_TRUE(destruction_->Approve(ann_, batch->id).ok());
    ASSERT_TRUE(destruction_->Approve(lee_, batch->id).ok());
    auto done = destruction_->Execute(arch_, batch->id);
    ASSERT_TRUE(done.ok()) << done.status().ToString();
  }

  TempDir tmp_;
  Config config_;
  std::unique_ptr<storage::DataDir> dir_;
  std::unique_ptr<storage::ArchiveStorage> archive_;
  std::unique_ptr<storage::IndexKey> key_;
  ManualClock clock_{domain::ParseTime("2026-03-02T09:00:00Z").value()};
  std::unique_ptr<LogService> log_;
  std::unique_ptr<RecordService> records_;
  std::unique_ptr<DestructionService> destruction_;
  int scripts_ = 0;
  const Principal arch_ = User("arch", Role::kArchivist, "records");
  const Principal ann_ = User("ann", Role::kApprover, "sales");
  const Principal lee_ = User("lee", Role::kLegal, "legal");
};

TEST_F(ContentPipelineTest, PdfScanDocxAndGbkTextEndInTextAndTheirWordsMatch) {
  const std::vector<Doc> docs = {
      {"合同正本 contract.pdf", "application/pdf", Documents::Read("cjk_text.pdf")},
      {"扫描件 scan.png", "image/png", Documents::Read("scan.png")},
      {"附件 annex.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
       Documents::Read("contract.docx")},
      {"说明 notes.txt", "text/plain", Documents::Read("gbk.txt")},
  };
  RecordId id = CheckIn("供货合同 Supply contract", docs);
  ASSERT_FALSE(id.value.empty());
  EXPECT_EQ(Counts().queued_records, 1u);
  auto pipeline = Pipeline(Options());
  PipelineStats run = RunUntilIdle(*pipeline);
  EXPECT_EQ(run.records, 1u);
  EXPECT_EQ(run.files_text, 4u);
  EXPECT_EQ(run.type_mismatches, 0u);
  EXPECT_EQ(Counts().queued_records, 0u);

  std::vector<domain::StoredFile> files = FilesOf(id);
  ASSERT_EQ(files.size(), 4u);
  std::sort(files.begin(), files.end(), [&](const auto& a, const auto& b) {
    auto at = [&](const std::string& name) {
      return std::find_if(docs.begin(), docs.end(), [&](const Doc& d) { return d.name == name; }) - docs.begin();
    };
    return at(a.name) < at(b.name);
  });
  // A word of each document, and the method that gives it.
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"签订合同", "pdf_text"}, {"价格调整", "ocr"}, {"Penalty clause", "docx"}, {"发票核对", ""}};
  for (size_t i = 0; i < files.size(); ++i) {
    ASSERT_EQ(files[i].name, docs[i].name);
    std::optional<FileText> t = Text(files[i].id);
    ASSERT_TRUE(t) << files[i].name;
    EXPECT_EQ(t->state, TextState::kText) << files[i].name << " " << t->reason;
    EXPECT_EQ(t->claimed_type, docs[i].media_type);
    EXPECT_FALSE(storage::TypeMismatch(*t)) << t->identified_type;
    if (!expected[i].second.empty()) EXPECT_EQ(t->method, expected[i].second) << files[i].name;
    EXPECT_GT(t->text_bytes, 0u);
    EXPECT_TRUE(Matches(expected[i].first, kFieldContent, id, files[i].id)) << files[i].name;
    // The text is sealed: not in clear in its own row.
    std::string sealed(t->sealed_text.begin(), t->sealed_text.end());
    EXPECT_EQ(sealed.find(expected[i].first), std::string::npos);
    auto opened = archive_->content().OpenDerived(files[i], storage::kTextPurpose, t->sealed_text);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(opened->size(), t->text_bytes);
  }
  EXPECT_EQ(Text(files[0].id)->identified_type, "application/pdf");
  EXPECT_EQ(Text(files[1].id)->identified_type, "image/png");
  // A word of one file does not match another's content.
  EXPECT_FALSE(Matches("发票核对", kFieldContent, id, files[0].id));
  // Nothing of the content in clear anywhere in the data directory (the
  // database, its write-ahead log, blobs, keys).
  for (const std::string word : {"签订合同", "发票核对", "Penalty"}) {
    EXPECT_EQ(Join(FilesContaining(dir_->root(), word)), "") << word;
  }
}

TEST_F(ContentPipelineTest, APdfClaimedAsPngIsATypeMismatch) {
  RecordId id = CheckIn("照片 Photo", {{"photo.png", "image/png", Documents::Read("cjk_text.pdf")}});
  auto pipeline = Pipeline(Options());
  PipelineStats run = RunUntilIdle(*pipeline);
  EXPECT_EQ(run.type_mismatches, 1u);
  std::vector<FileText> t = Texts(id);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].claimed_type, "image/png");
  EXPECT_EQ(t[0].identified_type, "application/pdf");
  EXPECT_TRUE(storage::TypeMismatch(t[0]));
  EXPECT_EQ(t[0].state, TextState::kText);
}

TEST_F(ContentPipelineTest, RandomBytesAreNoTextNotAnError) {
  RecordId id = CheckIn("随机 Random", {{"noise.bin", "application/octet-stream", Documents::Read("random.bin")}});
  auto pipeline = Pipeline(Options());
  PipelineStats run = RunUntilIdle(*pipeline);
  EXPECT_EQ(run.files_no_text, 1u);
  std::vector<FileText> t = Texts(id);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].state, TextState::kNoText);
  EXPECT_EQ(t[0].reason, "");
  EXPECT_EQ(t[0].attempts, 0);
  EXPECT_TRUE(t[0].sealed_text.empty());
}

TEST_F(ContentPipelineTest, ACrashingWorkerIsRetriedAfterTheBackoffThenFailed) {
  RecordId id = CheckIn("崩溃 Crash", {{"a.txt", "text/plain", "价格调整 text"}});
  auto pipeline = Pipeline(Options(Script("kill -SEGV $$")));
  const domain::Time t0 = clock_.Now();
  PipelineStats run = RunUntilIdle(*pipeline);
  EXPECT_EQ(run.files_retry, 1u);
  EXPECT_EQ(Counts().queued_records, 0u);  // the record left the queue; the file waits as a retry
  std::vector<FileText> t = Texts(id);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].state, TextState::kRetry);
  EXPECT_EQ(t[0].reason, kExtractionCrashed);
  EXPECT_EQ(t[0].attempts, 1);
  EXPECT_EQ(t[0].next_attempt, t0 + std::chrono::seconds(60));

  // Not due yet: nothing runs.
  clock_.Advance(std::chrono::seconds(59));
  run = RunUntilIdle(*pipeline);
  EXPECT_EQ(run.files_retry + run.files_failed, 0u);
  EXPECT_EQ(Texts(id)[0].attempts, 1);

  // Due: the second attempt, then the second backoff (300 s).
  clock_.Advance(std::chrono::seconds(1));
  run = RunUntilIdle(*pipeline);
  EXPECT_EQ(run.files_retry, 1u);
  t = Texts(id);
  EXPECT_EQ(t[0].attempts, 2);
  EXPECT_EQ(t[0].next_attempt, clock_.Now() + std::chrono::seconds(300));

  // The third attempt is the last (max_attempts 3).
  clock_.Advance(std::chrono::seconds(300));
  run = RunUntilIdle(*pipeline);
  EXPECT_EQ(run.files_failed, 1u);
  t = Texts(id);
  EXPECT_EQ(t[0].state, TextState::kFailed);
  EXPECT_EQ(t[0].attempts, 3);
  EXPECT_EQ(t[0].reason, kExtractionCrashed);
  clock_.Advance(std::chrono::hours(24));
  run = RunUntilIdle(*pipeline);
  EXPECT_EQ(run.files_retry + run.files_failed, 0u);
  EXPECT_EQ(Counts().failed, 1u);
  EXPECT_TRUE(Match("价格调整").empty());
}

TEST_F(ContentPipelineTest, AHangingWorkerIsKilledAndRetriedAndTheRealWorkerThenSucceeds) {
  RecordId id = CheckIn("挂起 Hang", {{"a.txt", "text/plain", "价格调整 text"}});
  PipelineOptions hanging = Options(Script("sleep 30"));
  hanging.limits.wall = std::chrono::milliseconds(300);
  auto pipeline = Pipeline(hanging);
  RunUntilIdle(*pipeline);
  std::vector<FileText> t = Texts(id);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].state, TextState::kRetry);
  EXPECT_EQ(t[0].reason, kExtractionTimeout);

  // The retry, when due, with a worker that works.
  clock_.Advance(std::chrono::seconds(60));
  auto working = Pipeline(Options());
  PipelineStats run = RunUntilIdle(*working);
  EXPECT_EQ(run.files_text, 1u);
  t = Texts(id);
  EXPECT_EQ(t[0].state, TextState::kText);
  EXPECT_EQ(t[0].reason, "");
  EXPECT_EQ(t[0].attempts, 0);
  EXPECT_TRUE(Matches("价格调整", kFieldContent, id, t[0].file_id));
}

TEST_F(ContentPipelineTest, AnUnreadableDocumentFailsAtOnce) {
  RecordId id = CheckIn("损坏 Damaged", {{"a.pdf", "application/pdf", "%PDF-1.7 broken"}});
  auto pipeline = Pipeline(Options(Script("echo 'custos-extract: damaged' >&2; exit 3")));
  PipelineStats run = RunUntilIdle(*pipeline);
  EXPECT_EQ(run.files_failed, 1u);
  std::vector<FileText> t = Texts(id);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].state, TextState::kFailed);
  EXPECT_EQ(t[0].reason, kExtractionUnreadable);
  EXPECT_EQ(t[0].attempts, 1);
}

TEST_F(ContentPipelineTest, ADocumentOverTheCapFailsAsTooLargeWithoutARun) {
  RecordId id = CheckIn("过大 Too large", {{"big.txt", "text/plain", std::string(4096, 'a')}});
  // A worker that would crash: it is never started.
  PipelineOptions o = Options(Script("kill -SEGV $$"));
  o.limits.max_document_bytes = 1024;
  auto pipeline = Pipeline(o);
  RunUntilIdle(*pipeline);
  std::vector<FileText> t = Texts(id);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].state, TextState::kFailed);
  EXPECT_EQ(t[0].reason, "document_too_large");
}

TEST_F(ContentPipelineTest, DestructionRemovesPostingsAndTextsAndLeavesNoWordInClear) {
  RecordId id = CheckIn("待销毁 To destroy", {{"minutes.txt", "text/plain", "董事会决议 minutes zyxwvq"}});
  RecordId kept = CheckIn("保留 Kept", {{"kept.txt", "text/plain", "年度预算 budget"}});
  auto pipeline = Pipeline(Options());
  RunUntilIdle(*pipeline);
  ASSERT_EQ(Texts(id).size(), 1u);
  ASSERT_FALSE(Match("董事会决议").empty());
  EXPECT_EQ(Join(FilesContaining(dir_->root(), "董事会决议")), "");
  EXPECT_EQ(Join(FilesContaining(dir_->root(), "zyxwvq")), "");

  clock_.Set(domain::ParseTime("2036-03-03T09:00:00Z").value());
  Destroy(id);
  EXPECT_TRUE(Texts(id).empty());
  EXPECT_TRUE(Match("董事会决议").empty());
  EXPECT_TRUE(Match("zyxwvq").empty());
  for (const auto& m : Match("To destroy")) EXPECT_NE(m.record_id, id) << m.field;
  // The other record keeps its postings and text.
  EXPECT_FALSE(Match("年度预算").empty());
  EXPECT_EQ(Texts(kept).size(), 1u);
  EXPECT_EQ(Join(FilesContaining(dir_->root(), "董事会决议")), "");
  EXPECT_EQ(Join(FilesContaining(dir_->root(), "zyxwvq")), "");
}

TEST_F(ContentPipelineTest, ARecordDestroyedWhileQueuedLeavesTheQueueWithoutText) {
  RecordId id = CheckIn("排队 Queued", {{"a.txt", "text/plain", "价格调整"}});
  clock_.Set(domain::ParseTime("2036-03-03T09:00:00Z").value());
  Destroy(id);
  auto pipeline = Pipeline(Options());
  PipelineStats run = RunUntilIdle(*pipeline);
  EXPECT_EQ(run.files_text, 0u);
  EXPECT_EQ(Counts().queued_records, 0u);
  EXPECT_TRUE(Texts(id).empty());
}

TEST_F(ContentPipelineTest, VersionNotesFileNamesAndTitlesAreSearchableAtOnce) {
  RecordId id = CheckIn("采购合同 Purchase", {{"报价单_Quote.txt", "text/plain", "x"}});
  std::vector<domain::StoredFile> v1 = FilesOf(id);
  ASSERT_EQ(v1.size(), 1u);
  // Before any pipeline run.
  EXPECT_TRUE(Matches("报价单", kFieldFileName, id, v1[0].id));
  EXPECT_TRUE(Matches("采购合同", kFieldTitle, id, FileId{}));

  auto c = records_->BeginVersion(arch_, id, "amendment", "复核意见 reviewed");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  crypto::Bytes bytes{'y'};
  MemorySource source(bytes);
  ASSERT_TRUE((*c)->AddFile({"验收单 acceptance.txt", "text/plain"}, source).ok());
  ASSERT_TRUE((*c)->Commit().ok());
  std::vector<domain::StoredFile> v2 = FilesOf(id, 2);
  ASSERT_EQ(v2.size(), 1u);
  EXPECT_TRUE(Matches("复核意见", kFieldNote, id, FileId{"v2"}));
  EXPECT_TRUE(Matches("验收单", kFieldFileName, id, v2[0].id));
  EXPECT_EQ(Counts().queued_records, 1u);

  RecordPatch patch;
  patch.title = "租赁合同 Lease";
  ASSERT_TRUE(records_->Patch(arch_, id, patch).ok());
  EXPECT_TRUE(Matches("租赁合同", kFieldTitle, id, FileId{}));
  EXPECT_FALSE(Matches("采购合同", kFieldTitle, id, FileId{}));
  // Notes and names of the versions stay.
  EXPECT_TRUE(Matches("复核意见", kFieldNote, id, FileId{"v2"}));

  // The pipeline does both versions' files.
  auto pipeline = Pipeline(Options());
  PipelineStats run = RunUntilIdle(*pipeline);
  EXPECT_EQ(run.records, 1u);
  EXPECT_EQ(Texts(id).size(), 2u);
}

TEST_F(ContentPipelineTest, ARebuildDropsPostingsAndTextsAndRedoesThem) {
  RecordId id = CheckIn("重建 Rebuild", {{"a.txt", "text/plain", "价格调整 text"}});
  auto pipeline = Pipeline(Options());
  RunUntilIdle(*pipeline);
  ASSERT_EQ(Texts(id).size(), 1u);
  auto queued = EnqueueAllForIndexing(archive_->store(), clock_.Now(), /*drop_postings=*/true);
  ASSERT_TRUE(queued.ok()) << queued.status().ToString();
  EXPECT_EQ(*queued, 1u);
  EXPECT_TRUE(Texts(id).empty());
  EXPECT_TRUE(Match("价格调整").empty());
  EXPECT_TRUE(Match("重建").empty());
  PipelineStats run = RunUntilIdle(*pipeline);
  EXPECT_EQ(run.files_text, 1u);
  EXPECT_FALSE(Match("价格调整").empty());
  EXPECT_TRUE(Matches("重建", kFieldTitle, id, FileId{}));  // the catalogue too
}

TEST_F(ContentPipelineTest, TheBackgroundThreadWorksOffAWakeAndStops) {
  RecordId id = CheckIn("后台 Background", {{"a.txt", "text/plain", "价格调整 text"}});
  PipelineOptions o = Options();
  o.idle_poll = std::chrono::milliseconds(50);
  auto pipeline = Pipeline(o);
  pipeline->Start();
  pipeline->Wake();
  for (int i = 0; i < 600 && pipeline->totals().files_text == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  pipeline->Stop();
  EXPECT_EQ(pipeline->totals().files_text, 1u);
  ASSERT_EQ(Texts(id).size(), 1u);
  EXPECT_EQ(Texts(id)[0].state, TextState::kText);
}

// The fault: extraction's write transactions competing with a stream of
// check-ins. While commits keep waking it, the background thread defers;
// once they stop, or once it has deferred for max_defer, it works.
TEST_F(ContentPipelineTest, TheBackgroundThreadDefersWhileCommitsKeepComingButNotForever) {
  RecordId id = CheckIn("让路 Gives way", {{"a.txt", "text/plain", "价格调整 text"}});
  PipelineOptions o = Options();
  o.idle_poll = std::chrono::milliseconds(50);
  o.quiet = std::chrono::seconds(3);
  o.max_defer = std::chrono::hours(1);
  auto pipeline = Pipeline(o);
  pipeline->Wake();  // a commit just before the thread starts
  pipeline->Start();
  // A storm of commits (wakes every 20 ms for one second): nothing runs.
  for (int i = 0; i < 50; ++i) {
    pipeline->Wake();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(pipeline->totals().records, 0u) << "the pipeline ran during the storm";
  ASSERT_EQ(Texts(id).size(), 0u);
  // Quiet: it takes the record.
  for (int i = 0; i < 600 && pipeline->totals().files_text == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  pipeline->Stop();
  EXPECT_EQ(pipeline->totals().files_text, 1u);

  // Commits that never stop: after max_defer the pipeline works anyway.
  RecordId second = CheckIn("不停的提交 Endless commits", {{"b.txt", "text/plain", "违约金 text"}});
  o.max_defer = std::chrono::milliseconds(300);
  auto steady = Pipeline(o);
  steady->Start();
  for (int i = 0; i < 1500 && steady->totals().files_text == 0; ++i) {
    steady->Wake();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  steady->Stop();
  EXPECT_EQ(steady->totals().files_text, 1u) << "a steady stream of commits starved the pipeline";
  ASSERT_EQ(Texts(second).size(), 1u);
  EXPECT_EQ(Texts(second)[0].state, TextState::kText);
}

}  // namespace
}  // namespace custos::services
