#include "crypto/hash.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace custos::crypto {
namespace {

std::string Hex(const Digest32& d) { return HexEncode(d); }

// FIPS 180-2 Appendix B examples (B.1 "abc", B.2 the 448-bit message, B.3 one
// million 'a'), and the well-known digest of the empty string.
constexpr const char* kSha256Abc =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr const char* kSha256Empty =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr const char* kSha256TwoBlock =
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
constexpr const char* kSha256MillionA =
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

// GB/T 32905-2016 Appendix A examples 1 ("abc") and 2 ("abcd" × 16).
constexpr const char* kSm3Abc = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0";
constexpr const char* kSm3Abcd16 =
    "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732";

TEST(HashSha256, FipsAbc) { EXPECT_EQ(Hex(Sha256Of("abc")), kSha256Abc); }

TEST(HashSha256, EmptyMessage) {
  EXPECT_EQ(Hex(Sha256Of("")), kSha256Empty);
  EXPECT_EQ(Hex(Sha256Of(nullptr, 0)), kSha256Empty);
  Sha256 h;
  EXPECT_EQ(Hex(h.Finish()), kSha256Empty);
}

TEST(HashSha256, FipsTwoBlockMessage) {
  EXPECT_EQ(Hex(Sha256Of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            kSha256TwoBlock);
}

TEST(HashSha256, MillionAStreamedInOddChunks) {
  Sha256 h;
  const std::string chunk(997, 'a');  // a prime, so chunks straddle blocks
  size_t left = 1000000;
  while (left > 0) {
    size_t n = std::min(left, chunk.size());
    h.Update(std::string_view(chunk.data(), n));
    left -= n;
  }
  EXPECT_EQ(Hex(h.Finish()), kSha256MillionA);
}

TEST(HashSha256, FinishResetsForReuse) {
  Sha256 h;
  h.Update("ab");
  h.Update("c");
  EXPECT_EQ(Hex(h.Finish()), kSha256Abc);
  h.Update("abc");
  EXPECT_EQ(Hex(h.Finish()), kSha256Abc);  // no state left from the first message
}

TEST(HashSha256, ResetDiscardsInput) {
  Sha256 h;
  h.Update("garbage");
  h.Reset();
  h.Update("abc");
  EXPECT_EQ(Hex(h.Finish()), kSha256Abc);
}

TEST(HashSha256, CopyForksRunningState) {
  Sha256 prefix;
  prefix.Update("ab");
  Sha256 fork = prefix;
  fork.Update("c");
  prefix.Update("x");
  EXPECT_EQ(Hex(fork.Finish()), kSha256Abc);
  EXPECT_NE(Hex(prefix.Finish()), kSha256Abc);
}

TEST(HashSha256, MoveKeepsState) {
  Sha256 a;
  a.Update("ab");
  Sha256 b = std::move(a);
  b.Update("c");
  EXPECT_EQ(Hex(b.Finish()), kSha256Abc);
  a = b;  // a moved-from hasher may be assigned to
  a.Update("abc");
  EXPECT_EQ(Hex(a.Finish()), kSha256Abc);
}

TEST(HashSm3, GbtAbc) {
  EXPECT_EQ(Hex(Sm3Of("abc")), kSm3Abc);
  EXPECT_EQ(Hex(HashOf(HashAlgorithm::kSm3, "abc")), kSm3Abc);
}

TEST(HashSm3, Gbt64ByteMessageStreamed) {
  std::string msg;
  for (int i = 0; i < 16; ++i) msg += "abcd";
  EXPECT_EQ(Hex(Sm3Of(msg)), kSm3Abcd16);
  Sm3 h;
  for (int i = 0; i < 16; ++i) h.Update("abcd");
  EXPECT_EQ(Hex(h.Finish()), kSm3Abcd16);
}

TEST(HashSm3, DiffersFromSha256) {
  EXPECT_NE(Sm3Of("abc"), Sha256Of("abc"));
  EXPECT_EQ(Hasher(HashAlgorithm::kSm3).algorithm(), HashAlgorithm::kSm3);
  EXPECT_EQ(HashAlgorithmName(HashAlgorithm::kSm3), "sm3");
  EXPECT_EQ(HashAlgorithmName(HashAlgorithm::kSha256), "sha256");
}

}  // namespace
}  // namespace custos::crypto
