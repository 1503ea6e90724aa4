#include "crypto/totp.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "tests/testutil/process.h"

namespace custos::crypto {
namespace {

Bytes B(const std::string& s) { return Bytes(s.begin(), s.end()); }

// The 20-byte ASCII secret of RFC 4226 Appendix D and RFC 6238 Appendix B.
const Bytes kRfcKey = B("12345678901234567890");

TEST(Hotp, Rfc4226AppendixD) {
  const char* want[] = {"755224", "287082", "359152", "969429", "338314",
                        "254676", "287922", "162583", "399871", "520489"};
  for (uint64_t counter = 0; counter < 10; ++counter) {
    EXPECT_EQ(Hotp(kRfcKey, counter), want[counter]) << "counter " << counter;
  }
}

TEST(Totp, Rfc6238AppendixBSha1EightDigits) {
  struct Vector {
    int64_t time;
    const char* code;
  };
  const Vector vectors[] = {{59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
                            {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"}};
  for (const Vector& v : vectors) {
    EXPECT_EQ(Totp(kRfcKey, v.time, 30, 8), v.code) << "T=" << v.time;
  }
}

TEST(Totp, SixDigitsKeepLeadingZeros) {
  // RFC 6238's 07081804 at T=1111111109, truncated to 6 digits: 081804.
  EXPECT_EQ(Totp(kRfcKey, 1111111109), "081804");
}

TEST(Totp, StepBoundaries) {
  EXPECT_EQ(TotpStep(0), 0);
  EXPECT_EQ(TotpStep(29), 0);
  EXPECT_EQ(TotpStep(30), 1);
  EXPECT_EQ(TotpStep(-1), -1);
  EXPECT_EQ(Totp(kRfcKey, 30), Hotp(kRfcKey, 1));
  EXPECT_EQ(Totp(kRfcKey, 59), Hotp(kRfcKey, 1));
}

// RFC 4648 §10, without the padding (which the decoder refuses).
TEST(Base32, Rfc4648Section10) {
  struct Vector {
    const char* plain;
    const char* encoded;
  };
  const Vector vectors[] = {{"", ""},           {"f", "MY"},           {"fo", "MZXQ"},
                            {"foo", "MZXW6"},   {"foob", "MZXW6YQ"},   {"fooba", "MZXW6YTB"},
                            {"foobar", "MZXW6YTBOI"}};
  for (const Vector& v : vectors) {
    EXPECT_EQ(Base32Encode(B(v.plain)), v.encoded) << v.plain;
    std::optional<Bytes> back = Base32Decode(v.encoded);
    ASSERT_TRUE(back.has_value()) << v.encoded;
    EXPECT_EQ(ToString(*back), v.plain);
  }
}

TEST(Base32, DecodesLowerCaseAndSpaces) {
  std::optional<Bytes> key = Base32Decode("gezd gnbv gy3t qojq GEZD GNBV GY3T QOJQ");
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(*key, kRfcKey);
}

TEST(Base32, RefusesPadding) { EXPECT_FALSE(Base32Decode("MY======").has_value()); }

TEST(Base32, RefusesCharactersOutsideTheAlphabet) {
  for (const char* bad : {"MZXW1", "MZXW8", "MZXW0", "MZ-XW", "MZ\tXW", "MZXW6\n", "密钥MZXW"}) {
    EXPECT_FALSE(Base32Decode(bad).has_value()) << bad;
  }
}

TEST(Base32, RefusesImpossibleLengths) {
  for (const char* bad : {"M", "MZX", "MZXW6Y", "MZXW6YTBM"}) {
    EXPECT_FALSE(Base32Decode(bad).has_value()) << bad;
  }
}

TEST(Base32, RefusesNonZeroTrailingBits) {
  // "MZ" is 'f' with two zero bits; "MZ" → "M3" sets one of them.
  EXPECT_FALSE(Base32Decode("M3").has_value());
}

TEST(Base32, RoundTripsEveryLength) {
  std::mt19937 rng(23);
  for (size_t n = 0; n < 64; ++n) {
    Bytes b(n);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    std::optional<Bytes> back = Base32Decode(Base32Encode(b));
    ASSERT_TRUE(back.has_value()) << n;
    EXPECT_EQ(*back, b);
  }
}

bool OathtoolInstalled() {
  return std::system("command -v oathtool >/dev/null 2>&1") == 0;
}

bool RunningInCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

// An implementation other than ours (oathtool, Debian package "oathtool",
// installed by scripts/install-deps.sh) agrees on random secrets and times.
TEST(Totp, AgreesWithOathtool) {
  if (!OathtoolInstalled()) {
    if (RunningInCi()) FAIL() << "oathtool is not installed (scripts/install-deps.sh installs it)";
    GTEST_SKIP() << "oathtool is not installed";
  }
  std::mt19937_64 rng(std::random_device{}());
  for (int i = 0; i < 20; ++i) {
    Bytes key(10 + rng() % 30);
    for (auto& x : key) x = static_cast<uint8_t>(rng());
    int64_t t = static_cast<int64_t>(rng() % 4000000000ULL);
    std::string secret = Base32Encode(key);
    testing::RunResult r =
        testing::RunProgram({"/bin/sh", "-c", "exec oathtool --totp -b -N \"$0\" \"$1\"", "@" + std::to_string(t), secret});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::string want = r.out;
    while (!want.empty() && (want.back() == '\n' || want.back() == '\r')) want.pop_back();
    EXPECT_EQ(Totp(key, t), want) << "secret " << secret << " at " << t;
  }
}

}  // namespace
}  // namespace custos::crypto
