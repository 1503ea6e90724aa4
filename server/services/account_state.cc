#include "server/services/account_state.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include "domain/canonical_json.h"

namespace custos::services {

using domain::Time;
using Poco::JSON::Array;
using Poco::JSON::Object;

// Member names (camelCase, like the API). A member is written only when it
// differs from the default, so a default value is "{}".
namespace {

constexpr const char* kAwaitingSetup = "awaitingSetup";
constexpr const char* kSetupCodeHash = "setupCodeHash";
constexpr const char* kSetupCodeExpiresAt = "setupCodeExpiresAt";
constexpr const char* kSetupCodeIssuedBy = "setupCodeIssuedBy";
constexpr const char* kTotpSecret = "totpSecret";
constexpr const char* kTotpPending = "totpPending";
constexpr const char* kTotpLastStep = "totpLastStep";
constexpr const char* kRecoveryCodeHashes = "recoveryCodeHashes";
constexpr const char* kCertificateSha256 = "certificateSha256";

constexpr const char* kCreatedBy = "createdBy";
constexpr const char* kResetAt = "resetAt";
constexpr const char* kResetBy = "resetBy";
constexpr const char* kRoleGrantedAt = "roleGrantedAt";
constexpr const char* kRoleGrantedBy = "roleGrantedBy";
constexpr const char* kSetupAt = "setupAt";

Status Invalid(const std::string& why) {
  return DataLoss("stored account state is not valid: " + why, "account_state_invalid");
}

StatusOr<Object::Ptr> ParseObject(const std::string& json) {
  if (json.empty()) return Object::Ptr(new Object);
  auto v = domain::ParseJsonStrict(json);
  if (!v.ok()) return Invalid(v.status().message());
  if (v->type() != typeid(Object::Ptr)) return Invalid("not a JSON object");
  Object::Ptr o = v->extract<Object::Ptr>();
  if (o.isNull()) return Invalid("not a JSON object");
  return o;
}

// Each reader leaves `out` unchanged when the member is absent.
Status ReadString(const Object& o, const char* key, std::string& out) {
  if (!o.has(key)) return Status::Ok();
  const Poco::Dynamic::Var& v = o.get(key);
  if (v.type() != typeid(std::string)) return Invalid(std::string(key) + " is not a string");
  out = v.extract<std::string>();
  return Status::Ok();
}

Status ReadBool(const Object& o, const char* key, bool& out) {
  if (!o.has(key)) return Status::Ok();
  const Poco::Dynamic::Var& v = o.get(key);
  if (v.type() != typeid(bool)) return Invalid(std::string(key) + " is not a boolean");
  out = v.extract<bool>();
  return Status::Ok();
}

Status ReadInt(const Object& o, const char* key, int64_t& out) {
  if (!o.has(key)) return Status::Ok();
  const Poco::Dynamic::Var& v = o.get(key);
  if (v.type() != typeid(Poco::Int64)) return Invalid(std::string(key) + " is not an integer");
  out = v.extract<Poco::Int64>();
  return Status::Ok();
}

Status ReadTime(const Object& o, const char* key, std::optional<Time>& out) {
  std::string text;
  CUSTOS_RETURN_IF_ERROR(ReadString(o, key, text));
  if (!o.has(key)) return Status::Ok();
  auto t = domain::ParseTime(text);
  if (!t.ok()) return Invalid(std::string(key) + " is not an RFC 3339 time");
  out = *t;
  return Status::Ok();
}

Status ReadStrings(const Object& o, const char* key, std::vector<std::string>& out) {
  if (!o.has(key)) return Status::Ok();
  const Poco::Dynamic::Var& v = o.get(key);
  if (v.type() != typeid(Array::Ptr)) return Invalid(std::string(key) + " is not an array");
  Array::Ptr a = v.extract<Array::Ptr>();
  out.clear();
  for (size_t i = 0; a && i < a->size(); ++i) {
    const Poco::Dynamic::Var& item = a->get(static_cast<unsigned>(i));
    if (item.type() != typeid(std::string)) return Invalid(std::string(key) + " holds a non-string");
    out.push_back(item.extract<std::string>());
  }
  return Status::Ok();
}

void PutString(Object& o, const char* key, const std::string& v) {
  if (!v.empty()) o.set(key, v);
}
void PutTime(Object& o, const char* key, const std::optional<Time>& t) {
  if (t) o.set(key, domain::FormatTime(*t));
}

std::string Canonical(const Object::Ptr& o) {
  // Only strings, booleans, integers and arrays of strings go in: always
  // canonicalisable.
  auto s = domain::CanonicalJson(o);
  return s.ok() ? *s : "{}";
}

}  // namespace

StatusOr<Credentials> ParseCredentials(const std::string& json) {
  CUSTOS_ASSIGN_OR_RETURN(Object::Ptr o, ParseObject(json));
  Credentials c;
  CUSTOS_RETURN_IF_ERROR(ReadBool(*o, kAwaitingSetup, c.awaiting_setup));
  CUSTOS_RETURN_IF_ERROR(ReadString(*o, kSetupCodeHash, c.setup_code_hash));
  CUSTOS_RETURN_IF_ERROR(ReadTime(*o, kSetupCodeExpiresAt, c.setup_code_expires_at));
  CUSTOS_RETURN_IF_ERROR(ReadString(*o, kSetupCodeIssuedBy, c.setup_code_issued_by));
  CUSTOS_RETURN_IF_ERROR(ReadString(*o, kTotpSecret, c.totp_secret));
  CUSTOS_RETURN_IF_ERROR(ReadString(*o, kTotpPending, c.totp_pending));
  CUSTOS_RETURN_IF_ERROR(ReadInt(*o, kTotpLastStep, c.totp_last_step));
  CUSTOS_RETURN_IF_ERROR(ReadStrings(*o, kRecoveryCodeHashes, c.recovery_code_hashes));
  CUSTOS_RETURN_IF_ERROR(ReadString(*o, kCertificateSha256, c.certificate_sha256));
  return c;
}

StatusOr<Provenance> ParseProvenance(const std::string& json) {
  CUSTOS_ASSIGN_OR_RETURN(Object::Ptr o, ParseObject(json));
  Provenance p;
  CUSTOS_RETURN_IF_ERROR(ReadString(*o, kCreatedBy, p.created_by));
  CUSTOS_RETURN_IF_ERROR(ReadTime(*o, kResetAt, p.reset_at));
  CUSTOS_RETURN_IF_ERROR(ReadString(*o, kResetBy, p.reset_by));
  CUSTOS_RETURN_IF_ERROR(ReadTime(*o, kRoleGrantedAt, p.role_granted_at));
  CUSTOS_RETURN_IF_ERROR(ReadString(*o, kRoleGrantedBy, p.role_granted_by));
  CUSTOS_RETURN_IF_ERROR(ReadTime(*o, kSetupAt, p.setup_at));
  CUSTOS_RETURN_IF_ERROR(ReadString(*o, kSetupCodeIssuedBy, p.setup_code_issued_by));
  return p;
}

std::string Serialize(const Credentials& c) {
  Object::Ptr o(new Object);
  if (c.awaiting_setup) o->set(kAwaitingSetup, true);
  PutString(*o, kSetupCodeHash, c.setup_code_hash);
  PutTime(*o, kSetupCodeExpiresAt, c.setup_code_expires_at);
  PutString(*o, kSetupCodeIssuedBy, c.setup_code_issued_by);
  PutString(*o, kTotpSecret, c.totp_secret);
  PutString(*o, kTotpPending, c.totp_pending);
  if (c.totp_last_step != -1) o->set(kTotpLastStep, static_cast<Poco::Int64>(c.totp_last_step));
  if (!c.recovery_code_hashes.empty()) {
    Array::Ptr a(new Array);
    for (const auto& h : c.recovery_code_hashes) a->add(h);
    o->set(kRecoveryCodeHashes, a);
  }
  PutString(*o, kCertificateSha256, c.certificate_sha256);
  return Canonical(o);
}

std::string Serialize(const Provenance& p) {
  Object::Ptr o(new Object);
  PutString(*o, kCreatedBy, p.created_by);
  PutTime(*o, kResetAt, p.reset_at);
  PutString(*o, kResetBy, p.reset_by);
  PutTime(*o, kRoleGrantedAt, p.role_granted_at);
  PutString(*o, kRoleGrantedBy, p.role_granted_by);
  PutTime(*o, kSetupAt, p.setup_at);
  PutString(*o, kSetupCodeIssuedBy, p.setup_code_issued_by);
  return Canonical(o);
}

Time LastHandover(const domain::User& u, const Provenance& p) {
  Time t = u.created_at;
  if (p.reset_at && *p.reset_at > t) t = *p.reset_at;
  if (p.role_granted_at && *p.role_granted_at > t) t = *p.role_granted_at;
  return t;
}

}  // namespace custos::services
