// Key-encryption keys (KEKs) and the wrapping of per-file data keys (DEKs)
// (DESIGN §6; the envelope format is in docs/formats/envelope.md).
//
// A KEK is 32 bytes from one of two places:
//   * a key file holding exactly 32 random bytes, mode 0600 (CreateKekFile,
//     LoadKekFile), or
//   * a passphrase stretched with scrypt (DeriveKekFromPassphrase), whose
//     parameters (N, r, p, salt) live in a small text file beside it:
//
//       format=custos-kek-scrypt-v1
//       n=131072
//       r=8
//       p=1
//       salt=<32 to 128 lower-case hex digits>
//
//     exactly these five `key=value` lines, in this order, each ending in
//     "\n" (EncodeScryptParams / ParseScryptParams).
//
// KEK id: the first kKekIdSize bytes of SHA-256(kKekIdLabel ‖ 0x00 ‖ key), as
// lower-case hex (16 characters). It names the key without revealing anything
// useful about it, and is the same wherever the key is loaded.
//
// Wrapping: AES-256 key wrap with padding (RFC 5649) under a KEK; a 32-byte
// DEK wraps to 40 bytes. The wrapped DEK is stored with the id of the KEK that
// wrapped it; rotating the KEK means Rewrap()ping every stored DEK under the
// new current KEK, never touching the content encrypted with those DEKs.
//
// Crypto-shredding: content is readable only through its DEK, and the DEK
// exists only wrapped. Destroying every copy of WrappedKey::wrapped for a file
// (including in backups) makes its ciphertext permanently unreadable. This
// header provides nothing more than that property; deleting the wrapped key
// is the caller's job.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "crypto/bytes.h"

namespace custos::crypto {

inline constexpr size_t kKekSize = 32;
inline constexpr size_t kDataKeySize = 32;
inline constexpr size_t kKekIdSize = 8;  // bytes; 16 hex characters
inline constexpr std::string_view kKekIdLabel = "custos/kek-id/v1";
inline constexpr size_t kKeyWrapOverhead = 8;  // RFC 5649, for a multiple of 8

// scrypt parameter file.
inline constexpr std::string_view kScryptParamsFormat = "custos-kek-scrypt-v1";
inline constexpr uint64_t kDefaultScryptN = uint64_t{1} << 17;  // 128 MiB with r = 8
inline constexpr uint32_t kDefaultScryptR = 8;
inline constexpr uint32_t kDefaultScryptP = 1;
inline constexpr size_t kScryptSaltSize = 16;  // generated salts
inline constexpr uint64_t kMinScryptN = uint64_t{1} << 14;
inline constexpr size_t kMinScryptSaltSize = 16;
inline constexpr size_t kMaxScryptSaltSize = 64;
inline constexpr uint32_t kMaxScryptP = 16;
// Upper bound on scrypt memory (128·r·N + 128·r·p bytes) accepted from a file.
inline constexpr uint64_t kMaxScryptMemory = uint64_t{1} << 30;

// Stable failure reasons (Status::reason()).
inline constexpr std::string_view kKekBadSize = "kek_bad_size";              // kInvalidArgument
inline constexpr std::string_view kKekFileExists = "kek_file_exists";        // kConflict
inline constexpr std::string_view kKekFileInsecure = "kek_file_insecure";    // kInvalidArgument
inline constexpr std::string_view kKekFileBadSize = "kek_file_bad_size";     // kInvalidArgument
inline constexpr std::string_view kKekFileIo = "kek_file_io";                // kInternal / kNotFound
inline constexpr std::string_view kKekParamsInvalid = "kek_params_invalid";  // kInvalidArgument
inline constexpr std::string_view kKekPassphraseEmpty = "kek_passphrase_empty";
inline constexpr std::string_view kKekDuplicateId = "kek_duplicate_id";      // kInvalidArgument
inline constexpr std::string_view kKekUnknown = "kek_unknown";               // kNotFound
inline constexpr std::string_view kDekBadSize = "dek_bad_size";              // kInvalidArgument
inline constexpr std::string_view kDekUnwrapFailed = "dek_unwrap_failed";    // kDataLoss
inline constexpr std::string_view kKeyCryptoFailure = "key_crypto_failure";  // kInternal

// A key-encryption key and its id.
struct Kek {
  std::string id;
  SecretBytes key;  // kKekSize bytes
};

// The id of `key` (see above): 16 lower-case hex characters.
std::string KekId(const SecretBytes& key);
// Wraps raw key bytes as a Kek (computing its id); kKekBadSize unless the key
// is kKekSize bytes.
StatusOr<Kek> MakeKek(SecretBytes key);

// ---- Key files ----

// Creates `path` with mode 0600 (O_CREAT|O_EXCL|O_NOFOLLOW, then fchmod, so
// the umask does not matter), fills it with kKekSize random bytes, fsyncs it
// and returns the new KEK. Fails with kKekFileExists if `path` exists
// (nothing is overwritten) or kKekFileIo; a partly written file is removed.
StatusOr<Kek> CreateKekFile(const std::string& path);

// Loads a KEK from `path`. Refuses a file that is not a regular file or is
// readable, writable or executable by group or others (kKekFileInsecure), or
// that is not exactly kKekSize bytes (kKekFileBadSize). A missing file is
// kNotFound with kKekFileIo; other I/O errors kInternal with kKekFileIo.
StatusOr<Kek> LoadKekFile(const std::string& path);

// ---- Passphrase KEKs (scrypt) ----

struct ScryptParams {
  uint64_t n = kDefaultScryptN;  // CPU/memory cost, a power of two
  uint32_t r = kDefaultScryptR;  // block size
  uint32_t p = kDefaultScryptP;  // parallelism
  Bytes salt;                    // kMinScryptSaltSize..kMaxScryptSaltSize
};

// Fresh parameters with a random kScryptSaltSize-byte salt. kKekParamsInvalid
// if the costs are out of range (see ValidateScryptParams).
StatusOr<ScryptParams> NewScryptParams(uint64_t n = kDefaultScryptN,
                                       uint32_t r = kDefaultScryptR,
                                       uint32_t p = kDefaultScryptP);
// OK if n is a power of two ≥ kMinScryptN, 1 ≤ p ≤ kMaxScryptP, r ≥ 1, the
// memory needed is ≤ kMaxScryptMemory and the salt length is in range;
// otherwise kKekParamsInvalid.
Status ValidateScryptParams(const ScryptParams& params);

// The parameter-file text (format above).
std::string EncodeScryptParams(const ScryptParams& params);
// Strict parse of that text, then ValidateScryptParams; kKekParamsInvalid on
// any deviation (unknown/missing/repeated key, order, whitespace, bad number).
StatusOr<ScryptParams> ParseScryptParams(std::string_view text);

// Writes the parameter file (O_EXCL, mode 0600; kKekFileExists if present).
Status WriteScryptParamsFile(const std::string& path, const ScryptParams& params);
// Reads and parses a parameter file (kKekFileIo, kKekParamsInvalid).
StatusOr<ScryptParams> ReadScryptParamsFile(const std::string& path);

// scrypt(passphrase, salt, N, r, p) → 32-byte KEK. Deterministic for equal
// inputs. Fails with kKekPassphraseEmpty, kKekParamsInvalid or
// kKeyCryptoFailure.
StatusOr<Kek> DeriveKekFromPassphrase(std::string_view passphrase, const ScryptParams& params);

// ---- Wrapping data keys ----

// A DEK wrapped under the KEK named by kek_id.
struct WrappedKey {
  std::string kek_id;
  Bytes wrapped;  // RFC 5649 output: 40 bytes for a 32-byte DEK
};

// Wraps and unwraps data keys. Implementations are immutable after
// construction and safe to share across threads.
class KeyProvider {
 public:
  virtual ~KeyProvider();

  // The id of the KEK that Wrap() uses.
  virtual const std::string& current_kek_id() const = 0;

  // Wraps a kDataKeySize-byte DEK under the current KEK (kDekBadSize
  // otherwise). Deterministic: the same DEK and KEK give the same bytes.
  virtual StatusOr<WrappedKey> Wrap(const SecretBytes& dek) const = 0;

  // Unwraps with the KEK named by `wrapped.kek_id`, current or retired.
  // Fails with kKekUnknown if no such KEK is held, kDekUnwrapFailed if the
  // integrity check fails or the result is not kDataKeySize bytes.
  virtual StatusOr<SecretBytes> Unwrap(const WrappedKey& wrapped) const = 0;

  // Unwrap() then Wrap() under the current KEK (for KEK rotation); the same
  // failures as those two. Re-wrapping a key already under the current KEK
  // returns an equal WrappedKey.
  StatusOr<WrappedKey> Rewrap(const WrappedKey& wrapped) const;

  // A fresh random kDataKeySize-byte DEK.
  StatusOr<SecretBytes> NewDataKey() const;
};

// A KeyProvider holding its KEKs in memory: one current KEK plus retired KEKs
// kept only for unwrapping during a rotation. Immutable after Create(), so it
// may be shared across threads freely. Also serves as the test fake.
class LocalKeyProvider final : public KeyProvider {
 public:
  // kKekBadSize if a key is not kKekSize bytes; kKekDuplicateId if two KEKs
  // share an id (ids are recomputed from the keys, not trusted).
  static StatusOr<std::unique_ptr<LocalKeyProvider>> Create(Kek current,
                                                            std::vector<Kek> retired = {});

  const std::string& current_kek_id() const override { return keks_.front().id; }
  StatusOr<WrappedKey> Wrap(const SecretBytes& dek) const override;
  StatusOr<SecretBytes> Unwrap(const WrappedKey& wrapped) const override;

  // Ids of all held KEKs, current first.
  std::vector<std::string> kek_ids() const;

 private:
  explicit LocalKeyProvider(std::vector<Kek> keks) : keks_(std::move(keks)) {}
  const Kek* Find(std::string_view id) const;

  std::vector<Kek> keks_;  // [0] is current; never changes after Create()
};

}  // namespace custos::crypto
