#include "storage/group_commit.h"

namespace custos::storage {

void GroupCommitQueue::WakeFront() {
  if (!queue_.empty()) queue_.front()->cv.notify_one();
}

Status GroupCommitQueue::Write(const MetadataStore::TxFn& fn) {
  Item w{&fn, Status::Ok(), false};
  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(&w);
  w.cv.wait(lock, [&] { return w.done || queue_.front() == &w; });
  if (w.done) return w.status;

  // This writer leads: take a batch from the front of the queue. Others keep
  // queueing behind it while it commits.
  std::vector<Item*> batch;
  for (Item* x : queue_) {
    if (batch.size() >= max_batch_ || x->fn == nullptr) break;
    batch.push_back(x);
  }
  lock.unlock();
  Status commit = commit_(batch);
  lock.lock();
  for (Item* x : batch) {
    if (!commit.ok()) x->status = commit;
    x->done = true;
    queue_.pop_front();
    if (x != &w) x->cv.notify_one();
  }
  WakeFront();  // the next leader
  return w.status;
}

Status GroupCommitQueue::Exclusive(const std::function<Status()>& fn) {
  Item w{nullptr, Status::Ok(), false};
  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(&w);
  w.cv.wait(lock, [&] { return queue_.front() == &w; });
  lock.unlock();
  Status s = fn();
  lock.lock();
  queue_.pop_front();
  WakeFront();
  return s;
}

}  // namespace custos::storage
