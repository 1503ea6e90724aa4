// The services' schema of an account's credentials and provenance
// (domain::User::credentials, ::provenance; docs/security.md).
//
// Both are canonical JSON objects; "{}" is an account from before the
// three-role split (nothing issued, nothing known). Credentials are secret:
// the row seal covers them and the log carries only their SHA-256. The
// provenance is logged as it is.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "domain/model.h"

namespace custos::services {

struct Credentials {
  // A created or reset account has no password its holder chose: it can
  // sign in only after CompleteSetup with a one-time set-up code.
  bool awaiting_setup = false;
  std::string setup_code_hash;  // hex SHA-256 of the code; "" when none is issued
  std::optional<domain::Time> setup_code_expires_at;
  std::string setup_code_issued_by;

  // TOTP (RFC 6238): the secret sealed by SecondFactor::SealSecret; "" when
  // not enrolled. `totp_pending` is an enrolment not yet confirmed.
  std::string totp_secret;
  std::string totp_pending;
  int64_t totp_last_step = -1;  // the newest time step used: older or equal codes are refused
  std::vector<std::string> recovery_code_hashes;  // hex SHA-256 of each unused code

  // A client certificate (mutual TLS) as the factor: hex SHA-256 of its DER;
  // "" when none is enrolled.
  std::string certificate_sha256;

  [[nodiscard]] bool HasSecondFactor() const { return !totp_secret.empty() || !certificate_sha256.empty(); }
};

struct Provenance {
  std::string created_by;                  // "" for accounts from before the split
  std::optional<domain::Time> reset_at;    // the newest password reset
  std::string reset_by;
  std::optional<domain::Time> role_granted_at;  // when the current role took effect
  std::string role_granted_by;             // "proposer+confirmer", or the actor of a revocation
  std::optional<domain::Time> setup_at;    // when the holder last set a password with a code
  std::string setup_code_issued_by;        // who issued the code used then
};

// kDataLoss "account_state_invalid" for text that is not the schema's JSON
// (the row seal vouches for the text, so this is a bug or a damaged store).
StatusOr<Credentials> ParseCredentials(const std::string& json);
StatusOr<Provenance> ParseProvenance(const std::string& json);
// Canonical JSON; "{}" for a default-constructed value.
std::string Serialize(const Credentials& c);
std::string Serialize(const Provenance& p);

// When the account last changed hands: the newest of its creation, its
// password reset and its role grant.
domain::Time LastHandover(const domain::User& u, const Provenance& p);

}  // namespace custos::services
