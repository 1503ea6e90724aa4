#include "server/services/auth_service.h"

#include "crypto/hash.h"
#include "crypto/password.h"
#include "crypto/random.h"

namespace custos::services {

using storage::LogEvent;
using domain::Role;
using domain::Time;
using storage::Transaction;
using domain::User;
using domain::Username;

namespace {

constexpr size_t kTokenBytes = 32;
constexpr std::chrono::seconds kTouchGranularity{60};
constexpr size_t kMaxUsernameLength = 64;

LogEvent MakeEvent(const std::string& action, const std::string& actor, const std::string& subject,
                   Time at) {
  LogEvent e;
  e.action = action;
  e.actor = actor;
  e.subject = subject;
  e.at = at;
  return e;
}

Status InvalidCredentials() {
  return Unauthenticated("wrong username or password, or the account is locked",
                         "invalid_credentials");
}

Status ValidUsername(const std::string& name) {
  if (name.empty() || name.size() > kMaxUsernameLength) {
    return Unprocessable("username must be 1 to 64 characters", "invalid_username");
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) {
      return Unprocessable("username may contain only a-z, 0-9, '.', '_' and '-'",
                           "invalid_username");
    }
  }
  return Status::Ok();
}

Status ValidDepartmentName(const std::string& name) {
  return domain::ValidateName(name, domain::kDepartmentNameRule);
}

}  // namespace

std::string TokenHash(const std::string& token) {
  return crypto::HexEncode(crypto::Sha256Of(token));
}

AuthService::AuthService(storage::MetadataStore& store, Clock& clock, AuthOptions options,
                         const SecondFactor* factors)
    : store_(store), clock_(clock), options_(options), factors_(factors) {
  auto dummy = Hash("no such user, no such password");
  if (dummy.ok()) dummy_hash_ = *dummy;
}

Status AuthService::ValidatePassword(const std::string& username,
                                     const std::string& password) const {
  if (password.size() < options_.min_password_length) {
    return Unprocessable("password must have at least " +
                             std::to_string(options_.min_password_length) + " characters",
                         "weak_password")
        .WithParam("rule", "min_length")
        .WithParam("minLength", options_.min_password_length);
  }
  if (password.size() > 1024) return Unprocessable("password is too long", "weak_password").WithParam("rule", "too_long");
  if (password == username) {
    return Unprocessable("password must differ from the username", "weak_password").WithParam("rule", "username");
  }
  return Status::Ok();
}

StatusOr<std::string> AuthService::Hash(const std::string& password) const {
  crypto::PasswordParams params;
  params.memory_kib = options_.argon2_memory_kib;
  params.time_cost = options_.argon2_iterations;
  return crypto::HashPassword(password, params);
}

StatusOr<SignInResult> AuthService::SignIn(const std::string& username,
                                           const std::string& password, const SignInFactor& factor) {
  Time now = clock_.Now();
  StatusOr<std::optional<User>> found = std::optional<User>();
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    found = tx.users().Find(Username{username});
    return found.status();
  }));
  std::optional<User> user = *found;
  // Hash even for unknown users so timing does not reveal which names exist.
  bool password_ok = false;
  if (user) {
    password_ok = crypto::VerifyPassword(password, user->password_hash);
  } else {
    (void)crypto::VerifyPassword(password, dummy_hash_);  // same cost as a real check
  }
  SignInResult result;
  std::string failure;  // why, for the log only
  Status s = store_.Write([&](Transaction& tx) -> Status {
    if (!user) {
      failure = "unknown_user";
      LogEvent e = MakeEvent("user.signin_failed", "anonymous", "(unknown)", now);
      e.details.Set("reason", failure);
      return tx.log().Append(e).status();
    }
    CUSTOS_ASSIGN_OR_RETURN(auto fresh, tx.users().Find(user->username));
    if (!fresh) return NotFound("user vanished", "user_not_found");
    User u = *fresh;
    if (u.disabled) {
      failure = "disabled";
    } else if (u.locked_until && *u.locked_until > now) {
      failure = "locked";
    } else if (!password_ok) {
      failure = "wrong_password";
      u.failed_logins += 1;
      if (u.failed_logins >= options_.max_failed_logins) {
        u.locked_until = now + options_.lockout;
        u.failed_logins = 0;
        failure = "wrong_password_locked";
      }
      CUSTOS_RETURN_IF_ERROR(tx.users().Update(u));
    }
    if (!failure.empty()) {
      LogEvent e = MakeEvent("user.signin_failed", u.username.value, u.username.value, now);
      e.details.Set("reason", failure);
      return tx.log().Append(e).status();
    }
    u.failed_logins = 0;
    u.locked_until.reset();
    if (now - u.password_changed_at > options_.password_max_age) u.must_change_password = true;
    CUSTOS_RETURN_IF_ERROR(tx.users().Update(u));
    CUSTOS_ASSIGN_OR_RETURN(crypto::Bytes raw, crypto::RandomBytes(kTokenBytes));
    result.token = crypto::HexEncode(raw);
    domain::Session session{TokenHash(result.token), u.username, now, now,
                             now + options_.absolute_timeout};
    CUSTOS_RETURN_IF_ERROR(tx.sessions().Insert(session));
    result.expires_at = std::min(session.expires_at, now + options_.idle_timeout);
    result.user = u;
    LogEvent e = MakeEvent("user.signin", u.username.value, u.username.value, now);
    e.details.Set("mustChangePassword", u.must_change_password);
    return tx.log().Append(e).status();
  });
  CUSTOS_RETURN_IF_ERROR(s);
  if (!failure.empty()) return InvalidCredentials();
  return result;
}

StatusOr<AuthenticatedSession> AuthService::Authenticate(const std::string& token) {
  Status invalid = Unauthenticated("not signed in, or the session has expired", "session_invalid");
  if (token.size() != 2 * kTokenBytes) return invalid;
  std::string hash = TokenHash(token);
  Time now = clock_.Now();
  std::optional<domain::Session> session;
  std::optional<User> user;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(session, tx.sessions().Find(hash));
    if (session) {
      CUSTOS_ASSIGN_OR_RETURN(user, tx.users().Find(session->username));
    }
    return Status::Ok();
  }));
  if (!session || !user || user->disabled || now >= session->expires_at ||
      now - session->last_seen_at >= options_.idle_timeout) {
    return invalid;
  }
  if (now - session->last_seen_at >= kTouchGranularity) {
    CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) { return tx.sessions().Touch(hash, now); }));
  }
  AuthenticatedSession out;
  out.principal = Principal{user->username, user->role, user->department};
  out.must_change_password =
      user->must_change_password || now - user->password_changed_at > options_.password_max_age;
  out.token_hash = hash;
  return out;
}

Status AuthService::SignOut(const AuthenticatedSession& session) {
  Time now = clock_.Now();
  return store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_RETURN_IF_ERROR(tx.sessions().Delete(session.token_hash));
    const std::string& name = session.principal.username.value;
    return tx.log().Append(MakeEvent("user.signout", name, name, now)).status();
  });
}

Status AuthService::ChangePassword(const AuthenticatedSession& session, const std::string& current,
                                   const std::string& replacement) {
  const Principal& who = session.principal;
  CUSTOS_ASSIGN_OR_RETURN(User user, GetUser(who.username.value));
  if (!crypto::VerifyPassword(current, user.password_hash)) {
    return Unprocessable("the current password is wrong", "wrong_password");
  }
  if (current == replacement) {
    return Unprocessable("the new password must differ from the current one", "weak_password");
  }
  CUSTOS_RETURN_IF_ERROR(ValidatePassword(who.username.value, replacement));
  CUSTOS_ASSIGN_OR_RETURN(std::string hash, Hash(replacement));
  Time now = clock_.Now();
  return store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto fresh, tx.users().Find(who.username));
    if (!fresh) return NotFound("no such user", "user_not_found");
    User u = *fresh;
    u.password_hash = hash;
    u.password_changed_at = now;
    u.must_change_password = false;
    CUSTOS_RETURN_IF_ERROR(tx.users().Update(u));
    // Every other session ends: delete them all, then put back the one in use.
    CUSTOS_ASSIGN_OR_RETURN(std::optional<domain::Session> in_use, tx.sessions().Find(session.token_hash));
    CUSTOS_RETURN_IF_ERROR(tx.sessions().DeleteForUser(u.username));
    if (in_use) CUSTOS_RETURN_IF_ERROR(tx.sessions().Insert(*in_use));
    const std::string& name = who.username.value;
    return tx.log().Append(MakeEvent("user.password_change", name, name, now)).status();
  });
}

StatusOr<User> AuthService::InsertUser(const std::string& actor, const NewUser& nu,
                                       bool create_department) {
  CUSTOS_RETURN_IF_ERROR(ValidUsername(nu.username));
  CUSTOS_ASSIGN_OR_RETURN(Role role, domain::ParseRole(nu.role));
  CUSTOS_RETURN_IF_ERROR(ValidDepartmentName(nu.department));
  CUSTOS_RETURN_IF_ERROR(ValidatePassword(nu.username, nu.password));
  CUSTOS_ASSIGN_OR_RETURN(std::string hash, Hash(nu.password));
  Time now = clock_.Now();
  User u;
  u.username = Username{nu.username};
  u.password_hash = hash;
  u.role = role;
  u.department = nu.department;
  u.must_change_password = nu.must_change_password;
  u.password_changed_at = now;
  u.created_at = now;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(bool exists, tx.departments().Exists(nu.department));
    if (!exists && !create_department) {
      return Unprocessable("no department '" + nu.department + "'", "unknown_department").WithParam("department", nu.department);
    }
    if (!exists) {
      CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({nu.department, now}));
      LogEvent d = MakeEvent("department.create", actor, nu.department, now);
      CUSTOS_RETURN_IF_ERROR(tx.log().Append(d).status());
    }
    CUSTOS_RETURN_IF_ERROR(tx.users().Insert(u));
    LogEvent e = MakeEvent("user.create", actor, nu.username, now);
    e.details.Set("role", nu.role);
    e.details.Set("department", nu.department);
    e.details.Set("mustChangePassword", nu.must_change_password);
    return tx.log().Append(e).status();
  }));
  return u;
}

StatusOr<User> AuthService::CreateUser(const Principal& admin, const NewUser& user) {
  CUSTOS_RETURN_IF_ERROR(RequireAdmin(admin));
  return InsertUser(admin.username.value, user, /*create_department=*/false);
}

StatusOr<User> AuthService::CreateUserUnchecked(const std::string& actor, const NewUser& user) {
  return InsertUser(actor, user, /*create_department=*/true);
}

StatusOr<User> AuthService::PatchUser(const Principal& admin, const std::string& username,
                                      const UserPatch& patch) {
  CUSTOS_RETURN_IF_ERROR(RequireAdmin(admin));
  std::optional<Role> role;  // TODO(#23): grants
  if (patch.department) CUSTOS_RETURN_IF_ERROR(ValidDepartmentName(*patch.department));
  std::string hash;
  if (patch.disabled && *patch.disabled && username == admin.username.value) {
    return Conflict("an admin cannot disable their own account", "cannot_disable_self");
  }
  Time now = clock_.Now();
  User result;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto found, tx.users().Find(Username{username}));
    if (!found) return NotFound("no user '" + username + "'", "user_not_found");
    User u = *found;
    LogEvent e = MakeEvent("user.update", admin.username.value, username, now);
    domain::EventDetails before, after;
    if (role && *role != u.role) {
      before.Set("role", domain::Name(u.role));
      after.Set("role", domain::Name(*role));
      u.role = *role;
    }
    if (patch.department && *patch.department != u.department) {
      CUSTOS_ASSIGN_OR_RETURN(bool exists, tx.departments().Exists(*patch.department));
      if (!exists) return Unprocessable("no department '" + *patch.department + "'", "unknown_department").WithParam("department", *patch.department);
      before.Set("department", u.department);
      after.Set("department", *patch.department);
      u.department = *patch.department;
    }
    if (patch.disabled && *patch.disabled != u.disabled) {
      before.Set("disabled", u.disabled);
      after.Set("disabled", *patch.disabled);
      u.disabled = *patch.disabled;
      if (u.disabled) CUSTOS_RETURN_IF_ERROR(tx.sessions().DeleteForUser(u.username));
    }
    if (patch.reset) {
      u.password_hash = hash;
      u.password_changed_at = now;
      u.must_change_password = true;
      u.failed_logins = 0;
      u.locked_until.reset();
      e.details.Set("passwordReset", true);
      CUSTOS_RETURN_IF_ERROR(tx.sessions().DeleteForUser(u.username));
    }
    e.details.Set("before", std::move(before));
    e.details.Set("after", std::move(after));
    CUSTOS_RETURN_IF_ERROR(tx.users().Update(u));
    result = u;
    return tx.log().Append(e).status();
  }));
  return result;
}

StatusOr<std::vector<User>> AuthService::ListUsers(const Principal& admin) {
  CUSTOS_RETURN_IF_ERROR(RequireAdmin(admin));
  std::vector<User> out;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(out, tx.users().List());
    return Status::Ok();
  }));
  return out;
}

StatusOr<domain::Department> AuthService::CreateDepartment(const Principal& admin,
                                                            const std::string& name) {
  CUSTOS_RETURN_IF_ERROR(RequireAdmin(admin));
  CUSTOS_RETURN_IF_ERROR(ValidDepartmentName(name));
  domain::Department d{name, clock_.Now()};
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_RETURN_IF_ERROR(tx.departments().Insert(d));
    return tx.log().Append(MakeEvent("department.create", admin.username.value, name, d.created_at)).status();
  }));
  return d;
}

StatusOr<std::vector<domain::Department>> AuthService::ListDepartments(const Principal& who) {
  std::vector<domain::Department> out;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(out, tx.departments().List());
    return Status::Ok();
  }));
  return out;
}

StatusOr<User> AuthService::GetUser(const std::string& username) {
  std::optional<User> user;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(user, tx.users().Find(Username{username}));
    return Status::Ok();
  }));
  if (!user) return NotFound("no user '" + username + "'", "user_not_found");
  return *user;
}

}  // namespace custos::services
