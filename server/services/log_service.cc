#include "server/services/log_service.h"

namespace custos::services {

namespace {

// The checkpoint with the lines witnesses and authorities added to it.
StatusOr<std::string> Attested(storage::Transaction& tx, const storage::StoredCheckpoint& cp) {
  CUSTOS_ASSIGN_OR_RETURN(auto lines, tx.log().CheckpointSignatures(cp.size));
  return storage::AttestedNote(cp, std::move(lines));
}

}  // namespace

StatusOr<std::string> LogService::Checkpoint() {
  std::string note;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(storage::StoredCheckpoint cp, tx.log().LatestCheckpoint());
    CUSTOS_ASSIGN_OR_RETURN(note, Attested(tx, cp));
    return Status::Ok();
  }));
  return note;
}

StatusOr<std::vector<storage::LogEntry>> LogService::Entries(const Principal& who, uint64_t start,
                                                             uint64_t end) {
  CUSTOS_RETURN_IF_ERROR(RequireLogReader(who));
  std::vector<storage::LogEntry> out;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(uint64_t size, tx.log().Size());
    if (start >= end || start >= size) {
      return InvalidArgument("need start < end and start < " + std::to_string(size), "bad_range");
    }
    CUSTOS_ASSIGN_OR_RETURN(out, tx.log().Entries(start, std::min(end, size), kMaxEntriesPerPage));
    return Status::Ok();
  }));
  return out;
}

StatusOr<InclusionProofView> LogService::Inclusion(const Principal& who, uint64_t index,
                                                   uint64_t size) {
  CUSTOS_RETURN_IF_ERROR(RequireLogReader(who));
  InclusionProofView view{index, size, {}, {}};
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](storage::Transaction& tx) -> Status {
    if (index >= size) return InvalidArgument("index must be below size", "bad_range");
    CUSTOS_ASSIGN_OR_RETURN(view.proof, tx.log().InclusionProof(index, size));
    CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(index, index + 1, 1));
    if (entries.empty()) return NotFound("no log entry " + std::to_string(index), "entry_not_found");
    view.leaf_hash = entries[0].leaf_hash;
    return Status::Ok();
  }));
  return view;
}

StatusOr<std::vector<crypto::Digest32>> LogService::Consistency(const Principal& who,
                                                                uint64_t from, uint64_t to) {
  CUSTOS_RETURN_IF_ERROR(RequireLogReader(who));
  std::vector<crypto::Digest32> proof;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](storage::Transaction& tx) -> Status {
    if (from == 0 || from > to) return InvalidArgument("need 0 < from <= to", "bad_range");
    CUSTOS_ASSIGN_OR_RETURN(proof, tx.log().ConsistencyProof(from, to));
    return Status::Ok();
  }));
  return proof;
}

std::string FormatReceipt(const std::string& leaf, uint64_t index,
                          const std::vector<crypto::Digest32>& proof,
                          const std::string& signed_checkpoint) {
  std::string out = "c2sp.org/tlog-proof@v1\n";
  out += "extra " + crypto::Base64Encode(leaf) + "\n";
  out += "index " + std::to_string(index) + "\n";
  for (const auto& h : proof) out += crypto::Base64Encode(h) + "\n";
  out += "\n";
  out += signed_checkpoint;
  return out;
}

StatusOr<std::string> LogService::Receipt(uint64_t index) {
  std::string receipt;
  CUSTOS_RETURN_IF_ERROR(store_.Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(storage::StoredCheckpoint cp, tx.log().LatestCheckpoint());
    if (index >= cp.size) return NotFound("log entry not yet checkpointed", "entry_not_found");
    // A checkpoint that witnesses or an authority attested, when one
    // covers the entry: the receipt then carries their lines.
    CUSTOS_ASSIGN_OR_RETURN(std::optional<storage::StoredCheckpoint> attested,
                            tx.log().LatestAttestedCheckpoint());
    if (attested && index < attested->size) cp = std::move(*attested);
    CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(index, index + 1, 1));
    if (entries.empty()) return NotFound("no log entry " + std::to_string(index), "entry_not_found");
    if (entries[0].redacted()) {
      return Gone("log entry " + std::to_string(index) + " was redacted by a destruction", "entry_redacted");
    }
    CUSTOS_ASSIGN_OR_RETURN(auto proof, tx.log().InclusionProof(index, cp.size));
    CUSTOS_ASSIGN_OR_RETURN(std::string note, Attested(tx, cp));
    receipt = FormatReceipt(entries[0].leaf, index, proof, note);
    return Status::Ok();
  }));
  return receipt;
}

}  // namespace custos::services
