// Maps (method, path) to a handler. Patterns are literal segments and
// `{name}` captures, e.g. "/v1/records/{id}/versions/{n}". A capture matches
// one non-empty segment. The route's pattern doubles as its metrics label,
// so label cardinality stays bounded.
//
// Thread safety: routes are added during start-up; Match() is then safe to
// call from any thread.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "server/http/response.h"

namespace Poco::Net {
class HTTPServerRequest;
}

namespace custos::http {

struct RequestContext;
using Handler = std::function<Response(RequestContext&)>;

class Router {
 public:
  // Registers a route. Duplicate (method, pattern) pairs are a programming
  // error (assert).
  void Add(std::string method, std::string pattern, Handler handler);

  struct Match {
    enum Kind { kFound, kNotFound, kMethodNotAllowed } kind = kNotFound;
    const Handler* handler = nullptr;
    std::string pattern;                        // the matched route's pattern
    std::map<std::string, std::string> params;  // captures, percent-decoded
    std::string allow;                          // for kMethodNotAllowed
  };
  Match Find(std::string_view method, std::string_view path) const;

  // Every registered (method, pattern), in registration order.
  std::vector<std::pair<std::string, std::string>> Routes() const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
};

// Splits "/a/b/" into {"a","b"}; an empty path gives {}.
std::vector<std::string> SplitPath(std::string_view path);

}  // namespace custos::http
