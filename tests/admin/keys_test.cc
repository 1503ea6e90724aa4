// custosctl keys rotate: every data key ends up wrapped under a new KEK, the
// old KEK file is gone, the content still decrypts (verify decrypts every
// blob), the rotation is refused while custosd holds the data directory,
// and a rotation interrupted after its first batch (or before it switched
// the current key) completes when run again.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "admin/keys_command.h"
#include "admin/open_archive.h"
#include "storage/data_dir.h"
#include "storage/keyring.h"
#include "domain/model.h"
#include "tests/admin/cli_probes.h"
#include "tests/admin/live_archive.h"
#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"

namespace custos::testing {
namespace {

namespace fs = std::filesystem;

constexpr int kRecords = 4;
constexpr int kFilesPerRecord = 2;
constexpr uint64_t kFiles = kRecords * kFilesPerRecord;

std::string CurrentKek(const std::string& data) {
  std::string text = ReadFileOrDie(data + "/keys/kek/current");
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

std::string KekFile(const std::string& data, const std::string& id) {
  return data + "/keys/kek/" + id + ".key";
}

std::string Marker(const std::string& data) { return data + "/keys/kek/rotation"; }

// file id -> KEK id of its wrapped data key ("" for a destroyed key).
std::map<std::string, std::string> FileKeks(const std::string& data) {
  std::map<std::string, std::string> out;
  auto archive = admin::OpenArchive(data);
  EXPECT_TRUE(archive.ok()) << archive.status().ToString();
  if (!archive.ok()) return out;
  Status s = (*archive)->store().Read([&](storage::Transaction& tx) -> Status {
    return tx.versions().ForEachFile([&](const domain::StoredFile& f) -> Status {
      out[f.id.value] = f.wrapped_dek.empty() ? "" : f.kek_id;
      return Status::Ok();
    });
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

size_t CountUnder(const std::map<std::string, std::string>& keks, const std::string& id) {
  size_t n = 0;
  for (const auto& [file, kek] : keks) n += kek == id ? 1 : 0;
  return n;
}

// Verifies in-process: clean, and every file's content was decrypted.
void ExpectVerifiesWithAllContent(const std::string& data) {
  auto archive = admin::OpenArchive(data);
  ASSERT_TRUE(archive.ok()) << archive.status().ToString();
  auto report = (*archive)->Verify();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  for (const auto& f : report->findings) ADD_FAILURE() << f.object << ": " << f.problem;
  EXPECT_EQ(report->files, kFiles);
  EXPECT_GT(report->content_bytes, 0u);
}

// The newest log entry's leaf.
std::string LastLeaf(const std::string& data) {
  auto archive = admin::OpenArchive(data);
  EXPECT_TRUE(archive.ok()) << archive.status().ToString();
  if (!archive.ok()) return "";
  std::string leaf;
  Status s = (*archive)->store().Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
    CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(size - 1, size, 1));
    if (!entries.empty()) leaf = entries.front().leaf;
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return leaf;
}

// A stopped archive with content, made once; each test rotates a copy.
class KeysRotate : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { seed_.Make(live::ContentArchiveOf(kRecords, kFilesPerRecord)); }
  static void TearDownTestSuite() { seed_.Clear(); }
  void SetUp() override {
    ASSERT_TRUE(seed_.made()) << "the seed archive could not be made";
    data_ = seed_.CopyData(tmp_);
    old_kek_ = CurrentKek(data_);
    ASSERT_EQ(old_kek_.size(), 16u);
    ASSERT_EQ(CountUnder(FileKeks(data_), old_kek_), kFiles);
  }

  static inline live::SuiteSeed<live::ContentArchive> seed_;
  TempDir tmp_;
  std::string data_;
  std::string old_kek_;
};

TEST_F(KeysRotate, RewrapsEveryDataKeyAndDestroysTheOldKek) {
  RunResult r = RunProgram({Ctl(), "keys", "rotate", "--data", data_});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string new_kek = CurrentKek(data_);
  EXPECT_NE(new_kek, old_kek_);
  EXPECT_TRUE(HasLineStartingWith(r.out, "New current KEK: " + new_kek)) << r.out;
  EXPECT_NE(r.out.find("data keys re-wrapped: " + std::to_string(kFiles)), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("retired KEKs destroyed: " + old_kek_), std::string::npos) << r.out;

  EXPECT_FALSE(fs::exists(KekFile(data_, old_kek_)));
  EXPECT_TRUE(fs::exists(KekFile(data_, new_kek)));
  EXPECT_FALSE(fs::exists(Marker(data_)));
  std::vector<std::string> keys;
  for (const auto& e : fs::directory_iterator(data_ + "/keys/kek")) {
    keys.push_back(e.path().filename().string());
  }
  std::sort(keys.begin(), keys.end());
  std::vector<std::string> expected{new_kek + ".key", "current"};
  std::sort(expected.begin(), expected.end());  // key ids are random hex: either may sort first
  EXPECT_EQ(keys, expected);

  EXPECT_EQ(CountUnder(FileKeks(data_), new_kek), kFiles);
  ExpectVerifiesWithAllContent(data_);
  RunResult v = RunProgram({Ctl(), "verify", "--data", data_});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;

  // The rotation is in the audit log.
  std::string leaf = LastLeaf(data_);
  EXPECT_NE(leaf.find("\"action\":\"key.kek_rotate\""), std::string::npos) << leaf;
  EXPECT_NE(leaf.find("\"subject\":\"" + new_kek + "\""), std::string::npos) << leaf;
  EXPECT_NE(leaf.find(old_kek_), std::string::npos) << leaf;

  // A second rotation moves everything again.
  RunResult again = RunProgram({Ctl(), "keys", "rotate", "--data", data_});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const std::string third = CurrentKek(data_);
  EXPECT_NE(third, new_kek);
  EXPECT_FALSE(fs::exists(KekFile(data_, new_kek)));
  EXPECT_EQ(CountUnder(FileKeks(data_), third), kFiles);
  ExpectVerifiesWithAllContent(data_);
}

TEST_F(KeysRotate, RefusedWhileCustosdRuns) {
  ServerProcess server;
  ASSERT_TRUE(server.Start(data_));
  RunResult r = RunProgram({Ctl(), "keys", "rotate", "--data", data_});
  EXPECT_EQ(server.Stop(), 0) << server.Log();
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_EQ(r.err.rfind("custosctl: keys rotate: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("in use"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  // Nothing changed.
  EXPECT_EQ(CurrentKek(data_), old_kek_);
  EXPECT_FALSE(fs::exists(Marker(data_)));
  auto ids = storage::Keyring::ListKekIds(storage::DataDir(data_));
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, std::vector<std::string>{old_kek_});
  EXPECT_EQ(CountUnder(FileKeks(data_), old_kek_), kFiles);
}

TEST_F(KeysRotate, InterruptedAfterTheFirstBatchResumesOnRerun) {
  admin::RotateOptions options;
  options.data_dir = data_;
  options.batch_size = 3;
  options.max_batches = 1;
  auto first = admin::RotateKeys(options);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(first->complete);
  EXPECT_FALSE(first->resumed);
  EXPECT_EQ(first->rewrapped, 3u);
  const std::string new_kek = first->new_kek_id;
  EXPECT_EQ(CurrentKek(data_), new_kek);
  EXPECT_TRUE(fs::exists(Marker(data_)));
  EXPECT_TRUE(fs::exists(KekFile(data_, old_kek_))) << "destroyed before every key moved";
  auto keks = FileKeks(data_);
  EXPECT_EQ(CountUnder(keks, new_kek), 3u);
  EXPECT_EQ(CountUnder(keks, old_kek_), kFiles - 3);
  // Half-way, both keys are loaded and everything still reads.
  ExpectVerifiesWithAllContent(data_);

  RunResult r = RunProgram({Ctl(), "keys", "rotate", "--data", data_});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(HasLineStartingWith(r.out, "Resumed an interrupted key rotation")) << r.out;
  EXPECT_NE(r.out.find("data keys re-wrapped: " + std::to_string(kFiles - 3) +
                       " (already under the new KEK: 3"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(CurrentKek(data_), new_kek);
  EXPECT_FALSE(fs::exists(KekFile(data_, old_kek_)));
  EXPECT_FALSE(fs::exists(Marker(data_)));
  EXPECT_EQ(CountUnder(FileKeks(data_), new_kek), kFiles);
  RunResult v = RunProgram({Ctl(), "verify", "--data", data_});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

TEST_F(KeysRotate, InterruptedBeforeTheSwitchToTheNewKekResumes) {
  // As if a run died after writing the marker but before making its KEK
  // current: the rerun must finish with exactly that KEK.
  storage::DataDir dir(data_);
  auto added = storage::Keyring::AddKek(dir);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  WriteFile(Marker(data_), "custos-kek-rotation-v1\nto=" + *added + "\n");
  ASSERT_EQ(CurrentKek(data_), old_kek_);

  RunResult r = RunProgram({Ctl(), "keys", "rotate", "--data", data_});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(CurrentKek(data_), *added);
  EXPECT_FALSE(fs::exists(KekFile(data_, old_kek_)));
  EXPECT_EQ(CountUnder(FileKeks(data_), *added), kFiles);
  ExpectVerifiesWithAllContent(data_);
}

TEST_F(KeysRotate, AStrayKekWithoutMarkerIsRetiredToo) {
  // A run that died after creating its KEK but before the marker.
  auto stray = storage::Keyring::AddKek(storage::DataDir(data_));
  ASSERT_TRUE(stray.ok()) << stray.status().ToString();
  admin::RotateOptions options;
  options.data_dir = data_;
  auto r = admin::RotateKeys(options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->complete);
  EXPECT_NE(r->new_kek_id, *stray);
  std::vector<std::string> retired = r->retired_kek_ids;
  std::sort(retired.begin(), retired.end());
  std::vector<std::string> expected = {old_kek_, *stray};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(retired, expected);
  EXPECT_FALSE(fs::exists(KekFile(data_, *stray)));
  ExpectVerifiesWithAllContent(data_);
}

TEST_F(KeysRotate, AKekLeftHalfDestroyedIsWipedByTheNextRotation) {
  // As if a rotation died after moving a retired key aside for destruction
  // (<id>.key.destroy) but before wiping it: the archive still opens and
  // the next rotation finishes the job.
  auto stray = storage::Keyring::AddKek(storage::DataDir(data_));
  ASSERT_TRUE(stray.ok()) << stray.status().ToString();
  const std::string aside = data_ + "/keys/kek/" + *stray + ".key.destroy";
  fs::rename(KekFile(data_, *stray), aside);
  ASSERT_TRUE(admin::OpenArchive(data_).ok());

  RunResult r = RunProgram({Ctl(), "keys", "rotate", "--data", data_});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(*stray), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(aside));
  EXPECT_FALSE(fs::exists(KekFile(data_, old_kek_)));
  EXPECT_EQ(CountUnder(FileKeks(data_), CurrentKek(data_)), kFiles);
}

TEST_F(KeysRotate, DestroyedDataKeysAreSkipped) {
  // Crypto-shred one file's key directly in the store.
  std::string shredded;
  {
    auto archive = admin::OpenArchive(data_);
    ASSERT_TRUE(archive.ok()) << archive.status().ToString();
    shredded = FileKeks(data_).begin()->first;
    Status s = (*archive)->store().Write([&](storage::Transaction& tx) -> Status {
      return tx.versions().SetFileKey(domain::FileId{shredded}, old_kek_, {});
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  admin::RotateOptions options;
  options.data_dir = data_;
  auto r = admin::RotateKeys(options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->complete);
  EXPECT_EQ(r->destroyed_files, 1u);
  EXPECT_EQ(r->rewrapped, kFiles - 1);
  auto keks = FileKeks(data_);
  EXPECT_EQ(keks.at(shredded), "");
  EXPECT_EQ(CountUnder(keks, r->new_kek_id), kFiles - 1);
  EXPECT_FALSE(fs::exists(KekFile(data_, old_kek_)));
}

TEST_F(KeysRotate, ABadMarkerStopsTheRotationWithoutTouchingKeys) {
  WriteFile(Marker(data_), "custos-kek-rotation-v1\nto=0123456789abcdef\n");
  RunResult r = RunProgram({Ctl(), "keys", "rotate", "--data", data_});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("rotation marker"), std::string::npos) << r.err;
  EXPECT_EQ(CurrentKek(data_), old_kek_);
  EXPECT_TRUE(fs::exists(KekFile(data_, old_kek_)));
  EXPECT_EQ(CountUnder(FileKeks(data_), old_kek_), kFiles);
}

TEST(CustosctlKeysArgs, UnknownSubcommandAndMissingDataAreOneLineErrors) {
  RunResult r = RunProgram({Ctl(), "keys", "spin"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown subcommand 'spin'"), std::string::npos) << r.err;
  RunResult r2 = RunProgram({Ctl(), "keys", "rotate"});
  EXPECT_EQ(r2.exit_code, 2);
  EXPECT_NE(r2.err.find("--data DIR is required"), std::string::npos) << r2.err;
}

}  // namespace
}  // namespace custos::testing
