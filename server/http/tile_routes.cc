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

// Size of the tree the served checkpoint note commits to.
StatusOr<uint64_t> ServedSize(const CheckpointSource& checkpoint) {
  CUSTOS_ASSIGN_OR_RETURN(std::string note, checkpoint());
  size_t blank = note.find("\n\n");
  if (blank == std::string::npos) return Internal("served checkpoint is not a signed note", "checkpoint_malformed");
  CUSTOS_ASSIGN_OR_RETURN(crypto::Checkpoint body, crypto::ParseCheckpointBody(note.substr(0, blank + 1)));
  return body.size;
}

// The index of the first hash or entry of `t`, once checked that all of
// its `t.width` hashes or entries exist in a tree of `size` leaves.
StatusOr<uint64_t> FirstCovered(const TilePath& t, uint64_t size) {
  uint32_t node_level = t.level * kTileHeight;
  uint64_t count = node_level >= 64 ? 0 : size >> node_level;  // complete nodes at that level
  bool exists = t.index <= count / kTileWidth && t.index * kTileWidth + t.width <= count;
  if (!exists) {
    return NotFound("tile " + FormatTilePath(t) + " is not covered by the checkpoint of size " + std::to_string(size),
                    "tile_not_found");
  }
  return t.index * kTileWidth;
}

// An entry as a bundle carries it: the leaf, or for a redacted or
// oversized one a JSON placeholder with its leaf hash (docs/formats/tiles.md).
std::string BundleEntry(const storage::LogEntryView& e) {
  if (e.redacted()) {
    return "{\"index\":" + std::to_string(e.index) + ",\"leafHash\":\"" + crypto::Base64Encode(e.leaf_hash) +
           "\",\"redacted\":true}";
  }
  if (e.leaf.size() > kMaxBundleEntryBytes) {
    return "{\"index\":" + std::to_string(e.index) + ",\"leafBytes\":" + std::to_string(e.leaf.size()) +
           ",\"leafHash\":\"" + crypto::Base64Encode(e.leaf_hash) + "\",\"tooLarge\":true}";
  }
  return std::string(e.leaf);
}

// A hash tile's bytes: `width` hashes of level 8·L from index `first`.
StatusOr<std::string> ReadHashTile(storage::MetadataStore& store, const TilePath& t, uint64_t first) {
  std::string body;
  body.reserve(size_t{t.width} * sizeof(crypto::Digest32));
  uint64_t next = first;
  CUSTOS_RETURN_IF_ERROR(store.Read([&](storage::Transaction& tx) -> Status {
    return tx.log().ScanNodesAtLevel(t.level * kTileHeight, first, t.width,
                                     [&](uint64_t index, const crypto::Digest32& h) -> Status {
                                       if (index != next) {
                                         return DataLoss("log node " + std::to_string(index) + " follows " +
                                                             std::to_string(next) + " in storage",
                                                         "log_node_missing");
                                       }
                                       ++next;
                                       body.append(reinterpret_cast<const char*>(h.data()), h.size());
                                       return Status::Ok();
                                     });
  }));
  if (next != first + t.width) {
    return DataLoss("log node " + std::to_string(next) + " of level " + std::to_string(t.level * kTileHeight) +
                        " is missing from storage",
                    "log_node_missing");
  }
  return body;
}

// An entry bundle's bytes: `width` entries from `first`, each a big-endian
// uint16 length and the entry.
StatusOr<std::string> ReadEntryBundle(storage::MetadataStore& store, const TilePath& t, uint64_t first) {
  std::string body;
  uint64_t next = first;
  CUSTOS_RETURN_IF_ERROR(store.Read([&](storage::Transaction& tx) -> Status {
    return tx.log().ScanEntries(first, first + t.width, t.width, [&](const storage::LogEntryView& e) -> Status {
      if (e.index != next) {
        return DataLoss("log entry " + std::to_string(next) + " is missing from storage", "log_entry_missing");
      }
      ++next;
      std::string entry = BundleEntry(e);
      body += static_cast<char>((entry.size() >> 8) & 0xff);
      body += static_cast<char>(entry.size() & 0xff);
      body += entry;
      return Status::Ok();
    });
  }));
  if (next != first + t.width) {
    return DataLoss("log entry " + std::to_string(next) + " is missing from storage", "log_entry_missing");
  }
  return body;
}

Response ServeCheckpoint(const CheckpointSource& checkpoint) {
  auto note = checkpoint();
  if (!note.ok()) return Response::Error(note.status());
  Response r = Response::Text(200, std::move(*note));
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

Response ServeTile(storage::MetadataStore& store, const CheckpointSource& checkpoint, RequestContext& ctx) {
  std::string_view uri = ctx.request.getURI();
  std::string_view path = uri.substr(0, uri.find('?'));
  if (path.substr(0, kTilePrefix.size()) != kTilePrefix) {
    return Response::Error(InvalidArgument("a tile path starts with " + std::string(kTilePrefix), "bad_tile_path"));
  }
  auto tile = ParseTilePath(path.substr(kTilePrefix.size()));
  if (!tile.ok()) return Response::Error(tile.status());
  auto size = ServedSize(checkpoint);
  if (!size.ok()) return Response::Error(size.status());
  auto first = FirstCovered(*tile, *size);
  if (!first.ok()) return Response::Error(first.status());
  auto body = tile->entries ? ReadEntryBundle(store, *tile, *first) : ReadHashTile(store, *tile, *first);
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

void AddTileRoutes(Router& router, storage::MetadataStore& store, CheckpointSource checkpoint,
                   services::AuthService* entries_auth) {
  router.Add("GET", "/log/checkpoint", [checkpoint](RequestContext&) { return ServeCheckpoint(checkpoint); });
  // <L> or "entries", up to 7 elements of <N> (64 bits) and <W>: the
  // handler parses the raw path itself, so only the segment count is
  // routed here (and the route label stays one of seven).
  std::string pattern = "/log/tile/{l}";
  for (int segments = 2; segments <= 9; ++segments) {
    pattern += "/{s" + std::to_string(segments) + "}";
    Handler readers_only;
    if (entries_auth != nullptr) {
      readers_only = WithSession(*entries_auth, [&store, checkpoint](RequestContext& ctx,
                                                                     const services::AuthenticatedSession& s) {
        if (Status st = services::RequireLogReader(s.principal); !st.ok()) return Response::Error(st);
        return ServeTile(store, checkpoint, ctx);
      });
    }
    router.Add("GET", pattern, [&store, checkpoint, readers_only](RequestContext& ctx) {
      if (readers_only && std::string_view(ctx.request.getURI()).starts_with("/log/tile/entries/")) {
        return readers_only(ctx);
      }
      return ServeTile(store, checkpoint, ctx);
    });
  }
}

}  // namespace custos::http
