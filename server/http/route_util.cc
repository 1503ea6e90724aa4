#include "server/http/route_util.h"

#include <Poco/JSON/Array.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/URI.h>

#include <charconv>

#include "server/http/json_codec.h"

namespace custos::http {

using services::AuthenticatedSession;


Response JsonOk(int status, const Poco::Dynamic::Var& v) { return Response::Json(status, Stringify(v)); }

Response NoContent(const Status& status) {
  return status.ok() ? Response::Json(204, "") : Response::Error(status);
}

Handler WithSession(services::AuthService& auth, AuthedHandler h, bool allow_password_change,
                    bool allow_enrolment) {
  return [&auth, h = std::move(h), allow_password_change, allow_enrolment](RequestContext& ctx) -> Response {
    const std::string header = ctx.request.get("Authorization", "");
    const std::string prefix = "Bearer ";
    if (header.compare(0, prefix.size(), prefix) != 0) {
      Response r = Response::Error(Unauthenticated("sign in first (Authorization: Bearer <token>)",
                                                   "not_signed_in"));
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return r;
    }
    auto session = auth.Authenticate(header.substr(prefix.size()));
    if (!session.ok()) {
      Response r = Response::Error(session.status());
      r.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
      return r;
    }
    ctx.principal = session->principal.username.value;
    if (session->must_change_password && !allow_password_change) {
      return Response::Error(PermissionDenied(
          "you must change your password first (POST /v1/me/password)", "password_change_required"));
    }
    if (session->must_enrol_second_factor && !allow_enrolment) {
      return Response::Error(PermissionDenied(
          "your role needs a second factor: enrol one first (POST /v1/me/totp, then "
          "POST /v1/me/totp/confirm; or POST /v1/me/certificate over a client certificate)",
          "second_factor_enrolment_required"));
    }
    return h(ctx, *session);
  };
}

StatusOr<Poco::JSON::Object::Ptr> JsonBody(RequestContext& ctx) {
  CUSTOS_ASSIGN_OR_RETURN(std::string body, ctx.ReadSmallBody());
  return ParseObject(body);
}

StatusOr<Poco::JSON::Object::Ptr> OptionalJsonBody(RequestContext& ctx,
                                                   const std::vector<std::string>& keys) {
  CUSTOS_ASSIGN_OR_RETURN(std::string text, ctx.ReadSmallBody());
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Poco::JSON::Object::Ptr(new Poco::JSON::Object);
  }
  CUSTOS_ASSIGN_OR_RETURN(Poco::JSON::Object::Ptr o, ParseObject(text));
  CUSTOS_RETURN_IF_ERROR(OnlyKeys(o, keys));
  return o;
}

StatusOr<std::string> ReasonBody(RequestContext& ctx) {
  CUSTOS_ASSIGN_OR_RETURN(Poco::JSON::Object::Ptr body, OptionalJsonBody(ctx, {"reason"}));
  CUSTOS_ASSIGN_OR_RETURN(auto reason, OptString(body, "reason"));
  return reason.value_or("");
}

StatusOr<std::vector<std::string>> StringList(const Poco::JSON::Object::Ptr& o, const std::string& key,
                                              bool required) {
  std::vector<std::string> out;
  if (!o->has(key)) {
    if (required) {
      return Unprocessable("'" + key + "' is required", "invalid_" + key)
          .WithParam("field", key).WithParam("rule", "required");
    }
    return out;
  }
  Poco::JSON::Array::Ptr arr;
  try {
    arr = o->getArray(key);
  } catch (...) {
  }
  if (!arr) {
    return InvalidArgument("'" + key + "' must be an array of strings", "invalid_field").WithParam("field", key);
  }
  for (size_t i = 0; i < arr->size(); ++i) {
    Poco::Dynamic::Var v = arr->get(static_cast<unsigned>(i));
    if (!v.isString()) {
      return InvalidArgument("'" + key + "' must be an array of strings", "invalid_field").WithParam("field", key);
    }
    out.push_back(v.convert<std::string>());
  }
  return out;
}

StatusOr<uint64_t> QueryNumber(const RequestContext& ctx, const std::string& name,
                               std::optional<uint64_t> fallback) {
  auto v = ctx.Query(name);
  if (!v || v->empty()) {
    if (fallback) return *fallback;
    return InvalidArgument("query parameter '" + name + "' is required", "missing_parameter");
  }
  uint64_t out = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || p != v->data() + v->size()) {
    return InvalidArgument("query parameter '" + name + "' must be a non-negative integer",
                           "invalid_parameter");
  }
  return out;
}

StatusOr<std::optional<domain::Time>> QueryTime(const RequestContext& ctx,
                                                 const std::string& name) {
  auto v = ctx.Query(name);
  if (!v || v->empty()) return std::optional<domain::Time>();
  auto t = domain::ParseTime(*v);
  if (!t.ok()) {
    return InvalidArgument("query parameter '" + name + "' must be an RFC 3339 time",
                           "invalid_parameter");
  }
  return std::optional<domain::Time>(*t);
}

StatusOr<bool> QueryBool(const RequestContext& ctx, const std::string& name) {
  auto v = ctx.Query(name);
  if (!v || v->empty() || *v == "false") return false;
  if (*v == "true") return true;
  return InvalidArgument("query parameter '" + name + "' must be true or false",
                         "invalid_parameter");
}

// RFC 6266: always an attachment (never rendered inline by a browser), with
// the exact name in filename* and, for clients that ignore it, a printable
// ASCII fallback in which every other byte, '"' and '\\' become '_'.
std::string ContentDisposition(const std::string& name) {
  std::string encoded;
  Poco::URI::encode(name, "!#$&+,/:;=?@[]'\"()*<>\\%", encoded);
  std::string fallback = name;
  for (char& c : fallback) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e || c == '"' || c == '\\') c = '_';
  }
  return "attachment; filename=\"" + fallback + "\"; filename*=UTF-8''" + encoded;
}

}  // namespace custos::http
