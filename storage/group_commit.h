// GroupCommitQueue: the writer queue of the SQL stores (leveldb's). Callers
// of Write() queue up; the one at the front leads, takes up to `max_batch`
// queued functions and commits them together through the store's `commit`
// callback while the others wait, then hands the lead to the next in line.
// One transaction and one fsync serve the whole batch.
//
// Thread safety: all methods may be called from any thread. The commit
// callback runs on the leader's thread, one batch at a time.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "storage/metadata_store.h"

namespace custos::storage {

class GroupCommitQueue {
 public:
  // One queued write function and, once its batch committed, its result.
  struct Item {
    const MetadataStore::TxFn* fn;
    Status status;
    bool done = false;
    // Its writer waits on this alone: woken when its batch is done or when
    // it reaches the front, not by every batch (with dozens of logged
    // reads queued, waking them all after each batch cost more CPU than
    // the batch's own statements).
    std::condition_variable cv;
  };
  // Commits a batch: sets each item's status (its own function's result)
  // and returns the failure of the batch as a whole (every item then fails
  // with it).
  using CommitFn = std::function<Status(const std::vector<Item*>& batch)>;

  GroupCommitQueue(size_t max_batch, CommitFn commit)
      : max_batch_(max_batch), commit_(std::move(commit)) {}

  // Runs `fn` in some batch; returns its Status or the batch's failure.
  Status Write(const MetadataStore::TxFn& fn);

  // Runs `fn` alone, between batches (no batch is half-written meanwhile).
  Status Exclusive(const std::function<Status()>& fn);

 private:
  const size_t max_batch_;
  const CommitFn commit_;
  // Wakes the item now at the front of the queue, if any (mu_ held).
  void WakeFront();

  std::mutex mu_;
  std::deque<Item*> queue_;  // GUARDED_BY(mu_); an item without function waits for Exclusive()
};

}  // namespace custos::storage
