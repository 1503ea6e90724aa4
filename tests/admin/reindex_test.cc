// custosctl reindex (admin/reindex_command.h) on real data directories with
// the real worker: without flags it indexes every file never looked at and,
// killed in the middle, continues where it stopped; --new-index-key
// replaces DATA/keys/index.key (0600) and the rebuilt postings match under
// the new key only; it refuses while custosd runs on the directory.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "admin/open_archive.h"
#include "storage/data_dir.h"
#include "storage/file_texts.h"
#include "storage/search_index.h"
#include "storage/text_tokens.h"
#include "tests/admin/cli_probes.h"
#include "tests/admin/in_process.h"
#include "tests/admin/live_archive.h"
#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"

namespace custos::testing {
namespace {

namespace fs = std::filesystem;
using live::SeedFile;

class Reindex : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = tmp_.Sub("data");
    ASSERT_TRUE(live::InitWithArchivist(tmp_, data_));
  }

  // Checks in general records in this process, without the index key: no
  // file_texts row, not queued (as records of an archive stored before the
  // index, or whose queue entry was lost).
  void Seed(const std::vector<std::pair<std::string, std::string>>& title_and_text) {
    services::SystemClock clock;
    auto opened = live::OpenedArchive::Open(data_, clock);
    ASSERT_TRUE(opened);
    for (const auto& [title, text] : title_and_text) {
      auto done = live::Commit(opened->records().BeginCheckIn(live::Archivist(), live::GeneralRecord(title)),
                               {SeedFile{title + ".txt", text, "text/plain"}});
      ASSERT_TRUE(done);
    }
  }

  struct Indexed {
    storage::TextCounts counts;
    size_t text_files = 0;
    std::vector<std::string> matching;  // records whose content matches the word
  };
  // The file texts and the records whose content postings hold `word`
  // under the directory's current index key.
  Indexed Look(const std::string& word) {
    Indexed out;
    auto archive = admin::OpenArchive(data_);
    EXPECT_TRUE(archive.ok()) << archive.status().ToString();
    if (!archive.ok()) return out;
    auto key = storage::IndexKey::LoadOrCreate(storage::DataDir(data_));
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    if (!key.ok()) return out;
    Status s = (*archive)->store().Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(out.counts, tx.texts().Counts());
      CUSTOS_ASSIGN_OR_RETURN(auto matches, tx.search().Match((*key)->KeyedTokens(storage::QueryTokens(word)), 50));
      for (const auto& m : matches) {
        if (m.field == "content") out.matching.push_back(m.record_id.value);
      }
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  std::string Script(const std::string& body) {
    std::string path = tmp_.Sub("worker" + std::to_string(++scripts_) + ".sh");
    WriteFile(path, "#!/bin/sh\n" + body + "\n");
    ::chmod(path.c_str(), 0700);
    return path;
  }

  TempDir tmp_;
  std::string data_;
  int scripts_ = 0;
};

TEST_F(Reindex, WithoutFlagsIndexesFilesNeverLookedAtAndKilledMidwayContinues) {
  Seed({{"第一份 First", "价格调整 alpha"}, {"第二份 Second", "违约金条款 bravo"}});
  // The worker of the first run: the first document goes to the real
  // worker; at the second the run is killed (the marker files say where
  // it is; a worker may create empty files only).
  const std::string first = tmp_.Sub("first-run"), second = tmp_.Sub("second-run");
  const std::string worker = Script("if [ -e " + first + " ]; then touch " + second + "; exec sleep 5; fi\n"
                                    "touch " + first + "\nexec " + BinDir() + "/custos-extract \"$@\"");
  SetConfigLines(data_ + "/custos.conf", "extraction.worker = " + worker + "\n");
  {
    ChildProcess run;
    ASSERT_TRUE(run.Start({Ctl(), "reindex", "--data", data_}, tmp_.Sub("run1.out"), tmp_.Sub("run1.err")));
    for (int i = 0; i < 1200 && !fs::exists(second); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(fs::exists(second)) << ReadFileOrDie(tmp_.Sub("run1.err"));
    run.Signal(SIGKILL);
    EXPECT_EQ(run.Wait(10000), 128 + SIGKILL);
  }
  Indexed half = Look("价格调整");
  EXPECT_EQ(half.counts.text, 1u);
  EXPECT_EQ(half.counts.queued_records, 1u);  // the record in hand stayed queued
  // One of the two records is indexed.
  EXPECT_EQ(half.matching.size() + Look("违约金条款").matching.size(), 1u);

  // Run again with the worker next to custosctl: only the rest is done.
  SetConfigLines(data_ + "/custos.conf", "extraction.worker =\n");
  RunResult again = RunProgram({Ctl(), "reindex", "--data", data_});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("records indexed: 1\n"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("files this run: text 1, no_text 0, retry 0, failed 0, type mismatches 0"),
            std::string::npos)
      << again.out;
  Indexed all = Look("违约金条款");
  EXPECT_EQ(all.counts.text, 2u);
  EXPECT_EQ(all.counts.queued_records, 0u);
  EXPECT_EQ(all.matching.size(), 1u);
  EXPECT_EQ(Look("价格调整").matching.size(), 1u);

  // Nothing left: a third run does nothing.
  RunResult idle = RunProgram({Ctl(), "reindex", "--data", data_});
  ASSERT_EQ(idle.exit_code, 0) << idle.err;
  EXPECT_NE(idle.out.find("records queued: 0\nrecords indexed: 0\n"), std::string::npos) << idle.out;
}

TEST_F(Reindex, NewIndexKeyReplacesTheKeyFileAndRebuildsUnderIt) {
  Seed({{"密钥 Key", "质量证书 quality"}});
  ASSERT_EQ(RunProgram({Ctl(), "reindex", "--data", data_}).exit_code, 0);
  const std::string key_path = storage::IndexKeyPath(storage::DataDir(data_));
  const std::string old_key = ReadFileOrDie(key_path);
  ASSERT_EQ(Look("质量证书").matching.size(), 1u);

  RunResult r = RunProgram({Ctl(), "reindex", "--data", data_, "--new-index-key"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("new index key written"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("records queued: 1\n"), std::string::npos) << r.out;
  const std::string new_key = ReadFileOrDie(key_path);
  EXPECT_EQ(new_key.size(), storage::kIndexKeySize);
  EXPECT_NE(new_key, old_key);
  struct stat st {};
  ASSERT_EQ(::stat(key_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(fs::exists(key_path + ".new"));

  // The postings match under the new key, and not under the old one.
  Indexed now = Look("质量证书");
  EXPECT_EQ(now.matching.size(), 1u);
  EXPECT_EQ(now.counts.text, 1u);
  auto archive = admin::OpenArchive(data_);
  ASSERT_TRUE(archive.ok());
  storage::IndexKey old(crypto::Bytes(old_key.begin(), old_key.end()));
  Status s = (*archive)->store().Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto matches, tx.search().Match(old.KeyedTokens(storage::QueryTokens("质量证书")), 50));
    EXPECT_TRUE(matches.empty());
    CUSTOS_ASSIGN_OR_RETURN(auto titles, tx.search().Match(old.KeyedTokens(storage::QueryTokens("密钥")), 50));
    EXPECT_TRUE(titles.empty());
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST_F(Reindex, RefusedWhileCustosdRuns) {
  ServerProcess server;
  ASSERT_TRUE(server.Start(data_));
  const std::string key_before = ReadFileOrDie(storage::IndexKeyPath(storage::DataDir(data_)));
  RunResult r = RunProgram({Ctl(), "reindex", "--data", data_, "--new-index-key"});
  EXPECT_EQ(server.Stop(), 0) << server.Log();
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_EQ(r.err.rfind("custosctl: reindex: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("in use"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFileOrDie(storage::IndexKeyPath(storage::DataDir(data_))), key_before);
}

TEST_F(Reindex, ImportedRecordsAreQueuedWithTheirCatalogueIndexed) {
  const std::string batch = tmp_.Sub("batch");
  fs::create_directories(batch + "/docs");
  WriteFile(batch + "/manifest.csv",
            "recordKey,path,type,title,department,classification\n"
            "G1,docs/note.txt,general,迁移记录 Migrated note,sales,internal\n");
  WriteFile(batch + "/docs/note.txt", "出厂检验报告 inspection\n");
  ASSERT_EQ(std::system(("tar -czf " + tmp_.Sub("batch.tar.gz") + " -C " + batch + " manifest.csv docs").c_str()), 0);
  RunResult imported = RunProgram({Ctl(), "import", "--data", data_, tmp_.Sub("batch.tar.gz")});
  ASSERT_EQ(imported.exit_code, 0) << imported.out << imported.err;

  // Queued, the title searchable at once, the content not yet.
  Indexed before = Look("出厂检验");
  EXPECT_EQ(before.counts.queued_records, 1u);
  EXPECT_TRUE(before.matching.empty());
  {
    auto archive = admin::OpenArchive(data_);
    ASSERT_TRUE(archive.ok());
    auto key = storage::IndexKey::LoadOrCreate(storage::DataDir(data_));
    ASSERT_TRUE(key.ok());
    Status s = (*archive)->store().Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(auto m, tx.search().Match((*key)->KeyedTokens(storage::QueryTokens("迁移记录")), 10));
      EXPECT_EQ(m.size(), 1u);
      if (!m.empty()) EXPECT_EQ(m[0].field, "title");
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  // The queue is worked off.
  RunResult r = RunProgram({Ctl(), "reindex", "--data", data_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("records indexed: 1\n"), std::string::npos) << r.out;
  Indexed after = Look("出厂检验");
  EXPECT_EQ(after.counts.queued_records, 0u);
  EXPECT_EQ(after.matching.size(), 1u);
}

TEST_F(Reindex, BadArgumentsAreRefused) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"reindex"}, {"reindex", "--data", data_, "--rebuilt"},
        {"reindex", "--data", data_, "extra"}, {"reindex", "--data", tmp_.Sub("missing")}}) {
    std::vector<std::string> argv{Ctl()};
    argv.insert(argv.end(), args.begin(), args.end());
    RunResult r = RunProgram(argv);
    EXPECT_EQ(r.exit_code, 2) << r.out;
    EXPECT_EQ(r.err.rfind("custosctl: reindex: ", 0), 0u) << r.err;
  }
}

}  // namespace
}  // namespace custos::testing
