#include "server/services/second_factor.h"

#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>

#include "crypto/bytes.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "crypto/totp.h"
#include "storage/key_file.h"

namespace custos::services {

namespace {

constexpr size_t kFactorKeySize = 32;
constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;
constexpr char kSealPrefix[] = "v1:";
constexpr char kSealAad[] = "custos totp v1";
constexpr size_t kTotpSecretBytes = 20;  // 160 bits, RFC 4226 §4's recommendation
constexpr int kRecoveryCodeCount = 10;
constexpr int kRecoveryCodeGroup = 5;  // "xxxxx-xxxxx"
constexpr char kRecoveryAlphabet[] = "23456789abcdefghjkmnpqrstuvwxyz";
constexpr size_t kRecoveryAlphabetSize = sizeof kRecoveryAlphabet - 1;

// Wipes a byte vector holding a secret when the scope ends.
struct Wipe {
  crypto::Bytes& b;
  ~Wipe() { crypto::SecureZero(b.data(), b.size()); }
};

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

std::string KeysDir(const std::string& data_dir) { return data_dir + "/keys"; }
std::string FactorKeyPath(const std::string& data_dir) { return KeysDir(data_dir) + "/factor.key"; }

int64_t UnixSeconds(domain::Time t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// "123 456" → "123456"; "" when not six digits.
std::string NormaliseTotpCode(const std::string& code) {
  std::string digits;
  for (char ch : code) {
    if (ch == ' ') continue;
    if (ch < '0' || ch > '9') return "";
    digits.push_back(ch);
  }
  return digits.size() == static_cast<size_t>(crypto::kTotpDefaultDigits) ? digits : "";
}

// Lower case, dashes and spaces removed.
std::string NormaliseRecoveryCode(const std::string& code) {
  std::string out;
  for (char ch : code) {
    if (ch == '-' || ch == ' ') continue;
    out.push_back(ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch);
  }
  return out;
}

std::string HashRecoveryCode(const std::string& code) {
  return crypto::HexEncode(crypto::Sha256Of(NormaliseRecoveryCode(code)));
}

bool SameText(const std::string& a, const std::string& b) {
  return crypto::ConstantTimeEquals(reinterpret_cast<const uint8_t*>(a.data()), a.size(),
                                    reinterpret_cast<const uint8_t*>(b.data()), b.size());
}

// One code, "xxxxx-xxxxx", uniform over the alphabet (rejection sampling).
StatusOr<std::string> NewRecoveryCode() {
  constexpr size_t kLimit = 256 - 256 % kRecoveryAlphabetSize;
  std::string code;
  while (code.size() < 2 * kRecoveryCodeGroup + 1) {
    uint8_t buf[32];
    CUSTOS_RETURN_IF_ERROR(crypto::RandomFill(buf, sizeof buf));
    for (uint8_t b : buf) {
      if (b >= kLimit) continue;
      if (code.size() == kRecoveryCodeGroup) code.push_back('-');
      code.push_back(kRecoveryAlphabet[b % kRecoveryAlphabetSize]);
      if (code.size() == 2 * kRecoveryCodeGroup + 1) break;
    }
  }
  return code;
}

// RFC 3986 percent-encoding of everything but the unreserved characters.
std::string PercentEncode(const std::string& s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : s) {
    if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
        ch == '.' || ch == '_' || ch == '~') {
      out.push_back(static_cast<char>(ch));
    } else {
      out.push_back('%');
      out.push_back(kHex[ch >> 4]);
      out.push_back(kHex[ch & 15]);
    }
  }
  return out;
}

// The step within ±skew of `now` whose code is `code`, preferring one newer
// than `last_step`; nullopt when none matches.
std::optional<int64_t> MatchingStep(const crypto::Bytes& key, const std::string& code, domain::Time now,
                                    int skew, int64_t last_step) {
  const int64_t current = crypto::TotpStep(UnixSeconds(now));
  std::optional<int64_t> found;
  for (int64_t step = current - skew; step <= current + skew; ++step) {
    if (step < 0) continue;
    if (!SameText(crypto::Hotp(key, static_cast<uint64_t>(step)), code)) continue;
    if (!found || (*found <= last_step && step > last_step)) found = step;
  }
  return found;
}

}  // namespace

SecondFactor::SecondFactor(std::vector<uint8_t> key, TotpOptions options)
    : key_(std::move(key)), options_(options) {
  options_.skew_steps = std::clamp(options_.skew_steps, 0, 10);
}

StatusOr<std::vector<uint8_t>> SecondFactor::LoadOrCreateKey(const std::string& data_dir) {
  return storage::LoadOrCreateKeyFile(FactorKeyPath(data_dir), kFactorKeySize, "factor");
}

StatusOr<std::string> SecondFactor::SealSecret(const std::string& base32) const {
  if (key_.size() != kFactorKeySize) return Internal("the factor key is not 32 bytes", "factor_key_bad");
  uint8_t nonce[kNonceSize];
  CUSTOS_RETURN_IF_ERROR(crypto::RandomFill(nonce, sizeof nonce));
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  crypto::Bytes out(kNonceSize + base32.size() + kTagSize);
  std::memcpy(out.data(), nonce, kNonceSize);
  int len = 0;
  int total = 0;
  bool ok = ctx != nullptr &&
            EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, kNonceSize, nullptr) == 1 &&
            EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), nonce) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const uint8_t*>(kSealAad),
                              sizeof kSealAad - 1) == 1 &&
            EVP_EncryptUpdate(ctx.get(), out.data() + kNonceSize, &len,
                              reinterpret_cast<const uint8_t*>(base32.data()), static_cast<int>(base32.size())) == 1;
  total = len;
  ok = ok && EVP_EncryptFinal_ex(ctx.get(), out.data() + kNonceSize + total, &len) == 1;
  total += len;
  ok = ok && static_cast<size_t>(total) == base32.size() &&
       EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, kTagSize, out.data() + kNonceSize + total) == 1;
  if (!ok) return Internal("AES-256-GCM sealing failed", "totp_seal_failed");
  return std::string(kSealPrefix) + crypto::Base64Encode(out);
}

StatusOr<std::string> SecondFactor::OpenSecret(const std::string& sealed) const {
  const Status unreadable = DataLoss("the sealed TOTP secret cannot be opened with this factor key",
                                     "totp_secret_unreadable");
  if (key_.size() != kFactorKeySize) return Internal("the factor key is not 32 bytes", "factor_key_bad");
  if (sealed.rfind(kSealPrefix, 0) != 0) return unreadable;
  std::optional<crypto::Bytes> raw = crypto::Base64Decode(std::string_view(sealed).substr(sizeof kSealPrefix - 1));
  if (!raw || raw->size() < kNonceSize + kTagSize) return unreadable;
  const size_t text_size = raw->size() - kNonceSize - kTagSize;
  std::string plain(text_size, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok = ctx != nullptr &&
            EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, kNonceSize, nullptr) == 1 &&
            EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), raw->data()) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const uint8_t*>(kSealAad),
                              sizeof kSealAad - 1) == 1 &&
            EVP_DecryptUpdate(ctx.get(), reinterpret_cast<uint8_t*>(plain.data()), &len,
                              raw->data() + kNonceSize, static_cast<int>(text_size)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, kTagSize,
                                raw->data() + kNonceSize + text_size) == 1;
  int final_len = 0;
  ok = ok && EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<uint8_t*>(plain.data()) + len, &final_len) == 1;
  if (!ok) {
    crypto::SecureZero(plain.data(), plain.size());
    return unreadable;
  }
  return plain;
}

StatusOr<TotpEnrolment> SecondFactor::BeginTotp(const std::string& username, Credentials& c) const {
  CUSTOS_ASSIGN_OR_RETURN(crypto::Bytes secret, crypto::RandomBytes(kTotpSecretBytes));
  Wipe wipe{secret};
  TotpEnrolment e;
  e.secret_base32 = crypto::Base32Encode(secret);
  CUSTOS_ASSIGN_OR_RETURN(std::string sealed, SealSecret(e.secret_base32));
  e.otpauth_uri = "otpauth://totp/Custos:" + PercentEncode(username) + "?secret=" + e.secret_base32 +
                  "&issuer=Custos&digits=6&period=30";
  c.totp_pending = std::move(sealed);
  return e;
}

StatusOr<std::vector<std::string>> SecondFactor::ConfirmTotp(Credentials& c, const std::string& code,
                                                             domain::Time now) const {
  if (c.totp_pending.empty()) return Conflict("no TOTP enrolment is pending", "totp_not_pending");
  CUSTOS_ASSIGN_OR_RETURN(std::string base32, OpenSecret(c.totp_pending));
  std::optional<crypto::Bytes> key = crypto::Base32Decode(base32);
  crypto::SecureZero(base32.data(), base32.size());
  if (!key) return DataLoss("the pending TOTP secret is not Base32", "totp_secret_unreadable");
  Wipe wipe{*key};
  const std::string digits = NormaliseTotpCode(code);
  std::optional<int64_t> step =
      digits.empty() ? std::nullopt : MatchingStep(*key, digits, now, options_.skew_steps, -1);
  if (!step) return Unauthenticated("the code does not match the new secret", "invalid_second_factor");

  std::vector<std::string> codes;
  std::vector<std::string> hashes;
  for (int i = 0; i < kRecoveryCodeCount; ++i) {
    CUSTOS_ASSIGN_OR_RETURN(std::string one, NewRecoveryCode());
    hashes.push_back(HashRecoveryCode(one));
    codes.push_back(std::move(one));
  }
  c.totp_secret = std::move(c.totp_pending);
  c.totp_pending.clear();
  c.totp_last_step = *step;
  c.recovery_code_hashes = std::move(hashes);
  return codes;
}

FactorCheck SecondFactor::CheckTotp(Credentials& c, const std::string& code, domain::Time now) const {
  if (c.totp_secret.empty()) return FactorCheck::kWrong;
  const std::string digits = NormaliseTotpCode(code);
  if (digits.empty()) return FactorCheck::kWrong;
  StatusOr<std::string> base32 = OpenSecret(c.totp_secret);
  if (!base32.ok()) return FactorCheck::kWrong;
  std::optional<crypto::Bytes> key = crypto::Base32Decode(*base32);
  crypto::SecureZero(base32->data(), base32->size());
  if (!key) return FactorCheck::kWrong;
  Wipe wipe{*key};
  std::optional<int64_t> step = MatchingStep(*key, digits, now, options_.skew_steps, c.totp_last_step);
  if (!step) return FactorCheck::kWrong;
  if (*step <= c.totp_last_step) return FactorCheck::kReused;
  c.totp_last_step = *step;
  return FactorCheck::kOk;
}

bool SecondFactor::UseRecoveryCode(Credentials& c, const std::string& code) const {
  const std::string normalised = NormaliseRecoveryCode(code);
  if (normalised.size() != 2 * kRecoveryCodeGroup) return false;
  const std::string hash = HashRecoveryCode(normalised);
  auto it = std::find_if(c.recovery_code_hashes.begin(), c.recovery_code_hashes.end(),
                         [&](const std::string& h) { return SameText(h, hash); });
  if (it == c.recovery_code_hashes.end()) return false;
  c.recovery_code_hashes.erase(it);
  return true;
}

}  // namespace custos::services
