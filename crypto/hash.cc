#include "crypto/hash.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

namespace custos::crypto {
namespace {

[[noreturn]] void DieOnLibraryFailure(const char* what) {
  std::fprintf(stderr, "custos: fatal OpenSSL failure in digest code: %s\n", what);
  std::abort();
}

// OpenSSL 3 provider names of the algorithms.
constexpr const char* kSha256FetchName = "SHA2-256";
constexpr const char* kSm3FetchName = "SM3";

const EVP_MD* FetchOrDie(const char* name) {
  EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  if (md == nullptr) DieOnLibraryFailure(name);
  return md;
}

}  // namespace

namespace internal {
const EVP_MD* FetchedMd(HashAlgorithm algorithm) {
  // Immutable algorithm descriptors, fetched once and kept for the life of
  // the process (an implicit fetch on every EVP_DigestInit would cost a
  // locked lookup per message).
  static const EVP_MD* const sha256 = FetchOrDie(kSha256FetchName);
  static const EVP_MD* const sm3 = FetchOrDie(kSm3FetchName);
  return algorithm == HashAlgorithm::kSm3 ? sm3 : sha256;
}
}  // namespace internal

std::string_view HashAlgorithmName(HashAlgorithm algorithm) {
  return algorithm == HashAlgorithm::kSm3 ? "sm3" : "sha256";
}

Hasher::Hasher(HashAlgorithm algorithm) : algorithm_(algorithm), ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) DieOnLibraryFailure("EVP_MD_CTX_new");
  Reset();
}

Hasher::~Hasher() { EVP_MD_CTX_free(ctx_); }

Hasher::Hasher(const Hasher& other) : algorithm_(other.algorithm_), ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_MD_CTX_copy_ex(ctx_, other.ctx_) != 1) {
    DieOnLibraryFailure("EVP_MD_CTX_copy_ex");
  }
}

Hasher& Hasher::operator=(const Hasher& other) {
  if (this == &other) return *this;
  if (ctx_ == nullptr) ctx_ = EVP_MD_CTX_new();
  if (ctx_ == nullptr || EVP_MD_CTX_copy_ex(ctx_, other.ctx_) != 1) {
    DieOnLibraryFailure("EVP_MD_CTX_copy_ex");
  }
  algorithm_ = other.algorithm_;
  return *this;
}

Hasher::Hasher(Hasher&& other) noexcept : algorithm_(other.algorithm_), ctx_(other.ctx_) {
  other.ctx_ = nullptr;
}

Hasher& Hasher::operator=(Hasher&& other) noexcept {
  if (this != &other) {
    EVP_MD_CTX_free(ctx_);
    ctx_ = other.ctx_;
    algorithm_ = other.algorithm_;
    other.ctx_ = nullptr;
  }
  return *this;
}

void Hasher::Update(const uint8_t* p, size_t n) {
  if (n == 0) return;
  if (EVP_DigestUpdate(ctx_, p, n) != 1) DieOnLibraryFailure("EVP_DigestUpdate");
}

Digest32 Hasher::Finish() {
  Digest32 out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_, out.data(), &len) != 1 || len != out.size()) {
    DieOnLibraryFailure("EVP_DigestFinal_ex");
  }
  Reset();
  return out;
}

void Hasher::Reset() {
  if (EVP_DigestInit_ex2(ctx_, internal::FetchedMd(algorithm_), nullptr) != 1) {
    DieOnLibraryFailure("EVP_DigestInit_ex2");
  }
}

Digest32 HashOf(HashAlgorithm algorithm, const uint8_t* p, size_t n) {
  static constexpr uint8_t kEmpty = 0;
  Digest32 out{};
  unsigned int len = 0;
  if (EVP_Digest(n == 0 ? &kEmpty : p, n, out.data(), &len, internal::FetchedMd(algorithm),
                 nullptr) != 1 ||
      len != out.size()) {
    DieOnLibraryFailure("EVP_Digest");
  }
  return out;
}

}  // namespace custos::crypto
