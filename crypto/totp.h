// One-time passwords: HOTP (RFC 4226) and TOTP (RFC 6238) with HMAC-SHA1,
// and the Base32 text form (RFC 4648 §6) authenticator apps use for their
// secrets.
//
// Usage:
//   std::optional<Bytes> key = crypto::Base32Decode("JBSW Y3DP EHPK 3PXP");
//   std::string code = crypto::Totp(*key, unix_seconds);   // "123456"
//
// Thread safety: pure functions; any thread may call them at once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/bytes.h"

namespace custos::crypto {

inline constexpr int kTotpDefaultDigits = 6;
inline constexpr int64_t kTotpDefaultStepSeconds = 30;

// RFC 4648 §6 Base32, upper case, without "=" padding.
std::string Base32Encode(const uint8_t* p, size_t n);
inline std::string Base32Encode(const Bytes& b) { return Base32Encode(b.data(), b.size()); }

// Decodes Base32 as people type it: letters of either case, spaces ignored.
// Returns nullopt for any other character (padding "=" included), for a
// length that no byte string encodes (1, 3 or 6 symbols in the last group)
// and for non-zero unused bits in the last symbol.
std::optional<Bytes> Base32Decode(std::string_view text);

// HOTP(key, counter) of RFC 4226 §5.3: HMAC-SHA1, dynamic truncation,
// `digits` (6..9) decimal digits with leading zeros. Aborts if OpenSSL
// cannot compute HMAC-SHA1 (it always can in Debian's default provider);
// `digits` outside 6..9 is a programming error and is clamped.
std::string Hotp(const Bytes& key, uint64_t counter, int digits = kTotpDefaultDigits);

// The time step of RFC 6238 §4.2: floor(unix_seconds / step_seconds);
// floor division, so times before 1970 give negative steps. A step of 0
// or less means the default of 30 s.
int64_t TotpStep(int64_t unix_seconds, int64_t step_seconds = kTotpDefaultStepSeconds);

// TOTP(key, T) = HOTP(key, TotpStep(T)).
std::string Totp(const Bytes& key, int64_t unix_seconds, int64_t step_seconds = kTotpDefaultStepSeconds,
                 int digits = kTotpDefaultDigits);

}  // namespace custos::crypto
