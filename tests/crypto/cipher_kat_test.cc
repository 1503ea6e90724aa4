// Known-answer tests for the primitives behind the envelope and the key
// provider, run through the same OpenSSL EVP interfaces the code uses. Each
// vector names its published source.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <string>

#include "crypto/bytes.h"

namespace custos::crypto {
namespace {

Bytes Hex(std::string_view h) {
  std::optional<Bytes> b = HexDecode(h);
  EXPECT_TRUE(b.has_value()) << h;
  return b.value_or(Bytes{});
}

struct GcmVector {
  const char* key;
  const char* iv;
  const char* pt;
  const char* aad;
  const char* ct;
  const char* tag;
};

// NIST CAVP GCM test vectors, gcmEncryptExtIV256.rsp
// (https://csrc.nist.gov/projects/cryptographic-algorithm-validation-program,
// gcmtestvectors.zip), [Keylen = 256] [IVlen = 96] [Taglen = 128], Count = 0
// of the sections PTlen/AADlen = 0/0, 128/0 and 128/128.
const GcmVector kGcmVectors[] = {
    {"b52c505a37d78eda5dd34f20c22540ea1b58963cf8e5bf8ffa85f9f2492505b4",
     "516c33929df5a3284ff463d7", "", "", "", "bdc1ac884d332457a1d2664f168c76f0"},
    {"31bdadd96698c204aa9ce1448ea94ae1fb4a9a0b3c9d773b51bb1822666b8f22",
     "0d18e06c7c725ac9e362e1ce", "2db5168e932556f8089a0622981d017d", "",
     "fa4362189661d163fcd6a56d8bf0405a", "d636ac1bbedd5cc3ee727dc2ab4a9489"},
    {"92e11dcdaa866f5ce790fd24501f92509aacf4cb8b1339d50c9c1240935dd08b",
     "ac93a1a6145299bde902f21a", "2d71bcfa914e4ac045b2aa60955fad24",
     "1e0889016f67601c8ebea4943bc23ad6", "8995ae2e6df3dbf96fac7b7137bae67f",
     "eca5aa77d51d4a0a14d9c51e1da474ab"},
};

// Encrypts (enc = true) or decrypts with AES-256-GCM; on decrypt `tag` is
// checked and the result is false on mismatch.
bool Gcm(bool enc, const Bytes& key, const Bytes& iv, const Bytes& aad, const Bytes& in,
         Bytes* out, Bytes* tag) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  out->assign(in.size() + 16, 0);
  int len = 0, fin = 0;
  bool ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), iv.data(),
                              enc ? 1 : 0) == 1;
  if (ok && !aad.empty()) {
    ok = EVP_CipherUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1;
  }
  len = 0;
  if (ok && !in.empty()) {
    ok = EVP_CipherUpdate(ctx, out->data(), &len, in.data(), static_cast<int>(in.size())) == 1;
  }
  if (ok && !enc) {
    ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag->data()) == 1;
  }
  ok = ok && EVP_CipherFinal_ex(ctx, out->data() + len, &fin) == 1;
  if (ok && enc) {
    tag->assign(16, 0);
    ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag->data()) == 1;
  }
  out->resize(static_cast<size_t>(len + fin));
  EVP_CIPHER_CTX_free(ctx);
  return ok;
}

TEST(CipherKat, Aes256GcmNistEncrypt) {
  for (const GcmVector& v : kGcmVectors) {
    Bytes ct, tag;
    ASSERT_TRUE(Gcm(true, Hex(v.key), Hex(v.iv), Hex(v.aad), Hex(v.pt), &ct, &tag));
    EXPECT_EQ(HexEncode(ct), v.ct);
    EXPECT_EQ(HexEncode(tag), v.tag);
  }
}

TEST(CipherKat, Aes256GcmNistDecryptAndRejectBadTag) {
  for (const GcmVector& v : kGcmVectors) {
    Bytes pt, tag = Hex(v.tag);
    ASSERT_TRUE(Gcm(false, Hex(v.key), Hex(v.iv), Hex(v.aad), Hex(v.ct), &pt, &tag));
    EXPECT_EQ(HexEncode(pt), v.pt);
    tag[0] ^= 0x01;
    EXPECT_FALSE(Gcm(false, Hex(v.key), Hex(v.iv), Hex(v.aad), Hex(v.ct), &pt, &tag));
  }
}

// GB/T 32907-2016 (SM4 block cipher), Appendix A, example 1: one block.
TEST(CipherKat, Sm4SingleBlockGbT32907) {
  Bytes key = Hex("0123456789abcdeffedcba9876543210");
  Bytes pt = key;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  Bytes out(32);
  int len = 0, fin = 0;
  ASSERT_EQ(EVP_EncryptInit_ex(ctx, EVP_sm4_ecb(), nullptr, key.data(), nullptr), 1);
  EVP_CIPHER_CTX_set_padding(ctx, 0);
  ASSERT_EQ(EVP_EncryptUpdate(ctx, out.data(), &len, pt.data(), 16), 1);
  ASSERT_EQ(EVP_EncryptFinal_ex(ctx, out.data() + len, &fin), 1);
  EVP_CIPHER_CTX_free(ctx);
  out.resize(static_cast<size_t>(len + fin));
  EXPECT_EQ(HexEncode(out), "681edf34d206965e86b3e94f536e4246");
}

// SM4-CTR must equal SM4-ECB of the counter blocks XORed into the plaintext,
// with a big-endian 128-bit counter: this is what the envelope's counter
// layout (docs/formats/envelope.md) relies on.
TEST(CipherKat, Sm4CtrIsEcbOfBigEndianCounter) {
  Bytes key = Hex("0123456789abcdeffedcba9876543210");
  Bytes iv = Hex("00000000000000070100000000000000");
  Bytes pt(48, 0);  // zero plaintext: the output is the keystream itself
  Bytes ctr_out(48), ecb_out(64);
  int len = 0;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ASSERT_EQ(EVP_EncryptInit_ex(ctx, EVP_sm4_ctr(), nullptr, key.data(), iv.data()), 1);
  ASSERT_EQ(EVP_EncryptUpdate(ctx, ctr_out.data(), &len, pt.data(), 48), 1);
  Bytes blocks;
  for (uint8_t i = 0; i < 3; ++i) {
    Bytes b = iv;
    b[15] = i;
    blocks.insert(blocks.end(), b.begin(), b.end());
  }
  ASSERT_EQ(EVP_EncryptInit_ex(ctx, EVP_sm4_ecb(), nullptr, key.data(), nullptr), 1);
  EVP_CIPHER_CTX_set_padding(ctx, 0);
  ASSERT_EQ(EVP_EncryptUpdate(ctx, ecb_out.data(), &len, blocks.data(), 48), 1);
  EVP_CIPHER_CTX_free(ctx);
  ecb_out.resize(48);
  EXPECT_EQ(HexEncode(ctr_out), HexEncode(ecb_out));
}

std::string HmacSm3(const Bytes& key, const Bytes& msg) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SM3"), 0),
      OSSL_PARAM_construct_end()};
  uint8_t out[32];
  size_t out_len = 0;
  bool ok = EVP_MAC_init(ctx, key.data(), key.size(), params) == 1 &&
            EVP_MAC_update(ctx, msg.data(), msg.size()) == 1 &&
            EVP_MAC_final(ctx, out, &out_len, sizeof out) == 1;
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  return ok ? HexEncode(out, out_len) : "";
}

// GM/T 0042-2015, Appendix D.3 (HMAC-SM3), examples 1 and 2.
TEST(CipherKat, HmacSm3GmT0042) {
  EXPECT_EQ(HmacSm3(Hex("0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"),
                    ToBytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
                            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "ca05e144ed05d1857840d1f318a4a8669e559fc8391f414485bfdf7bb408963a");
  EXPECT_EQ(HmacSm3(Hex("0102030405060708090a0b0c0d0e0f10111213141516171819"
                        "1a1b1c1d1e1f202122232425"),
                    Bytes(50, 0xcd)),
            "220bf579ded555393f0159f66c99877822a3ecf610d1552154b41d44b94db3ae");
}

// RFC 5869, Appendix A, test case 1 (HKDF-SHA256), through EVP_KDF "HKDF"
// exactly as the envelope derives its chunk keys.
TEST(CipherKat, HkdfSha256Rfc5869Case1) {
  Bytes ikm(22, 0x0b), salt = Hex("000102030405060708090a0b0c"),
                       info = Hex("f0f1f2f3f4f5f6f7f8f9");
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ikm.data(), ikm.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt.data(), salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end()};
  Bytes okm(42);
  ASSERT_EQ(EVP_KDF_derive(ctx, okm.data(), okm.size(), params), 1);
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  EXPECT_EQ(HexEncode(okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

Bytes KeyWrapPad(const EVP_CIPHER* cipher, const Bytes& kek, const Bytes& in, bool wrap) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  Bytes out(in.size() + 16);
  int len = 0, fin = 0;
  bool ok = EVP_CipherInit_ex(ctx, cipher, nullptr, kek.data(), nullptr, wrap ? 1 : 0) == 1 &&
            EVP_CipherUpdate(ctx, out.data(), &len, in.data(), static_cast<int>(in.size())) ==
                1 &&
            EVP_CipherFinal_ex(ctx, out.data() + len, &fin) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) return {};
  out.resize(static_cast<size_t>(len + fin));
  return out;
}

// RFC 5649, section 6: both examples (192-bit KEK; the key provider uses the
// same mode with a 256-bit KEK).
TEST(CipherKat, AesKeyWrapPadRfc5649) {
  Bytes kek = Hex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8");
  EXPECT_EQ(HexEncode(KeyWrapPad(EVP_aes_192_wrap_pad(), kek,
                                 Hex("c37b7e6492584340bed12207808941155068f738"), true)),
            "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a");
  EXPECT_EQ(HexEncode(KeyWrapPad(EVP_aes_192_wrap_pad(), kek, Hex("466f7250617369"), true)),
            "afbeb0f07dfbf5419200f2ccb50bb24f");
  EXPECT_EQ(HexEncode(KeyWrapPad(EVP_aes_192_wrap_pad(), kek,
                                 Hex("afbeb0f07dfbf5419200f2ccb50bb24f"), false)),
            "466f7250617369");
  EXPECT_TRUE(KeyWrapPad(EVP_aes_192_wrap_pad(), kek, Hex("afbeb0f07dfbf5419200f2ccb50bb24e"),
                         false)
                  .empty());
}

// RFC 7914, section 12, the second and third scrypt vectors.
TEST(CipherKat, ScryptRfc7914) {
  auto scrypt = [](std::string_view pass, std::string_view salt, uint64_t n, uint64_t r,
                   uint64_t p) {
    Bytes out(64);
    EXPECT_EQ(EVP_PBE_scrypt(pass.data(), pass.size(),
                             reinterpret_cast<const unsigned char*>(salt.data()), salt.size(), n,
                             r, p, 64 << 20, out.data(), out.size()),
              1);
    return HexEncode(out);
  };
  EXPECT_EQ(scrypt("password", "NaCl", 1024, 8, 16),
            "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
            "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640");
  EXPECT_EQ(scrypt("pleaseletmein", "SodiumChloride", 16384, 8, 1),
            "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
            "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887");
}

}  // namespace
}  // namespace custos::crypto
