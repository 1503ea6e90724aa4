// `custosctl trace FILE --data DIR`: which loan a stamped copy came from
// (docs/security.md "Loan copies", docs/operations.md "Tracing a copy").
//
// A stamped loan copy's SHA-256 is logged in its content.read event
// ("copySha256", with "loan" and "stamped": true). Trace hashes FILE and
// scans the log's entries, oldest first, for that event: a scan of every
// leaf, in batches of kTraceBatch (about 1 s per million entries here; no
// index on details exists, and tracing a leaked copy is rare). Redacted
// entries are skipped. It only reads, so custosd may be running.
//
// Thread safety: stateless.
#pragma once

#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "storage/metadata_store.h"

namespace custos::admin {

inline constexpr size_t kTraceBatch = 4096;

// What the log says about one loan copy.
struct TracedCopy {
  uint64_t log_index = 0;
  std::string loan;      // LN-…
  std::string borrower;  // the event's actor
  std::string record;    // the event's subject
  int64_t version = 0;
  std::string file;  // file id
  std::string original_sha256;
  std::string made_at;  // the event's time, RFC 3339 UTC
};

// The content.read event whose copySha256 is `sha256_hex` (lower-case hex),
// or nullopt when there is none. Fails only when the log cannot be read.
[[nodiscard]] StatusOr<std::optional<TracedCopy>> FindLoanCopy(storage::MetadataStore& store,
                                                               const std::string& sha256_hex);

// `custosctl trace FILE --data DIR` (args after "trace"): exit 0 and the
// loan, borrower, record/version/file, time and log index on `out`;
// 1 "no loan copy with this SHA-256"; 2 bad arguments or could not run.
int RunTrace(const std::vector<std::string>& args, std::ostream& out = std::cout,
             std::ostream& err = std::cerr);

}  // namespace custos::admin
