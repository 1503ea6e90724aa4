#include "crypto/hmac.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace custos::crypto {
namespace {

Bytes B(const std::string& s) { return Bytes(s.begin(), s.end()); }

// RFC 4231 test case 2 (a short key) and test case 6 (a 131-byte key,
// which is hashed first).
TEST(HmacSha256, Rfc4231ShortKey) {
  HmacSha256 mac(B("Jefe"));
  EXPECT_EQ(HexEncode(mac.Mac("what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HmacSha256, Rfc4231KeyLongerThanBlock) {
  HmacSha256 mac(Bytes(131, 0xaa));
  EXPECT_EQ(HexEncode(mac.Mac("Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(HmacSha256, SameAnswerFromManyThreads) {
  HmacSha256 mac(B("Jefe"));
  const Digest32 want = mac.Mac("档案 row");
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) wrong[t] += mac.Mac("档案 row") != want;
    });
  }
  for (auto& th : threads) th.join();
  for (int w : wrong) EXPECT_EQ(w, 0);
}

}  // namespace
}  // namespace custos::crypto
