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
// Thread safety: safe for concurrent use (state lives in the store).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "server/services/clock.h"
#include "server/services/principal.h"
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
};

struct SignInResult {
  std::string token;  // give to the client once; never stored or logged
  domain::Time expires_at;
  domain::User user;
};

struct AuthenticatedSession {
  Principal principal;
  bool must_change_password = false;
  std::string token_hash;
};

struct NewUser {
  std::string username;
  std::string password;
  std::string role;
  std::string department;
  bool must_change_password = true;
};

// Changes to a user by an admin; unset fields stay.
struct UserPatch {
  std::optional<std::string> role;
  std::optional<std::string> department;
  std::optional<bool> disabled;
  std::optional<std::string> password;  // a reset: forces a change at next sign-in
};

class AuthService {
 public:
  AuthService(storage::MetadataStore& store, Clock& clock, AuthOptions options = {});

  // kUnauthenticated "invalid_credentials" for an unknown user, a wrong
  // password, a locked or disabled account.
  StatusOr<SignInResult> SignIn(const std::string& username, const std::string& password);
  // Resolves a bearer token; kUnauthenticated "session_invalid" if unknown
  // or expired. Extends the idle timer.
  StatusOr<AuthenticatedSession> Authenticate(const std::string& token);
  Status SignOut(const AuthenticatedSession& session);
  // The caller's own password; needs the current one. Ends every other
  // session of the user in the same transaction (a stolen token dies with
  // the old password); the session making the change stays signed in.
  Status ChangePassword(const AuthenticatedSession& session, const std::string& current,
                        const std::string& replacement);

  // Admin operations (RequireAdmin).
  StatusOr<domain::User> CreateUser(const Principal& admin, const NewUser& user);
  StatusOr<domain::User> PatchUser(const Principal& admin, const std::string& username,
                                    const UserPatch& patch);
  StatusOr<std::vector<domain::User>> ListUsers(const Principal& admin);
  StatusOr<domain::Department> CreateDepartment(const Principal& admin, const std::string& name);
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
  // Checked against for unknown users, so their sign-in costs the same.
  std::string dummy_hash_;
};

// Hex SHA-256 of a bearer token (what the sessions table keeps).
std::string TokenHash(const std::string& token);

}  // namespace custos::services
