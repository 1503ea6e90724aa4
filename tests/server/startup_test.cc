// custosd refuses to start, with a message naming the problem and exit code
// 2, on every kind of bad configuration.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "storage/data_dir.h"
#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"

namespace custos::testing {
namespace {

class StartupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RunResult init = RunProgram({BinDir() + "/custosctl", "init", "--data", data()});
    ASSERT_EQ(init.exit_code, 0) << init.err;
  }
  std::string data() const { return tmp_.Sub("data"); }
  void AppendConfig(const std::string& text) {
    SetConfigLines(data() + "/custos.conf", text);
  }
  RunResult RunServer(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {BinDir() + "/custosd", "--data", data()};
    if (extra.empty()) extra = {"--listen", "127.0.0.1:0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    // A misconfigured server exits at once; a good one would run forever,
    // which RunProgram's time-out would report as -1.
    return RunProgram(argv);
  }
  TempDir tmp_;
};

TEST_F(StartupTest, UnknownKeyNamesKeyAndLine) {
  AppendConfig("server.colour = blue\n");
  RunResult r = RunServer();
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown configuration key 'server.colour'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("line "), std::string::npos);
}

TEST_F(StartupTest, BadValueNamesKey) {
  AppendConfig("server.threads = many\n");
  RunResult r = RunServer();
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad value for server.threads: 'many'"), std::string::npos) << r.err;
}

TEST_F(StartupTest, RepeatedKeyIsRefused) {
  std::ofstream(data() + "/custos.conf", std::ios::app) << "server.threads = 8\n";
  RunResult r = RunServer();
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("'server.threads' repeated"), std::string::npos) << r.err;
}

TEST_F(StartupTest, BadListenFlag) {
  RunResult r = RunServer({"--listen", "nowhere"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad listen address 'nowhere'"), std::string::npos) << r.err;
}

TEST_F(StartupTest, PortInUse) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string listen = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  RunResult r = RunServer({"--listen", listen});
  ::close(fd);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cannot listen on " + listen), std::string::npos) << r.err;
}

// One server per SQLite archive: a second process appending would fork the
// log. Another holder of the data directory's lock stops custosd at start.
TEST_F(StartupTest, DataDirectoryInUse) {
  auto lock = storage::DataDirLock::Acquire(storage::DataDir(data()),
                                            storage::DataDirLock::Mode::kShared);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  RunResult r = RunServer();
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is in use by another process"), std::string::npos) << r.err;
}

TEST_F(StartupTest, MissingDataDirectory) {
  RunResult r = RunProgram({BinDir() + "/custosd", "--data", tmp_.Sub("absent")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
}

TEST_F(StartupTest, DataDirectoryIsAFile) {
  WriteFile(tmp_.Sub("file"), "x");
  RunResult r = RunProgram({BinDir() + "/custosd", "--data", tmp_.Sub("file")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is not a directory"), std::string::npos) << r.err;
}

TEST_F(StartupTest, UnwritableDataDirectory) {
  RunResult r;
  if (::geteuid() == 0) {
    // Root writes through permission bits; /proc refuses new files to anyone.
    r = RunProgram({BinDir() + "/custosd", "--data", "/proc"});
  } else {
    std::filesystem::permissions(data(), std::filesystem::perms::owner_read |
                                             std::filesystem::perms::owner_exec);
    r = RunServer();
    std::filesystem::permissions(data(), std::filesystem::perms::owner_all);
  }
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is not writable"), std::string::npos) << r.err;
}

TEST_F(StartupTest, MissingCertificateNamesTheFile) {
  std::filesystem::remove(data() + "/tls/cert.pem");
  RunResult r = RunServer();
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("tls/cert.pem"), std::string::npos) << r.err;
}

TEST_F(StartupTest, MissingDataFlagAndUnknownFlag) {
  RunResult r = RunProgram({BinDir() + "/custosd"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--data DIR is required"), std::string::npos);
  r = RunProgram({BinDir() + "/custosd", "--data", data(), "--bogus"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown argument '--bogus'"), std::string::npos);
}

}  // namespace
}  // namespace custos::testing
