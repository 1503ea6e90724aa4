#include "crypto/password.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace custos::crypto {
namespace {

// Cheap parameters so the suite runs fast; the defaults are tested once.
constexpr PasswordParams kCheap{1, 64, 1};

std::string HashOrDie(std::string_view password, const PasswordParams& params = kCheap) {
  StatusOr<std::string> h = HashPassword(password, params);
  EXPECT_TRUE(h.ok()) << h.status().ToString();
  return h.ok() ? *h : std::string();
}

TEST(PasswordHash, RightAndWrongPassword) {
  const std::string encoded = HashOrDie("correct horse battery staple");
  EXPECT_TRUE(VerifyPassword("correct horse battery staple", encoded));
  EXPECT_FALSE(VerifyPassword("correct horse battery stapler", encoded));
  EXPECT_FALSE(VerifyPassword("Correct horse battery staple", encoded));
  EXPECT_FALSE(VerifyPassword("", encoded));
}

TEST(PasswordHash, EncodingCarriesParameters) {
  const std::string encoded = HashOrDie("pw", {2, 128, 2});
  EXPECT_EQ(encoded.rfind("$argon2id$v=19$m=128,t=2,p=2$", 0), 0u) << encoded;
  std::optional<PasswordParams> params = PasswordParamsOf(encoded);
  ASSERT_TRUE(params.has_value());
  EXPECT_EQ(*params, (PasswordParams{2, 128, 2}));
  // Verification uses the parameters in the string, not the defaults.
  EXPECT_TRUE(VerifyPassword("pw", encoded));
}

TEST(PasswordHash, DefaultParameters) {
  const std::string encoded = HashOrDie("pw", PasswordParams{});
  EXPECT_EQ(encoded.rfind("$argon2id$v=19$m=65536,t=3,p=1$", 0), 0u) << encoded;
  EXPECT_TRUE(VerifyPassword("pw", encoded));
  EXPECT_FALSE(NeedsRehash(encoded));
}

TEST(PasswordHash, FreshSaltEachTime) {
  const std::string a = HashOrDie("same");
  const std::string b = HashOrDie("same");
  EXPECT_NE(a, b);
  EXPECT_TRUE(VerifyPassword("same", a));
  EXPECT_TRUE(VerifyPassword("same", b));
  // 16-byte salt and 32-byte hash: 22 and 43 unpadded base64 characters.
  size_t hash_sep = a.rfind('$');
  size_t salt_sep = a.rfind('$', hash_sep - 1);
  EXPECT_EQ(hash_sep - salt_sep - 1, 22u);
  EXPECT_EQ(a.size() - hash_sep - 1, 43u);
}

TEST(PasswordHash, EmptyAndBinaryPasswords) {
  const std::string empty = HashOrDie("");
  EXPECT_TRUE(VerifyPassword("", empty));
  EXPECT_FALSE(VerifyPassword(" ", empty));
  const std::string binary("a\0b", 3);
  const std::string encoded = HashOrDie(binary);
  EXPECT_TRUE(VerifyPassword(binary, encoded));
  EXPECT_FALSE(VerifyPassword("a", encoded));  // no truncation at NUL
}

// Known answers from the Argon2 reference implementation's test suite
// (phc-winner-argon2, src/test.c, Argon2id v=19, password "password", salt
// "somesalt").
constexpr const char* kReferenceEncoding =
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
constexpr const char* kReferenceEncodingSmall =
    "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4";

TEST(PasswordHash, ReferenceImplementationEncoding) {
  EXPECT_TRUE(VerifyPassword("password", kReferenceEncoding));
  EXPECT_FALSE(VerifyPassword("passwore", kReferenceEncoding));
  EXPECT_TRUE(VerifyPassword("password", kReferenceEncodingSmall));
  EXPECT_FALSE(VerifyPassword("Password", kReferenceEncodingSmall));
}

TEST(PasswordHash, MalformedEncodings) {
  const std::string good = HashOrDie("pw");
  ASSERT_TRUE(VerifyPassword("pw", good));
  const size_t hash_sep = good.rfind('$');
  std::vector<std::string> bad = {
      "",
      "pw",
      good.substr(0, good.size() - 2),  // 41 hash characters: no byte length fits
      good + "$extra",                  // trailing field
      good + "AB",                      // impossible length
      good + "=",                       // padding
      good.substr(0, hash_sep),         // no hash
      "$argon2i$" + good.substr(10),    // other variant
      "$argon2d$" + good.substr(10),
      "$argon2id$v=16$" + good.substr(good.find("$m=") + 1),   // other version
      "$argon2id$" + good.substr(good.find("$m=") + 1),        // no version
      "$argon2id$v=019$" + good.substr(good.find("$m=") + 1),  // leading zero
  };
  // Replace the parameters with out-of-bounds or malformed ones.
  const std::string tail = good.substr(good.find("$", good.find("p=")));
  for (std::string params :
       {"m=64,t=0,p=1", "m=64,t=1,p=0", "m=4,t=1,p=1", "m=4194304,t=1,p=1", "m=64,t=1000,p=1",
        "m=64,t=1,p=64", "m=64,p=1,t=1", "m=64,t=1", "m=-64,t=1,p=1", "m=64,t=1,p=1,x=1",
        "m=064,t=1,p=1", "m=99999999999,t=1,p=1"}) {
    bad.push_back("$argon2id$v=19$" + params + tail);
  }
  // A salt shorter than 8 bytes, and a hash shorter than 16 bytes.
  const size_t salt_sep = good.rfind('$', hash_sep - 1);
  bad.push_back(good.substr(0, salt_sep + 1) + "c2FsdA" + good.substr(hash_sep));
  bad.push_back(good.substr(0, hash_sep + 1) + "AAAAAAAAAAAAAAAAAAAA");
  for (const std::string& s : bad) {
    EXPECT_FALSE(VerifyPassword("pw", s)) << s;
    EXPECT_FALSE(PasswordParamsOf(s).has_value()) << s;
    EXPECT_TRUE(NeedsRehash(s, kCheap)) << s;
  }
}

TEST(PasswordHash, FlippedHashCharacter) {
  std::string encoded = HashOrDie("pw");
  char& c = encoded[encoded.size() - 5];
  c = c == 'A' ? 'B' : 'A';
  EXPECT_FALSE(VerifyPassword("pw", encoded));
}

TEST(PasswordHash, NeedsRehashWhenParametersChange) {
  const std::string encoded = HashOrDie("pw", kCheap);
  EXPECT_FALSE(NeedsRehash(encoded, kCheap));
  EXPECT_TRUE(NeedsRehash(encoded, {2, 64, 1}));
  EXPECT_TRUE(NeedsRehash(encoded, {1, 128, 1}));
  EXPECT_TRUE(NeedsRehash(encoded, {1, 64, 2}));
  EXPECT_TRUE(NeedsRehash(encoded));  // against the defaults
  // Same parameters but an 8-byte salt (not what HashPassword writes).
  EXPECT_TRUE(NeedsRehash(kReferenceEncodingSmall, {2, 256, 1}));
}

TEST(PasswordHash, ParametersOutOfBounds) {
  for (PasswordParams p :
       {PasswordParams{0, 64, 1}, PasswordParams{1, 7, 1}, PasswordParams{1, 64, 0},
        PasswordParams{1, 15, 2}, PasswordParams{1, kMaxPasswordMemoryKiB + 1, 1},
        PasswordParams{kMaxPasswordTimeCost + 1, 64, 1},
        PasswordParams{1, 1024, kMaxPasswordParallelism + 1}}) {
    EXPECT_EQ(HashPassword("pw", p).status().reason(), "password_params_invalid");
  }
}

// The stand-in for a missing account's hash: well formed under the given
// parameters (so a check against it costs what a real one does), fresh
// each time, never rehashed, matched by no password, and refused for
// parameters out of bounds as HashPassword refuses them.
TEST(PasswordHash, UnmatchableHashHasTheCostOfARealOneAndMatchesNothing) {
  StatusOr<std::string> a = UnmatchableHash({2, 128, 2});
  StatusOr<std::string> b = UnmatchableHash({2, 128, 2});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_NE(*a, *b);
  EXPECT_EQ(a->rfind("$argon2id$v=19$m=128,t=2,p=2$", 0), 0u) << *a;
  EXPECT_EQ(PasswordParamsOf(*a), (PasswordParams{2, 128, 2}));
  EXPECT_FALSE(NeedsRehash(*a, {2, 128, 2}));
  const size_t hash_sep = a->rfind('$');
  const size_t salt_sep = a->rfind('$', hash_sep - 1);
  EXPECT_EQ(hash_sep - salt_sep - 1, 22u);  // 16 bytes, unpadded
  EXPECT_EQ(a->size() - hash_sep - 1, 43u);  // 32 bytes, unpadded
  for (const char* pw : {"", "pw", "no such user, no such password"}) EXPECT_FALSE(VerifyPassword(pw, *a)) << pw;
  StatusOr<std::string> defaults = UnmatchableHash();
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->rfind("$argon2id$v=19$m=65536,t=3,p=1$", 0), 0u) << *defaults;
  EXPECT_EQ(UnmatchableHash({0, 64, 1}).status().reason(), "password_params_invalid");
  EXPECT_EQ(UnmatchableHash({1, kMaxPasswordMemoryKiB + 1, 1}).status().reason(), "password_params_invalid");
}

}  // namespace
}  // namespace custos::crypto
