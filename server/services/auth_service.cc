#include "server/services/auth_service.h"

#include <algorithm>
#include <cctype>

#include <Poco/JSON/Object.h>

#include "crypto/hash.h"
#include "crypto/password.h"
#include "crypto/random.h"
#include "domain/canonical_json.h"
#include "server/services/events.h"

namespace custos::services {

using domain::Role;
using domain::Time;
using domain::User;
using domain::Username;
using storage::LogEvent;
using storage::Transaction;

namespace {

constexpr size_t kTokenBytes = 32;
constexpr std::chrono::seconds kTouchGranularity{60};
// The session cache (StoreCache): how many sessions, and how long one is
// kept at most even when the store saw no change.
constexpr size_t kSessionCacheEntries = 4096;
constexpr std::chrono::milliseconds kSessionCacheMaxAge{10000};
constexpr size_t kMaxUsernameLength = 64;

// Set-up codes: 20 characters from an alphabet without look-alikes (no I,
// O, 0, 1), shown in groups of four: "ABCD-EFGH-JKLM-NPQR-STUV". 32
// symbols, so one random byte mod 32 is unbiased; 100 bits in all.
constexpr std::string_view kSetupAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
constexpr size_t kSetupCodeLength = 20;
constexpr size_t kSetupGroup = 4;

constexpr const char* kGrantPrefix = "GR";
constexpr const char* kProposed = "proposed";
constexpr const char* kConfirmed = "confirmed";
constexpr const char* kRejected = "rejected";
constexpr size_t kMaxReasonBytes = 1000;
constexpr domain::NameRule kReasonRule{"reason", "reason", "invalid_reason", kMaxReasonBytes, false};

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

Status InvalidSetupCode() {
  return Unauthenticated("the set-up code is wrong, expired or used, or the account is locked",
                         "invalid_setup_code");
}

Status FactorUnavailable() {
  return Unavailable("second factors are not configured on this server", "second_factor_unavailable");
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

// A role a new account or a grant may name: any but the legacy "admin".
StatusOr<Role> ParseAssignableRole(const std::string& name) {
  CUSTOS_ASSIGN_OR_RETURN(Role role, domain::ParseRole(name));
  if (role == Role::kLegacyAdmin) {
    return Unprocessable("role 'admin' no longer exists: use sysadmin, security_officer or "
                         "security_auditor",
                         "invalid_role");
  }
  return role;
}

std::string Sha256Hex(std::string_view s) { return crypto::HexEncode(crypto::Sha256Of(s)); }

// The code as typed: upper-cased, without the group dashes and spaces.
std::string NormalizeSetupCode(const std::string& code) {
  std::string out;
  for (char c : code) {
    if (c == '-' || c == ' ') continue;
    out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return out;
}

StatusOr<std::string> NewSetupCode() {
  CUSTOS_ASSIGN_OR_RETURN(crypto::Bytes raw, crypto::RandomBytes(kSetupCodeLength));
  std::string code;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (i > 0 && i % kSetupGroup == 0) code.push_back('-');
    code.push_back(kSetupAlphabet[raw[i] % kSetupAlphabet.size()]);
  }
  crypto::SecureZero(raw.data(), raw.size());
  return code;
}

bool IsHex64(const std::string& s) {
  if (s.size() != 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The account's state, read and written as a pair.
struct AccountState {
  Credentials credentials;
  Provenance provenance;
};

StatusOr<AccountState> StateOf(const User& u) {
  AccountState s;
  CUSTOS_ASSIGN_OR_RETURN(s.credentials, ParseCredentials(u.credentials));
  CUSTOS_ASSIGN_OR_RETURN(s.provenance, ParseProvenance(u.provenance));
  return s;
}

void Store(User& u, const AccountState& s) {
  u.credentials = Serialize(s.credentials);
  u.provenance = Serialize(s.provenance);
}

// What callers outside the services see of a user: no password hash, and
// credentials that keep only what the API shows (awaiting set-up, which
// factors, how many recovery codes) with every secret replaced.
User Redacted(User u) {
  u.password_hash.clear();
  auto c = ParseCredentials(u.credentials);
  if (!c.ok()) {
    u.credentials = "{}";
    return u;
  }
  Credentials shown;
  shown.awaiting_setup = c->awaiting_setup;
  shown.setup_code_expires_at = c->setup_code_expires_at;
  shown.setup_code_issued_by = c->setup_code_issued_by;
  if (!c->totp_secret.empty()) shown.totp_secret = "redacted";
  if (!c->totp_pending.empty()) shown.totp_pending = "redacted";
  shown.recovery_code_hashes.assign(c->recovery_code_hashes.size(), "redacted");
  shown.certificate_sha256 = c->certificate_sha256;  // public: the hash of a certificate
  u.credentials = Serialize(shown);
  return u;
}

StatusOr<User> FindUser(Transaction& tx, const std::string& username) {
  CUSTOS_ASSIGN_OR_RETURN(auto found, tx.users().Find(Username{username}));
  if (!found) return NotFound("no user '" + username + "'", "user_not_found").WithParam("username", username);
  return *found;
}

// ---- grants as documents

std::string GrantBody(const Grant& g) {
  Poco::JSON::Object::Ptr o(new Poco::JSON::Object);
  o->set("id", g.id);
  o->set("username", g.username);
  o->set("role", g.role);
  o->set("previousRole", g.previous_role);
  o->set("state", g.state);
  o->set("proposedBy", g.proposed_by);
  o->set("proposedAt", domain::FormatTime(g.proposed_at));
  if (!g.decided_by.empty()) o->set("decidedBy", g.decided_by);
  if (g.decided_at) o->set("decidedAt", domain::FormatTime(*g.decided_at));
  if (!g.reason.empty()) o->set("reason", g.reason);
  auto text = domain::CanonicalJson(o);
  return text.ok() ? *text : "{}";
}

StatusOr<Grant> GrantFrom(const storage::Document& d) {
  Status bad = DataLoss("grant " + d.id + " is not valid JSON of a grant", "grant_invalid");
  auto v = domain::ParseJsonStrict(d.body);
  if (!v.ok() || v->type() != typeid(Poco::JSON::Object::Ptr)) return bad;
  auto o = v->extract<Poco::JSON::Object::Ptr>();
  auto str = [&](const char* key) -> std::string {
    return o->has(key) && o->get(key).type() == typeid(std::string) ? o->get(key).extract<std::string>()
                                                                     : std::string();
  };
  Grant g;
  g.id = d.id;
  g.username = str("username");
  g.role = str("role");
  g.previous_role = str("previousRole");
  g.state = d.state;
  g.proposed_by = str("proposedBy");
  auto proposed = domain::ParseTime(str("proposedAt"));
  if (!proposed.ok()) return bad;
  g.proposed_at = *proposed;
  g.decided_by = str("decidedBy");
  if (std::string t = str("decidedAt"); !t.empty()) {
    auto decided = domain::ParseTime(t);
    if (!decided.ok()) return bad;
    g.decided_at = *decided;
  }
  g.reason = str("reason");
  return g;
}

storage::Document GrantDocument(const Grant& g, Time created, Time updated) {
  storage::Document d;
  d.kind = kGrantDocument;
  d.id = g.id;
  d.subject = g.username;
  d.owner = g.proposed_by;
  d.state = g.state;
  d.created_at = created;
  d.updated_at = updated;
  d.body = GrantBody(g);
  return d;
}

StatusOr<std::pair<Grant, storage::Document>> FindGrant(Transaction& tx, const std::string& id) {
  CUSTOS_ASSIGN_OR_RETURN(auto doc, tx.documents().Find(kGrantDocument, id));
  if (!doc) return NotFound("no grant '" + id + "'", "grant_not_found").WithParam("id", id);
  CUSTOS_ASSIGN_OR_RETURN(Grant g, GrantFrom(*doc));
  return std::make_pair(g, *doc);
}

void SetGrantDetails(LogEvent& e, const Grant& g) {
  e.details.Set("grant", g.id);
  e.details.Set("role", g.role);
  e.details.Set("previousRole", g.previous_role);
}

// Who may confirm or reject a proposal: a security officer or the system
// administrator.
Status RequireGrantDecider(const Principal& p) {
  if (p.role == Role::kSecurityOfficer || p.role == Role::kSysAdmin) return Status::Ok();
  return Forbidden("confirm or reject role grants");
}

}  // namespace

std::string TokenHash(const std::string& token) { return Sha256Hex(token); }

namespace {

// The Argon2id parameters new hashes are made with.
crypto::PasswordParams HashParams(const AuthOptions& options) {
  crypto::PasswordParams params;
  params.memory_kib = options.argon2_memory_kib;
  params.time_cost = options.argon2_iterations;
  return params;
}

}  // namespace

AuthOptions AuthOptionsOf(const Config& config) {
  AuthOptions o;
  o.password_max_age = std::chrono::hours(24) * config.password_max_age_days;
  o.idle_timeout = std::chrono::minutes(config.session_idle_minutes);
  o.absolute_timeout = std::chrono::hours(config.session_absolute_hours);
  o.max_failed_logins = config.max_failed_logins;
  o.lockout = std::chrono::minutes(config.lockout_minutes);
  o.argon2_memory_kib = config.password_memory_kib;
  o.second_factor_roles.clear();
  for (const std::string& role : config.second_factor_roles) {
    o.second_factor_roles.push_back(*domain::ParseRole(role));
  }
  o.setup_code_lifetime = std::chrono::hours(config.setup_code_hours);
  return o;
}

AuthService::AuthService(storage::MetadataStore& store, Clock& clock, AuthOptions options,
                         const SecondFactor* factors)
    : store_(store),
      clock_(clock),
      options_(options),
      factors_(factors),
      sessions_(store, {"sessions", "users"}, kSessionCacheEntries, kSessionCacheMaxAge) {
  // Checked against in place of a missing account's hash: the same cost as
  // a real check, with nothing hashed at start-up to make it.
  auto dummy = crypto::UnmatchableHash(HashParams(options_));
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
  return crypto::HashPassword(password, HashParams(options_));
}

namespace {

// Counts one failed attempt (password, second factor or set-up code) and
// locks the account at the limit. Returns the reason to log.
std::string CountFailure(User& u, const AuthOptions& options, Time now, const std::string& reason) {
  u.failed_logins += 1;
  if (u.failed_logins >= options.max_failed_logins) {
    u.locked_until = now + options.lockout;
    u.failed_logins = 0;
    return reason + "_locked";
  }
  return reason;
}

bool RoleNeedsFactor(const AuthOptions& options, Role role) {
  return std::find(options.second_factor_roles.begin(), options.second_factor_roles.end(), role) !=
         options.second_factor_roles.end();
}

// What the factor offered at sign-in came to.
struct FactorOutcome {
  std::string used;   // "certificate" | "totp" | "recovery_code"; "" when none was offered
  std::string wrong;  // why it failed, for the log; "" when it passed
};

// Checks `f` against the enrolled factors of `c` (which has one), using up
// the TOTP step or the recovery code it matched. A certificate the
// connection presented counts when it is the enrolled one; otherwise the
// typed TOTP code, otherwise a recovery code, decides.
FactorOutcome CheckFactor(const SecondFactor& factors, Credentials& c, const SignInFactor& f, Time now) {
  if (!f.certificate_sha256.empty() && !c.certificate_sha256.empty() &&
      Lower(f.certificate_sha256) == Lower(c.certificate_sha256)) {
    return {"certificate", ""};
  }
  if (!f.totp.empty()) {
    FactorCheck check = c.totp_secret.empty() ? FactorCheck::kWrong : factors.CheckTotp(c, f.totp, now);
    if (check == FactorCheck::kWrong) return {"totp", "wrong_totp"};
    if (check == FactorCheck::kReused) return {"totp", "reused_totp"};
    return {"totp", ""};
  }
  if (!f.recovery_code.empty()) {
    bool ok = factors.UseRecoveryCode(c, f.recovery_code);
    return {"recovery_code", ok ? "" : "wrong_recovery_code"};
  }
  if (!f.certificate_sha256.empty()) return {"certificate", "wrong_certificate"};
  return {};
}

}  // namespace

StatusOr<SignInResult> AuthService::SignIn(const std::string& username,
                                           const std::string& password, const SignInFactor& factor) {
  Time now = clock_.Now();
  StatusOr<std::optional<User>> found = std::optional<User>();
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    found = tx.users().Find(Username{username});
    return found.status();
  }));
  std::optional<User> user = *found;
  // Hash even for unknown users (and accounts without a password) so timing
  // does not reveal which names exist.
  bool password_ok = false;
  if (user && !user->password_hash.empty()) {
    password_ok = crypto::VerifyPassword(password, user->password_hash);
  } else {
    (void)crypto::VerifyPassword(password, dummy_hash_);  // same cost as a real check
  }
  SignInResult result;
  std::string failure;  // why, for the log only
  Status answer = Status::Ok();  // what the caller hears when `failure` is set
  Status s = store_.Write([&](Transaction& tx) -> Status {
    if (!user) {
      failure = "unknown_user";
      answer = InvalidCredentials();
      LogEvent e = MakeEvent("user.signin_failed", "anonymous", "(unknown)", now);
      e.details.Set("reason", failure);
      return tx.log().Append(e).status();
    }
    CUSTOS_ASSIGN_OR_RETURN(User u, FindUser(tx, user->username.value));
    CUSTOS_ASSIGN_OR_RETURN(AccountState state, StateOf(u));
    Credentials& c = state.credentials;
    bool needs_factor = RoleNeedsFactor(options_, u.role) || c.HasSecondFactor();
    bool changed = false;
    std::string used_factor;  // for the log
    answer = InvalidCredentials();
    if (u.disabled) {
      failure = "disabled";
    } else if (u.locked_until && *u.locked_until > now) {
      failure = "locked";
    } else if (c.awaiting_setup) {
      failure = "awaiting_setup";
    } else if (!password_ok) {
      failure = CountFailure(u, options_, now, "wrong_password");
      changed = true;
    } else if (needs_factor && factors_ == nullptr) {
      failure = "second_factor_unavailable";
      answer = FactorUnavailable();
    } else if (c.HasSecondFactor()) {
      // The password is right; the enrolled factor decides.
      FactorOutcome outcome = CheckFactor(*factors_, c, factor, now);
      used_factor = outcome.used;
      changed = !outcome.used.empty();  // a TOTP step or a recovery code may be used up
      if (outcome.used.empty()) {
        failure = "second_factor_required";
        answer = Unauthenticated("this account needs its second factor", "second_factor_required");
      } else if (!outcome.wrong.empty()) {
        failure = CountFailure(u, options_, now, outcome.wrong);
        answer = Unauthenticated("the second factor is wrong or was already used", "invalid_second_factor");
      }
    }
    if (!failure.empty()) {
      if (changed) {
        Store(u, state);
        CUSTOS_RETURN_IF_ERROR(tx.users().Update(u));
      }
      LogEvent e = MakeEvent("user.signin_failed", u.username.value, u.username.value, now);
      e.details.Set("reason", failure);
      return tx.log().Append(e).status();
    }
    u.failed_logins = 0;
    u.locked_until.reset();
    if (now - u.password_changed_at > options_.password_max_age) u.must_change_password = true;
    Store(u, state);
    CUSTOS_RETURN_IF_ERROR(tx.users().Update(u));
    CUSTOS_ASSIGN_OR_RETURN(crypto::Bytes raw, crypto::RandomBytes(kTokenBytes));
    result.token = crypto::HexEncode(raw);
    domain::Session session{TokenHash(result.token), u.username, now, now,
                             now + options_.absolute_timeout};
    CUSTOS_RETURN_IF_ERROR(tx.sessions().Insert(session));
    result.expires_at = std::min(session.expires_at, now + options_.idle_timeout);
    result.user = Redacted(u);
    LogEvent e = MakeEvent("user.signin", u.username.value, u.username.value, now);
    e.details.Set("mustChangePassword", u.must_change_password);
    if (!used_factor.empty()) e.details.Set("secondFactor", used_factor);
    bool must_enrol = RoleNeedsFactor(options_, u.role) && !c.HasSecondFactor();
    if (must_enrol) e.details.Set("mustEnrolSecondFactor", true);
    result.must_change_password = u.must_change_password;
    result.must_enrol_second_factor = must_enrol;
    if (used_factor == "recovery_code") e.details.Set("recoveryCodesLeft", c.recovery_code_hashes.size());
    return tx.log().Append(e).status();
  });
  CUSTOS_RETURN_IF_ERROR(s);
  if (!failure.empty()) return answer;
  return result;
}

StatusOr<AuthenticatedSession> AuthService::Authenticate(const std::string& token) {
  Status invalid = Unauthenticated("not signed in, or the session has expired", "session_invalid");
  if (token.size() != 2 * kTokenBytes) return invalid;
  std::string hash = TokenHash(token);
  // Counts first, then the clock and the read (StoreCache).
  std::optional<StoreCache<SessionRow>::Counts> counts = sessions_.Stamp();
  Time now = clock_.Now();
  std::optional<SessionRow> row;
  if (counts) row = sessions_.Get(hash, *counts);
  if (!row) {
    CUSTOS_ASSIGN_OR_RETURN(row, LoadSession(hash));
    if (row && counts) sessions_.Put(hash, *row, *counts);
  }
  if (!row || row->disabled || now >= row->session.expires_at ||
      now - row->session.last_seen_at >= options_.idle_timeout) {
    return invalid;
  }
  CUSTOS_RETURN_IF_ERROR(row->credentials);
  if (now - row->session.last_seen_at >= kTouchGranularity) {
    // Changes the sessions table: the cached row is read again next time.
    CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) { return tx.sessions().Touch(hash, now); }));
  }
  AuthenticatedSession out;
  out.principal = row->principal;
  out.must_change_password =
      row->must_change_password || now - row->password_changed_at > options_.password_max_age;
  out.must_enrol_second_factor = RoleNeedsFactor(options_, row->principal.role) && !row->has_second_factor;
  out.token_hash = hash;
  return out;
}

StatusOr<std::optional<AuthService::SessionRow>> AuthService::LoadSession(const std::string& token_hash) {
  std::optional<domain::Session> session;
  std::optional<User> user;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(session, tx.sessions().Find(token_hash));
    if (session) {
      CUSTOS_ASSIGN_OR_RETURN(user, tx.users().Find(session->username));
    }
    return Status::Ok();
  }));
  if (!session || !user) return std::optional<SessionRow>();
  StatusOr<Credentials> c = ParseCredentials(user->credentials);
  SessionRow row;
  row.credentials = c.status();
  row.session = std::move(*session);
  row.principal = Principal{user->username, user->role, user->department};
  row.disabled = user->disabled;
  row.must_change_password = user->must_change_password;
  row.password_changed_at = user->password_changed_at;
  row.has_second_factor = c.ok() && c->HasSecondFactor();
  return std::optional<SessionRow>(std::move(row));
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
  if (user.password_hash.empty() || !crypto::VerifyPassword(current, user.password_hash)) {
    return Unprocessable("the current password is wrong", "wrong_password");
  }
  if (current == replacement) {
    return Unprocessable("the new password must differ from the current one", "weak_password");
  }
  CUSTOS_RETURN_IF_ERROR(ValidatePassword(who.username.value, replacement));
  CUSTOS_ASSIGN_OR_RETURN(std::string hash, Hash(replacement));
  Time now = clock_.Now();
  return store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(User u, FindUser(tx, who.username.value));
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

// ---- second-factor enrolment

StatusOr<TotpEnrolment> AuthService::BeginTotp(const AuthenticatedSession& session) {
  if (factors_ == nullptr) return FactorUnavailable();
  const std::string& name = session.principal.username.value;
  Time now = clock_.Now();
  TotpEnrolment enrolment;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(User u, FindUser(tx, name));
    CUSTOS_ASSIGN_OR_RETURN(AccountState state, StateOf(u));
    CUSTOS_ASSIGN_OR_RETURN(enrolment, factors_->BeginTotp(name, state.credentials));
    Store(u, state);
    CUSTOS_RETURN_IF_ERROR(tx.users().Update(u));
    LogEvent e = MakeEvent("user.second_factor_pending", name, name, now);
    e.details.Set("factor", "totp");
    return tx.log().Append(e).status();
  }));
  return enrolment;
}

StatusOr<std::vector<std::string>> AuthService::ConfirmTotp(const AuthenticatedSession& session,
                                                            const std::string& code) {
  if (factors_ == nullptr) return FactorUnavailable();
  const std::string& name = session.principal.username.value;
  Time now = clock_.Now();
  std::vector<std::string> codes;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(User u, FindUser(tx, name));
    CUSTOS_ASSIGN_OR_RETURN(AccountState state, StateOf(u));
    CUSTOS_ASSIGN_OR_RETURN(codes, factors_->ConfirmTotp(state.credentials, code, now));
    Store(u, state);
    CUSTOS_RETURN_IF_ERROR(tx.users().Update(u));
    LogEvent e = MakeEvent("user.second_factor_enrolled", name, name, now);
    e.details.Set("factor", "totp");
    e.details.Set("recoveryCodes", codes.size());
    return tx.log().Append(e).status();
  }));
  return codes;
}

Status AuthService::EnrolCertificate(const AuthenticatedSession& session, const std::string& sha256) {
  if (sha256.empty()) {
    return Unprocessable("sign in over a connection that presents your client certificate",
                         "certificate_required");
  }
  if (!IsHex64(sha256)) {
    return Unprocessable("a certificate's SHA-256 is 64 hexadecimal digits", "invalid_certificate");
  }
  const std::string& name = session.principal.username.value;
  Time now = clock_.Now();
  return store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(User u, FindUser(tx, name));
    CUSTOS_ASSIGN_OR_RETURN(AccountState state, StateOf(u));
    state.credentials.certificate_sha256 = Lower(sha256);
    Store(u, state);
    CUSTOS_RETURN_IF_ERROR(tx.users().Update(u));
    LogEvent e = MakeEvent("user.second_factor_enrolled", name, name, now);
    e.details.Set("factor", "certificate");
    return tx.log().Append(e).status();
  });
}

// ---- accounts

StatusOr<User> AuthService::InsertUser(const std::string& actor, const NewUser& nu,
                                       bool create_department) {
  CUSTOS_RETURN_IF_ERROR(ValidUsername(nu.username));
  CUSTOS_ASSIGN_OR_RETURN(Role role, ParseAssignableRole(nu.role));
  CUSTOS_RETURN_IF_ERROR(ValidDepartmentName(nu.department));
  // An account made by custosctl has the operator's password; one made by
  // the system administrator has none and awaits set-up.
  bool awaiting_setup = !create_department;
  std::string hash;
  if (!awaiting_setup) {
    CUSTOS_RETURN_IF_ERROR(ValidatePassword(nu.username, nu.password));
    CUSTOS_ASSIGN_OR_RETURN(hash, Hash(nu.password));
  }
  Time now = clock_.Now();
  User u;
  u.username = Username{nu.username};
  u.password_hash = hash;
  u.role = role;
  u.department = nu.department;
  u.must_change_password = awaiting_setup ? false : nu.must_change_password;
  u.password_changed_at = now;
  u.created_at = now;
  AccountState state;
  state.credentials.awaiting_setup = awaiting_setup;
  state.provenance.created_by = actor;
  Store(u, state);
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
    e.details.Set("role", std::string(domain::Name(role)));
    e.details.Set("department", nu.department);
    e.details.Set("mustChangePassword", u.must_change_password);
    e.details.Set("awaitingSetup", awaiting_setup);
    return tx.log().Append(e).status();
  }));
  return Redacted(u);
}

StatusOr<User> AuthService::CreateUser(const Principal& admin, const NewUser& user) {
  CUSTOS_RETURN_IF_ERROR(RequireAdmin(admin));
  if (!user.password.empty()) {
    return Unprocessable("a new account has no password: its holder sets one with a set-up code "
                         "issued by the security officer",
                         "password_not_accepted");
  }
  if (!user.role.empty()) {
    CUSTOS_ASSIGN_OR_RETURN(Role role, ParseAssignableRole(user.role));
    if (role != Role::kStaff) {
      return Conflict("a new account is staff; the role " + user.role +
                          " is granted by a security officer and confirmed by a second person",
                      "grant_required")
          .WithParam("role", user.role);
    }
  }
  NewUser staff = user;
  staff.role = std::string(domain::Name(Role::kStaff));
  return InsertUser(admin.username.value, staff, /*create_department=*/false);
}

StatusOr<User> AuthService::CreateUserUnchecked(const std::string& actor, const NewUser& user) {
  return InsertUser(actor, user, /*create_department=*/true);
}

StatusOr<User> AuthService::PatchUser(const Principal& admin, const std::string& username,
                                      const UserPatch& patch) {
  CUSTOS_RETURN_IF_ERROR(RequireAdmin(admin));
  if (patch.department) CUSTOS_RETURN_IF_ERROR(ValidDepartmentName(*patch.department));
  if (patch.reset_second_factor && !patch.reset) {
    return Unprocessable("the second factor is removed only together with a reset", "reset_required");
  }
  if (patch.disabled && *patch.disabled && username == admin.username.value) {
    return Conflict("an administrator cannot disable their own account", "cannot_disable_self");
  }
  if (patch.reset && username == admin.username.value) {
    return Conflict("a person's own reset needs a different person", "cannot_reset_self");
  }
  Time now = clock_.Now();
  User result;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(User u, FindUser(tx, username));
    CUSTOS_ASSIGN_OR_RETURN(AccountState state, StateOf(u));
    LogEvent e = MakeEvent("user.update", admin.username.value, username, now);
    domain::EventDetails before, after;
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
      Credentials& c = state.credentials;
      u.password_hash.clear();
      u.password_changed_at = now;
      u.must_change_password = false;
      u.failed_logins = 0;
      u.locked_until.reset();
      c.awaiting_setup = true;
      c.setup_code_hash.clear();
      c.setup_code_expires_at.reset();
      c.setup_code_issued_by.clear();
      if (patch.reset_second_factor) {
        c.totp_secret.clear();
        c.totp_pending.clear();
        c.totp_last_step = -1;
        c.recovery_code_hashes.clear();
        c.certificate_sha256.clear();
      }
      state.provenance.reset_at = now;
      state.provenance.reset_by = admin.username.value;
      e.details.Set("reset", true);
      e.details.Set("resetSecondFactor", patch.reset_second_factor);
      CUSTOS_RETURN_IF_ERROR(tx.sessions().DeleteForUser(u.username));
    }
    e.details.Set("before", std::move(before));
    e.details.Set("after", std::move(after));
    Store(u, state);
    CUSTOS_RETURN_IF_ERROR(tx.users().Update(u));
    result = u;
    return tx.log().Append(e).status();
  }));
  return Redacted(result);
}

StatusOr<std::vector<User>> AuthService::ListUsers(const Principal& admin) {
  CUSTOS_RETURN_IF_ERROR(RequireAdministrative(admin));
  std::vector<User> out;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(out, tx.users().List());
    return Status::Ok();
  }));
  for (User& u : out) u = Redacted(std::move(u));
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

// ---- set-up codes and unlocks

StatusOr<SetupCode> AuthService::IssueSetupCode(const Principal& officer, const std::string& username) {
  CUSTOS_RETURN_IF_ERROR(RequireSecurityOfficer(officer));
  const std::string& me = officer.username.value;
  Time now = clock_.Now();
  SetupCode out;
  CUSTOS_ASSIGN_OR_RETURN(out.code, NewSetupCode());
  out.expires_at = now + options_.setup_code_lifetime;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(User u, FindUser(tx, username));
    CUSTOS_ASSIGN_OR_RETURN(AccountState state, StateOf(u));
    if (username == me || state.provenance.created_by == me || state.provenance.reset_by == me) {
      return Conflict("the set-up code must come from someone other than the account's holder, "
                      "its creator and the person who last reset it",
                      "setup_code_same_person")
          .WithParam("username", username);
    }
    if (!state.credentials.awaiting_setup) {
      return Conflict("account '" + username + "' is not awaiting set-up (reset it first)",
                      "setup_not_pending")
          .WithParam("username", username);
    }
    state.credentials.setup_code_hash = Sha256Hex(NormalizeSetupCode(out.code));
    state.credentials.setup_code_expires_at = out.expires_at;
    state.credentials.setup_code_issued_by = me;
    Store(u, state);
    CUSTOS_RETURN_IF_ERROR(tx.users().Update(u));
    LogEvent e = MakeEvent("user.setup_code_issued", me, username, now);
    e.details.Set("expiresAt", domain::FormatTime(out.expires_at));
    return tx.log().Append(e).status();
  }));
  return out;
}

Status AuthService::CompleteSetup(const std::string& username, const std::string& code,
                                  const std::string& password) {
  Time now = clock_.Now();
  std::string code_hash = Sha256Hex(NormalizeSetupCode(code));
  // First look: is the code right? (Nothing is used up yet, so a weak
  // password can be retried with the same code.)
  std::optional<User> user;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(user, tx.users().Find(Username{username}));
    return Status::Ok();
  }));
  auto why_not = [&](const User& u) -> std::string {
    if (u.disabled) return "disabled";
    if (u.locked_until && *u.locked_until > now) return "locked";
    auto c = ParseCredentials(u.credentials);
    if (!c.ok()) return "state_invalid";
    if (!c->awaiting_setup || c->setup_code_hash.empty()) return "no_code";
    if (!c->setup_code_expires_at || now >= *c->setup_code_expires_at) return "expired_code";
    if (!crypto::ConstantTimeEquals(reinterpret_cast<const uint8_t*>(code_hash.data()), code_hash.size(),
                                    reinterpret_cast<const uint8_t*>(c->setup_code_hash.data()),
                                    c->setup_code_hash.size())) {
      return "wrong_code";
    }
    return "";
  };
  std::string failure = user ? why_not(*user) : "unknown_user";
  std::string hash;
  if (failure.empty()) {
    CUSTOS_RETURN_IF_ERROR(ValidatePassword(username, password));
    CUSTOS_ASSIGN_OR_RETURN(hash, Hash(password));
  }
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    if (!user) {
      LogEvent e = MakeEvent("user.setup_failed", "anonymous", "(unknown)", now);
      e.details.Set("reason", failure);
      return tx.log().Append(e).status();
    }
    CUSTOS_ASSIGN_OR_RETURN(User u, FindUser(tx, username));
    if (failure.empty()) failure = why_not(u);  // again, inside the transaction
    if (!failure.empty()) {
      if (failure != "locked" && failure != "disabled") {
        failure = CountFailure(u, options_, now, failure);
        CUSTOS_RETURN_IF_ERROR(tx.users().Update(u));
      }
      LogEvent e = MakeEvent("user.setup_failed", username, username, now);
      e.details.Set("reason", failure);
      return tx.log().Append(e).status();
    }
    CUSTOS_ASSIGN_OR_RETURN(AccountState state, StateOf(u));
    Credentials& c = state.credentials;
    state.provenance.setup_at = now;
    state.provenance.setup_code_issued_by = c.setup_code_issued_by;
    c.awaiting_setup = false;
    c.setup_code_hash.clear();
    c.setup_code_expires_at.reset();
    c.setup_code_issued_by.clear();
    u.password_hash = hash;
    u.password_changed_at = now;
    u.must_change_password = false;
    u.failed_logins = 0;
    u.locked_until.reset();
    Store(u, state);
    CUSTOS_RETURN_IF_ERROR(tx.users().Update(u));
    CUSTOS_RETURN_IF_ERROR(tx.sessions().DeleteForUser(u.username));
    LogEvent e = MakeEvent("user.setup_completed", username, username, now);
    e.details.Set("codeIssuedBy", state.provenance.setup_code_issued_by);
    return tx.log().Append(e).status();
  }));
  if (!failure.empty()) return InvalidSetupCode();
  return Status::Ok();
}

StatusOr<User> AuthService::Unlock(const Principal& officer, const std::string& username) {
  CUSTOS_RETURN_IF_ERROR(RequireSecurityOfficer(officer));
  if (username == officer.username.value) {
    return Conflict("a person's own account is unlocked by someone else", "cannot_unlock_self");
  }
  Time now = clock_.Now();
  User result;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(User u, FindUser(tx, username));
    LogEvent e = MakeEvent("user.unlock", officer.username.value, username, now);
    e.details.Set("wasLocked", u.locked_until.has_value() && *u.locked_until > now);
    e.details.Set("failedLogins", u.failed_logins);
    u.locked_until.reset();
    u.failed_logins = 0;
    CUSTOS_RETURN_IF_ERROR(tx.users().Update(u));
    result = u;
    return tx.log().Append(e).status();
  }));
  return Redacted(result);
}

// ---- role grants

namespace {

// Gives `u` the grant's role: provenance, sessions and the event.
Status ApplyGrant(Transaction& tx, User& u, const Grant& g, const std::string& granted_by, Time now) {
  CUSTOS_ASSIGN_OR_RETURN(AccountState state, StateOf(u));
  CUSTOS_ASSIGN_OR_RETURN(Role role, domain::ParseRole(g.role));
  u.role = role;
  state.provenance.role_granted_at = now;
  state.provenance.role_granted_by = granted_by;
  Store(u, state);
  CUSTOS_RETURN_IF_ERROR(tx.users().Update(u));
  return tx.sessions().DeleteForUser(u.username);
}

}  // namespace

StatusOr<Grant> AuthService::ProposeGrant(const Principal& officer, const std::string& username,
                                          const std::string& role_name) {
  CUSTOS_RETURN_IF_ERROR(RequireSecurityOfficer(officer));
  CUSTOS_ASSIGN_OR_RETURN(Role role, ParseAssignableRole(role_name));
  const std::string& me = officer.username.value;
  if (username == me) {
    return Conflict("a person's own role is granted by others", "grant_same_person");
  }
  Time now = clock_.Now();
  Grant g;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(User u, FindUser(tx, username));
    if (u.role == role) {
      return Conflict("account '" + username + "' already has the role " + role_name, "grant_unchanged")
          .WithParam("role", role_name);
    }
    bool revocation = role == Role::kStaff;
    if (!revocation) {
      // A revocation is never held up by an open proposal (which its
      // confirmation then finds stale).
      storage::DocumentQuery q;
      q.kind = kGrantDocument;
      q.subject = username;
      q.states = {kProposed};
      q.limit = 1;
      CUSTOS_ASSIGN_OR_RETURN(auto open, tx.documents().List(q));
      if (!open.empty()) {
        return Conflict("account '" + username + "' has a proposal open (" + open.front().id +
                            "): confirm or reject it first",
                        "grant_pending")
            .WithParam("id", open.front().id);
      }
    }
    CUSTOS_ASSIGN_OR_RETURN(g.id, NextDocumentId(tx, kGrantPrefix, now));
    g.username = username;
    g.role = std::string(domain::Name(role));
    g.previous_role = std::string(domain::Name(u.role));
    g.state = kProposed;
    g.proposed_by = me;
    g.proposed_at = now;
    LogEvent propose = MakeEvent("grant.propose", me, username, now);
    SetGrantDetails(propose, g);
    if (revocation) {
      g.state = kConfirmed;
      g.decided_by = me;
      g.decided_at = now;
    }
    CUSTOS_RETURN_IF_ERROR(tx.documents().Insert(GrantDocument(g, now, now)));
    CUSTOS_RETURN_IF_ERROR(tx.log().Append(propose).status());
    if (!revocation) return Status::Ok();
    CUSTOS_RETURN_IF_ERROR(ApplyGrant(tx, u, g, me, now));
    LogEvent confirm = MakeEvent("grant.confirm", me, username, now);
    SetGrantDetails(confirm, g);
    confirm.details.Set("immediate", true);  // a revocation needs no second person
    return tx.log().Append(confirm).status();
  }));
  return g;
}

StatusOr<Grant> AuthService::ConfirmGrant(const Principal& who, const std::string& id) {
  CUSTOS_RETURN_IF_ERROR(RequireGrantDecider(who));
  const std::string& me = who.username.value;
  Time now = clock_.Now();
  Grant g;
  bool stale = false;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto found, FindGrant(tx, id));
    g = found.first;
    if (g.state != kProposed) {
      return Conflict("grant " + id + " is " + g.state + ", not proposed", "grant_not_pending").WithParam("id", id);
    }
    if (me == g.proposed_by || me == g.username) {
      return Conflict("a grant is confirmed by someone other than its proposer and the account's holder",
                      "grant_same_person")
          .WithParam("id", id);
    }
    CUSTOS_ASSIGN_OR_RETURN(User u, FindUser(tx, g.username));
    g.decided_by = me;
    g.decided_at = now;
    if (std::string(domain::Name(u.role)) != g.previous_role) {
      // The role changed since the proposal (a revocation, a migration):
      // the proposal no longer says what it would change. It is closed.
      stale = true;
      g.state = kRejected;
      g.reason = "the account's role changed to " + std::string(domain::Name(u.role)) +
                 " after the proposal";
      CUSTOS_RETURN_IF_ERROR(tx.documents().Update(GrantDocument(g, found.second.created_at, now)));
      LogEvent e = MakeEvent("grant.reject", me, g.username, now);
      SetGrantDetails(e, g);
      e.details.Set("reason", "stale");
      return tx.log().Append(e).status();
    }
    g.state = kConfirmed;
    CUSTOS_RETURN_IF_ERROR(tx.documents().Update(GrantDocument(g, found.second.created_at, now)));
    CUSTOS_RETURN_IF_ERROR(ApplyGrant(tx, u, g, g.proposed_by + "+" + me, now));
    LogEvent e = MakeEvent("grant.confirm", me, g.username, now);
    SetGrantDetails(e, g);
    e.details.Set("proposedBy", g.proposed_by);
    return tx.log().Append(e).status();
  }));
  if (stale) {
    return Conflict("the account's role changed after grant " + id + " was proposed; it is closed, "
                    "propose again",
                    "grant_stale")
        .WithParam("id", id);
  }
  return g;
}

StatusOr<Grant> AuthService::RejectGrant(const Principal& who, const std::string& id,
                                         const std::string& reason) {
  CUSTOS_RETURN_IF_ERROR(RequireGrantDecider(who));
  if (!reason.empty()) CUSTOS_RETURN_IF_ERROR(domain::ValidateName(reason, kReasonRule));
  const std::string& me = who.username.value;
  Time now = clock_.Now();
  Grant g;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto found, FindGrant(tx, id));
    g = found.first;
    if (g.state != kProposed) {
      return Conflict("grant " + id + " is " + g.state + ", not proposed", "grant_not_pending").WithParam("id", id);
    }
    // The proposer may withdraw; the holder may not decide their own grant.
    if (me == g.username) {
      return Conflict("a person's own grant is decided by others", "grant_same_person").WithParam("id", id);
    }
    g.state = kRejected;
    g.decided_by = me;
    g.decided_at = now;
    g.reason = reason;
    CUSTOS_RETURN_IF_ERROR(tx.documents().Update(GrantDocument(g, found.second.created_at, now)));
    LogEvent e = MakeEvent("grant.reject", me, g.username, now);
    SetGrantDetails(e, g);
    if (!reason.empty()) e.details.Set("reason", reason);
    return tx.log().Append(e).status();
  }));
  return g;
}

StatusOr<std::vector<Grant>> AuthService::Grants(const Principal& who, const std::string& state) {
  CUSTOS_RETURN_IF_ERROR(RequireAdministrative(who));
  if (!state.empty() && state != kProposed && state != kConfirmed && state != kRejected) {
    return Unprocessable("state must be proposed, confirmed or rejected", "invalid_state")
        .WithParam("state", state);
  }
  std::vector<Grant> out;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](Transaction& tx) -> Status {
    storage::DocumentQuery q;
    q.kind = kGrantDocument;
    if (!state.empty()) q.states = {state};
    CUSTOS_ASSIGN_OR_RETURN(auto docs, ListAllDocuments(tx, q));
    for (const auto& d : docs) {
      CUSTOS_ASSIGN_OR_RETURN(Grant g, GrantFrom(d));
      out.push_back(std::move(g));
    }
    return Status::Ok();
  }));
  return out;
}

StatusOr<size_t> AuthService::MigrateLegacyAdmins(const std::string& actor) {
  Time now = clock_.Now();
  size_t migrated = 0;
  CUSTOS_RETURN_IF_ERROR(store_.Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto users, tx.users().List());
    for (User& u : users) {
      if (u.role != Role::kLegacyAdmin) continue;
      CUSTOS_ASSIGN_OR_RETURN(AccountState state, StateOf(u));
      u.role = Role::kSysAdmin;
      state.provenance.role_granted_at = now;
      state.provenance.role_granted_by = actor;
      Store(u, state);
      CUSTOS_RETURN_IF_ERROR(tx.users().Update(u));
      CUSTOS_RETURN_IF_ERROR(tx.sessions().DeleteForUser(u.username));
      LogEvent e = MakeEvent("user.role_migrated", actor, u.username.value, now);
      e.details.Set("from", std::string(domain::Name(Role::kLegacyAdmin)));
      e.details.Set("to", std::string(domain::Name(Role::kSysAdmin)));
      CUSTOS_RETURN_IF_ERROR(tx.log().Append(e).status());
      ++migrated;
    }
    return Status::Ok();
  }));
  return migrated;
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
