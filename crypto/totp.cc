#include "crypto/totp.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace custos::crypto {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int SymbolValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

}  // namespace

std::string Base32Encode(const uint8_t* p, size_t n) {
  std::string out;
  out.reserve((n * 8 + 4) / 5);
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    buffer = (buffer << 8) | p[i];
    bits += 8;
    while (bits >= 5) {
      out.push_back(kAlphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

std::optional<Bytes> Base32Decode(std::string_view text) {
  Bytes out;
  uint32_t buffer = 0;
  int bits = 0;
  size_t symbols = 0;
  for (char c : text) {
    if (c == ' ') continue;
    int v = SymbolValue(c);
    if (v < 0) return std::nullopt;
    ++symbols;
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<uint8_t>(buffer >> (bits - 8)));
      bits -= 8;
    }
    buffer &= (1u << bits) - 1;
  }
  // A final group of 8 symbols carries 5 bytes; 2, 4, 5 or 7 symbols carry
  // 1..4 bytes. 1, 3 or 6 symbols are not an encoding of anything.
  size_t tail = symbols % 8;
  if (tail == 1 || tail == 3 || tail == 6) return std::nullopt;
  if (buffer != 0) return std::nullopt;  // the unused low bits must be zero
  return out;
}

std::string Hotp(const Bytes& key, uint64_t counter, int digits) {
  digits = std::clamp(digits, 6, 9);
  uint8_t message[8];
  for (int i = 7; i >= 0; --i) {
    message[i] = static_cast<uint8_t>(counter & 0xff);
    counter >>= 8;
  }
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  static const uint8_t kEmpty = 0;
  if (HMAC(EVP_sha1(), key.empty() ? &kEmpty : key.data(), static_cast<int>(key.size()), message,
           sizeof message, mac, &mac_len) == nullptr ||
      mac_len != 20) {
    std::fputs("custos: HMAC-SHA1 is unavailable\n", stderr);
    std::abort();
  }
  int offset = mac[19] & 0x0f;
  uint32_t binary = (static_cast<uint32_t>(mac[offset] & 0x7f) << 24) |
                    (static_cast<uint32_t>(mac[offset + 1]) << 16) |
                    (static_cast<uint32_t>(mac[offset + 2]) << 8) | static_cast<uint32_t>(mac[offset + 3]);
  uint32_t modulus = 1;
  for (int i = 0; i < digits; ++i) modulus *= 10;
  std::string code = std::to_string(binary % modulus);
  return std::string(static_cast<size_t>(digits) - code.size(), '0') + code;
}

int64_t TotpStep(int64_t unix_seconds, int64_t step_seconds) {
  if (step_seconds <= 0) step_seconds = kTotpDefaultStepSeconds;
  int64_t q = unix_seconds / step_seconds;
  if (unix_seconds % step_seconds != 0 && unix_seconds < 0) --q;
  return q;
}

std::string Totp(const Bytes& key, int64_t unix_seconds, int64_t step_seconds, int digits) {
  return Hotp(key, static_cast<uint64_t>(TotpStep(unix_seconds, step_seconds)), digits);
}

}  // namespace custos::crypto
