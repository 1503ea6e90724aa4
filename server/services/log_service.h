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
