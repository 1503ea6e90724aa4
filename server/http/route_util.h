// Helpers the API route files share: sessions, JSON bodies, query
// parameters and rendering results.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Object.h>

#include <functional>
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

// Resolves the bearer token. Users who must change their password may only
// reach the routes marked `allow_password_change`.
Handler WithSession(services::AuthService& auth, AuthedHandler h,
                    bool allow_password_change = false);

template <typename T>
Response Render(const StatusOr<T>& result, int status,
                const std::function<Poco::Dynamic::Var(const T&)>& render) {
  if (!result.ok()) return Response::Error(result.status());
  return JsonOk(status, render(*result));
}

// The request body as a JSON object (size-limited, strict).
StatusOr<Poco::JSON::Object::Ptr> JsonBody(RequestContext& ctx);

// The body of an action whose JSON is optional: an empty body counts as {};
// otherwise a JSON object with only `keys` (400 otherwise).
StatusOr<Poco::JSON::Object::Ptr> OptionalJsonBody(RequestContext& ctx,
                                                   const std::vector<std::string>& keys);

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

}  // namespace custos::http
