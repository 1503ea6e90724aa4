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

  // Loads DATA/keys/factor.key, creating it (0600) when absent.
  static StatusOr<std::vector<uint8_t>> LoadOrCreateKey(const std::string& data_dir);

  // A new secret; its sealed form goes into Credentials::totp_pending.
  StatusOr<TotpEnrolment> BeginTotp(const std::string& username, Credentials& c) const;
  // Confirms the pending enrolment with a current code: moves it to
  // totp_secret, replaces the recovery codes and returns them (shown once).
  // kConflict "totp_not_pending"; kUnauthenticated "invalid_second_factor".
  StatusOr<std::vector<std::string>> ConfirmTotp(Credentials& c, const std::string& code,
                                                 domain::Time now) const;
  // Checks a TOTP code; on kOk records its step in totp_last_step.
  FactorCheck CheckTotp(Credentials& c, const std::string& code, domain::Time now) const;
  // Uses up a recovery code; false when it is not one of the unused codes.
  bool UseRecoveryCode(Credentials& c, const std::string& code) const;

  StatusOr<std::string> SealSecret(const std::string& base32) const;
  StatusOr<std::string> OpenSecret(const std::string& sealed) const;

 private:
  std::vector<uint8_t> key_;
  TotpOptions options_;
};

}  // namespace custos::services
