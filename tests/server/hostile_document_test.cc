// Hostile documents through the content pipeline (server/services/
// content_pipeline.h) with the real worker custos-extract under tight
// limits: a PDF whose content stream is a decompression bomb (made at run
// time by make_documents.py --flate-bomb) ends each run in retry with
// reason extraction_limit (address space, or CPU), does not keep a normal document queued after it
// from getting its text in the same pass, and is failed for good after
// max_attempts due retries; a truncated PDF (a %PDF- header over random
// bytes) ends in a final state at its first run and is never run again.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/byte_stream.h"
#include "common/config.h"
#include "server/services/clock.h"
#include "server/services/content_pipeline.h"
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

// `n` bytes of a fixed xorshift sequence (reproducible garbage).
std::string GarbageBytes(size_t n, uint32_t seed) {
  std::string out(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    out[i] = static_cast<char>(x & 0xFF);
  }
  return out;
}

struct Doc {
  std::string name;
  std::string media_type;
  std::string bytes;
};

class HostileDocumentTest : public ::testing::Test {
 protected:
  // The bomb takes seconds to make: once for the suite.
  static void SetUpTestSuite() {
    docs_ = new TempDir();
    const std::string command = "python3 " + SourceDir() +
                                "/tests/extract/make_documents.py --flate-bomb " +
                                docs_->Sub("flate_bomb.pdf");
    made_ = std::system(command.c_str()) == 0;
  }
  static void TearDownTestSuite() {
    delete docs_;
    docs_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(made_) << "make_documents.py --flate-bomb failed";
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
    records_ = std::make_unique<RecordService>(archive_->store(), archive_->content(),
                                               archive_->blobs(), *log_, clock_, nullptr, options);
    Status s = archive_->store().Write([&](storage::Transaction& tx) -> Status {
      for (const char* d : {"sales", "records"})
        CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({d, clock_.Now()}));
      return Status::Ok();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  void TearDown() override {
    records_.reset();
    log_.reset();
    archive_.reset();
  }

  // The real worker under tight limits: 3 s of CPU, 512 MiB of address
  // space; three attempts, 60 s then 300 s apart. The wall clock is far
  // beyond the CPU limit (the bomb computes without pause), so a bomb
  // ends on a limit, not on the wall-clock deadline.
  PipelineOptions TightOptions() {
    PipelineOptions o;
    o.worker_path = BinDir() + "/custos-extract";
    o.limits.temp_root = tmp_.Sub("work");
    o.limits.cpu = std::chrono::seconds(3);
    o.limits.address_space_bytes = uint64_t{512} << 20;
    o.limits.wall = std::chrono::seconds(60);
    o.max_attempts = 3;
    o.backoff = {std::chrono::seconds(60), std::chrono::seconds(300)};
    return o;
  }

  std::unique_ptr<ContentPipeline> Pipeline(PipelineOptions o) {
    return std::make_unique<ContentPipeline>(archive_->store(), archive_->content(), *key_, clock_,
                                             std::move(o));
  }

  PipelineStats RunUntilIdle(ContentPipeline& p) {
    auto r = p.RunUntilIdle();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : PipelineStats{};
  }

  RecordId CheckIn(const std::string& title, const Doc& d) {
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
    crypto::Bytes bytes(d.bytes.begin(), d.bytes.end());
    MemorySource source(bytes);
    Status added = (*c)->AddFile({d.name, d.media_type}, source);
    EXPECT_TRUE(added.ok()) << added.ToString();
    auto r = (*c)->Commit();
    if (!r.ok()) {
      ADD_FAILURE() << r.status().ToString();
      return {};
    }
    return r->detail.record.id;
  }

  // The one text row of record `id` (ADD_FAILURE and nothing otherwise).
  std::optional<FileText> OnlyText(const RecordId& id) {
    std::vector<FileText> out;
    Status s = archive_->store().Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(out, tx.texts().OfRecord(id));
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (out.size() != 1) {
      ADD_FAILURE() << "record " << id.value << " has " << out.size() << " text rows";
      return std::nullopt;
    }
    return out[0];
  }

  bool ContentMatches(const std::string& words, const RecordId& id) {
    std::vector<storage::PostingMatch> found;
    Status s = archive_->store().Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(
          found, tx.search().Match(key_->KeyedTokens(storage::QueryTokens(words)), 100));
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    for (const auto& m : found) {
      if (m.record_id == id && m.field == kFieldContent) return true;
    }
    return false;
  }

  static TempDir* docs_;
  static bool made_;
  TempDir tmp_;
  Config config_;
  std::unique_ptr<storage::DataDir> dir_;
  std::unique_ptr<storage::ArchiveStorage> archive_;
  std::unique_ptr<storage::IndexKey> key_;
  ManualClock clock_{domain::ParseTime("2026-03-02T09:00:00Z").value()};
  std::unique_ptr<LogService> log_;
  std::unique_ptr<RecordService> records_;
  const Principal arch_{domain::Username{"arch"}, Role::kArchivist, "records"};
};

TempDir* HostileDocumentTest::docs_ = nullptr;
bool HostileDocumentTest::made_ = false;

TEST_F(HostileDocumentTest, FlateBombPdfHitsALimitEachRunDoesNotBlockTheQueueAndEndsFailed) {
  const Doc bomb{"压缩炸弹 bomb.pdf", "application/pdf",
                 ReadFileOrDie(docs_->Sub("flate_bomb.pdf"))};
  RecordId bomb_id = CheckIn("恶意文档 Hostile PDF", bomb);
  ASSERT_FALSE(bomb_id.value.empty());
  // Queued one second later, so after the bomb (the queue is in queued order).
  clock_.Advance(std::chrono::seconds(1));
  RecordId normal_id = CheckIn("正常文档 Normal notes", {"说明 notes.txt", "text/plain",
                                                         "价格调整通知 甲方 price adjustment\n"});
  ASSERT_FALSE(normal_id.value.empty());

  auto pipeline = Pipeline(TightOptions());
  const domain::Time t0 = clock_.Now();
  PipelineStats run = RunUntilIdle(*pipeline);
  EXPECT_EQ(run.records, 2u);
  EXPECT_EQ(run.files_retry, 1u);
  EXPECT_EQ(run.files_text, 1u) << "the document after the bomb got no text in the same pass";
  std::optional<FileText> t = OnlyText(bomb_id);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->state, TextState::kRetry);
  // Address space (RLIMIT_AS), or under AddressSanitizer the worker's own
  // resident-memory cap or RLIMIT_CPU: a limit either way, never a crash
  // and never the wall clock.
  EXPECT_EQ(t->reason, kExtractionLimit);
  EXPECT_EQ(t->attempts, 1);
  EXPECT_EQ(t->next_attempt, t0 + std::chrono::seconds(60));
  EXPECT_TRUE(t->sealed_text.empty());
  std::optional<FileText> normal = OnlyText(normal_id);
  ASSERT_TRUE(normal);
  EXPECT_EQ(normal->state, TextState::kText) << normal->reason;
  EXPECT_TRUE(ContentMatches("价格调整", normal_id));
  EXPECT_FALSE(ContentMatches("价格调整", bomb_id));

  // Not due: nothing runs.
  run = RunUntilIdle(*pipeline);
  EXPECT_EQ(run.files_retry + run.files_failed + run.files_text, 0u);

  // Second attempt when due, then the last one (max_attempts 3).
  clock_.Advance(std::chrono::seconds(60));
  run = RunUntilIdle(*pipeline);
  EXPECT_EQ(run.files_retry, 1u);
  t = OnlyText(bomb_id);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->state, TextState::kRetry);
  EXPECT_EQ(t->attempts, 2);
  EXPECT_EQ(t->reason, kExtractionLimit);

  clock_.Advance(std::chrono::seconds(300));
  run = RunUntilIdle(*pipeline);
  EXPECT_EQ(run.files_failed, 1u);
  t = OnlyText(bomb_id);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->state, TextState::kFailed);
  EXPECT_EQ(t->attempts, 3);
  EXPECT_EQ(t->reason, kExtractionLimit);

  // Failed for good: a day later nothing runs, and the normal text stays.
  clock_.Advance(std::chrono::hours(24));
  run = RunUntilIdle(*pipeline);
  EXPECT_EQ(run.files_retry + run.files_failed + run.files_text, 0u);
  EXPECT_EQ(OnlyText(normal_id)->state, TextState::kText);
}

TEST_F(HostileDocumentTest, TruncatedPdfOfRandomBytesEndsFinalAtOnceAndIsNotRetried) {
  const Doc garbage{"截断 truncated.pdf", "application/pdf",
                    "%PDF-1.7\n" + GarbageBytes(64 << 10, 2026)};
  RecordId id = CheckIn("损坏的PDF Truncated PDF", garbage);
  ASSERT_FALSE(id.value.empty());
  auto pipeline = Pipeline(TightOptions());
  PipelineStats run = RunUntilIdle(*pipeline);
  EXPECT_EQ(run.files_retry, 0u) << "a damaged PDF is not a passing fault";
  std::optional<FileText> t = OnlyText(id);
  ASSERT_TRUE(t);
  // The worker calls it unreadable: failed after one run, no text.
  EXPECT_EQ(t->state, TextState::kFailed);
  EXPECT_EQ(t->reason, kExtractionUnreadable);
  EXPECT_EQ(t->attempts, 1);
  EXPECT_EQ(run.files_failed, 1u);
  EXPECT_TRUE(t->sealed_text.empty());

  // Never run again, however long one waits.
  for (int day = 0; day < 3; ++day) {
    clock_.Advance(std::chrono::hours(24));
    run = RunUntilIdle(*pipeline);
    EXPECT_EQ(run.files_retry + run.files_failed + run.files_text + run.files_no_text, 0u);
  }
  t = OnlyText(id);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->state, TextState::kFailed);
  EXPECT_EQ(t->attempts, 1);
}

}  // namespace
}  // namespace custos::services
