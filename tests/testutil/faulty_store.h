// FaultyStore: a MetadataStore that forwards to another one and fails the
// writes a test asks it to, as a crash or a full disk before the commit
// would. For tests only (custos_test_fakes, tests/CMakeLists.txt).
//
// An injected failure is returned after the write function returned OK, in
// place of its Status: the inner store then rolls that function back as it
// rolls back any failing write function (in the SQL stores, its savepoint,
// its log appends with it), so nothing of that Write() persists.
//
// Thread safety: Write(), Read() and the hooks may be called from any thread,
// also from inside a store function.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>

#include "storage/metadata_store.h"

namespace custos::storage::testing {

class FaultyStore final : public MetadataStore {
 public:
  // `inner` must outlive this store.
  explicit FaultyStore(MetadataStore& inner) : inner_(inner) {}

  Status Write(const TxFn& fn) override;
  Status Read(const TxFn& fn) override { return inner_.Read(fn); }
  Status Scrub() override { return inner_.Scrub(); }

  // The `n`-th Write() to start from now on (1: the next one) fails with
  // `status` and changes nothing; one shot, replacing any failure armed
  // before. If that Write's function fails by itself, its own Status is
  // returned and the injected one is used up all the same. An OK `status`
  // becomes kInternal "injected_failure".
  void FailWrite(int n, Status status);
  // FailWrite(1, status): e.g. ResourceExhausted(…, "storage_full") to test
  // how a service handles a full disk.
  void FailNextCommit(Status status) { FailWrite(1, std::move(status)); }

  // Writes that committed (returned OK) through this store so far.
  uint64_t commits() const;

 private:
  MetadataStore& inner_;
  mutable std::mutex mu_;
  uint64_t started_ = 0;           // GUARDED_BY(mu_): Write() calls begun
  uint64_t committed_ = 0;         // GUARDED_BY(mu_)
  uint64_t fail_at_ = 0;           // GUARDED_BY(mu_): the started_ count to fail
  std::optional<Status> failure_;  // GUARDED_BY(mu_)
};

}  // namespace custos::storage::testing
