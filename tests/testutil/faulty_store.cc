#include "tests/testutil/faulty_store.h"

#include <utility>

namespace custos::storage::testing {

void FaultyStore::FailWrite(int n, Status status) {
  if (status.ok()) status = Internal("injected failure", "injected_failure");
  std::lock_guard<std::mutex> lock(mu_);
  fail_at_ = started_ + static_cast<uint64_t>(n < 1 ? 1 : n);
  failure_ = std::move(status);
}

uint64_t FaultyStore::commits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return committed_;
}

Status FaultyStore::Write(const TxFn& fn) {
  std::optional<Status> failure;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (++started_ == fail_at_) failure = std::exchange(failure_, std::nullopt);
  }
  Status st = inner_.Write([&](Transaction& tx) -> Status {
    Status own = fn(tx);
    if (!own.ok() || !failure) return own;
    return *failure;  // the inner store rolls the function back
  });
  if (st.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    ++committed_;
  }
  return st;
}

}  // namespace custos::storage::testing
