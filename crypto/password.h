// Password hashing with Argon2id (RFC 9106), stored as PHC strings:
//
//   $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>
//
// where <salt> and <hash> are unpadded standard base64 (the libargon2
// encoding). HashPassword draws a fresh kPasswordSaltSize-byte salt from the
// OS CSPRNG and produces a kPasswordHashSize-byte hash.
//
// No copy of a password is made (the functions read the caller's buffer and
// never store it); intermediate hashes are wiped before returning. Wiping the
// caller's own buffer is the caller's job.
//
// Thread safety: all functions are thread-safe. Each call costs the memory
// and time its parameters say (the default: 64 MiB and three passes over it,
// a few hundred milliseconds of one core), so callers bound how many run at
// once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace custos::crypto {

inline constexpr size_t kPasswordSaltSize = 16;
inline constexpr size_t kPasswordHashSize = 32;
// The only Argon2 version written and accepted (0x13).
inline constexpr uint32_t kArgon2Version = 19;
inline constexpr std::string_view kArgon2idPrefix = "$argon2id$";

// Bounds that VerifyPassword enforces on stored strings, so that a corrupted
// or hostile encoding cannot make a verification allocate gigabytes or run
// for minutes.
inline constexpr uint32_t kMaxPasswordMemoryKiB = 1024 * 1024;  // 1 GiB
inline constexpr uint32_t kMaxPasswordTimeCost = 64;
inline constexpr uint32_t kMaxPasswordParallelism = 16;

struct PasswordParams {
  uint32_t time_cost = 3;           // passes over memory, ≥ 1
  uint32_t memory_kib = 64 * 1024;  // ≥ 8 × parallelism
  uint32_t parallelism = 1;         // lanes (and threads), ≥ 1

  friend bool operator==(const PasswordParams&, const PasswordParams&) = default;
};

// Returns the PHC string of `password` under `params`. Fails with
// password_params_invalid (kInvalidArgument) for parameters outside the
// bounds above, rng_failure if no salt can be drawn, crypto_failure if
// libargon2 fails (e.g. out of memory).
StatusOr<std::string> HashPassword(std::string_view password, const PasswordParams& params = {});

// A PHC string under `params` with a fresh random salt and a random hash in
// place of one computed: VerifyPassword against it costs what a real
// verification under `params` costs, and no password matches it (but with
// probability 2^-256). For checks that must take the same time whether or
// not an account exists, without hashing anything to get there. Fails as
// HashPassword does for parameters out of bounds or a failed RNG.
StatusOr<std::string> UnmatchableHash(const PasswordParams& params = {});

// True if `encoded` is a well-formed Argon2id v19 PHC string within the
// bounds above and `password` hashes to it. The final comparison is constant
// time. False for a wrong password and for any malformed encoding (wrong
// variant or version, bad base64, salt shorter than 8 bytes, hash shorter than
// 16 bytes, trailing data...).
[[nodiscard]] bool VerifyPassword(std::string_view password, std::string_view encoded);

// True if `encoded` should be replaced by a fresh HashPassword(…, params) at
// the next successful sign-in: it is malformed, or its parameters, salt size
// or hash size differ from what HashPassword(…, params) writes.
[[nodiscard]] bool NeedsRehash(std::string_view encoded, const PasswordParams& params = {});

// The parameters written in `encoded`, or nullopt if it is malformed.
[[nodiscard]] std::optional<PasswordParams> PasswordParamsOf(std::string_view encoded);

}  // namespace custos::crypto
