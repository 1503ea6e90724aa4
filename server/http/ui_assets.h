// The web UI's files (ui/ in the source tree), compiled into custosd by
// scripts/embed_ui.cmake, and the routes that serve them.
#pragma once

#include <string_view>
#include <vector>

namespace custos::http {

class Router;

struct UiAsset {
  std::string_view path;          // "/index.html", "/js/app.js"
  std::string_view content_type;  // from the file's extension
  std::string_view bytes;
};

// Every embedded file, sorted by path.
const std::vector<UiAsset>& UiAssets();

// GET / (index.html) and GET /<path> for every embedded file, anonymous,
// under the UI's Content-Security-Policy (docs/security.md).
void AddUiRoutes(Router& router);

}  // namespace custos::http
