#include "server/http/router.h"

#include <Poco/URI.h>

#include <cassert>

namespace custos::http {

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

void Router::Add(std::string method, std::string pattern, Handler handler) {
  for ([[maybe_unused]] const Route& r : routes_) {
    assert(!(r.method == method && r.pattern == pattern) && "duplicate route");
  }
  Route r{std::move(method), pattern, SplitPath(pattern), std::move(handler)};
  routes_.push_back(std::move(r));
}

std::vector<std::pair<std::string, std::string>> Router::Routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Route& r : routes_) out.emplace_back(r.method, r.pattern);
  return out;
}

Router::Match Router::Find(std::string_view method, std::string_view path) const {
  Match result;
  std::vector<std::string> segments = SplitPath(path);
  for (const Route& r : routes_) {
    if (r.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool ok = true;
    for (size_t i = 0; i < segments.size() && ok; ++i) {
      const std::string& want = r.segments[i];
      if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
        std::string decoded;
        try {
          Poco::URI::decode(segments[i], decoded);
        } catch (...) {
          ok = false;
          break;
        }
        params[want.substr(1, want.size() - 2)] = decoded;
      } else {
        ok = want == segments[i];
      }
    }
    if (!ok) continue;
    if (r.method == method) {
      result.kind = Match::kFound;
      result.handler = &r.handler;
      result.pattern = r.pattern;
      result.params = std::move(params);
      return result;
    }
    result.kind = Match::kMethodNotAllowed;
    result.pattern = r.pattern;
    result.allow += (result.allow.empty() ? "" : ", ") + r.method;
  }
  return result;
}

}  // namespace custos::http
