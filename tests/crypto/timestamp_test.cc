// RFC 3161 tokens (crypto/timestamp.h) against a real `openssl ts -reply`
// TSA made at run time (tests/testutil/test_tsa.h), and checked back with the
// real `openssl ts -verify`.
#include "crypto/timestamp.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "crypto/hash.h"
#include "crypto/signed_note.h"
#include "tests/testutil/test_tsa.h"

namespace custos::crypto::tsa {
namespace {

using testing::TestTsa;

constexpr std::string_view kText = "example.com/custos\n42\nq6rNq6rNq6rNq6rNq6rNq6rNq6rNq6rNq6rNq6rNq6s=\n";
constexpr uint64_t kNonce = 0x1122334455667788ull;

class TimestampTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tsa_ = new TestTsa;
    other_ = new TestTsa;
    ASSERT_TRUE(tsa_->Start("Timestamp Test TSA"));
    ASSERT_TRUE(other_->Start("Other TSA"));
  }
  static void TearDownTestSuite() {
    delete tsa_;
    delete other_;
  }
  void SetUp() override { tsa_->set_mode(TestTsa::Mode::kGrant); }

  // A reply of `tsa` for a request over `text` with `nonce`.
  static std::vector<uint8_t> ReplyFor(TestTsa* tsa, std::string_view text, uint64_t nonce) {
    std::vector<uint8_t> query = MakeRequest(Sha256Of(text), nonce);
    EXPECT_FALSE(query.empty());
    return tsa->Reply(query);
  }
  static std::vector<uint8_t> TokenFor(TestTsa* tsa, std::string_view text) {
    StatusOr<std::vector<uint8_t>> token =
        TokenFromResponse(ReplyFor(tsa, text, kNonce), Sha256Of(text), kNonce);
    EXPECT_TRUE(token.ok()) << token.status().ToString();
    return token.ok() ? *token : std::vector<uint8_t>();
  }

  static TestTsa* tsa_;
  static TestTsa* other_;
};
TestTsa* TimestampTest::tsa_ = nullptr;
TestTsa* TimestampTest::other_ = nullptr;

TEST_F(TimestampTest, GrantedTokenVerifiesHereAndWithOpensslTsVerify) {
  std::vector<uint8_t> token = TokenFor(tsa_, kText);
  StatusOr<TokenInfo> info = VerifyToken(token, kText, tsa_->ca_pem());
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  EXPECT_LE(std::abs(info->gen_time_unix - now), 120);
  EXPECT_EQ(info->tsa_subject, "CN=Timestamp Test TSA,O=Custos Tests");
  EXPECT_FALSE(info->serial_hex.empty());

  std::string out;
  EXPECT_EQ(tsa_->OpensslVerify(std::string(kText), token, &out), 0) << out;
  EXPECT_NE(out.find("Verification: OK"), std::string::npos) << out;
}

TEST_F(TimestampTest, ChangedTextByteIsImprintMismatch) {
  std::vector<uint8_t> token = TokenFor(tsa_, kText);
  std::string changed(kText);
  changed[5] ^= 0x01;
  StatusOr<TokenInfo> info = VerifyToken(token, changed, tsa_->ca_pem());
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().reason(), kReasonImprintMismatch);
  EXPECT_NE(tsa_->OpensslVerify(changed, token), 0);
}

TEST_F(TimestampTest, TokenFromAnotherCaIsUntrusted) {
  std::vector<uint8_t> token = TokenFor(other_, kText);
  ASSERT_TRUE(VerifyToken(token, kText, other_->ca_pem()).ok());
  StatusOr<TokenInfo> info = VerifyToken(token, kText, tsa_->ca_pem());
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().reason(), kReasonUntrusted);
  EXPECT_NE(tsa_->OpensslVerify(std::string(kText), token), 0);
}

TEST_F(TimestampTest, ChangedSignatureOrTstInfoByteIsBadSignature) {
  std::vector<uint8_t> token = TokenFor(tsa_, kText);
  // The last byte is inside the signature value; the serial number's digits
  // are inside the signed TSTInfo, right after the imprint.
  std::vector<uint8_t> bad_sig = token;
  bad_sig.back() ^= 0x01;
  Digest32 imprint = Sha256Of(kText);
  auto at = std::search(token.begin(), token.end(), imprint.begin(), imprint.end());
  ASSERT_NE(at, token.end());
  std::vector<uint8_t> bad_tst = token;
  bad_tst[size_t(at - token.begin()) + imprint.size() + 2] ^= 0x01;  // serial INTEGER's value
  for (const auto& bad : {bad_sig, bad_tst}) {
    StatusOr<TokenInfo> info = VerifyToken(bad, kText, tsa_->ca_pem());
    ASSERT_FALSE(info.ok());
    EXPECT_EQ(info.status().reason(), kReasonBadSignature) << info.status().ToString();
    EXPECT_NE(tsa_->OpensslVerify(std::string(kText), bad), 0);
  }
}

TEST_F(TimestampTest, NonceMismatchIsRefused) {
  std::vector<uint8_t> reply = ReplyFor(tsa_, kText, kNonce);
  StatusOr<std::vector<uint8_t>> token = TokenFromResponse(reply, Sha256Of(kText), kNonce + 1);
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().reason(), kReasonNonceMismatch);
  // A reply over another text is an imprint mismatch.
  token = TokenFromResponse(reply, Sha256Of("other\n"), kNonce);
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().reason(), kReasonImprintMismatch);
}

TEST_F(TimestampTest, RejectionStatusIsNamed) {
  tsa_->set_mode(TestTsa::Mode::kReject);
  StatusOr<std::vector<uint8_t>> token =
      TokenFromResponse(ReplyFor(tsa_, kText, kNonce), Sha256Of(kText), kNonce);
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), ErrorCode::kUnprocessable);
  EXPECT_EQ(token.status().reason(), kReasonRejected);
  EXPECT_NE(token.status().message().find("rejection"), std::string::npos);
  EXPECT_NE(token.status().message().find("badAlg"), std::string::npos);
}

TEST_F(TimestampTest, TruncatedOrTrailingDerIsMalformedNeverACrash) {
  std::vector<uint8_t> reply = ReplyFor(tsa_, kText, kNonce);
  std::vector<uint8_t> token = TokenFor(tsa_, kText);
  for (size_t n = 0; n < reply.size(); n += 3) {
    std::vector<uint8_t> cut(reply.begin(), reply.begin() + long(n));
    StatusOr<std::vector<uint8_t>> t = TokenFromResponse(cut, Sha256Of(kText), kNonce);
    ASSERT_FALSE(t.ok()) << n;
    EXPECT_EQ(t.status().reason(), kReasonMalformed) << n;
  }
  for (size_t n = 0; n < token.size(); n += 3) {
    std::vector<uint8_t> cut(token.begin(), token.begin() + long(n));
    StatusOr<TokenInfo> info = VerifyToken(cut, kText, tsa_->ca_pem());
    ASSERT_FALSE(info.ok()) << n;
    EXPECT_EQ(info.status().reason(), kReasonMalformed) << n;
  }
  std::vector<uint8_t> trailing = token;
  trailing.push_back(0);
  EXPECT_EQ(VerifyToken(trailing, kText, tsa_->ca_pem()).status().reason(), kReasonMalformed);
  std::vector<uint8_t> garbage = {'n', 'o', 't', ' ', 'D', 'E', 'R'};
  EXPECT_EQ(TokenFromResponse(garbage, Sha256Of(kText), kNonce).status().reason(),
            kReasonMalformed);
  // A token is not a reply, and a reply is not a token.
  EXPECT_EQ(TokenFromResponse(token, Sha256Of(kText), kNonce).status().reason(), kReasonMalformed);
  EXPECT_EQ(VerifyToken(reply, kText, tsa_->ca_pem()).status().reason(), kReasonMalformed);
}

TEST_F(TimestampTest, TrustBundleWithoutCertificateIsRefused) {
  std::vector<uint8_t> token = TokenFor(tsa_, kText);
  for (const std::string& bundle : {std::string(), std::string("not a certificate\n")}) {
    StatusOr<TokenInfo> info = VerifyToken(token, kText, bundle);
    ASSERT_FALSE(info.ok());
    EXPECT_EQ(info.status().reason(), kReasonBadTrustBundle);
  }
  // A bundle of two roots trusts the tokens of both.
  EXPECT_TRUE(VerifyToken(token, kText, other_->ca_pem() + tsa_->ca_pem()).ok());
}

TEST(TimestampLineTest, KeyIdIsSignedNoteDerivationWithRfc3161Type) {
  Sha256 h;
  h.Update("tsa.example.com");
  h.Update(std::string_view("\n\xff" "custos/rfc3161"));
  Digest32 d = h.Finish();
  uint32_t want = (uint32_t(d[0]) << 24) | (uint32_t(d[1]) << 16) | (uint32_t(d[2]) << 8) | d[3];
  EXPECT_EQ(TimestampKeyId("tsa.example.com"), want);
  EXPECT_NE(TimestampKeyId("tsa.example.com"), TimestampKeyId("tsa.example.org"));
}

TEST(TimestampLineTest, LineRoundTripAndRefusals) {
  const std::vector<uint8_t> token = {0x30, 0x03, 0x02, 0x01, 0x07};
  std::string line = TimestampLine("tsa.example.com", token);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.rfind("\xE2\x80\x94 tsa.example.com ", 0), 0u) << line;
  StatusOr<std::vector<uint8_t>> back = TokenFromLine("tsa.example.com", line);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, token);
  // Without its final newline too.
  EXPECT_TRUE(TokenFromLine("tsa.example.com", line.substr(0, line.size() - 1)).ok());

  EXPECT_EQ(TokenFromLine("other.example", line).status().reason(), kReasonLineWrongName);
  // Another name's key id under this name.
  std::string other = TimestampLine("other.example", token);
  std::string swapped = "\xE2\x80\x94 tsa.example.com " + other.substr(other.rfind(' ') + 1);
  EXPECT_EQ(TokenFromLine("tsa.example.com", swapped).status().reason(),
            kReasonLineKeyIdMismatch);
  for (const std::string& bad :
       {std::string("- tsa.example.com AAAAAAA=\n"), std::string("\xE2\x80\x94 tsa.example.com\n"),
        std::string("\xE2\x80\x94 tsa.example.com !!!!\n"),
        "\xE2\x80\x94 tsa.example.com " + Base64Encode(Bytes{1, 2, 3, 4}) + "\n"}) {
    EXPECT_EQ(TokenFromLine("tsa.example.com", bad).status().reason(), kReasonLineMalformed)
        << bad;
  }
  EXPECT_EQ(TimestampLine("bad name", token), "");
  EXPECT_EQ(TimestampLine("a+b", token), "");
}

TEST(TimestampLineTest, LineRidesOnASignedNoteUnseenByOtherVerifiers) {
  // A checkpoint signed by the log, plus a timestamp line: note::Open with
  // only the log's key still accepts it and lists the line as unverified.
  StatusOr<KeyPair> key = KeyPair::Generate(SignatureAlgorithm::kEd25519);
  ASSERT_TRUE(key.ok());
  StatusOr<note::KeySigner> signer = note::KeySigner::Create("example.com/custos", std::move(*key));
  ASSERT_TRUE(signer.ok());
  StatusOr<std::string> signed_note = note::Sign(kText, {&*signer});
  ASSERT_TRUE(signed_note.ok());
  const std::vector<uint8_t> token = {0x30, 0x00};
  std::string attested = *signed_note + TimestampLine("tsa.example.com", token);
  StatusOr<note::Note> opened = note::Open(attested, {&signer->verifier()});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  ASSERT_EQ(opened->unverified.size(), 1u);
  EXPECT_EQ(opened->unverified[0].name, "tsa.example.com");
  EXPECT_EQ(opened->unverified[0].key_id, TimestampKeyId("tsa.example.com"));
}

}  // namespace
}  // namespace custos::crypto::tsa
