// Second factors (docs/security.md): TOTP (RFC 6238, HMAC-SHA1, 6 digits,
// 30 s steps; crypto/totp.h), one-time recovery codes, and the SHA-256 of
// an enrolled client certificate.
//
// TOTP secrets are stored sealed (AES-256-GCM) under the factor key,
// DATA/keys/factor.key (32 random bytes, 0600, made at first use like the
// row-seal key): a reader of the database without the keys learns no
// secret. Recovery codes (ten per enrolment, shown once) are stored as
// SHA-256 and each works once.
//
// Thread safety: const methods are safe for concurrent use.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "domain/model.h"
#include "server/services/account_state.h"

namespace custos::services {

struct TotpOptions {
  int skew_steps = 1;  // codes this many steps early or late are accepted
};

enum class FactorCheck { kOk, kWrong, kReused };

struct TotpEnrolment {
  std::string secret_base32;  // shown once, to the holder, for their authenticator app
  std::string otpauth_uri;    // otpauth://totp/Custos:<user>?secret=…&issuer=Custos
};

class SecondFactor {
 public:
  // `key`: the 32-byte factor key.
  SecondFactor(std::vector<uint8_t> key, TotpOptions options = {});

  // Loads DATA/keys/factor.key, creating it (0600; DATA/keys 0700 if
  // absent) when absent. Refuses a file with group or other permissions
  // (kInternal "factor_key_mode", the message says chmod 600) or not
  // holding exactly 32 bytes, or a symbolic link (kDataLoss
  // "factor_key_bad"); an existing file is never rewritten
  // (storage/key_file.h, shared with the index key).
  static StatusOr<std::vector<uint8_t>> LoadOrCreateKey(const std::string& data_dir);

  // A new secret (20 random bytes); its sealed form goes into
  // Credentials::totp_pending, replacing any pending one. The username is
  // percent-encoded (RFC 3986) in the URI's label.
  StatusOr<TotpEnrolment> BeginTotp(const std::string& username, Credentials& c) const;
  // Confirms the pending enrolment with a current code: moves it to
  // totp_secret, replaces the recovery codes and returns them (shown once).
  // kConflict "totp_not_pending"; kUnauthenticated "invalid_second_factor"
  // (nothing changes: the enrolment stays pending and may be retried);
  // kDataLoss "totp_secret_unreadable" when the pending secret does not open.
  // The confirming code's step becomes totp_last_step (it cannot sign in).
  StatusOr<std::vector<std::string>> ConfirmTotp(Credentials& c, const std::string& code,
                                                 domain::Time now) const;
  // Checks a TOTP code (six digits, spaces ignored) against the steps
  // within ±skew_steps of `now`; on kOk records its step in totp_last_step.
  // kReused for a step <= totp_last_step; kWrong for anything else,
  // including no TOTP enrolled or a secret that does not open.
  FactorCheck CheckTotp(Credentials& c, const std::string& code, domain::Time now) const;
  // Uses up a recovery code (case, dashes and spaces ignored); false when it
  // is not one of the unused codes (then nothing changes).
  bool UseRecoveryCode(Credentials& c, const std::string& code) const;

  // AES-256-GCM under the factor key, a random 12-byte nonce, AAD
  // "custos totp v1"; text form "v1:" + base64(nonce | ciphertext | tag).
  // OpenSecret: kDataLoss "totp_secret_unreadable" for text not in that
  // form, tampered, or sealed under another key. Both: kInternal
  // "factor_key_bad" when the key is not 32 bytes.
  StatusOr<std::string> SealSecret(const std::string& base32) const;
  StatusOr<std::string> OpenSecret(const std::string& sealed) const;

 private:
  std::vector<uint8_t> key_;
  TotpOptions options_;
};

}  // namespace custos::services
