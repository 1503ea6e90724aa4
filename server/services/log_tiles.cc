// LogService::Tile: the C2SP tlog-tiles read API's bytes (docs/formats/tiles.md).
#include "crypto/bytes.h"
#include "server/services/log_service.h"
#include "storage/log_leaf.h"

namespace custos::services {

namespace {

// The index of the first hash or entry of `t`, once checked that all of
// its `t.width` hashes or entries exist in a tree of `size` leaves.
StatusOr<uint64_t> FirstCovered(const TileRequest& t, uint64_t size) {
  uint32_t node_level = t.level * kTileHeight;
  uint64_t count = node_level >= 64 ? 0 : size >> node_level;  // complete nodes at that level
  bool exists = t.index <= count / kTileWidth && t.index * kTileWidth + t.width <= count;
  if (!exists) {
    return NotFound(std::string(t.entries ? "entry bundle " : "tile at level " + std::to_string(t.level) + ", ") +
                        std::to_string(t.index) + " of width " + std::to_string(t.width) +
                        " is not covered by the checkpoint of size " + std::to_string(size),
                    "tile_not_found");
  }
  return t.index * kTileWidth;
}

// An entry as a bundle carries it: the leaf, or for a redacted or
// oversized one a JSON placeholder with its leaf hash.
std::string BundleEntry(const storage::LogEntryView& e) {
  if (e.redacted()) {
    return "{\"index\":" + std::to_string(e.index) + ",\"leafHash\":\"" + crypto::Base64Encode(e.leaf_hash) +
           "\",\"redacted\":true}";
  }
  if (e.leaf.size() > storage::kBundleLeafBytes) {
    return "{\"index\":" + std::to_string(e.index) + ",\"leafBytes\":" + std::to_string(e.leaf.size()) +
           ",\"leafHash\":\"" + crypto::Base64Encode(e.leaf_hash) + "\",\"tooLarge\":true}";
  }
  return std::string(e.leaf);
}

Status HashTile(storage::Transaction& tx, const TileRequest& t, uint64_t first, std::string& body) {
  body.reserve(size_t{t.width} * sizeof(crypto::Digest32));
  uint64_t next = first;
  CUSTOS_RETURN_IF_ERROR(tx.log().ScanNodesAtLevel(
      t.level * kTileHeight, first, t.width, [&](uint64_t index, const crypto::Digest32& h) -> Status {
        if (index != next) {
          return DataLoss("log node " + std::to_string(index) + " follows " + std::to_string(next) + " in storage",
                          "log_node_missing");
        }
        ++next;
        body.append(reinterpret_cast<const char*>(h.data()), h.size());
        return Status::Ok();
      }));
  if (next != first + t.width) {
    return DataLoss("log node " + std::to_string(next) + " of level " + std::to_string(t.level * kTileHeight) +
                        " is missing from storage",
                    "log_node_missing");
  }
  return Status::Ok();
}

Status EntryBundle(storage::Transaction& tx, const TileRequest& t, uint64_t first, std::string& body) {
  uint64_t next = first;
  CUSTOS_RETURN_IF_ERROR(
      tx.log().ScanEntries(first, first + t.width, t.width, [&](const storage::LogEntryView& e) -> Status {
        if (e.index != next) {
          return DataLoss("log entry " + std::to_string(next) + " is missing from storage", "log_entry_missing");
        }
        ++next;
        std::string entry = BundleEntry(e);
        body += static_cast<char>((entry.size() >> 8) & 0xff);
        body += static_cast<char>(entry.size() & 0xff);
        body += entry;
        return Status::Ok();
      }));
  if (next != first + t.width) {
    return DataLoss("log entry " + std::to_string(next) + " is missing from storage", "log_entry_missing");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::string> LogService::Tile(const TileRequest& t) {
  std::string body;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(storage::StoredCheckpoint cp, tx.log().LatestCheckpoint());
    CUSTOS_ASSIGN_OR_RETURN(uint64_t first, FirstCovered(t, cp.size));
    return t.entries ? EntryBundle(tx, t, first, body) : HashTile(tx, t, first, body);
  }));
  return body;
}

}  // namespace custos::services
