#include "server/http/router.h"
#include "server/http/ui_assets.h"

namespace custos::http {

namespace {

// Scripts, styles, images and fonts from the server itself only; no inline
// script or style, no eval, no framing, no plugin, no form posting away.
// The API answers carry the stricter default-src 'none' policy.
constexpr const char* kUiPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'";

Response Serve(const UiAsset& asset) {
  Response r;
  r.status = 200;
  r.content_type = std::string(asset.content_type);
  r.body = std::string(asset.bytes);
  r.headers.emplace_back("Content-Security-Policy", kUiPolicy);
  return r;
}

}  // namespace

void AddUiRoutes(Router& router) {
  for (const UiAsset& asset : UiAssets()) {
    router.Add("GET", std::string(asset.path), [&asset](RequestContext&) { return Serve(asset); });
    if (asset.path == "/index.html") {
      router.Add("GET", "/", [&asset](RequestContext&) { return Serve(asset); });
    }
  }
}

}  // namespace custos::http
