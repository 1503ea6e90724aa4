#include "server/services/second_factor.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/hash.h"
#include "crypto/totp.h"
#include "tests/testutil/testutil.h"

namespace custos::services {
namespace {

using std::chrono::seconds;

std::vector<uint8_t> Key(uint8_t fill) { return std::vector<uint8_t>(32, fill); }

domain::Time At(int64_t unix_seconds) { return domain::Time(seconds(unix_seconds)); }

// The current code of a sealed secret, computed with crypto/totp (itself
// tested against the RFC vectors and oathtool).
std::string CodeAt(const SecondFactor& f, const std::string& sealed, int64_t unix_seconds) {
  StatusOr<std::string> b32 = f.OpenSecret(sealed);
  EXPECT_TRUE(b32.ok()) << b32.status().ToString();
  std::optional<crypto::Bytes> key = crypto::Base32Decode(*b32);
  EXPECT_TRUE(key.has_value());
  return crypto::Totp(*key, unix_seconds);
}

int ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return static_cast<int>(st.st_mode & 07777);
}

// A factor with TOTP enrolled and confirmed at T0 (step T0/30).
constexpr int64_t kT0 = 1'800'000'000;  // 2027-01-15, a multiple of 30
struct Enrolled {
  SecondFactor factor{Key(7)};
  Credentials c;
  std::vector<std::string> recovery;
  Enrolled() {
    StatusOr<TotpEnrolment> e = factor.BeginTotp("张伟", c);
    EXPECT_TRUE(e.ok());
    auto codes = factor.ConfirmTotp(c, CodeAt(factor, c.totp_pending, kT0), At(kT0));
    EXPECT_TRUE(codes.ok()) << codes.status().ToString();
    if (codes.ok()) recovery = *codes;
  }
};

// ----------------------------------------------------------- sealing

TEST(SecondFactorSeal, RoundTrip) {
  SecondFactor f(Key(1));
  StatusOr<std::string> sealed = f.SealSecret("JBSWY3DPEHPK3PXP");
  ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
  EXPECT_EQ(sealed->rfind("v1:", 0), 0u);
  EXPECT_EQ(sealed->find("JBSWY3DPEHPK3PXP"), std::string::npos);
  StatusOr<std::string> opened = f.OpenSecret(*sealed);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, "JBSWY3DPEHPK3PXP");
}

TEST(SecondFactorSeal, FreshNonceEachTime) {
  SecondFactor f(Key(1));
  EXPECT_NE(*f.SealSecret("JBSWY3DPEHPK3PXP"), *f.SealSecret("JBSWY3DPEHPK3PXP"));
}

TEST(SecondFactorSeal, TamperedCiphertextRefused) {
  SecondFactor f(Key(1));
  std::string sealed = *f.SealSecret("JBSWY3DPEHPK3PXP");
  std::optional<crypto::Bytes> raw = crypto::Base64Decode(sealed.substr(3));
  ASSERT_TRUE(raw.has_value());
  for (size_t i : {size_t{0}, size_t{12}, raw->size() - 1}) {  // nonce, ciphertext, tag
    crypto::Bytes bad = *raw;
    bad[i] ^= 0x01;
    StatusOr<std::string> opened = f.OpenSecret("v1:" + crypto::Base64Encode(bad));
    ASSERT_FALSE(opened.ok()) << "byte " << i;
    EXPECT_EQ(opened.status().reason(), "totp_secret_unreadable");
  }
}

TEST(SecondFactorSeal, OtherKeyRefused) {
  std::string sealed = *SecondFactor(Key(1)).SealSecret("JBSWY3DPEHPK3PXP");
  StatusOr<std::string> opened = SecondFactor(Key(2)).OpenSecret(sealed);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), ErrorCode::kDataLoss);
}

TEST(SecondFactorSeal, MalformedTextRefused) {
  SecondFactor f(Key(1));
  for (const char* bad : {"", "JBSWY3DPEHPK3PXP", "v2:AAAA", "v1:not base64!", "v1:AAAA", "v1:密钥"}) {
    EXPECT_FALSE(f.OpenSecret(bad).ok()) << bad;
  }
}

TEST(SecondFactorSeal, WrongSizeKeyRefusesToSeal) {
  SecondFactor f(std::vector<uint8_t>(16, 1));
  StatusOr<std::string> sealed = f.SealSecret("JBSWY3DPEHPK3PXP");
  ASSERT_FALSE(sealed.ok());
  EXPECT_EQ(sealed.status().reason(), "factor_key_bad");
}

// ----------------------------------------------------------- key file

TEST(SecondFactorKey, CreatedOwnerOnlyAndReused) {
  testing::TempDir dir;
  StatusOr<std::vector<uint8_t>> first = SecondFactor::LoadOrCreateKey(dir.path());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->size(), 32u);
  EXPECT_EQ(ModeOf(dir.Sub("keys")), 0700);
  EXPECT_EQ(ModeOf(dir.Sub("keys/factor.key")), 0600);
  StatusOr<std::vector<uint8_t>> second = SecondFactor::LoadOrCreateKey(dir.path());
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(*first, *second);
  // A secret sealed under the first load opens under the second.
  std::string sealed = *SecondFactor(*first).SealSecret("MZXW6YTBOI");
  EXPECT_EQ(*SecondFactor(*second).OpenSecret(sealed), "MZXW6YTBOI");
}

TEST(SecondFactorKey, WrongSizeRefused) {
  testing::TempDir dir;
  ASSERT_EQ(::mkdir(dir.Sub("keys").c_str(), 0700), 0);
  testing::WriteFile(dir.Sub("keys/factor.key"), std::string(31, 'k'));
  ASSERT_EQ(::chmod(dir.Sub("keys/factor.key").c_str(), 0600), 0);
  StatusOr<std::vector<uint8_t>> key = SecondFactor::LoadOrCreateKey(dir.path());
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().reason(), "factor_key_bad");
  EXPECT_NE(key.status().message().find("32 bytes"), std::string::npos);
  EXPECT_EQ(testing::ReadFileOrDie(dir.Sub("keys/factor.key")), std::string(31, 'k'));  // left as it was
}

TEST(SecondFactorKey, LooseModeRefused) {
  testing::TempDir dir;
  ASSERT_EQ(::mkdir(dir.Sub("keys").c_str(), 0700), 0);
  testing::WriteFile(dir.Sub("keys/factor.key"), std::string(32, 'k'));
  for (int mode : {0640, 0604, 0644}) {
    ASSERT_EQ(::chmod(dir.Sub("keys/factor.key").c_str(), mode), 0);
    StatusOr<std::vector<uint8_t>> key = SecondFactor::LoadOrCreateKey(dir.path());
    ASSERT_FALSE(key.ok()) << mode;
    EXPECT_EQ(key.status().reason(), "factor_key_mode");
    EXPECT_NE(key.status().message().find("chmod 600"), std::string::npos);
  }
  ASSERT_EQ(::chmod(dir.Sub("keys/factor.key").c_str(), 0400), 0);
  EXPECT_TRUE(SecondFactor::LoadOrCreateKey(dir.path()).ok());  // stricter than 0600 is fine
}

// ----------------------------------------------------------- enrolment

TEST(SecondFactorTotp, BeginGivesSecretAndUri) {
  SecondFactor f(Key(3));
  Credentials c;
  StatusOr<TotpEnrolment> e = f.BeginTotp("王 芳/销售部", c);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->secret_base32.size(), 32u);  // 20 bytes
  ASSERT_TRUE(crypto::Base32Decode(e->secret_base32).has_value());
  EXPECT_EQ(e->otpauth_uri, "otpauth://totp/Custos:%E7%8E%8B%20%E8%8A%B3%2F%E9%94%80%E5%94%AE%E9%83%A8?secret=" +
                                e->secret_base32 + "&issuer=Custos&digits=6&period=30");
  EXPECT_EQ(*f.OpenSecret(c.totp_pending), e->secret_base32);
  EXPECT_TRUE(c.totp_secret.empty());
  EXPECT_FALSE(c.HasSecondFactor());
}

TEST(SecondFactorTotp, ConfirmWithWrongCodeEnrolsNothing) {
  SecondFactor f(Key(3));
  Credentials c;
  ASSERT_TRUE(f.BeginTotp("li.na", c).ok());
  const std::string pending = c.totp_pending;
  const std::string right = CodeAt(f, pending, kT0);
  const std::string wrong = right == "000000" ? "000001" : "000000";
  for (const std::string& bad : {wrong, std::string("12345"), std::string("abcdef"), std::string("")}) {
    auto r = f.ConfirmTotp(c, bad, At(kT0));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().reason(), "invalid_second_factor");
    EXPECT_TRUE(c.totp_secret.empty());
    EXPECT_EQ(c.totp_pending, pending);
    EXPECT_TRUE(c.recovery_code_hashes.empty());
    EXPECT_EQ(c.totp_last_step, -1);
    EXPECT_FALSE(c.HasSecondFactor());
  }
  // A code from far away in time is wrong too.
  EXPECT_FALSE(f.ConfirmTotp(c, CodeAt(f, pending, kT0 + 3600), At(kT0)).ok());
  EXPECT_FALSE(c.HasSecondFactor());
}

TEST(SecondFactorTotp, ConfirmWithoutPendingIsConflict) {
  SecondFactor f(Key(3));
  Credentials c;
  auto r = f.ConfirmTotp(c, "123456", At(kT0));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "totp_not_pending");
}

TEST(SecondFactorTotp, ConfirmEnrolsAndGivesTenRecoveryCodes) {
  Enrolled e;
  EXPECT_TRUE(e.c.HasSecondFactor());
  EXPECT_TRUE(e.c.totp_pending.empty());
  EXPECT_EQ(e.c.totp_last_step, kT0 / 30);
  ASSERT_EQ(e.recovery.size(), 10u);
  ASSERT_EQ(e.c.recovery_code_hashes.size(), 10u);
  std::set<std::string> distinct(e.recovery.begin(), e.recovery.end());
  EXPECT_EQ(distinct.size(), 10u);
  for (const std::string& code : e.recovery) {
    ASSERT_EQ(code.size(), 11u) << code;
    EXPECT_EQ(code[5], '-') << code;
    for (size_t i = 0; i < code.size(); ++i) {
      if (i == 5) continue;
      EXPECT_NE(std::string("23456789abcdefghjkmnpqrstuvwxyz").find(code[i]), std::string::npos) << code;
    }
    for (const std::string& h : e.c.recovery_code_hashes) EXPECT_EQ(h.find(code.substr(0, 5)), std::string::npos);
  }
}

TEST(SecondFactorTotp, ConfirmingAgainReplacesRecoveryCodes) {
  Enrolled e;
  const std::vector<std::string> old_hashes = e.c.recovery_code_hashes;
  ASSERT_TRUE(e.factor.BeginTotp("张伟", e.c).ok());
  const int64_t t = kT0 + 300;
  auto codes = e.factor.ConfirmTotp(e.c, CodeAt(e.factor, e.c.totp_pending, t), At(t));
  ASSERT_TRUE(codes.ok()) << codes.status().ToString();
  EXPECT_NE(e.c.recovery_code_hashes, old_hashes);
  EXPECT_FALSE(e.factor.UseRecoveryCode(e.c, e.recovery[0]));  // the old ones are gone
  EXPECT_TRUE(e.factor.UseRecoveryCode(e.c, (*codes)[0]));
}

// ----------------------------------------------------------- checking

TEST(SecondFactorTotp, AcceptsWithinSkewOnly) {
  Enrolled e;  // default skew: one step either side
  const int64_t now = kT0 + 10 * 30;
  // One step late (the code of the previous step) and one step early.
  Credentials late = e.c;
  EXPECT_EQ(e.factor.CheckTotp(late, CodeAt(e.factor, e.c.totp_secret, now - 30), At(now)), FactorCheck::kOk);
  Credentials early = e.c;
  EXPECT_EQ(e.factor.CheckTotp(early, CodeAt(e.factor, e.c.totp_secret, now + 30), At(now)), FactorCheck::kOk);
  EXPECT_EQ(early.totp_last_step, now / 30 + 1);
  // Two steps away either way.
  Credentials far = e.c;
  EXPECT_EQ(e.factor.CheckTotp(far, CodeAt(e.factor, e.c.totp_secret, now - 60), At(now)), FactorCheck::kWrong);
  EXPECT_EQ(e.factor.CheckTotp(far, CodeAt(e.factor, e.c.totp_secret, now + 60), At(now)), FactorCheck::kWrong);
  EXPECT_EQ(far.totp_last_step, kT0 / 30);  // nothing recorded
}

TEST(SecondFactorTotp, WiderSkewOption) {
  Enrolled e;
  SecondFactor wide(Key(7), TotpOptions{.skew_steps = 2});
  const int64_t now = kT0 + 10 * 30;
  EXPECT_EQ(wide.CheckTotp(e.c, CodeAt(e.factor, e.c.totp_secret, now - 60), At(now)), FactorCheck::kOk);
}

TEST(SecondFactorTotp, ReusedCodeRefused) {
  Enrolled e;
  const int64_t now = kT0 + 600;
  const std::string code = CodeAt(e.factor, e.c.totp_secret, now);
  EXPECT_EQ(e.factor.CheckTotp(e.c, code, At(now)), FactorCheck::kOk);
  EXPECT_EQ(e.c.totp_last_step, now / 30);
  EXPECT_EQ(e.factor.CheckTotp(e.c, code, At(now)), FactorCheck::kReused);
  EXPECT_EQ(e.factor.CheckTotp(e.c, code, At(now + 20)), FactorCheck::kReused);  // still within skew
  // An older step than the last one used is refused too.
  EXPECT_EQ(e.factor.CheckTotp(e.c, CodeAt(e.factor, e.c.totp_secret, now - 30), At(now)), FactorCheck::kReused);
  // The code that confirmed the enrolment cannot sign in.
  Enrolled fresh;
  EXPECT_EQ(fresh.factor.CheckTotp(fresh.c, CodeAt(fresh.factor, fresh.c.totp_secret, kT0), At(kT0)),
            FactorCheck::kReused);
  // The next step works.
  EXPECT_EQ(e.factor.CheckTotp(e.c, CodeAt(e.factor, e.c.totp_secret, now + 30), At(now + 30)), FactorCheck::kOk);
}

TEST(SecondFactorTotp, WrongCodesRefused) {
  Enrolled e;
  const int64_t now = kT0 + 900;
  const std::string right = CodeAt(e.factor, e.c.totp_secret, now);
  std::string wrong = right;
  wrong[5] = right[5] == '9' ? '0' : static_cast<char>(right[5] + 1);
  for (const std::string& bad : {wrong, right.substr(0, 5), right + "0", std::string("十二三四五六"), std::string()}) {
    Credentials c = e.c;
    EXPECT_EQ(e.factor.CheckTotp(c, bad, At(now)), FactorCheck::kWrong) << bad;
    EXPECT_EQ(c.totp_last_step, e.c.totp_last_step);
  }
  // Spaces as apps show them ("123 456") are fine.
  Credentials c = e.c;
  EXPECT_EQ(e.factor.CheckTotp(c, right.substr(0, 3) + " " + right.substr(3), At(now)), FactorCheck::kOk);
}

TEST(SecondFactorTotp, NotEnrolledOrOtherKeyIsWrong) {
  SecondFactor f(Key(7));
  Credentials none;
  EXPECT_EQ(f.CheckTotp(none, "123456", At(kT0)), FactorCheck::kWrong);
  Enrolled e;
  SecondFactor other(Key(8));
  Credentials c = e.c;
  EXPECT_EQ(other.CheckTotp(c, CodeAt(e.factor, e.c.totp_secret, kT0 + 30), At(kT0 + 30)), FactorCheck::kWrong);
}

// ----------------------------------------------------------- recovery codes

TEST(SecondFactorRecovery, EachCodeWorksOnce) {
  Enrolled e;
  for (size_t i = 0; i < e.recovery.size(); ++i) {
    EXPECT_TRUE(e.factor.UseRecoveryCode(e.c, e.recovery[i])) << i;
    EXPECT_EQ(e.c.recovery_code_hashes.size(), 9 - i);
    EXPECT_FALSE(e.factor.UseRecoveryCode(e.c, e.recovery[i])) << i;
  }
  EXPECT_TRUE(e.c.recovery_code_hashes.empty());
}

TEST(SecondFactorRecovery, NormalisedInput) {
  Enrolled e;
  std::string code = e.recovery[3];
  std::string typed;
  for (char ch : code) {
    if (ch == '-') continue;
    typed.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
    if (typed.size() == 3 || typed.size() == 8) typed.push_back(' ');
  }
  EXPECT_TRUE(e.factor.UseRecoveryCode(e.c, typed)) << typed;
  EXPECT_FALSE(e.factor.UseRecoveryCode(e.c, code));
}

TEST(SecondFactorRecovery, UnknownCodesRefusedAndNothingRemoved) {
  Enrolled e;
  for (const std::string& bad : {std::string("aaaaa-aaaaa"), std::string(""), e.recovery[0].substr(0, 10),
                                 e.recovery[0] + "2", std::string("恢复码-恢复码")}) {
    EXPECT_FALSE(e.factor.UseRecoveryCode(e.c, bad)) << bad;
    EXPECT_EQ(e.c.recovery_code_hashes.size(), 10u);
  }
}

TEST(SecondFactorRecovery, StoredAsSha256OfNormalisedCode) {
  Enrolled e;
  std::string normalised = e.recovery[0];
  normalised.erase(5, 1);
  EXPECT_EQ(e.c.recovery_code_hashes[0], crypto::HexEncode(crypto::Sha256Of(normalised)));
}

}  // namespace
}  // namespace custos::services
