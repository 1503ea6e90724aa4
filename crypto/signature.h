// Digital signatures: Ed25519 (RFC 8032) and SM2 with SM3 (GB/T 32918,
// GM/T 0009), key generation, raw and PEM encodings, and private key files.
//
// SM2 signing always hashes with SM3 and uses the distinguishing identifier
// kSm2DistinguishingId ("1234567812345678", the GM/T 0009 default), set
// explicitly on every operation, so signatures interoperate with
//   openssl dgst -sm3 -sign key.pem -sigopt distid:1234567812345678
// SM2 signatures are the DER encoding SEQUENCE { r INTEGER, s INTEGER } that
// OpenSSL produces and accepts (at most kSm2MaxSignatureSize bytes).
//
// Ownership and thread safety: PublicKey and KeyPair hold a reference-counted,
// immutable OpenSSL key. Copies share it. Every const method may be called
// from several threads at once on the same object (each operation uses its
// own OpenSSL context).
//
// Errors (Status::reason()):
//   key_malformed        raw bytes or PEM text that is not a valid key
//   key_unsupported      a valid key of another algorithm (RSA, P-256, ...)
//   signature_invalid    Verify: the signature does not verify (kDataLoss)
//   key_file_insecure    LoadPrivateKeyFile: group/other permission bits set
//   key_file_not_found   LoadPrivateKeyFile: no such file
//   key_file_exists      SavePrivateKeyFile: the path already exists
//   key_file_io          any other file-system failure
//   crypto_failure       an unexpected OpenSSL failure (kInternal)
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "crypto/bytes.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace custos::crypto {

enum class SignatureAlgorithm {
  kEd25519,  // RFC 8032 pure Ed25519
  kSm2Sm3,   // SM2 signature over SM3, distinguishing id kSm2DistinguishingId
};

// Stable lower-case name: "ed25519" or "sm2-sm3".
std::string_view SignatureAlgorithmName(SignatureAlgorithm algorithm);

inline constexpr size_t kEd25519PublicKeySize = 32;
inline constexpr size_t kEd25519SeedSize = 32;  // the RFC 8032 private key
inline constexpr size_t kEd25519SignatureSize = 64;
// SM2 public keys in raw form are the SEC 1 uncompressed point 0x04 ‖ X ‖ Y.
inline constexpr uint8_t kSm2UncompressedPointTag = 0x04;
inline constexpr size_t kSm2CoordinateSize = 32;
inline constexpr size_t kSm2PublicKeySize = 1 + 2 * kSm2CoordinateSize;  // 65
inline constexpr size_t kSm2PrivateKeySize = 32;                         // big-endian scalar d
inline constexpr size_t kSm2MaxSignatureSize = 72;                       // DER SEQUENCE of r, s
inline constexpr std::string_view kSm2DistinguishingId = "1234567812345678";
// Largest private key file LoadPrivateKeyFile reads.
inline constexpr size_t kMaxKeyFileSize = 64 * 1024;

namespace internal {
struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const;
};
}  // namespace internal

// A public key of either algorithm.
class PublicKey {
 public:
  // From the raw encoding: Ed25519 the 32 RFC 8032 bytes; SM2 the 65-byte
  // uncompressed point, which must lie on the SM2 curve. key_malformed
  // otherwise.
  static StatusOr<PublicKey> FromRaw(SignatureAlgorithm algorithm, const uint8_t* p, size_t n);
  static StatusOr<PublicKey> FromRaw(SignatureAlgorithm algorithm, const Bytes& b) {
    return FromRaw(algorithm, b.data(), b.size());
  }
  // From a "-----BEGIN PUBLIC KEY-----" (SubjectPublicKeyInfo) PEM block.
  // key_malformed, or key_unsupported for other algorithms.
  static StatusOr<PublicKey> FromPem(std::string_view pem);

  SignatureAlgorithm algorithm() const { return algorithm_; }
  // The raw encoding described at FromRaw (32 or 65 bytes).
  const Bytes& raw() const { return raw_; }
  // SubjectPublicKeyInfo PEM text. Fails only on an OpenSSL failure.
  StatusOr<std::string> ToPem() const;

  // OK if `signature` is a valid signature of `message` by this key;
  // signature_invalid (kDataLoss) otherwise, including for malformed
  // signatures of the wrong length or encoding.
  Status Verify(const uint8_t* message, size_t message_size, const uint8_t* signature,
                size_t signature_size) const;
  Status Verify(std::string_view message, const Bytes& signature) const {
    return Verify(reinterpret_cast<const uint8_t*>(message.data()), message.size(),
                  signature.data(), signature.size());
  }

 private:
  friend class KeyPair;
  PublicKey(SignatureAlgorithm algorithm, std::shared_ptr<EVP_PKEY> pkey, Bytes raw)
      : algorithm_(algorithm), pkey_(std::move(pkey)), raw_(std::move(raw)) {}
  static StatusOr<PublicKey> FromPkey(std::shared_ptr<EVP_PKEY> pkey);

  SignatureAlgorithm algorithm_;
  std::shared_ptr<EVP_PKEY> pkey_;  // immutable after construction
  Bytes raw_;
};

// A private key with its public key.
class KeyPair {
 public:
  // A fresh random key from the OpenSSL CSPRNG.
  static StatusOr<KeyPair> Generate(SignatureAlgorithm algorithm);
  // From the raw private key: Ed25519 the 32-byte seed (RFC 8032 §5.1.5);
  // SM2 the 32-byte big-endian scalar d with 1 ≤ d ≤ n-2. key_malformed
  // otherwise. The caller keeps ownership of (and wipes) its buffer.
  static StatusOr<KeyPair> FromRawPrivateKey(SignatureAlgorithm algorithm, const uint8_t* p,
                                             size_t n);
  // From an unencrypted PEM private key (PKCS#8 "PRIVATE KEY", or the legacy
  // "EC PRIVATE KEY" form for SM2). Encrypted PEM is refused (key_malformed);
  // nothing ever prompts for a passphrase.
  static StatusOr<KeyPair> FromPem(std::string_view pem);
  // Reads a PEM private key file. Refuses, with key_file_insecure, a file that
  // is not a regular file or whose mode grants any permission to group or
  // others (it must be 0600 or stricter); key_file_not_found if absent.
  static StatusOr<KeyPair> LoadPrivateKeyFile(const std::string& path);

  // Writes PrivateKeyPem() to a new file created with mode 0600 (O_EXCL: an
  // existing file or symlink at `path` is never overwritten, key_file_exists),
  // then fsyncs the file and its directory. On failure nothing is left at
  // `path`.
  Status SavePrivateKeyFile(const std::string& path) const;

  SignatureAlgorithm algorithm() const { return public_key_.algorithm(); }
  const PublicKey& public_key() const { return public_key_; }
  // Unencrypted PKCS#8 PEM text of the private key.
  StatusOr<SecretBytes> PrivateKeyPem() const;
  // The raw private key described at FromRawPrivateKey (always 32 bytes).
  StatusOr<SecretBytes> RawPrivateKey() const;

  // Signs `message`: Ed25519 returns 64 bytes (deterministic); SM2 returns a
  // DER signature (randomized) over SM3 with kSm2DistinguishingId.
  StatusOr<Bytes> Sign(const uint8_t* message, size_t message_size) const;
  StatusOr<Bytes> Sign(std::string_view message) const {
    return Sign(reinterpret_cast<const uint8_t*>(message.data()), message.size());
  }
  Status Verify(std::string_view message, const Bytes& signature) const {
    return public_key_.Verify(message, signature);
  }

 private:
  KeyPair(std::shared_ptr<EVP_PKEY> pkey, PublicKey public_key)
      : pkey_(std::move(pkey)), public_key_(std::move(public_key)) {}
  static StatusOr<KeyPair> FromPkey(EVP_PKEY* owned);

  std::shared_ptr<EVP_PKEY> pkey_;  // immutable after construction
  PublicKey public_key_;
};

}  // namespace custos::crypto
