// MemoryBlobStore: the in-memory BlobStore fake for unit tests (STYLE §4).
// Test-only: built into custos_test_fakes (tests/CMakeLists.txt), never
// into the product.
//
// Behaves like FileBlobStore (storage/blob_store.h) with the same failures
// and reasons: Commit() makes a blob visible, a writer destroyed without
// committing vanishes, ids are checked strictly, List() is sorted, deleting
// a missing blob is kBlobNotFound, SweepOrphans() refuses while writers are
// open. Nothing is durable, and there are no temp files for SweepOrphans() to
// remove (uncommitted bytes live in their writer).
//
// Test hooks provoke faults that a disk would: CorruptByte() flips stored
// bits, FailNextWriteWithStorageFull() makes the next Write() fail as a full
// disk does.
//
// Thread safety: safe for concurrent use, like every BlobStore. A source
// returned by Open() reads a snapshot: later corruption or deletion does not
// affect it.
#pragma once

#include <map>
#include <memory>
#include <mutex>

#include "crypto/bytes.h"
#include "storage/blob_store.h"

namespace custos::storage {

class MemoryBlobStore final : public BlobStore {
 public:
  MemoryBlobStore();
  ~MemoryBlobStore() override;
  MemoryBlobStore(const MemoryBlobStore&) = delete;
  MemoryBlobStore& operator=(const MemoryBlobStore&) = delete;

  StatusOr<std::unique_ptr<BlobWriter>> Create() override;
  StatusOr<std::unique_ptr<ByteSource>> Open(const domain::BlobId& id) override;
  StatusOr<uint64_t> Size(const domain::BlobId& id) override;
  Status Delete(const domain::BlobId& id) override;
  StatusOr<std::vector<domain::BlobId>> List() override;
  StatusOr<uint64_t> SweepOrphans(const std::function<bool(const domain::BlobId&)>& is_referenced) override;

  // ---- Test hooks ----

  // XORs the byte at `offset` of committed blob `id` with `mask` (non-zero).
  // kBlobInvalidId, kBlobNotFound, or kInvalidArgument if offset ≥ size.
  Status CorruptByte(const domain::BlobId& id, uint64_t offset, uint8_t mask = 0x01);
  // The next Write() with n > 0 on any writer of this store fails with
  // kResourceExhausted / kStorageFull (and breaks that writer); one shot.
  void FailNextWriteWithStorageFull();
  // A copy of the committed blob's bytes; kBlobInvalidId, kBlobNotFound.
  StatusOr<crypto::Bytes> Contents(const domain::BlobId& id);
  // Writers created and not yet destroyed.
  int open_writers() const;

 private:
  class Writer;
  struct State;
  std::shared_ptr<State> state_;  // shared with writers; internally locked
};

}  // namespace custos::storage
