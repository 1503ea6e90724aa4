// The C2SP tlog-tiles read API (https://c2sp.org/tlog-tiles) under /log/,
// served without a session (docs/formats/tiles.md):
//
//   GET /log/checkpoint                  the served checkpoint note
//   GET /log/tile/<L>/<N>[.p/<W>]        hash tiles: Merkle nodes of level 8·L
//   GET /log/tile/entries/<N>[.p/<W>]    entry bundles: uint16-BE length ‖ leaf
//
// Everything here is bounded by the size of the served checkpoint: a tile
// or bundle is served only when every hash or entry in it is covered by
// that checkpoint, so a client never sees more of the tree than a signed
// note commits to. Leaves hold hashes and metadata, never content
// (docs/formats/audit-log.md "Leaf"), which is why no session is asked.
//
// Thread safety: the routes read the store in their own read transaction;
// safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "server/http/router.h"
#include "server/services/auth_service.h"
#include "server/services/log_service.h"

namespace custos::http {

// Tile height and width (services::LogService::Tile reads the tiles).
using services::kTileHeight;
using services::kTileWidth;
// Largest tile level a path may name (tlog-tiles: 0 to 63).
inline constexpr uint32_t kMaxTileLevel = 63;

// A parsed tile path.
struct TilePath {
  bool entries = false;      // tile/entries/… (an entry bundle) rather than tile/<L>/…
  uint32_t level = 0;        // <L>; 0 for entry bundles
  uint64_t index = 0;        // <N>
  uint32_t width = kTileWidth;  // <W> for a partial tile (1–255), kTileWidth for a full one

  bool partial() const { return width < kTileWidth; }
};

// "x001/x234/067" for 1234067, "000" for 0: zero-padded 3-digit elements,
// all but the last prefixed with "x".
std::string FormatTileIndex(uint64_t n);

// The path after "tile/" for `t`: "3/x001/067.p/12", "entries/000".
std::string FormatTilePath(const TilePath& t);

// Parses the path after "tile/" ("0/x001/234", "entries/000.p/7").
// Only the canonical spelling is accepted: <L> decimal 0–63 without leading
// zeros; every element of <N> exactly three digits, all but the last with
// an "x" prefix and no redundant leading "x000" element; <W> decimal
// 1–255 without leading zeros. kInvalidArgument "bad_tile_path" with a
// message naming the rule otherwise (an index too large for 64 bits
// included).
StatusOr<TilePath> ParseTilePath(std::string_view path);

// Registers the /log/ routes, served by `log` (LogService::Checkpoint and
// LogService::Tile), which must outlive the router. With `entries_auth` (log.public_entries = false),
// entry bundles need the session of a log reader (auditor, archivist,
// security auditor: 401 without one, 403 for other roles); hash tiles and
// the checkpoint stay public.
void AddTileRoutes(Router& router, services::LogService& log, services::AuthService* entries_auth = nullptr);

}  // namespace custos::http
