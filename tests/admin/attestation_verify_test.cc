// custosctl verify and the checkpoint attestation policy
// (docs/formats/cosignature.md "Verifying"): an archive whose checkpoint a
// real witness (tests/testutil/test_witness.h) cosigned, stored as the
// attester stores it, then verify with --witness / --witness-policy and with
// the data directory's log.witnesses.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/cosignature.h"
#include "server/services/clock.h"
#include "server/services/witness_client.h"
#include "storage/archive.h"
#include "tests/admin/in_process.h"
#include "tests/admin/live_archive.h"
#include "tests/admin/verdict.h"
#include "tests/testutil/process.h"
#include "tests/testutil/test_witness.h"
#include "tests/testutil/testutil.h"

namespace custos::testing {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

class AttestationVerify : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = tmp_.Sub("data");
    ASSERT_TRUE(live::InitWithArchivist(tmp_, data_));
    services::SystemClock clock;
    auto archive = live::OpenedArchive::Open(data_, clock);
    ASSERT_NE(archive, nullptr);
    auto checked_in = live::Commit(
        archive->records().BeginCheckIn(live::Archivist(), live::GeneralRecord("Minutes")),
        {{"a.txt", "minutes of the board"}});
    ASSERT_TRUE(checked_in.has_value());
    record_ = checked_in->detail.record.id.value;
    const std::vector<std::string> log_keys = Lines(archive->storage().keyring().VerifierKeys());
    w1_ = TestWitness::Start({"witness.test/w1", log_keys, ""});
    w2_ = TestWitness::Start({"witness.test/w2", log_keys, ""});
    ASSERT_TRUE(w1_ && w2_);
    storage::MetadataStore& store = archive->storage().store();
    storage::StoredCheckpoint cp;
    ASSERT_TRUE(store.Read([&](storage::Transaction& tx) -> Status {
                       CUSTOS_ASSIGN_OR_RETURN(cp, tx.log().LatestCheckpoint());
                       return Status::Ok();
                     }).ok());
    auto key = crypto::cosig::ParseWitnessKey(w1_->vkey());
    ASSERT_TRUE(key.ok());
    services::WitnessResult r =
        services::SubmitCheckpoint({*key, w1_->url(), ""}, 0, {}, cp.note, std::chrono::seconds(2));
    ASSERT_EQ(r.kind, services::WitnessResult::kCosigned) << r.detail;
    line_ = r.lines[0];
    Status added = store.Write([&](storage::Transaction& tx) -> Status {
      return tx.log().AddCheckpointSignature(
          {cp.size, w1_->name(), storage::kCosignatureKind, line_, clock.Now()});
    });
    ASSERT_TRUE(added.ok()) << added.ToString();
  }

  Verdict Verify(const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {Ctl(), "verify", "--data", data_, "--json"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunVerdict(argv, "object");
  }
  static bool HasCode(const Verdict& v, const std::string& code) {
    for (const Finding& f : v.findings) {
      if (f.code == code) return true;
    }
    return false;
  }

  TempDir tmp_;
  std::string data_;
  std::unique_ptr<TestWitness> w1_, w2_;
  std::string line_;
  std::string record_;
};

TEST_F(AttestationVerify, PolicyOneOfTwoPassesAndTwoOfTwoFails) {
  Verdict v = Verify({"--witness", w1_->vkey(), "--witness", w2_->vkey(), "--witness-policy", "1"});
  EXPECT_EQ(v.exit_code, 0) << Dump(v);
  EXPECT_TRUE(v.clean) << Dump(v);
  v = Verify({"--witness", w1_->vkey(), "--witness", w2_->vkey(), "--witness-policy", "2"});
  EXPECT_EQ(v.exit_code, 1) << Dump(v);
  EXPECT_TRUE(HasCode(v, "checkpoint_witness_policy")) << Dump(v);
  // Only the witness that never cosigned: not met (policy 1 by default).
  v = Verify({"--witness", w2_->vkey()});
  EXPECT_TRUE(HasCode(v, "checkpoint_witness_policy")) << Dump(v);
  // A policy above the witnesses given is a usage error, not a verdict.
  v = Verify({"--witness", w1_->vkey(), "--witness-policy", "3"});
  EXPECT_EQ(v.exit_code, 2) << Dump(v);
}

TEST_F(AttestationVerify, DataDirectoryConfigIsTheDefault) {
  EXPECT_EQ(Verify({}).exit_code, 0);  // no witnesses configured: nothing required
  SetConfigLines(data_ + "/custos.conf", "log.witnesses = " + w2_->vkey() + " " + w2_->url() + "\n");
  Verdict v = Verify({});
  EXPECT_EQ(v.exit_code, 1) << Dump(v);
  EXPECT_TRUE(HasCode(v, "checkpoint_witness_policy")) << Dump(v);
  SetConfigLines(data_ + "/custos.conf", "log.witnesses = " + w1_->vkey() + " " + w1_->url() + "\n");
  v = Verify({});
  EXPECT_EQ(v.exit_code, 0) << Dump(v);
}

TEST_F(AttestationVerify, TamperedStoredCosignatureIsAFinding) {
  std::string bad = line_;
  bad[bad.size() - 6] = bad[bad.size() - 6] == 'A' ? 'B' : 'A';
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((data_ + "/custos.db").c_str(), &db), SQLITE_OK);
  std::unique_ptr<sqlite3, decltype(&sqlite3_close)> closer(db, sqlite3_close);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "UPDATE checkpoint_signatures SET line = ?1 WHERE name = ?2", -1,
                               &st, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_bind_text(st, 1, bad.data(), static_cast<int>(bad.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, w1_->name().c_str(), -1, SQLITE_TRANSIENT);
  ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  ASSERT_EQ(sqlite3_changes(db), 1);
  closer.reset();

  Verdict v = Verify({"--witness", w1_->vkey(), "--witness-policy", "0"});
  EXPECT_EQ(v.exit_code, 1) << Dump(v);
  EXPECT_TRUE(HasCode(v, "checkpoint_cosignature_invalid")) << Dump(v);
  // Unknown to the verifier, the same line is ignored.
  v = Verify({"--witness", w2_->vkey(), "--witness-policy", "0"});
  EXPECT_FALSE(HasCode(v, "checkpoint_cosignature_invalid")) << Dump(v);
}

TEST_F(AttestationVerify, PackageCheckpointIsCheckedAgainstThePolicy) {
  const std::string package = tmp_.Sub("package.tar.gz");
  RunResult r = RunProgram({Ctl(), "export", "--data", data_, "--out", package, "--records", record_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string vkey = data_ + "/keys/log.vkey";
  auto verify_package = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {Ctl(), "verify-package", package, "--vkey", vkey, "--json"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunVerdict(argv, "file");
  };
  Verdict v = verify_package({"--witness", w1_->vkey()});
  EXPECT_EQ(v.exit_code, 0) << Dump(v);
  v = verify_package({"--witness", w2_->vkey()});
  EXPECT_EQ(v.exit_code, 1) << Dump(v);
  bool policy_finding = false;
  for (const Finding& f : v.findings) {
    policy_finding |= f.object == "log/checkpoint" &&
                      f.problem.rfind("checkpoint_witness_policy", 0) == 0;
  }
  EXPECT_TRUE(policy_finding) << Dump(v);
  EXPECT_EQ(verify_package({"--witness", "not-a-key"}).exit_code, 2);
}

}  // namespace
}  // namespace custos::testing
