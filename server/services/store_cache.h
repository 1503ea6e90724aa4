// StoreCache: values read from the metadata store, kept for as long as the
// store can prove that none of the tables they were read from changed
// (storage::MetadataStore::ChangeCount), and never longer than a short
// maximum age. It saves the read transactions that do not depend on the
// request (a session's row, a record's row) on the paths every download and
// catalogue GET take; docs/benchmarks.md "Logged reads and
// record GETs" has the profile.
//
// Why nothing stale is ever served: Stamp() takes the tables' change counts
// before the caller's read transaction begins, and Put() files the value
// under those counts. The store raises a table's count after every write
// that changed a row of it and before that write's Write() returns, so an
// entry whose counts still equal the current ones was read after every
// write to its tables that anyone has seen return. A revoked session, a
// changed role or a destroyed record therefore takes effect on the very next
// request. When the store cannot tell (ChangeCount is nullopt: PostgreSQL,
// where other nodes write, and the in-memory fakes) Stamp() is nullopt and
// nothing is cached. The maximum age bounds how long a change made behind
// the server's back (the database edited by hand) can go unseen.
//
// Thread safety: all methods may be called from any thread (one mutex).
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "storage/metadata_store.h"

namespace custos::services {

template <class Value>
class StoreCache {
 public:
  // The change counts of the cache's tables at one instant.
  using Counts = std::vector<uint64_t>;

  // `tables`: every table the cached values are read from. The store must
  // outlive the cache.
  StoreCache(const storage::MetadataStore& store, std::vector<std::string> tables, size_t max_entries,
             std::chrono::milliseconds max_age)
      : store_(store), tables_(std::move(tables)), max_entries_(max_entries), max_age_(max_age) {}

  // The tables' counts now; nullopt when the store cannot tell for one of
  // them (then nothing is cached). Take them before reading.
  std::optional<Counts> Stamp() const {
    Counts counts;
    counts.reserve(tables_.size());
    for (const std::string& t : tables_) {
      std::optional<uint64_t> c = store_.ChangeCount(t);
      if (!c) return std::nullopt;
      counts.push_back(*c);
    }
    return counts;
  }

  // The value under `key` if it was read under `now_counts` (a Stamp() of
  // this instant) and is younger than the maximum age.
  std::optional<Value> Get(const std::string& key, const Counts& now_counts) {
    std::lock_guard<std::mutex> lock(mu_);
    Advance(now_counts);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.counts != now_counts ||
        std::chrono::steady_clock::now() - it->second.loaded > max_age_) {
      return std::nullopt;
    }
    return it->second.value;
  }

  // Files `value`, read in a transaction that began after `counts` were
  // taken; a value read under counts that are already out of date is not
  // kept. When the cache is full it starts over.
  void Put(const std::string& key, Value value, const Counts& counts) {
    std::lock_guard<std::mutex> lock(mu_);
    Advance(counts);
    if (counts != latest_) return;
    if (entries_.size() >= max_entries_ && entries_.find(key) == entries_.end()) entries_.clear();
    entries_.insert_or_assign(key, Entry{std::move(value), counts, std::chrono::steady_clock::now()});
  }

  // Forgets everything (tests).
  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    entries_.clear();
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return entries_.size();
  }

 private:
  // Counts only grow: once newer counts are seen, every entry (read under
  // older ones) is out of date for good and goes at once, so that nothing
  // read before a change (a destroyed file's wrapped key, a revoked
  // session) stays in memory after the next lookup.
  void Advance(const Counts& counts) {
    if (counts == latest_) return;
    bool newer = latest_.size() != counts.size();
    for (size_t i = 0; !newer && i < counts.size(); ++i) newer = counts[i] > latest_[i];
    bool older = false;
    for (size_t i = 0; !older && i < counts.size() && latest_.size() == counts.size(); ++i) {
      older = counts[i] < latest_[i];
    }
    if (newer && !older) {
      entries_.clear();
      latest_ = counts;
    }
  }

  struct Entry {
    Value value;
    Counts counts;
    std::chrono::steady_clock::time_point loaded;
  };

  const storage::MetadataStore& store_;
  const std::vector<std::string> tables_;
  const size_t max_entries_;
  const std::chrono::milliseconds max_age_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // GUARDED_BY(mu_); all read under latest_
  Counts latest_;                                    // GUARDED_BY(mu_); the newest counts seen
};

}  // namespace custos::services
