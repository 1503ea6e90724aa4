// People: users, departments, passwords and sessions (DESIGN §1, §6).
//
// * Passwords are Argon2id (crypto/password.h); minimum length
//   AuthOptions::min_password_length; a password may not equal the username.
// * Sign-in returns a random 256-bit bearer token; only its SHA-256 is
//   stored. A session ends after `idle_timeout` without use or
//   `absolute_timeout` after sign-in, whichever comes first.
// * `max_failed_logins` failures in a row lock the account for
//   `lockout`; the lock is reported like a wrong password (no oracle) but
//   logged as its own event.
// * A user whose password must change (new account, reset, or older than
//   `password_max_age`) can only change it: Authenticate() returns the
//   principal with `must_change_password` set and the HTTP layer refuses
//   every other call with 403 "password_change_required".
// * Every change is an audit event in the same transaction; a sign-in
//   (success or failure) is an event too. No event carries a password or a
//   token.
//
// * Authenticate() keeps what it read of a session and its user in a
//   StoreCache (server/services/store_cache.h) while neither the sessions
//   nor the users table changed: on an SQLite archive a request costs no
//   read transaction, and a sign-out, a disabled or reset account or a new
//   role still takes effect on the next request.
//
// Thread safety: safe for concurrent use (state lives in the store; the
// session cache has its own lock).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "server/services/account_policy.h"
#include "server/services/account_state.h"
#include "server/services/clock.h"
#include "server/services/principal.h"
#include "server/services/second_factor.h"
#include "server/services/store_cache.h"
#include "storage/metadata_store.h"

namespace custos::services {

struct AuthOptions {
  std::chrono::minutes idle_timeout{30};
  std::chrono::hours absolute_timeout{12};
  int max_failed_logins = 5;
  std::chrono::minutes lockout{15};
  std::chrono::hours password_max_age{24 * 90};
  size_t min_password_length = 12;
  // Argon2id cost; tests lower it.
  uint32_t argon2_memory_kib = 65536;
  uint32_t argon2_iterations = 3;
  // Three-role administration (docs/security.md).
  std::vector<domain::Role> second_factor_roles = {
      domain::Role::kSysAdmin, domain::Role::kSecurityOfficer, domain::Role::kSecurityAuditor,
      domain::Role::kArchivist, domain::Role::kApprover,     domain::Role::kLegal};
  std::chrono::hours setup_code_lifetime{72};
};

// The options a configuration sets (the auth.* keys of common/config.h),
// as custosd and custosctl both use them. The configuration must be one
// ParseConfig accepted (its role names are checked there).
AuthOptions AuthOptionsOf(const Config& config);

// What a sign-in offers besides the password: at most one is used.
struct SignInFactor {
  std::string totp;                // a 6-digit code
  std::string recovery_code;       // one of the codes shown at enrolment
  std::string certificate_sha256;  // hex SHA-256 of the verified client certificate's DER (mutual TLS)
};

struct SetupCode {
  std::string code;  // shown once to the issuer, who hands it to the holder; never stored or logged
  domain::Time expires_at;
};

// A proposed role grant (documents of kind kGrantDocument, id GR-YYYY-NNNNNN).
inline constexpr const char* kGrantDocument = "grant";
struct Grant {
  std::string id;
  std::string username;
  std::string role;       // the role proposed
  std::string previous_role;
  std::string state;      // "proposed" | "confirmed" | "rejected"
  std::string proposed_by;
  domain::Time proposed_at;
  std::string decided_by;  // "" while proposed
  std::optional<domain::Time> decided_at;
  std::string reason;      // a rejection's
};

struct SignInResult {
  std::string token;  // give to the client once; never stored or logged
  domain::Time expires_at;
  domain::User user;
  // What the new session may do, as Authenticate() will report it.
  bool must_change_password = false;
  bool must_enrol_second_factor = false;
};

struct AuthenticatedSession {
  Principal principal;
  bool must_change_password = false;
  // The role needs a second factor and the account has none yet: the
  // session may only enrol one (BeginTotp, ConfirmTotp) or sign out; the
  // HTTP layer refuses everything else with 403
  // "second_factor_enrolment_required".
  bool must_enrol_second_factor = false;
  std::string token_hash;
};

struct NewUser {
  std::string username;
  std::string password;
  std::string role;
  std::string department;
  bool must_change_password = true;
};

// Changes to a user by the system administrator; unset fields stay. Roles
// are not changed here: they are granted (ProposeGrant, ConfirmGrant).
struct UserPatch {
  std::optional<std::string> department;
  std::optional<bool> disabled;
  // A reset: the password stops working, every session ends, and the holder
  // needs a new set-up code (issued by someone else) to sign in again.
  bool reset = false;
  // With a reset: the second factor (and recovery codes) are removed too.
  bool reset_second_factor = false;
};

class AuthService {
 public:
  // `factors` may be null: then no second factor can be enrolled or
  // checked, and roles that need one cannot sign in (tests of other parts
  // pass AuthOptions::second_factor_roles empty).
  AuthService(storage::MetadataStore& store, Clock& clock, AuthOptions options = {},
              const SecondFactor* factors = nullptr);

  // kUnauthenticated "invalid_credentials" for an unknown user, a wrong
  // password, a locked or disabled account, or one awaiting set-up. With
  // the right password, a role that needs a second factor and an enrolled
  // one: kUnauthenticated "second_factor_required" when `factor` is empty,
  // "invalid_second_factor" when it is wrong or a reused code (a failure
  // that counts towards the lock, like a wrong password). An enrolled
  // certificate matching factor.certificate_sha256 is used first, else
  // factor.totp, else factor.recovery_code. Staff who enrolled a factor
  // need it too. kUnavailable "second_factor_unavailable" when a factor is
  // needed and `factors` is null. The result's user carries no secret
  // (password hash empty, credentials redacted).
  StatusOr<SignInResult> SignIn(const std::string& username, const std::string& password,
                                const SignInFactor& factor = {});
  // Resolves a bearer token; kUnauthenticated "session_invalid" if unknown
  // or expired. Extends the idle timer.
  StatusOr<AuthenticatedSession> Authenticate(const std::string& token);
  Status SignOut(const AuthenticatedSession& session);
  // The caller's own password; needs the current one. Ends every other
  // session of the user in the same transaction (a stolen token dies with
  // the old password); the session making the change stays signed in.
  Status ChangePassword(const AuthenticatedSession& session, const std::string& current,
                        const std::string& replacement);

  // Second-factor enrolment by the holder (any session, also a restricted
  // one): BeginTotp makes a new pending secret; ConfirmTotp enrols it with a
  // current code and returns ten recovery codes, shown once.
  StatusOr<TotpEnrolment> BeginTotp(const AuthenticatedSession& session);
  StatusOr<std::vector<std::string>> ConfirmTotp(const AuthenticatedSession& session,
                                                 const std::string& code);
  // Enrols the client certificate the session's connection presented
  // (verified against tls.client_ca by the TLS layer; `sha256` is the hex
  // SHA-256 of its DER). kUnprocessable "certificate_required" when empty,
  // "invalid_certificate" when not 64 hex digits.
  Status EnrolCertificate(const AuthenticatedSession& session, const std::string& sha256);

  // System administrator (RequireSysAdmin). A new account is staff, awaits
  // set-up and has no password; `user.password` must be empty
  // (kUnprocessable "password_not_accepted") and `user.role` empty or
  // "staff" (kConflict "grant_required": other roles are granted).
  StatusOr<domain::User> CreateUser(const Principal& admin, const NewUser& user);
  // kConflict "cannot_reset_self" for one's own account,
  // "cannot_disable_self"; kUnprocessable "reset_required" for
  // reset_second_factor without reset. Returned users (here, CreateUser,
  // ListUsers, Unlock) carry no secret: password hash empty, credentials
  // with every hash and secret replaced by "redacted".
  StatusOr<domain::User> PatchUser(const Principal& admin, const std::string& username,
                                    const UserPatch& patch);
  // Administrative roles (sysadmin, security officer, security auditor).
  StatusOr<std::vector<domain::User>> ListUsers(const Principal& admin);
  StatusOr<domain::Department> CreateDepartment(const Principal& admin, const std::string& name);

  // Security officer. A one-time code for an account awaiting set-up
  // (kConflict "setup_not_pending" otherwise), valid for
  // options.setup_code_lifetime; a new code replaces the previous one.
  // kConflict "setup_code_same_person" when the officer created or last
  // reset the account, or it is their own.
  StatusOr<SetupCode> IssueSetupCode(const Principal& officer, const std::string& username);
  // Anonymous: the holder sets their password with the code. The code is
  // used up. kUnauthenticated "invalid_setup_code" for a wrong, expired or
  // used code, an unknown user or a locked account (a failure counts
  // towards the lock); "weak_password" like ChangePassword.
  Status CompleteSetup(const std::string& username, const std::string& code,
                       const std::string& password);
  // Security officer: ends a lock (failed sign-ins). Not one's own
  // (kConflict "cannot_unlock_self").
  StatusOr<domain::User> Unlock(const Principal& officer, const std::string& username);

  // Role grants. A security officer proposes (not for themselves); a role
  // other than staff takes effect only when a second person confirms: a
  // security officer or the system administrator who is neither the
  // proposer nor the account's holder. Granting staff (a revocation) takes
  // effect at once. Either way the account's sessions end and
  // provenance.role_granted_at is set. kConflict "grant_same_person",
  // "grant_not_pending", "grant_unchanged" (the account has that role),
  // "grant_pending" (the account has a proposal open; a revocation is
  // never held up by one), "grant_stale" (ConfirmGrant: the account's role
  // changed since the proposal, which is then closed as rejected);
  // kNotFound "grant_not_found"; kUnprocessable "invalid_role" (also for
  // the legacy "admin"), "invalid_reason". The proposer may reject
  // (withdraw) their own proposal; the account's holder decides nothing.
  StatusOr<Grant> ProposeGrant(const Principal& officer, const std::string& username,
                               const std::string& role);
  StatusOr<Grant> ConfirmGrant(const Principal& who, const std::string& id);
  StatusOr<Grant> RejectGrant(const Principal& who, const std::string& id, const std::string& reason);
  // Administrative roles; `state` "" for all (kUnprocessable
  // "invalid_state" for another word).
  StatusOr<std::vector<Grant>> Grants(const Principal& who, const std::string& state);

  // Accounts with the legacy role "admin" become system administrators,
  // each with a user.role_migrated event by `actor`. Returns how many.
  StatusOr<size_t> MigrateLegacyAdmins(const std::string& actor);
  // Any signed-in user: check-in forms and searches need the names.
  StatusOr<std::vector<domain::Department>> ListDepartments(const Principal& who);

  // For custosctl (no principal: the operator of the machine). Creates the
  // department if missing. `actor` names who did it in the log ("custosctl").
  StatusOr<domain::User> CreateUserUnchecked(const std::string& actor, const NewUser& user);

  StatusOr<domain::User> GetUser(const std::string& username);

 private:
  Status ValidatePassword(const std::string& username, const std::string& password) const;
  StatusOr<std::string> Hash(const std::string& password) const;
  StatusOr<domain::User> InsertUser(const std::string& actor, const NewUser& user,
                                     bool create_department);

  storage::MetadataStore& store_;
  Clock& clock_;
  const AuthOptions options_;
  const SecondFactor* const factors_;
  // Checked against for unknown users, so their sign-in costs the same.
  std::string dummy_hash_;

  // What Authenticate() needs of a session and its user, as read together.
  struct SessionRow {
    domain::Session session;
    Principal principal;
    bool disabled = false;
    bool must_change_password = false;
    domain::Time password_changed_at;
    bool has_second_factor = false;
    Status credentials;  // a failure to read the user's credentials, reported once the session counts
  };
  // The SessionRow of a token hash, or nullopt when the token names no
  // session of an existing user.
  StatusOr<std::optional<SessionRow>> LoadSession(const std::string& token_hash);
  // Keyed by token hash; sessions and users tables (no secret is kept:
  // neither the password hash nor the second-factor credentials).
  StoreCache<SessionRow> sessions_;
};

// Hex SHA-256 of a bearer token (what the sessions table keeps).
std::string TokenHash(const std::string& token);

}  // namespace custos::services
