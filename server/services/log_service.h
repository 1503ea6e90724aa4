// The audit log as auditors and depositors see it (DESIGN §4, §5): the
// current signed checkpoint and verifier key (public), entries and RFC 9162
// proofs (auditors and archivists), and receipts (C2SP tlog-proof@v1,
// docs/formats/receipt.md).
// Thread safety: safe for concurrent use.
#pragma once

#include <string>
#include <vector>

#include "server/services/principal.h"
#include "storage/metadata_store.h"

namespace custos::services {

// At most this many entries per Entries() call.
inline constexpr uint64_t kMaxEntriesPerPage = 1000;

// C2SP tlog-tiles (docs/formats/tiles.md): tile level L holds the Merkle
// nodes of level 8·L, 256 hashes or entries in a full tile.
inline constexpr uint32_t kTileHeight = 8;
inline constexpr uint32_t kTileWidth = 256;

// One hash tile (level, index, width) or entry bundle (entries, index,
// width); width 1–255 for a partial one.
struct TileRequest {
  bool entries = false;
  uint32_t level = 0;
  uint64_t index = 0;
  uint32_t width = kTileWidth;
};

struct InclusionProofView {
  uint64_t index = 0;
  uint64_t size = 0;
  crypto::Digest32 leaf_hash{};
  std::vector<crypto::Digest32> proof;
};

class LogService {
 public:
  LogService(storage::MetadataStore& store, std::string verifier_keys)
      : store_(store), verifier_keys_(std::move(verifier_keys)) {}

  // The newest signed checkpoint text with the lines witnesses and
  // time-stamping authorities added to it so far (storage::AttestedNote);
  // kNotFound "no_checkpoint" when empty.
  StatusOr<std::string> Checkpoint();
  // The verifier key line(s).
  const std::string& VerifierKeys() const { return verifier_keys_; }

  // Entries [start, end), at most kMaxEntriesPerPage; 400 "bad_range" when
  // start >= end or start is beyond the log.
  StatusOr<std::vector<storage::LogEntry>> Entries(const Principal& who, uint64_t start,
                                                   uint64_t end);
  StatusOr<InclusionProofView> Inclusion(const Principal& who, uint64_t index, uint64_t size);
  StatusOr<std::vector<crypto::Digest32>> Consistency(const Principal& who, uint64_t from,
                                                      uint64_t to);

  // The bytes of a hash tile (`width` 32-byte hashes) or an entry bundle
  // (`width` entries, each a big-endian uint16 length and the leaf, a
  // redacted or oversized one as a placeholder with its leaf hash), only
  // when every hash or entry in it is covered by the newest checkpoint;
  // both read in one snapshot. Public: leaves hold no content (callers
  // decide who may read entry bundles). kNotFound "no_checkpoint" or
  // "tile_not_found"; kDataLoss "log_node_missing" / "log_entry_missing"
  // when storage lacks one.
  StatusOr<std::string> Tile(const TileRequest& t);

  // The tlog-proof@v1 receipt for log entry `index`, against the newest
  // attested checkpoint that covers it (its cosignatures and timestamps
  // included), else the newest checkpoint. No authorization here: callers
  // check who may see the entry.
  StatusOr<std::string> Receipt(uint64_t index);

 private:
  storage::MetadataStore& store_;
  const std::string verifier_keys_;
};

// Formats a receipt from its parts.
std::string FormatReceipt(const std::string& leaf, uint64_t index,
                          const std::vector<crypto::Digest32>& proof,
                          const std::string& signed_checkpoint);

}  // namespace custos::services
