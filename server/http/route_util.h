// Helpers the API route files share: sessions, route tables, JSON bodies,
// query parameters and rendering results.
//
// Every API route has one named handler function of the shape
// ServiceHandler<S>: it parses the request, calls one function of the
// service S and renders the result. A registrar only lists its routes
// (AddSignedInRoutes), so a route's method, pattern and handler read as one
// table row.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "server/http/request_context.h"
#include "server/http/response.h"
#include "server/http/router.h"
#include "server/services/auth_service.h"
#include "domain/model.h"

namespace custos::http {

using AuthedHandler =
    std::function<Response(RequestContext&, const services::AuthenticatedSession&)>;

Response JsonOk(int status, const Poco::Dynamic::Var& v);

// Resolves the bearer token (401 "not_signed_in" without one, the
// service's 401 for a bad one). Users who must change their password may
// only reach the routes marked `allow_password_change` (403
// "password_change_required" elsewhere); a restricted session, whose role
// needs a second factor it has not enrolled, only those marked
// `allow_enrolment` (403 "second_factor_enrolment_required" elsewhere).
Handler WithSession(services::AuthService& auth, AuthedHandler h,
                    bool allow_password_change = false, bool allow_enrolment = false);

// The handler of one route that needs a signed-in user; `service` is the
// one service it calls.
template <typename S>
using ServiceHandler = Response (*)(S& service, RequestContext& ctx,
                                    const services::AuthenticatedSession& session);

// One row of a route table.
template <typename S>
struct SignedInRoute {
  const char* method;
  const char* pattern;
  ServiceHandler<S> handler;
  bool allow_password_change = false;  // see WithSession
  bool allow_enrolment = false;        // see WithSession
};

// Adds every route of `routes`, in order, each behind WithSession. `auth`
// and `service` must outlive the router.
template <typename S>
void AddSignedInRoutes(Router& router, services::AuthService& auth, S& service,
                       std::initializer_list<SignedInRoute<S>> routes) {
  for (const SignedInRoute<S>& r : routes) {
    ServiceHandler<S> handler = r.handler;
    router.Add(r.method, r.pattern,
               WithSession(
                   auth,
                   [&service, handler](RequestContext& ctx, const services::AuthenticatedSession& s) {
                     return handler(service, ctx, s);
                   },
                   r.allow_password_change, r.allow_enrolment));
  }
}

template <typename T>
Response Render(const StatusOr<T>& result, int status,
                const std::function<Poco::Dynamic::Var(const T&)>& render) {
  if (!result.ok()) return Response::Error(result.status());
  return JsonOk(status, render(*result));
}

// `result` rendered by `render` (T → Poco::JSON::Object::Ptr or a Var), or
// its error.
template <typename T, typename F>
Response RenderOne(const StatusOr<T>& result, int status, F&& render) {
  if (!result.ok()) return Response::Error(result.status());
  return JsonOk(status, Poco::Dynamic::Var(render(*result)));
}

// {"<key>": [render(x) for each x]}.
template <typename T, typename F>
Poco::JSON::Object::Ptr ListObject(const std::string& key, const std::vector<T>& items, F&& render) {
  Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
  for (const T& x : items) arr->add(render(x));
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
  o->set(key, arr);
  return o;
}

// 200 with ListObject(key, *result, render), or the error of `result`.
template <typename T, typename F>
Response RenderList(const StatusOr<std::vector<T>>& result, const std::string& key, F&& render) {
  if (!result.ok()) return Response::Error(result.status());
  return JsonOk(200, ListObject(key, *result, render));
}

// 204 with no body, or the error.
Response NoContent(const Status& status);

// The request body as a JSON object (size-limited, strict).
StatusOr<Poco::JSON::Object::Ptr> JsonBody(RequestContext& ctx);

// The body of an action whose JSON is optional: an empty body counts as {};
// otherwise a JSON object with only `keys` (400 otherwise).
StatusOr<Poco::JSON::Object::Ptr> OptionalJsonBody(RequestContext& ctx,
                                                   const std::vector<std::string>& keys);

// The optional "reason" of an action such as a rejection: the body is
// OptionalJsonBody(ctx, {"reason"}); "" when absent.
StatusOr<std::string> ReasonBody(RequestContext& ctx);

// An array of strings under `key`: empty when absent (422 "invalid_<key>"
// when `required`), 400 "invalid_field" when not an array of strings.
StatusOr<std::vector<std::string>> StringList(const Poco::JSON::Object::Ptr& o,
                                              const std::string& key, bool required);

// A non-negative integer query parameter; `fallback` when absent.
StatusOr<uint64_t> QueryNumber(const RequestContext& ctx, const std::string& name,
                               std::optional<uint64_t> fallback = std::nullopt);
// An RFC 3339 query parameter; nullopt when absent; 400 "invalid_parameter".
StatusOr<std::optional<domain::Time>> QueryTime(const RequestContext& ctx,
                                                 const std::string& name);
// "true"/"false" query parameter; false when absent.
StatusOr<bool> QueryBool(const RequestContext& ctx, const std::string& name);

// A Content-Disposition value for a download named `name` (RFC 6266):
// always an attachment, the exact UTF-8 name in filename* (RFC 5987) and a
// printable ASCII fallback in filename.
std::string ContentDisposition(const std::string& name);

}  // namespace custos::http
