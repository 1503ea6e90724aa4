#include "crypto/password.h"

#include <argon2.h>

#include <charconv>
#include <cstring>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/random.h"

namespace custos::crypto {
namespace {

// Bounds on stored salts and hashes (libargon2 needs a salt of ≥ 8 bytes).
constexpr size_t kMinSaltSize = 8;
constexpr size_t kMaxSaltSize = 64;
constexpr size_t kMinHashSize = 16;
constexpr size_t kMaxHashSize = 64;
// Argon2 needs at least 8 KiB of memory per lane.
constexpr uint32_t kMinMemoryKiBPerLane = 8;

// The parts of a PHC string "$argon2id$v=19$m=..,t=..,p=..$salt$hash".
struct ParsedHash {
  PasswordParams params;
  Bytes salt;
  Bytes hash;
};

bool ParamsWithinBounds(const PasswordParams& p) {
  return p.time_cost >= 1 && p.time_cost <= kMaxPasswordTimeCost && p.parallelism >= 1 &&
         p.parallelism <= kMaxPasswordParallelism && p.memory_kib <= kMaxPasswordMemoryKiB &&
         p.memory_kib >= kMinMemoryKiBPerLane * p.parallelism;
}

// Removes `prefix` from the front of `*s`; false if it is not there.
bool Consume(std::string_view* s, std::string_view prefix) {
  if (s->substr(0, prefix.size()) != prefix) return false;
  s->remove_prefix(prefix.size());
  return true;
}

// A decimal uint32 without sign or leading zeros, consumed from `*s`.
bool ConsumeNumber(std::string_view* s, uint32_t* out) {
  const char* begin = s->data();
  const char* end = begin + s->size();
  auto [ptr, ec] = std::from_chars(begin, end, *out);
  if (ec != std::errc() || ptr == begin) return false;
  if (*begin == '0' && ptr - begin > 1) return false;
  s->remove_prefix(static_cast<size_t>(ptr - begin));
  return true;
}

// Unpadded standard base64, as libargon2 writes it.
std::optional<Bytes> DecodeUnpaddedBase64(std::string_view text) {
  if (text.empty() || text.size() % 4 == 1) return std::nullopt;
  if (text.find('=') != std::string_view::npos) return std::nullopt;
  std::string padded(text);
  padded.append((4 - padded.size() % 4) % 4, '=');
  return Base64Decode(padded);
}

std::optional<ParsedHash> Parse(std::string_view s) {
  ParsedHash out;
  PasswordParams& p = out.params;
  uint32_t version = 0;
  if (!Consume(&s, kArgon2idPrefix) || !Consume(&s, "v=") || !ConsumeNumber(&s, &version) ||
      version != kArgon2Version || !Consume(&s, "$m=") || !ConsumeNumber(&s, &p.memory_kib) ||
      !Consume(&s, ",t=") || !ConsumeNumber(&s, &p.time_cost) || !Consume(&s, ",p=") ||
      !ConsumeNumber(&s, &p.parallelism) || !Consume(&s, "$")) {
    return std::nullopt;
  }
  size_t dollar = s.find('$');
  if (dollar == std::string_view::npos) return std::nullopt;
  std::optional<Bytes> salt = DecodeUnpaddedBase64(s.substr(0, dollar));
  std::optional<Bytes> hash = DecodeUnpaddedBase64(s.substr(dollar + 1));
  if (!salt || !hash || !ParamsWithinBounds(p)) return std::nullopt;
  if (salt->size() < kMinSaltSize || salt->size() > kMaxSaltSize) return std::nullopt;
  if (hash->size() < kMinHashSize || hash->size() > kMaxHashSize) return std::nullopt;
  out.salt = std::move(*salt);
  out.hash = std::move(*hash);
  return out;
}

}  // namespace

StatusOr<std::string> HashPassword(std::string_view password, const PasswordParams& params) {
  if (!ParamsWithinBounds(params)) {
    return InvalidArgument("Argon2id parameters out of bounds", "password_params_invalid");
  }
  CUSTOS_ASSIGN_OR_RETURN(Bytes salt, RandomBytes(kPasswordSaltSize));
  size_t encoded_len = argon2_encodedlen(params.time_cost, params.memory_kib, params.parallelism,
                                         kPasswordSaltSize, kPasswordHashSize, Argon2_id) +
                       1;
  std::vector<char> encoded(encoded_len, '\0');
  int rc = argon2id_hash_encoded(params.time_cost, params.memory_kib, params.parallelism,
                                 password.data(), password.size(), salt.data(), salt.size(),
                                 kPasswordHashSize, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) {
    return Internal(std::string("argon2id: ") + argon2_error_message(rc), "crypto_failure");
  }
  return std::string(encoded.data());
}

StatusOr<std::string> UnmatchableHash(const PasswordParams& params) {
  if (!ParamsWithinBounds(params)) {
    return InvalidArgument("Argon2id parameters out of bounds", "password_params_invalid");
  }
  CUSTOS_ASSIGN_OR_RETURN(Bytes salt, RandomBytes(kPasswordSaltSize));
  CUSTOS_ASSIGN_OR_RETURN(Bytes hash, RandomBytes(kPasswordHashSize));
  auto unpadded = [](const Bytes& b) {
    std::string text = Base64Encode(b);
    text.erase(text.find_last_not_of('=') + 1);
    return text;
  };
  return std::string(kArgon2idPrefix) + "v=" + std::to_string(kArgon2Version) +
         "$m=" + std::to_string(params.memory_kib) + ",t=" + std::to_string(params.time_cost) +
         ",p=" + std::to_string(params.parallelism) + "$" + unpadded(salt) + "$" + unpadded(hash);
}

bool VerifyPassword(std::string_view password, std::string_view encoded) {
  std::optional<ParsedHash> parsed = Parse(encoded);
  if (!parsed) return false;
  const PasswordParams& p = parsed->params;
  Bytes computed(parsed->hash.size());
  int rc =
      argon2id_hash_raw(p.time_cost, p.memory_kib, p.parallelism, password.data(), password.size(),
                        parsed->salt.data(), parsed->salt.size(), computed.data(), computed.size());
  bool match = rc == ARGON2_OK && ConstantTimeEquals(computed.data(), computed.size(),
                                                     parsed->hash.data(), parsed->hash.size());
  SecureZero(computed.data(), computed.size());
  return match;
}

bool NeedsRehash(std::string_view encoded, const PasswordParams& params) {
  std::optional<ParsedHash> parsed = Parse(encoded);
  return !parsed || !(parsed->params == params) || parsed->salt.size() != kPasswordSaltSize ||
         parsed->hash.size() != kPasswordHashSize;
}

std::optional<PasswordParams> PasswordParamsOf(std::string_view encoded) {
  std::optional<ParsedHash> parsed = Parse(encoded);
  if (!parsed) return std::nullopt;
  return parsed->params;
}

}  // namespace custos::crypto
