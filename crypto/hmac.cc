#include "crypto/hmac.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>

#include <cstdlib>

namespace custos::crypto {

namespace {

constexpr size_t kBlockSize = 64;  // SHA-256's block

void Check(int ok) {
  if (ok != 1) std::abort();  // SHA-256 in a working OpenSSL cannot fail
}

EVP_MD_CTX* StateAfter(const uint8_t* block) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) std::abort();
  Check(EVP_DigestInit_ex(ctx, internal::FetchedMd(HashAlgorithm::kSha256), nullptr));
  Check(EVP_DigestUpdate(ctx, block, kBlockSize));
  return ctx;
}

// One work context per thread, reused by every HmacSha256.
EVP_MD_CTX* WorkContext() {
  struct Holder {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Holder() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Holder holder;
  if (holder.ctx == nullptr) std::abort();
  return holder.ctx;
}

}  // namespace

HmacSha256::HmacSha256(const Bytes& key) {
  uint8_t k[kBlockSize] = {};
  if (key.size() > kBlockSize) {
    Digest32 d = Sha256Of(key);
    std::copy(d.begin(), d.end(), k);
  } else {
    std::copy(key.begin(), key.end(), k);
  }
  uint8_t pad[kBlockSize];
  for (size_t i = 0; i < kBlockSize; ++i) pad[i] = k[i] ^ 0x36;
  inner_ = StateAfter(pad);
  for (size_t i = 0; i < kBlockSize; ++i) pad[i] = k[i] ^ 0x5c;
  outer_ = StateAfter(pad);
  OPENSSL_cleanse(k, sizeof k);
  OPENSSL_cleanse(pad, sizeof pad);
}

HmacSha256::~HmacSha256() {
  EVP_MD_CTX_free(inner_);
  EVP_MD_CTX_free(outer_);
}

Digest32 HmacSha256::Mac(std::string_view data) const {
  EVP_MD_CTX* work = WorkContext();
  Digest32 inner{};
  Digest32 out{};
  unsigned int n = 0;
  Check(EVP_MD_CTX_copy_ex(work, inner_));
  Check(EVP_DigestUpdate(work, data.data(), data.size()));
  Check(EVP_DigestFinal_ex(work, inner.data(), &n));
  Check(EVP_MD_CTX_copy_ex(work, outer_));
  Check(EVP_DigestUpdate(work, inner.data(), inner.size()));
  Check(EVP_DigestFinal_ex(work, out.data(), &n));
  return out;
}

}  // namespace custos::crypto
