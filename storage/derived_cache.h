// Data derived from a stored file and kept for the next reader: page
// previews (server/services/record_service.h RecordService::Preview).
//
// derived_cache (schema migration 10), one row per file and purpose
// ("preview:<page>:<size>"): the record the file belongs to, the derived
// bytes sealed under the file's own data key (ContentStore::SealDerived,
// which binds the file id and the purpose into the envelope), and when the
// row was made. A destruction, which deletes the file's wrapped data key,
// shreds the rows' contents; it also deletes the rows themselves
// (DeleteRecord). The rows are derived data: not row-sealed, not in the
// log's state images, made again on demand.
//
// Reached through a transaction (storage::Transaction::derived()). Writes
// fail in a read transaction (kInternal "read_only_transaction"); database
// failures are those of storage/sql_util.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "domain/model.h"

namespace custos::storage {

struct DerivedEntry {
  domain::FileId file_id;
  std::string purpose;  // e.g. "preview:1:thumb"
  domain::RecordId record_id;
  std::vector<uint8_t> sealed;  // the envelope (ContentStore::SealDerived)
  domain::Time created_at{};
};

class DerivedCacheRepository {
 public:
  virtual ~DerivedCacheRepository() = default;

  // Stores e, replacing the row of the same file and purpose if there is
  // one (two readers who made the same preview at once both succeed; the
  // later one's row stays). kInvalidArgument "bad_derived_entry" for an
  // empty file id, purpose, record id or sealed value (nothing written).
  virtual Status Put(const DerivedEntry& e) = 0;
  // The row of a file and purpose, if any.
  virtual StatusOr<std::optional<DerivedEntry>> Find(const domain::FileId& file_id,
                                                     const std::string& purpose) = 0;
  // Deletes the rows of every file of the record; returns how many.
  virtual StatusOr<uint64_t> DeleteRecord(const domain::RecordId& record_id) = 0;
  // Rows of the record (for tests and the status of a destruction).
  virtual StatusOr<uint64_t> CountRecord(const domain::RecordId& record_id) = 0;
};

}  // namespace custos::storage
