#include "common/config.h"

#include <gtest/gtest.h>

namespace custos {
namespace {

TEST(Config, DefaultsRoundTripThroughTheFileFormat) {
  Config defaults;
  auto parsed = ParseConfig(FormatConfigFile(defaults));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(FormatConfigFile(*parsed), FormatConfigFile(defaults));
  EXPECT_EQ(parsed->listen.ToString(), "127.0.0.1:8443");
}

TEST(Config, EveryKeyAppearsInTheWrittenFile) {
  std::string text = FormatConfigFile(Config{});
  for (const auto& key : ConfigKeys()) EXPECT_NE(text.find(key + " = "), std::string::npos) << key;
}

TEST(Config, UnknownKey) {
  auto r = ParseConfig("# c\n\nserver.threads = 4\nbogus.key = 1\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "config_unknown_key");
  EXPECT_NE(r.status().message().find("line 4"), std::string::npos);
}

TEST(Config, BadValues) {
  for (const char* text : {"server.threads = 0\n", "server.threads = 12x\n",
                           "server.keep_alive = maybe\n", "archive.suite = des\n",
                           "server.listen = 127.0.0.1:99999\n", "server.listen = :80\n",
                           "server.max_body_bytes = -5\n", "storage.backend = mysql\n",
                           // weaker password hashes than the floor allows
                           "auth.password_memory_kib = 19455\n", "auth.password_memory_kib = -1\n"}) {
    auto r = ParseConfig(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().reason(), "config_bad_value") << text;
  }
}

TEST(Config, PasswordMemoryHasAFloor) {
  auto r = ParseConfig("auth.password_memory_kib = 19456\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->password_memory_kib, kMinPasswordMemoryKib);
  EXPECT_EQ(Config{}.password_memory_kib, 65536u);
}

TEST(Config, ListValues) {
  auto ok = ParseConfig(
      "alerts.certificate_horizons_days = 60, 14 ,3\n"
      "destruction.approver_roles = approver,approver , legal\n"
      "loans.max_days = 30\n");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->certificate_horizons_days, (std::vector<int>{60, 14, 3}));
  EXPECT_EQ(ok->destruction_approver_roles,
            (std::vector<std::string>{"approver", "approver", "legal"}));
  EXPECT_EQ(ok->loan_max_days, 30);
  for (const char* text :
       {"alerts.certificate_horizons_days = \n", "alerts.certificate_horizons_days = 30,,7\n",
        "alerts.certificate_horizons_days = 0\n", "alerts.certificate_horizons_days = 7d\n",
        "destruction.approver_roles = legal\n", "destruction.approver_roles = approver,admin\n",
        "destruction.approver_roles = approver,staff\n", "loans.max_days = 0\n",
        "loans.max_days = 3651\n"}) {
    auto r = ParseConfig(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().reason(), "config_bad_value") << text;
  }
}

// loans.stamp_classifications: classification names or nothing; the
// default stamps confidential and secret records' loan copies.
TEST(Config, StampClassificationsAreClassificationNames) {
  EXPECT_EQ(Config{}.loan_stamp_classifications, (std::vector<std::string>{"confidential", "secret"}));
  auto ok = ParseConfig("loans.stamp_classifications = internal, secret\n");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->loan_stamp_classifications, (std::vector<std::string>{"internal", "secret"}));
  auto none = ParseConfig("loans.stamp_classifications =\n");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->loan_stamp_classifications.empty());
  for (const char* text : {"loans.stamp_classifications = top-secret\n", "loans.stamp_classifications = secret,,internal\n",
                           "loans.stamp_classifications = 机密\n"}) {
    auto r = ParseConfig(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().reason(), "config_bad_value") << text;
  }
}

TEST(Config, VerifyIntervalsAreDurations) {
  Config defaults;
  EXPECT_EQ(defaults.verify_interval_s, 86400);
  EXPECT_EQ(defaults.full_verify_interval_s, 7 * 86400);
  EXPECT_NE(FormatConfigFile(defaults).find("audit.verify_interval = 1d\n"), std::string::npos);
  auto ok = ParseConfig("audit.verify_interval = 15m\naudit.full_verify_interval = 36h\n");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->verify_interval_s, 900);
  EXPECT_EQ(ok->full_verify_interval_s, 36 * 3600);
  auto seconds = ParseConfig("audit.verify_interval = 90\n");
  ASSERT_TRUE(seconds.ok()) << seconds.status().ToString();
  EXPECT_EQ(seconds->verify_interval_s, 90);
  auto off = ParseConfig("audit.verify_interval = 0\n");
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_EQ(off->verify_interval_s, 0);
  EXPECT_EQ(FormatDuration(5400), "90m");
  EXPECT_EQ(FormatDuration(61), "61s");
  for (const char* text :
       {"audit.verify_interval = 1.5h\n", "audit.verify_interval = -30s\n",
        "audit.verify_interval = 10w\n", "audit.verify_interval = h\n",
        "audit.verify_interval = 31d\n", "audit.verify_interval = 99999999999999999999\n",
        "audit.full_verify_interval = 0\n",
        // a full pass cannot come more often than a pass at all
        "audit.verify_interval = 2d\naudit.full_verify_interval = 1d\n"}) {
    auto r = ParseConfig(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().reason(), "config_bad_value") << text;
  }
  auto bad = ParseConfig("audit.verify_interval = 1.5h\n");
  EXPECT_NE(bad.status().message().find("audit.verify_interval: '1.5h'"), std::string::npos)
      << bad.status().message();
}

TEST(Config, SyntaxAndRepetition) {
  EXPECT_EQ(ParseConfig("server.threads\n").status().reason(), "config_syntax");
  EXPECT_EQ(ParseConfig("server.threads=1\nserver.threads=2\n").status().reason(),
            "config_repeated_key");
}

TEST(Config, CrossFieldRules) {
  EXPECT_FALSE(ParseConfig("storage.backend = postgresql\n").ok());
  EXPECT_TRUE(ParseConfig("storage.backend = postgresql\nstorage.dsn = host=x\n").ok());
  EXPECT_FALSE(ParseConfig("server.max_body_bytes = 2048\nserver.max_json_bytes = 4096\n").ok());
}

TEST(ListenAddress, Forms) {
  auto v4 = ParseListenAddress("0.0.0.0:443");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "0.0.0.0");
  EXPECT_EQ(v4->port, 443);
  auto v6 = ParseListenAddress("[::1]:8443");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "[::1]:8443");
  EXPECT_FALSE(ParseListenAddress("::1:8443").ok());
  EXPECT_FALSE(ParseListenAddress("[::1]8443").ok());
  EXPECT_FALSE(ParseListenAddress("host:").ok());
}

TEST(Config, WitnessesAndTimestampAuthoritiesAreEndpointLists) {
  Config defaults;
  EXPECT_TRUE(defaults.witnesses.empty());
  EXPECT_EQ(WitnessPolicy(defaults), 0);
  auto ok = ParseConfig(
      "log.witnesses = w.example/一+0a1b2c3d+BAAA http://127.0.0.1:7001, w2.example+00000000+BBBB https://w2.example/w\n"
      "log.tsa = tsa.example/时间 http://127.0.0.1:7002/tsa\nlog.tsa_ca = tsa-roots.pem\nlog.timestamp_interval = 0\n");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  ASSERT_EQ(ok->witnesses.size(), 2u);
  EXPECT_EQ(ok->witnesses[0], "w.example/一+0a1b2c3d+BAAA http://127.0.0.1:7001");
  EXPECT_EQ(WitnessPolicy(*ok), 1);
  ASSERT_EQ(ok->tsas.size(), 1u);
  EXPECT_EQ(ok->timestamp_interval_s, 0);
  auto again = ParseConfig(FormatConfigFile(*ok));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->witnesses, ok->witnesses);
  EXPECT_EQ(again->witness_policy, -1);

  for (const char* bad : {"log.witnesses = http://127.0.0.1:7001\n", "log.witnesses = key ftp://x.example\n",
                          "log.witnesses = key http://a b\n", "log.tsa = name\n",
                          "log.witnesses = k http://127.0.0.1:7001\nlog.witness_policy = 2\n",
                          "log.tsa = t http://127.0.0.1:7002\n", "log.witness_policy = -3\n"}) {
    auto parsed = ParseConfig(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().reason(), "config_bad_value") << bad;
  }
}

}  // namespace
}  // namespace custos
