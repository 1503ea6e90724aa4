#include "server/http/tile_routes.h"

#include <Poco/Net/HTTPServerRequest.h>

#include <cstdio>
#include <limits>
#include <optional>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/signed_note.h"
#include "server/http/request_context.h"
#include "server/http/response.h"
#include "server/http/route_util.h"
#include "server/services/principal.h"

namespace custos::http {

namespace {

constexpr const char* kTileType = "application/octet-stream";
constexpr std::string_view kTilePrefix = "/log/tile/";
// Full hash tiles never change: a node is stored once, when complete.
constexpr const char* kImmutable = "public, max-age=31536000, immutable";
// A partial hash tile's bytes never change either, but it is replaced by
// the full tile as the log grows (tlog-tiles "Partial Tiles").
constexpr const char* kShortLived = "public, max-age=60";
// Entry bundles can change: a destruction redacts an old entry's leaf
// (docs/formats/audit-log.md "Redaction"), and a cached copy must not keep
// serving what it severed. Clients fetch them again each time.
constexpr const char* kRevalidate = "no-cache";

// A path element of exactly three ASCII digits; -1 otherwise.
int ThreeDigits(std::string_view s) {
  if (s.size() != 3) return -1;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

// A decimal without sign or leading zeros, at most `max`; nullopt otherwise.
std::optional<uint32_t> SmallDecimal(std::string_view s, uint32_t max) {
  if (s.empty() || s.size() > 3 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > max) return std::nullopt;
  return v;
}

std::vector<std::string_view> SplitSlashes(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (true) {
    size_t j = path.find('/', i);
    parts.push_back(path.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) return parts;
    i = j + 1;
  }
}

// Reads <N> from its elements (the last one without any ".p").
StatusOr<uint64_t> ParseIndex(const std::vector<std::string_view>& elements,
                              const std::function<Status(const std::string&)>& bad) {
  if (elements.empty()) return bad("the tile index <N> is missing");
  uint64_t n = 0;
  for (size_t j = 0; j < elements.size(); ++j) {
    bool last = j + 1 == elements.size();
    std::string_view e = elements[j];
    if (!last) {
      if (e.empty() || e[0] != 'x') return bad("every element of <N> but the last must be 'x' and three digits");
      e.remove_prefix(1);
    }
    int v = ThreeDigits(e);
    if (v < 0) return bad("every element of <N> must be three digits ('" + std::string(elements[j]) + "')");
    if (n > (std::numeric_limits<uint64_t>::max() - static_cast<uint64_t>(v)) / 1000) {
      return bad("the tile index does not fit 64 bits");
    }
    n = n * 1000 + static_cast<uint64_t>(v);
  }
  if (elements.size() > 1 && elements[0] == "x000") return bad("<N> has a redundant leading 'x000' element");
  return n;
}

Response ServeCheckpoint(services::LogService& log) {
  auto note = log.Checkpoint();
  if (!note.ok()) return Response::Error(note.status());
  Response r = Response::Text(200, std::move(*note));
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

Response ServeTile(services::LogService& log, RequestContext& ctx) {
  std::string_view uri = ctx.request.getURI();
  std::string_view path = uri.substr(0, uri.find('?'));
  if (path.substr(0, kTilePrefix.size()) != kTilePrefix) {
    return Response::Error(InvalidArgument("a tile path starts with " + std::string(kTilePrefix), "bad_tile_path"));
  }
  auto tile = ParseTilePath(path.substr(kTilePrefix.size()));
  if (!tile.ok()) return Response::Error(tile.status());
  auto body = log.Tile({tile->entries, tile->level, tile->index, tile->width});
  if (!body.ok()) return Response::Error(body.status());
  Response r;
  r.content_type = kTileType;
  r.body = std::move(*body);
  r.headers.emplace_back("Cache-Control", tile->entries ? kRevalidate : tile->partial() ? kShortLived : kImmutable);
  return r;
}

}  // namespace

std::string FormatTileIndex(uint64_t n) {
  std::vector<int> groups;
  do {
    groups.push_back(static_cast<int>(n % 1000));
    n /= 1000;
  } while (n > 0);
  std::string out;
  for (size_t i = groups.size(); i-- > 0;) {
    char buf[5];
    std::snprintf(buf, sizeof buf, "%03d", groups[i]);
    if (i > 0) out += 'x';
    out += buf;
    if (i > 0) out += '/';
  }
  return out;
}

std::string FormatTilePath(const TilePath& t) {
  std::string out = t.entries ? "entries" : std::to_string(t.level);
  out += '/';
  out += FormatTileIndex(t.index);
  if (t.partial()) out += ".p/" + std::to_string(t.width);
  return out;
}

StatusOr<TilePath> ParseTilePath(std::string_view path) {
  std::function<Status(const std::string&)> bad = [path](const std::string& why) {
    return InvalidArgument("bad tile path '" + std::string(path.substr(0, 200)) + "': " + why, "bad_tile_path");
  };
  std::vector<std::string_view> parts = SplitSlashes(path);
  if (parts.size() < 2) return bad("expected <L>/<N>[.p/<W>] or entries/<N>[.p/<W>]");
  TilePath t;
  if (parts[0] == "entries") {
    t.entries = true;
  } else if (auto level = SmallDecimal(parts[0], kMaxTileLevel)) {
    t.level = *level;
  } else {
    return bad("the level <L> must be a decimal from 0 to 63 without leading zeros");
  }
  std::vector<std::string_view> elements(parts.begin() + 1, parts.end());
  if (elements.size() >= 2 && elements[elements.size() - 2].ends_with(".p")) {
    auto width = SmallDecimal(elements.back(), kTileWidth - 1);
    if (!width || *width == 0) {
      return bad("the width <W> of a partial tile must be a decimal from 1 to 255 without leading zeros");
    }
    t.width = *width;
    elements.pop_back();
    elements.back().remove_suffix(2);
  }
  CUSTOS_ASSIGN_OR_RETURN(t.index, ParseIndex(elements, bad));
  return t;
}

void AddTileRoutes(Router& router, services::LogService& log, services::AuthService* entries_auth) {
  router.Add("GET", "/log/checkpoint", [&log](RequestContext&) { return ServeCheckpoint(log); });
  // <L> or "entries", up to 7 elements of <N> (64 bits) and <W>: the
  // handler parses the raw path itself, so only the segment count is
  // routed here (and the route label stays one of seven).
  std::string pattern = "/log/tile/{l}";
  for (int segments = 2; segments <= 9; ++segments) {
    pattern += "/{s" + std::to_string(segments) + "}";
    Handler readers_only;
    if (entries_auth != nullptr) {
      readers_only = WithSession(*entries_auth, [&log](RequestContext& ctx, const services::AuthenticatedSession& s) {
        if (Status st = services::RequireLogReader(s.principal); !st.ok()) return Response::Error(st);
        return ServeTile(log, ctx);
      });
    }
    router.Add("GET", pattern, [&log, readers_only](RequestContext& ctx) {
      if (readers_only && std::string_view(ctx.request.getURI()).starts_with("/log/tile/entries/")) {
        return readers_only(ctx);
      }
      return ServeTile(log, ctx);
    });
  }
}

}  // namespace custos::http
