// custosctl backup and restore: an online backup taken while custosd
// accepts check-ins restores into a directory that verifies clean, holds
// every record acknowledged before the backup started and serves the
// backup's checkpoint; keys travel with the backup or separately; and the
// refusals (existing target, missing keys, incomplete backup) are one line
// with exit code 2.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "admin/backup_command.h"
#include "admin/open_archive.h"
#include "domain/model.h"
#include "tests/admin/cli_probes.h"
#include "tests/admin/live_archive.h"
#include "tests/testutil/https_client.h"
#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"

namespace custos::testing {
namespace {

namespace fs = std::filesystem;

admin::BackupInfo ReadInfo(const std::string& backup) {
  auto info = admin::ParseBackupInfo(ReadFileOrDie(backup + "/backup-info.json"));
  EXPECT_TRUE(info.ok()) << info.status().ToString();
  return info.ok() ? *info : admin::BackupInfo{};
}

// Records of `ids` missing from the archive in `data` (opened in-process).
std::vector<std::string> MissingRecords(const std::string& data,
                                        const std::vector<std::string>& ids) {
  std::vector<std::string> missing;
  auto archive = admin::OpenArchive(data);
  EXPECT_TRUE(archive.ok()) << archive.status().ToString();
  if (!archive.ok()) return ids;
  Status s = (*archive)->store().Read([&](storage::Transaction& tx) -> Status {
    for (const std::string& id : ids) {
      CUSTOS_ASSIGN_OR_RETURN(auto record, tx.records().Find(domain::RecordId{id}));
      if (!record) missing.push_back(id);
    }
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return missing;
}

// A stopped archive with a few records, made once for the offline tests,
// which copy it.
class BackupOffline : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { seed_.Make(live::ContentArchiveOf(/*records=*/4, /*files=*/2)); }
  static void TearDownTestSuite() { seed_.Clear(); }
  void SetUp() override {
    ASSERT_TRUE(seed_.made()) << "the seed archive could not be made";
    data_ = seed_.CopyData(tmp_);
  }

  static inline live::SuiteSeed<live::ContentArchive> seed_;
  TempDir tmp_;
  std::string data_;
};

// ------------------------------------------------------------ online backup

TEST(CustosctlBackupOnline, BackupUnderConcurrentCheckInsRestoresEveryAcknowledgedRecord) {
  TempDir tmp;
  const std::string data = tmp.Sub("data");
  ASSERT_TRUE(live::InitWithArchivist(tmp, data));
  ServerProcess server;
  ASSERT_TRUE(server.Start(data));

  std::mutex mu;
  std::vector<std::string> acknowledged;  // GUARDED_BY(mu)
  std::string writer_error;               // GUARDED_BY(mu)
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    live::CheckInClient client(server.port(), data);
    if (!client.SignIn()) return;
    for (int i = 0; !stop.load(); ++i) {
      auto id = client.CheckIn("Concurrent record " + std::to_string(i),
                               {live::PatternBytes(2000 + 37 * (i % 50), 7 + i)});
      std::lock_guard<std::mutex> lock(mu);
      if (!id) {
        writer_error = client.last_error();
        return;
      }
      acknowledged.push_back(*id);
    }
  });
  auto acked = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return acknowledged.size();
  };
  auto writer_failed = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return !writer_error.empty();
  };

  ASSERT_TRUE(WaitFor([&] { return acked() >= 5 || writer_failed(); }));
  std::vector<std::string> before_backup;
  {
    std::lock_guard<std::mutex> lock(mu);
    before_backup = acknowledged;
  }
  const std::string backup = tmp.Sub("backup");
  RunResult b = RunProgram({Ctl(), "backup", "--data", data, "--out", backup, "--include-keys"});
  // Keep writing a little after the backup, then stop.
  const size_t after_backup = acked();
  bool more = WaitFor([&] { return acked() >= after_backup + 3 || writer_failed(); });
  stop = true;
  writer.join();
  EXPECT_EQ(server.Stop(), 0) << server.Log();
  ASSERT_TRUE(more);
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_TRUE(writer_error.empty()) << writer_error;
  }
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  EXPECT_NE(b.out.find("keys: included"), std::string::npos) << b.out;

  admin::BackupInfo info = ReadInfo(backup);
  EXPECT_TRUE(info.keys_included);
  EXPECT_GE(info.records, before_backup.size());
  EXPECT_EQ(info.blobs, info.files - info.destroyed_files);
  EXPECT_GE(info.log_size, before_backup.size());
  EXPECT_EQ(live::ParseCheckpoint(info.checkpoint).size, info.log_size);
  EXPECT_EQ(live::ParseCheckpoint(info.checkpoint).root, info.log_root);
  EXPECT_EQ(ModeOf(backup), 0700u);
  EXPECT_EQ(ModeOf(backup + "/custos.db"), 0600u);
  EXPECT_EQ(ModeOf(backup + "/backup-info.json"), 0600u);
  EXPECT_EQ(ModeOf(backup + "/keys/log.vkey"), 0600u);

  const std::string restored = tmp.Sub("restored");
  RunResult r = RunProgram({Ctl(), "restore", "--from", backup, "--data", restored});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(HasLineStartingWith(
      r.out,
      "restored checkpoint: size " + std::to_string(info.log_size) + ", root " + info.log_root))
      << r.out;

  RunResult v = RunProgram({Ctl(), "verify", "--data", restored});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_EQ(MissingRecords(restored, before_backup), std::vector<std::string>{});
  {
    auto archive = admin::OpenArchive(restored);
    ASSERT_TRUE(archive.ok()) << archive.status().ToString();
    uint64_t size = 0;
    ASSERT_TRUE((*archive)
                    ->store()
                    .Read([&](storage::Transaction& tx) -> Status {
                      CUSTOS_ASSIGN_OR_RETURN(storage::StoredCheckpoint cp,
                                              tx.log().LatestCheckpoint());
                      size = cp.size;
                      return Status::Ok();
                    })
                    .ok());
    EXPECT_GE(size, before_backup.size());
    EXPECT_EQ(size, info.log_size);
  }

  // The restored archive serves the checkpoint the backup recorded.
  ServerProcess again;
  ASSERT_TRUE(again.Start(restored));
  EnsureSslInitialized();
  HttpsClient client(again.port(), restored + "/tls/cert.pem");
  HttpResult cp = client.Get("/v1/log/checkpoint");
  EXPECT_EQ(again.Stop(), 0);
  ASSERT_EQ(cp.status, 200) << cp.body << cp.transport_error;
  EXPECT_EQ(cp.body, info.checkpoint);
}

// ----------------------------------------------------------- keys apart

TEST_F(BackupOffline, BackupWithoutKeysRestoresWithTheKeysFolderOnly) {
  const std::string backup = tmp_.Sub("backup");
  RunResult b = RunProgram({Ctl(), "backup", "--data", data_, "--out", backup});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_NE(b.out.find("keys were NOT included"), std::string::npos) << b.out;
  EXPECT_FALSE(fs::exists(backup + "/keys"));
  admin::BackupInfo info = ReadInfo(backup);
  EXPECT_FALSE(info.keys_included);
  EXPECT_EQ(info.records, seed_->ids.size());
  EXPECT_EQ(info.files, 2 * seed_->ids.size());
  EXPECT_EQ(info.blobs, 2 * seed_->ids.size());
  ASSERT_EQ(info.kek_ids.size(), 1u);
  EXPECT_TRUE(fs::exists(data_ + "/keys/kek/" + info.kek_ids[0] + ".key"));

  // Without keys: refused before anything is created.
  const std::string no_keys = tmp_.Sub("no-keys");
  RunResult r1 = RunProgram({Ctl(), "restore", "--from", backup, "--data", no_keys});
  EXPECT_TRUE(Refused(r1));
  EXPECT_EQ(r1.err.rfind("custosctl: restore: ", 0), 0u) << r1.err;
  EXPECT_NE(r1.err.find("--keys"), std::string::npos) << r1.err;
  EXPECT_FALSE(fs::exists(no_keys));

  // With the keys of another archive: refused, naming the missing KEK.
  TempDir other;
  ASSERT_EQ(RunProgram({Ctl(), "init", "--data", other.Sub("data")}).exit_code, 0);
  RunResult r2 = RunProgram({Ctl(), "restore", "--from", backup, "--data", no_keys, "--keys",
                             other.Sub("data") + "/keys"});
  EXPECT_TRUE(Refused(r2, info.kek_ids[0]));
  EXPECT_FALSE(fs::exists(no_keys));

  // With a copy of the original keys/ folder: restored and clean.
  const std::string keys_copy = tmp_.Sub("offline-keys");
  fs::copy(data_ + "/keys", keys_copy, fs::copy_options::recursive);
  const std::string restored = tmp_.Sub("restored");
  RunResult r3 =
      RunProgram({Ctl(), "restore", "--from", backup, "--data", restored, "--keys", keys_copy});
  ASSERT_EQ(r3.exit_code, 0) << r3.out << r3.err;
  EXPECT_NE(r3.out.find("keys from: " + keys_copy), std::string::npos) << r3.out;
  RunResult v = RunProgram({Ctl(), "verify", "--data", restored});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_EQ(MissingRecords(restored, seed_->ids), std::vector<std::string>{});
  EXPECT_EQ(ModeOf(restored), 0700u);
  EXPECT_EQ(ModeOf(restored + "/keys/kek/" + info.kek_ids[0] + ".key"), 0600u);
  EXPECT_EQ(ModeOf(restored + "/keys/log.vkey"), 0644u);
  EXPECT_EQ(ModeOf(restored + "/tls/cert.pem"), 0644u);
  EXPECT_EQ(ModeOf(restored + "/tls/key.pem"), 0600u);
  EXPECT_EQ(ModeOf(restored + "/custos.db"), 0600u);
}

// ------------------------------------------------------------- refusals

TEST_F(BackupOffline, RestoreRefusesANonEmptyTarget) {
  const std::string backup = tmp_.Sub("backup");
  ASSERT_EQ(
      RunProgram({Ctl(), "backup", "--data", data_, "--out", backup, "--include-keys"}).exit_code,
      0);
  const std::string target = tmp_.Sub("target");
  fs::create_directory(target);
  WriteFile(target + "/keep-me.txt", "precious");
  RunResult r = RunProgram({Ctl(), "restore", "--from", backup, "--data", target});
  EXPECT_TRUE(Refused(r, "not empty"));
  EXPECT_EQ(ReadFileOrDie(target + "/keep-me.txt"), "precious");
  EXPECT_EQ(std::distance(fs::directory_iterator(target), fs::directory_iterator()), 1);

  // An existing empty directory is a fine target.
  const std::string empty = tmp_.Sub("empty");
  fs::create_directory(empty);
  RunResult ok = RunProgram({Ctl(), "restore", "--from", backup, "--data", empty});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
}

TEST_F(BackupOffline, BackupRefusesAnExistingDestination) {
  const std::string backup = tmp_.Sub("backup");
  fs::create_directory(backup);
  RunResult r = RunProgram({Ctl(), "backup", "--data", data_, "--out", backup});
  EXPECT_TRUE(Refused(r));
  EXPECT_EQ(r.err.rfind("custosctl: backup: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_empty(backup));
}

TEST_F(BackupOffline, RestoreRefusesABackupWithoutItsInfoFile) {
  const std::string backup = tmp_.Sub("backup");
  ASSERT_EQ(
      RunProgram({Ctl(), "backup", "--data", data_, "--out", backup, "--include-keys"}).exit_code,
      0);
  fs::remove(backup + "/backup-info.json");
  RunResult r = RunProgram({Ctl(), "restore", "--from", backup, "--data", tmp_.Sub("restored")});
  EXPECT_TRUE(Refused(r, "not a complete Custos backup"));
  EXPECT_FALSE(fs::exists(tmp_.Sub("restored")));
}

TEST_F(BackupOffline, RestoreOfATamperedBlobFailsVerification) {
  const std::string backup = tmp_.Sub("backup");
  ASSERT_EQ(
      RunProgram({Ctl(), "backup", "--data", data_, "--out", backup, "--include-keys"}).exit_code,
      0);
  // Flip one byte in the middle of one backed-up blob.
  std::string victim;
  for (const auto& e : fs::recursive_directory_iterator(backup + "/blobs")) {
    if (e.is_regular_file()) {
      victim = e.path().string();
      break;
    }
  }
  ASSERT_FALSE(victim.empty());
  std::string bytes = ReadFileOrDie(victim);
  ASSERT_GT(bytes.size(), 200u);
  bytes[bytes.size() / 2] ^= 0x01;
  {
    std::ofstream out(victim, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  RunResult r = RunProgram({Ctl(), "restore", "--from", backup, "--data", tmp_.Sub("restored")});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(HasLineStartingWith(r.out, "FINDING ")) << r.out;
  EXPECT_TRUE(OneLine(r.err)) << r.err;
  EXPECT_NE(r.err.find("did not verify cleanly"), std::string::npos) << r.err;
}

TEST_F(BackupOffline, KeysAreNotCopiedDuringAnUnfinishedRotation) {
  WriteFile(data_ + "/keys/kek/rotation", "custos-kek-rotation-v1\nto=0123456789abcdef\n");
  const std::string backup = tmp_.Sub("backup");
  RunResult r = RunProgram({Ctl(), "backup", "--data", data_, "--out", backup, "--include-keys"});
  EXPECT_TRUE(Refused(r, "key rotation is unfinished"));
  EXPECT_FALSE(fs::exists(backup + "/backup-info.json"));
  EXPECT_FALSE(fs::exists(backup + "/keys"));
}

TEST(CustosctlBackupArgs, MissingOptionsAreOneLineErrors) {
  RunResult r = RunProgram({Ctl(), "backup", "--data", "/nonexistent"});
  EXPECT_TRUE(Refused(r, "--out"));
  RunResult r2 = RunProgram({Ctl(), "restore", "--from", "/nonexistent", "--bogus", "x"});
  EXPECT_TRUE(Refused(r2, "--bogus"));
}

}  // namespace
}  // namespace custos::testing
