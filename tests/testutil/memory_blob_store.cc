#include "tests/testutil/memory_blob_store.h"

#include <algorithm>
#include <cstring>

namespace custos::storage {

namespace {

using Blob = std::shared_ptr<const crypto::Bytes>;

Status NotFoundError(const domain::BlobId& id) {
  return NotFound("no blob " + id.value, std::string(kBlobNotFound));
}

Status StorageFullError() {
  return ResourceExhausted("storage full (injected)", std::string(kStorageFull));
}

// Reads from a snapshot of a committed blob.
class SnapshotSource final : public ByteSource {
 public:
  explicit SnapshotSource(Blob blob) : blob_(std::move(blob)) {}

  StatusOr<size_t> Read(uint8_t* p, size_t n) override {
    size_t r = std::min(n, blob_->size() - pos_);
    if (r > 0) std::memcpy(p, blob_->data() + pos_, r);
    pos_ += r;
    return r;
  }

 private:
  const Blob blob_;
  size_t pos_ = 0;
};

}  // namespace

struct MemoryBlobStore::State {
  std::mutex mu;
  std::map<domain::BlobId, Blob> blobs;  // GUARDED_BY(mu); committed blobs
  int open_writers = 0;          // GUARDED_BY(mu)
  bool fail_next_write = false;  // GUARDED_BY(mu)

  StatusOr<Blob> Find(const domain::BlobId& id) {
    CUSTOS_RETURN_IF_ERROR(ValidateBlobId(id));
    std::lock_guard<std::mutex> lock(mu);
    auto it = blobs.find(id);
    if (it == blobs.end()) return NotFoundError(id);
    return it->second;
  }
};

class MemoryBlobStore::Writer final : public BlobWriter {
 public:
  Writer(std::shared_ptr<State> state, domain::BlobId id) : state_(std::move(state)), id_(std::move(id)) {
    std::lock_guard<std::mutex> lock(state_->mu);
    ++state_->open_writers;
  }
  ~Writer() override {
    std::lock_guard<std::mutex> lock(state_->mu);
    --state_->open_writers;
  }

  const domain::BlobId& id() const override { return id_; }
  uint64_t size() const override { return data_.size(); }

  Status Write(const uint8_t* p, size_t n) override {
    CUSTOS_RETURN_IF_ERROR(CheckUsable());
    if (n == 0) return Status::Ok();
    if (TakeInjectedFailure()) return Fail(StorageFullError());
    data_.insert(data_.end(), p, p + n);
    return Status::Ok();
  }

  Status Commit() override {
    CUSTOS_RETURN_IF_ERROR(CheckUsable());
    auto blob = std::make_shared<const crypto::Bytes>(std::move(data_));
    data_.clear();
    std::lock_guard<std::mutex> lock(state_->mu);
    if (!state_->blobs.emplace(id_, std::move(blob)).second) {
      return Fail(Internal("blob " + id_.value + " already exists", std::string(kBlobIo)));
    }
    committed_ = true;
    return Status::Ok();
  }

 private:
  Status CheckUsable() const {
    if (committed_) {
      return Conflict("blob " + id_.value + " is already committed",
                      std::string(kBlobWriterCommitted));
    }
    return status_;
  }

  bool TakeInjectedFailure() {
    std::lock_guard<std::mutex> lock(state_->mu);
    bool fail = state_->fail_next_write;
    state_->fail_next_write = false;
    return fail;
  }

  Status Fail(Status s) {
    status_ = s;
    crypto::Bytes().swap(data_);
    return s;
  }

  const std::shared_ptr<State> state_;
  const domain::BlobId id_;
  crypto::Bytes data_;
  bool committed_ = false;
  Status status_;  // first failure; sticky
};

MemoryBlobStore::MemoryBlobStore() : state_(std::make_shared<State>()) {}
MemoryBlobStore::~MemoryBlobStore() = default;

StatusOr<std::unique_ptr<BlobWriter>> MemoryBlobStore::Create() {
  for (;;) {
    CUSTOS_ASSIGN_OR_RETURN(domain::BlobId id, NewBlobId());
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      if (state_->blobs.count(id) != 0) continue;  // a random-id collision: draw again
    }
    return std::unique_ptr<BlobWriter>(new Writer(state_, std::move(id)));
  }
}

StatusOr<std::unique_ptr<ByteSource>> MemoryBlobStore::Open(const domain::BlobId& id) {
  CUSTOS_ASSIGN_OR_RETURN(Blob blob, state_->Find(id));
  return std::unique_ptr<ByteSource>(new SnapshotSource(std::move(blob)));
}

StatusOr<uint64_t> MemoryBlobStore::Size(const domain::BlobId& id) {
  CUSTOS_ASSIGN_OR_RETURN(Blob blob, state_->Find(id));
  return static_cast<uint64_t>(blob->size());
}

Status MemoryBlobStore::Delete(const domain::BlobId& id) {
  CUSTOS_RETURN_IF_ERROR(ValidateBlobId(id));
  std::lock_guard<std::mutex> lock(state_->mu);
  if (state_->blobs.erase(id) == 0) return NotFoundError(id);
  return Status::Ok();
}

StatusOr<std::vector<domain::BlobId>> MemoryBlobStore::List() {
  std::lock_guard<std::mutex> lock(state_->mu);
  std::vector<domain::BlobId> ids;
  ids.reserve(state_->blobs.size());
  for (const auto& [id, blob] : state_->blobs) ids.push_back(id);
  return ids;  // std::map keeps them sorted
}

StatusOr<uint64_t> MemoryBlobStore::SweepOrphans(
    const std::function<bool(const domain::BlobId&)>& is_referenced) {
  CUSTOS_ASSIGN_OR_RETURN(std::vector<domain::BlobId> ids, List());
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->open_writers != 0) {
      return Conflict("cannot sweep the blob store while blobs are being written",
                      std::string(kBlobWritersActive));
    }
  }
  uint64_t removed = 0;
  for (const domain::BlobId& id : ids) {
    if (is_referenced(id)) continue;  // called without the lock held
    std::lock_guard<std::mutex> lock(state_->mu);
    removed += state_->blobs.erase(id);
  }
  return removed;
}

Status MemoryBlobStore::CorruptByte(const domain::BlobId& id, uint64_t offset, uint8_t mask) {
  CUSTOS_RETURN_IF_ERROR(ValidateBlobId(id));
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->blobs.find(id);
  if (it == state_->blobs.end()) return NotFoundError(id);
  if (offset >= it->second->size()) {
    return InvalidArgument("offset " + std::to_string(offset) + " is past the end of blob " +
                           id.value);
  }
  auto copy = std::make_shared<crypto::Bytes>(*it->second);  // open sources keep the old bytes
  (*copy)[offset] ^= mask;
  it->second = std::move(copy);
  return Status::Ok();
}

void MemoryBlobStore::FailNextWriteWithStorageFull() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->fail_next_write = true;
}

StatusOr<crypto::Bytes> MemoryBlobStore::Contents(const domain::BlobId& id) {
  CUSTOS_ASSIGN_OR_RETURN(Blob blob, state_->Find(id));
  return *blob;
}

int MemoryBlobStore::open_writers() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->open_writers;
}

}  // namespace custos::storage
