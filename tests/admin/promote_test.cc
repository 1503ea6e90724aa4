// No fork, ever (DESIGN §7): the log's key never signs two roots for one
// size. A backup restored and started beside its running original, and a
// stopped data directory copied with `cp -a` and started as a second
// server, serve reads and sign nothing — every change is refused with 503
// signing_not_promoted and /readyz says why — until `custosctl promote`,
// which is refused while custosd runs there, is logged as "log.promote",
// and makes writes work again (storage/custody.h, admin/promote_command.h).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "admin/open_archive.h"
#include "admin/promote_command.h"
#include "crypto/bytes.h"
#include "storage/custody.h"
#include "tests/admin/cli_probes.h"
#include "tests/admin/live_archive.h"
#include "tests/testutil/https_client.h"
#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"

namespace custos::testing {
namespace {

const std::string kSignIn = std::string("{\"username\":\"") + live::kArchivist +
                            "\",\"password\":\"" + live::kArchivistPassword + "\"}";

// Every stored checkpoint of the stopped archive in `data`: size → root.
std::map<uint64_t, std::string> StoredCheckpoints(const std::string& data) {
  std::map<uint64_t, std::string> out;
  auto archive = admin::OpenArchive(data);
  EXPECT_TRUE(archive.ok()) << archive.status().ToString();
  if (!archive.ok()) return out;
  Status s = (*archive)->store().Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto cps, tx.log().Checkpoints());
    for (const auto& cp : cps) out[cp.size] = crypto::Base64Encode(cp.root);
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

// Adds `from` to `all` and fails the test on a size signed with two roots.
void ExpectOneRootPerSize(std::map<uint64_t, std::string>& all,
                          const std::map<uint64_t, std::string>& from, const std::string& who) {
  for (const auto& [size, root] : from) {
    auto [it, fresh] = all.emplace(size, root);
    EXPECT_EQ(it->second, root) << who << " signed size " << size << " with a second root";
  }
}

// The refusal an unpromoted copy answers a change with.
void ExpectNotPromoted(const HttpResult& r) {
  EXPECT_EQ(r.status, 503) << r.body << r.transport_error;
  EXPECT_NE(r.body.find("\"signing_not_promoted\""), std::string::npos) << r.body;
}

// /readyz of an unpromoted copy: still ready (it serves reads), and the
// advisory "signing" check says why it signs nothing.
void ExpectReadyzSaysNotPromoted(HttpsClient& client, const std::string& why) {
  HttpResult ready = client.Get("/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_NE(ready.body.find("\"name\":\"signing\",\"ok\":false"), std::string::npos) << ready.body;
  EXPECT_NE(ready.body.find(why), std::string::npos) << ready.body;
}

class NoFork : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { seed_.Make(live::ContentArchiveOf(/*records=*/2, /*files=*/1)); }
  static void TearDownTestSuite() { seed_.Clear(); }
  void SetUp() override {
    ASSERT_TRUE(seed_.made()) << "the seed archive could not be made";
    data_ = seed_.CopyData(tmp_);
    EnsureSslInitialized();
  }

  static inline live::SuiteSeed<live::ContentArchive> seed_;
  TempDir tmp_;
  std::string data_;
};

TEST_F(NoFork, RestoredBesideItsRunningOriginalSignsNothingAndNoSizeGetsTwoRoots) {
  ServerProcess original;
  ASSERT_TRUE(original.Start(data_));
  const std::string backup = tmp_.Sub("backup"), restored = tmp_.Sub("restored");
  RunResult b = RunProgram({Ctl(), "backup", "--data", data_, "--out", backup, "--include-keys"});
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  RunResult r = RunProgram({Ctl(), "restore", "--from", backup, "--data", restored});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(HasLineStartingWith(r.out, "signing: awaiting promotion")) << r.out;

  ServerProcess copy;
  ASSERT_TRUE(copy.Start(restored));
  HttpsClient at_copy(copy.port(), restored + "/tls/cert.pem");
  ExpectReadyzSaysNotPromoted(at_copy, "awaiting promotion");
  // Reads: the copy serves the checkpoint it was restored with.
  HttpResult served = at_copy.Get("/v1/log/checkpoint");
  EXPECT_EQ(served.status, 200) << served.body;
  // A change (signing in is logged) is refused, and changes nothing.
  ExpectNotPromoted(at_copy.Request("POST", "/v1/session", kSignIn, "application/json"));
  EXPECT_EQ(at_copy.Get("/v1/log/checkpoint").body, served.body);

  // The original goes on signing new sizes.
  {
    live::CheckInClient client(original.port(), data_);
    ASSERT_TRUE(client.SignIn());
    ASSERT_TRUE(client.CheckIn("原件继续 original goes on", {live::PatternBytes(2000, 7)}))
        << client.last_error();
  }
  ASSERT_EQ(copy.Stop(), 0);
  ASSERT_EQ(original.Stop(), 0);

  std::map<uint64_t, std::string> all;
  const auto by_original = StoredCheckpoints(data_);
  const auto by_copy = StoredCheckpoints(restored);
  ExpectOneRootPerSize(all, by_original, "the original");
  ExpectOneRootPerSize(all, by_copy, "the restored copy");
  ASSERT_FALSE(by_copy.empty());
  EXPECT_GT(by_original.rbegin()->first, by_copy.rbegin()->first);
  // The original signed past the backup: promoting the copy would sign a
  // second root for the next size, so promote refuses and signs nothing.
  EXPECT_TRUE(Refused(RunProgram({Ctl(), "promote", "--data", restored}), "second root"));
  EXPECT_EQ(StoredCheckpoints(restored), by_copy);
}

TEST_F(NoFork, PromoteRetiresTheOriginalItWasRestoredFromAndRefusesWhileItRuns) {
  const std::string backup = tmp_.Sub("backup"), restored = tmp_.Sub("restored");
  ASSERT_EQ(
      RunProgram({Ctl(), "backup", "--data", data_, "--out", backup, "--include-keys"}).exit_code,
      0);
  ASSERT_EQ(RunProgram({Ctl(), "restore", "--from", backup, "--data", restored}).exit_code, 0);
  {
    ServerProcess original;
    ASSERT_TRUE(original.Start(data_));
    EXPECT_TRUE(Refused(RunProgram({Ctl(), "promote", "--data", restored}), "is in use"));
    ASSERT_EQ(original.Stop(), 0);
  }
  RunResult p = RunProgram({Ctl(), "promote", "--data", restored});
  ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_NE(p.out.find("retired the original"), std::string::npos) << p.out;

  auto original = storage::ReadCustody(storage::DataDir(data_));
  ASSERT_TRUE(original.ok());
  EXPECT_FALSE(original->held);
  EXPECT_NE(original->why_not.find("custody moved to"), std::string::npos) << original->why_not;
  const std::string pw = tmp_.Sub("pw");
  WriteFile(pw, "a password long enough 2026\n");
  auto add_user = [&](const std::string& data) {
    return RunProgram({Ctl(), "user", "add", "lina", "--role", "staff", "--department", "档案室",
                       "--data", data, "--password-file", pw});
  };
  EXPECT_TRUE(Refused(add_user(data_), "signing custody"));
  RunResult added = add_user(restored);
  EXPECT_EQ(added.exit_code, 0) << added.err;
}

TEST_F(NoFork, CopiedDataDirectoryStartedAsASecondServerSignsNothingUntilPromoted) {
  const std::string copied = tmp_.Sub("copied");
  RunResult cp = RunProgram({"/bin/cp", "-a", data_, copied});
  ASSERT_EQ(cp.exit_code, 0) << cp.err;
  const auto before = StoredCheckpoints(copied);
  ASSERT_FALSE(before.empty());

  ServerProcess second;
  ASSERT_TRUE(second.Start(copied));
  {
    HttpsClient client(second.port(), copied + "/tls/cert.pem");
    ExpectReadyzSaysNotPromoted(client, "copied or moved");
    ExpectNotPromoted(client.Request("POST", "/v1/session", kSignIn, "application/json"));
  }
  // Promote refuses while custosd runs on the directory.
  EXPECT_TRUE(Refused(RunProgram({Ctl(), "promote", "--data", copied}), "in use"));
  ASSERT_EQ(second.Stop(), 0);
  // Offline commands sign nothing either.
  const std::string pw = tmp_.Sub("pw");
  WriteFile(pw, "a password long enough 2026\n");
  EXPECT_TRUE(Refused(RunProgram({Ctl(), "user", "add", "wangfang", "--role", "staff", "--department",
                                  "销售部", "--data", copied, "--password-file", pw}),
                      "signing custody"));
  EXPECT_EQ(StoredCheckpoints(copied), before);
}

TEST_F(NoFork, PromoteIsLoggedAndWritesWorkAfterwards) {
  const std::string copied = tmp_.Sub("copied");
  ASSERT_EQ(RunProgram({"/bin/cp", "-a", data_, copied}).exit_code, 0);
  const uint64_t size_before = StoredCheckpoints(copied).rbegin()->first;

  RunResult p = RunProgram({Ctl(), "promote", "--data", copied});
  ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_EQ(LineValue(p.out, "  logged: "),
            "log.promote at index " + std::to_string(size_before) + " (continuing from size " +
                std::to_string(size_before) + ")")
      << p.out;
  {
    auto archive = admin::OpenArchive(copied);
    ASSERT_TRUE(archive.ok()) << archive.status().ToString();
    EXPECT_TRUE((*archive)->custody().held);
    std::string leaf;
    ASSERT_TRUE((*archive)
                    ->store()
                    .Read([&](storage::Transaction& tx) -> Status {
                      CUSTOS_ASSIGN_OR_RETURN(auto entries,
                                              tx.log().Entries(size_before, size_before + 1, 1));
                      if (!entries.empty()) leaf = entries[0].leaf;
                      return Status::Ok();
                    })
                    .ok());
    EXPECT_NE(leaf.find("\"action\":\"log.promote\""), std::string::npos) << leaf;
    EXPECT_NE(leaf.find("\"actor\":\"custosctl\""), std::string::npos) << leaf;
    EXPECT_NE(leaf.find("\"size\":" + std::to_string(size_before)), std::string::npos) << leaf;
  }
  // A second promote has nothing to do and logs nothing.
  RunResult again = RunProgram({Ctl(), "promote", "--data", copied});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("nothing to do"), std::string::npos) << again.out;
  EXPECT_EQ(StoredCheckpoints(copied).rbegin()->first, size_before + 1);

  ServerProcess server;
  ASSERT_TRUE(server.Start(copied));
  {
    HttpsClient client(server.port(), copied + "/tls/cert.pem");
    HttpResult ready = client.Get("/readyz");
    EXPECT_NE(ready.body.find("\"name\":\"signing\",\"ok\":true"), std::string::npos)
        << ready.body;
    live::CheckInClient writer(server.port(), copied);
    ASSERT_TRUE(writer.SignIn());
    EXPECT_TRUE(writer.CheckIn("晋升之后 after promotion", {live::PatternBytes(1500, 3)}))
        << writer.last_error();
  }
  ASSERT_EQ(server.Stop(), 0);
  RunResult v = RunProgram({Ctl(), "verify", "--data", copied});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

TEST(CustosctlPromoteArgs, MissingDataIsAOneLineError) {
  EXPECT_TRUE(Refused(RunProgram({Ctl(), "promote"}), "--data DIR is required"));
  EXPECT_TRUE(Refused(RunProgram({Ctl(), "promote", "--data", "/nonexistent/custos", "extra"}),
                      "unknown argument"));
}

}  // namespace
}  // namespace custos::testing
