// custosctl init: creates the data directory with the promised modes and
// refuses to overwrite an existing one.
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/config.h"
#include "tests/admin/cli_probes.h"
#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"

namespace custos::testing {
namespace {

TEST(CustosctlInit, CreatesPrivateDirectoryConfigAndCertificate) {
  TempDir tmp;
  std::string data = tmp.Sub("data");
  RunResult r = RunProgram({Ctl(), "init", "--data", data, "--origin",
                            "example.com/archive"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ModeOf(data), 0700u);
  EXPECT_EQ(ModeOf(data + "/custos.conf"), 0600u);
  EXPECT_EQ(ModeOf(data + "/tls/key.pem"), 0600u);
  EXPECT_EQ(ModeOf(data + "/keys"), 0700u);
  EXPECT_EQ(ModeOf(data + "/blobs"), 0700u);

  // The configuration parses and carries the flag.
  auto config = ParseConfig(ReadFileOrDie(data + "/custos.conf"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->origin, "example.com/archive");
  EXPECT_NE(ReadFileOrDie(data + "/custos.conf").find("# "), std::string::npos);  // commented

  // ECDSA P-256 certificate with the promised SANs.
  FILE* f = std::fopen((data + "/tls/cert.pem").c_str(), "r");
  ASSERT_NE(f, nullptr);
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  ASSERT_NE(cert, nullptr);
  EVP_PKEY* key = X509_get0_pubkey(cert);
  EXPECT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
  char group[64] = {0};
  size_t glen = 0;
  EVP_PKEY_get_group_name(key, group, sizeof group, &glen);
  EXPECT_STREQ(group, "prime256v1");
  EXPECT_EQ(X509_check_host(cert, "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "::1", 0), 1);
  X509_free(cert);
}

TEST(CustosctlInit, RefusesToOverwriteExistingDirectory) {
  TempDir tmp;
  std::string data = tmp.Sub("data");
  ASSERT_EQ(RunProgram({Ctl(), "init", "--data", data}).exit_code, 0);
  std::string before = ReadFileOrDie(data + "/tls/key.pem");
  RunResult again = RunProgram({Ctl(), "init", "--data", data});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("refusing to overwrite"), std::string::npos) << again.err;
  EXPECT_EQ(ReadFileOrDie(data + "/tls/key.pem"), before);
}

TEST(CustosctlInit, BadArgumentsFailWithOneLine) {
  TempDir tmp;
  RunResult r = RunProgram({Ctl(), "init"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--data DIR is required"), std::string::npos);
  r = RunProgram({Ctl(), "init", "--data", tmp.Sub("d"), "--suite", "rot13"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("bad value for archive.suite"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub("d")));
  r = RunProgram({Ctl(), "frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown command 'frobnicate'"), std::string::npos);
  r = RunProgram({Ctl()});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace custos::testing
