// SHA-256 (FIPS 180-4) and SM3 (GB/T 32905-2016) message digests, streaming
// and one-shot, both producing a 32-byte Digest32.
//
// Usage:
//   crypto::Sha256 h;
//   h.Update(header);
//   h.Update(body.data(), body.size());
//   crypto::Digest32 d = h.Finish();   // h is reset and may hash again
//
//   crypto::Digest32 e = crypto::Sm3Of("abc");
//
// Failure: these functions cannot fail on valid input. The only possible
// failures are memory exhaustion or an OpenSSL build without the algorithm;
// both abort the process with a message on stderr rather than return a wrong
// digest (the Debian OpenSSL 3.0 default provider has both algorithms).
//
// Thread safety: one hasher object must not be used from two threads at once;
// distinct objects (and the one-shot functions) may be used concurrently. The
// OpenSSL algorithm handles are fetched once per process and never change.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "crypto/bytes.h"

// Opaque OpenSSL types, so that this header does not pull in <openssl/evp.h>.
typedef struct evp_md_ctx_st EVP_MD_CTX;
typedef struct evp_md_st EVP_MD;

namespace custos::crypto {

// The digest algorithms Custos uses. Both produce 32 bytes.
enum class HashAlgorithm {
  kSha256,  // FIPS 180-4 SHA-256
  kSm3,     // GB/T 32905-2016 SM3 (GM suite)
};

// Size in bytes of every digest produced here.
inline constexpr size_t kDigestSize = 32;

// Stable lower-case name: "sha256" or "sm3".
std::string_view HashAlgorithmName(HashAlgorithm algorithm);

// A streaming digest of one algorithm. It owns one EVP_MD_CTX that is reused
// across messages (Finish() resets it), so hashing many small messages with
// one object allocates nothing after construction.
//
// Copying duplicates the running state (hash a common prefix once, then fork).
// Moving leaves the source empty: a moved-from hasher may only be destroyed or
// assigned to.
class Hasher {
 public:
  explicit Hasher(HashAlgorithm algorithm);
  ~Hasher();
  Hasher(const Hasher& other);
  Hasher& operator=(const Hasher& other);
  Hasher(Hasher&& other) noexcept;
  Hasher& operator=(Hasher&& other) noexcept;

  HashAlgorithm algorithm() const { return algorithm_; }

  // Appends `n` bytes at `p` (p may be null when n == 0).
  void Update(const uint8_t* p, size_t n);
  void Update(std::string_view s) { Update(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }
  void Update(const Bytes& b) { Update(b.data(), b.size()); }

  // Returns the digest of everything appended since construction or the last
  // Finish()/Reset(), and resets the object for a new message.
  [[nodiscard]] Digest32 Finish();

  // Discards the bytes appended so far.
  void Reset();

 private:
  HashAlgorithm algorithm_;
  EVP_MD_CTX* ctx_ = nullptr;  // owned
};

// SHA-256 hasher.
class Sha256 : public Hasher {
 public:
  Sha256() : Hasher(HashAlgorithm::kSha256) {}
};

// SM3 hasher.
class Sm3 : public Hasher {
 public:
  Sm3() : Hasher(HashAlgorithm::kSm3) {}
};

// One-shot digests.
[[nodiscard]] Digest32 HashOf(HashAlgorithm algorithm, const uint8_t* p, size_t n);
[[nodiscard]] inline Digest32 HashOf(HashAlgorithm algorithm, std::string_view s) {
  return HashOf(algorithm, reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

[[nodiscard]] inline Digest32 Sha256Of(const uint8_t* p, size_t n) {
  return HashOf(HashAlgorithm::kSha256, p, n);
}
[[nodiscard]] inline Digest32 Sha256Of(std::string_view s) {
  return HashOf(HashAlgorithm::kSha256, s);
}
[[nodiscard]] inline Digest32 Sha256Of(const Bytes& b) { return Sha256Of(b.data(), b.size()); }

[[nodiscard]] inline Digest32 Sm3Of(const uint8_t* p, size_t n) {
  return HashOf(HashAlgorithm::kSm3, p, n);
}
[[nodiscard]] inline Digest32 Sm3Of(std::string_view s) { return HashOf(HashAlgorithm::kSm3, s); }
[[nodiscard]] inline Digest32 Sm3Of(const Bytes& b) { return Sm3Of(b.data(), b.size()); }

namespace internal {
// The process-wide, immutable OpenSSL algorithm handle for `algorithm`,
// fetched on first use. Never null (aborts if the algorithm is unavailable).
// For other crypto/ sources that need an EVP_MD (e.g. SM2 with SM3).
const EVP_MD* FetchedMd(HashAlgorithm algorithm);
}  // namespace internal

}  // namespace custos::crypto
