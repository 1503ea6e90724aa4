#include "storage/blob_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <set>

#include "crypto/random.h"

namespace custos::storage {

namespace {

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool IsDiskFull(int err) { return err == ENOSPC || err == EDQUOT || err == EFBIG; }

// Maps an errno from `call` on `path` to the store's reasons.
Status IoError(std::string_view call, const std::string& path, int err) {
  std::string message = std::string(call) + " " + path + ": " + std::strerror(err);
  if (IsDiskFull(err)) return ResourceExhausted(std::move(message), std::string(kStorageFull));
  return Internal(std::move(message), std::string(kBlobIo));
}

Status NotFoundError(const domain::BlobId& id) {
  return NotFound("no blob " + id.value, std::string(kBlobNotFound));
}

// fsync(2) on a directory, so that entries created or removed in it survive a
// crash.
Status SyncDirectory(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("open", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return IoError("fsync", path, err);
  return Status::Ok();
}

// mkdir with an exact mode (the umask does not apply). Sets *created when
// this call made the directory; an existing directory is fine.
Status MakeDirectory(const std::string& path, bool* created) {
  *created = false;
  if (::mkdir(path.c_str(), kBlobDirMode) == 0) {
    *created = true;
    if (::chmod(path.c_str(), kBlobDirMode) != 0) return IoError("chmod", path, errno);
    return Status::Ok();
  }
  int err = errno;
  struct stat st {};
  if (err == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return Status::Ok();
  }
  return IoError("mkdir", path, err);
}

// Writes all of [p, p+n) to `fd`, retrying short writes and EINTR.
Status WriteAll(int fd, const uint8_t* p, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return IoError("write", path, errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

// rename(2) that refuses to replace an existing `to` (a random-id collision
// must never overwrite a committed blob). Falls back to link+unlink on file
// systems without RENAME_NOREPLACE.
Status RenameNoReplace(const std::string& from, const std::string& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
    return Status::Ok();
  }
  int err = errno;
  if (err != EINVAL && err != ENOSYS) return IoError("rename", to, err);
  if (::link(from.c_str(), to.c_str()) != 0) return IoError("link", to, errno);
  ::unlink(from.c_str());
  return Status::Ok();
}

// The entries of a directory, without "." and "..".
StatusOr<std::vector<std::string>> ListDirectory(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return IoError("opendir", path, errno);
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      names.emplace_back(e->d_name);
    }
    errno = 0;
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return IoError("readdir", path, err);
  return names;
}

bool IsFanOutName(std::string_view name) {
  return name.size() == kBlobFanOutChars && std::all_of(name.begin(), name.end(), IsLowerHex);
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The prefix's numeric value 0x00..0xff (the prefix is valid lower hex).
size_t FanOutIndex(std::string_view prefix) {
  auto nibble = [](char c) { return c <= '9' ? size_t(c - '0') : size_t(c - 'a' + 10); };
  return nibble(prefix[0]) * 16 + nibble(prefix[1]);
}

// A ByteSource over an open blob file, reading in large pieces.
class FileSource final : public ByteSource {
 public:
  // `buffer_size`: the most one small read fetches; a blob smaller than
  // kBlobIoBufferSize needs no more than its own size (a 64 KiB file's
  // envelope is read whole into about 64 KiB, where a 256 KiB buffer would
  // be mapped, faulted in and unmapped on every download).
  FileSource(int fd, std::string path, size_t buffer_size)
      : fd_(fd), path_(std::move(path)), buffer_size_(buffer_size) {}
  ~FileSource() override { ::close(fd_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  StatusOr<size_t> Read(uint8_t* p, size_t n) override {
    if (n == 0) return size_t{0};
    if (pos_ == len_) {
      if (n >= buffer_size_) return ReadSome(p, n);  // large reads bypass the buffer
      // Not zero-filled: only bytes read() wrote are ever copied out.
      if (!buffer_) buffer_.reset(new uint8_t[buffer_size_]);
      CUSTOS_ASSIGN_OR_RETURN(len_, ReadSome(buffer_.get(), buffer_size_));
      pos_ = 0;
      if (len_ == 0) return size_t{0};
    }
    size_t r = std::min(n, len_ - pos_);
    std::memcpy(p, buffer_.get() + pos_, r);
    pos_ += r;
    return r;
  }

 private:
  StatusOr<size_t> ReadSome(uint8_t* p, size_t n) {
    for (;;) {
      ssize_t r = ::read(fd_, p, n);
      if (r >= 0) return static_cast<size_t>(r);
      if (errno != EINTR) return IoError("read", path_, errno);
    }
  }

  const int fd_;  // owned
  const std::string path_;
  const size_t buffer_size_;
  std::unique_ptr<uint8_t[]> buffer_;  // buffer_size_ bytes, allocated on the first small read
  size_t pos_ = 0;
  size_t len_ = 0;
};

}  // namespace

bool IsValidBlobId(std::string_view id) {
  return id.size() == kBlobIdHexLength && std::all_of(id.begin(), id.end(), IsLowerHex);
}

Status ValidateBlobId(const domain::BlobId& id) {
  if (IsValidBlobId(id.value)) return Status::Ok();
  return InvalidArgument(
      "blob id must be " + std::to_string(kBlobIdHexLength) + " lower-case hex characters",
      std::string(kBlobInvalidId));
}

StatusOr<domain::BlobId> NewBlobId() {
  CUSTOS_ASSIGN_OR_RETURN(std::string hex, crypto::RandomHexId(kBlobIdBytes));
  return domain::BlobId{std::move(hex)};
}

BlobWriter::~BlobWriter() = default;
BlobStore::~BlobStore() = default;

// ---- FileBlobStore::Writer ----

// Writes ROOT/tmp/<id>.part, renamed into place by Commit().
class FileBlobStore::Writer final : public BlobWriter {
 public:
  Writer(FileBlobStore* store, domain::BlobId id, int fd, std::string temp_path)
      : store_(store), id_(std::move(id)), fd_(fd), temp_path_(std::move(temp_path)) {
    store_->open_writers_.fetch_add(1);
  }
  ~Writer() override {
    Discard();
    store_->open_writers_.fetch_sub(1);
  }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  const domain::BlobId& id() const override { return id_; }
  uint64_t size() const override { return size_; }

  Status Write(const uint8_t* p, size_t n) override {
    CUSTOS_RETURN_IF_ERROR(CheckUsable());
    size_ += n;
    if (buffer_.size() + n < kBlobIoBufferSize) {
      buffer_.insert(buffer_.end(), p, p + n);
      return Status::Ok();
    }
    if (!buffer_.empty()) {
      // Top the buffer up to exactly one full piece, then flush it.
      size_t take = kBlobIoBufferSize - buffer_.size();
      buffer_.insert(buffer_.end(), p, p + take);
      p += take;
      n -= take;
      CUSTOS_RETURN_IF_ERROR(Flush());
    }
    if (n >= kBlobIoBufferSize) {
      CUSTOS_RETURN_IF_ERROR(Fail(WriteAll(fd_, p, n, temp_path_)));
      written_ += n;
      StartWriteback();
      return Status::Ok();
    }
    buffer_.assign(p, p + n);
    return Status::Ok();
  }

  Status Commit() override {
    CUSTOS_RETURN_IF_ERROR(CheckUsable());
    CUSTOS_RETURN_IF_ERROR(Flush());
    if (::fsync(fd_) != 0) return Fail(IoError("fsync", temp_path_, errno));
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return Fail(IoError("close", temp_path_, errno));
    std::string prefix = id_.value.substr(0, kBlobFanOutChars);
    CUSTOS_RETURN_IF_ERROR(Fail(store_->EnsureFanOutDurable(prefix)));
    std::string final_path = store_->BlobPath(id_);
    CUSTOS_RETURN_IF_ERROR(Fail(RenameNoReplace(temp_path_, final_path)));
    Status synced = SyncDirectory(store_->FanOutDir(prefix));
    if (!synced.ok()) {
      ::unlink(final_path.c_str());  // not durable: the caller must not reference it
      return Fail(synced);
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

  Status Flush() {
    Status s = WriteAll(fd_, buffer_.data(), buffer_.size(), temp_path_);
    if (s.ok()) written_ += buffer_.size();
    buffer_.clear();
    if (!s.ok()) return Fail(s);
    StartWriteback();
    return Status::Ok();
  }

  // Hands the kernel every kBlobWritebackStep written since the last call
  // for writing out now (not waiting for it), so that Commit()'s fsync of a
  // large blob waits for the last piece only instead of the whole file.
  // Only a hint: durability still comes from that fsync, which also
  // reports any write error.
  void StartWriteback() {
    if (fd_ < 0 || written_ - writeback_from_ < kBlobWritebackStep) return;
    ::sync_file_range(fd_, static_cast<off_t>(writeback_from_), static_cast<off_t>(written_ - writeback_from_),
                      SYNC_FILE_RANGE_WRITE);
    writeback_from_ = written_;
  }

  // Records the first failure and discards the partial blob at once.
  Status Fail(Status s) {
    if (!s.ok() && status_.ok()) {
      status_ = s;
      Discard();
    }
    return s;
  }

  // Closes and removes the temp file unless the blob was committed.
  void Discard() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    if (!committed_ && !temp_path_.empty()) {
      ::unlink(temp_path_.c_str());
      temp_path_.clear();
    }
    std::vector<uint8_t>().swap(buffer_);
  }

  FileBlobStore* const store_;  // not owned; outlives the writer
  const domain::BlobId id_;
  int fd_;                       // owned; -1 once closed
  std::string temp_path_;        // "" once removed
  std::vector<uint8_t> buffer_;  // bytes not yet handed to write(2)
  uint64_t size_ = 0;
  uint64_t written_ = 0;         // bytes handed to write(2)
  uint64_t writeback_from_ = 0;  // where the next StartWriteback() range begins
  bool committed_ = false;
  Status status_;  // first failure; sticky
};

// ---- FileBlobStore ----

StatusOr<std::unique_ptr<FileBlobStore>> FileBlobStore::OpenDirectory(std::string root) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return InvalidArgument("blob directory " + root + " does not exist or is not a directory",
                           std::string(kBlobDirMissing));
  }
  std::unique_ptr<FileBlobStore> store(new FileBlobStore(std::move(root)));
  bool created = false;
  CUSTOS_RETURN_IF_ERROR(MakeDirectory(store->TempDir(), &created));
  CUSTOS_RETURN_IF_ERROR(SyncDirectory(store->root_));
  CUSTOS_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectory(store->root_));
  for (const std::string& name : names) {
    if (IsFanOutName(name) && IsDirectory(store->FanOutDir(name))) {
      store->fan_out_durable_.set(FanOutIndex(name));
    }
  }
  return store;
}

FileBlobStore::~FileBlobStore() = default;

std::string FileBlobStore::FanOutDir(std::string_view prefix) const {
  return root_ + "/" + std::string(prefix);
}

std::string FileBlobStore::BlobPath(const domain::BlobId& id) const {
  return FanOutDir(std::string_view(id.value).substr(0, kBlobFanOutChars)) + "/" + id.value;
}

Status FileBlobStore::EnsureFanOutDurable(std::string_view prefix) {
  std::lock_guard<std::mutex> lock(fan_out_mu_);
  size_t index = FanOutIndex(prefix);
  if (fan_out_durable_.test(index)) return Status::Ok();
  bool created = false;
  CUSTOS_RETURN_IF_ERROR(MakeDirectory(FanOutDir(prefix), &created));
  // Even when another process made it, its entry may not be durable yet.
  CUSTOS_RETURN_IF_ERROR(SyncDirectory(root_));
  fan_out_durable_.set(index);
  return Status::Ok();
}

StatusOr<std::unique_ptr<BlobWriter>> FileBlobStore::Create() {
  for (;;) {
    CUSTOS_ASSIGN_OR_RETURN(domain::BlobId id, NewBlobId());
    std::string temp_path = TempDir() + "/" + id.value + std::string(kBlobTempSuffix);
    int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                    kBlobFileMode);
    if (fd < 0) {
      if (errno == EEXIST) continue;  // a random-id collision: draw again
      return IoError("open", temp_path, errno);
    }
    if (::fchmod(fd, kBlobFileMode) != 0) {  // the umask must not matter
      Status s = IoError("fchmod", temp_path, errno);
      ::close(fd);
      ::unlink(temp_path.c_str());
      return s;
    }
    return std::unique_ptr<BlobWriter>(new Writer(this, std::move(id), fd, std::move(temp_path)));
  }
}

StatusOr<std::unique_ptr<ByteSource>> FileBlobStore::Open(const domain::BlobId& id) {
  CUSTOS_RETURN_IF_ERROR(ValidateBlobId(id));
  std::string path = BlobPath(id);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return NotFoundError(id);
    return IoError("open", path, errno);
  }
  // A small blob is read whole into a buffer of its own size.
  size_t buffer_size = kBlobIoBufferSize;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size >= 0) {
    buffer_size = std::clamp<size_t>(static_cast<size_t>(st.st_size), 4096, kBlobIoBufferSize);
  }
  return std::unique_ptr<ByteSource>(new FileSource(fd, std::move(path), buffer_size));
}

StatusOr<uint64_t> FileBlobStore::Size(const domain::BlobId& id) {
  CUSTOS_RETURN_IF_ERROR(ValidateBlobId(id));
  std::string path = BlobPath(id);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return NotFoundError(id);
    return IoError("stat", path, errno);
  }
  if (!S_ISREG(st.st_mode)) return NotFoundError(id);
  return static_cast<uint64_t>(st.st_size);
}

Status FileBlobStore::Delete(const domain::BlobId& id) {
  CUSTOS_RETURN_IF_ERROR(ValidateBlobId(id));
  std::string path = BlobPath(id);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return NotFoundError(id);
    return IoError("unlink", path, errno);
  }
  return SyncDirectory(FanOutDir(std::string_view(id.value).substr(0, kBlobFanOutChars)));
}

StatusOr<std::vector<domain::BlobId>> FileBlobStore::List() {
  CUSTOS_ASSIGN_OR_RETURN(std::vector<std::string> dirs, ListDirectory(root_));
  std::vector<domain::BlobId> ids;
  for (const std::string& dir : dirs) {
    if (!IsFanOutName(dir) || !IsDirectory(FanOutDir(dir))) continue;
    CUSTOS_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectory(FanOutDir(dir)));
    for (std::string& name : names) {
      // Anything else in a fan-out directory is not a blob of this store.
      if (IsValidBlobId(name) && name.compare(0, kBlobFanOutChars, dir) == 0) {
        ids.push_back(domain::BlobId{std::move(name)});
      }
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

namespace {

// Whether `path` was modified at least `min_age` ago (a file that is gone
// is not: there is nothing to remove).
bool OlderThan(const std::string& path, std::chrono::seconds min_age) {
  if (min_age.count() <= 0) return true;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return false;
  return ::time(nullptr) - st.st_mtim.tv_sec >= min_age.count();
}

}  // namespace

Status FileBlobStore::RemoveTempFiles(uint64_t* removed, std::chrono::seconds min_age) {
  const std::string temp_dir = TempDir();
  CUSTOS_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectory(temp_dir));
  bool any = false;
  for (const std::string& name : names) {
    std::string_view n(name);
    if (n.size() != kBlobIdHexLength + kBlobTempSuffix.size() ||
        n.substr(kBlobIdHexLength) != kBlobTempSuffix ||
        !IsValidBlobId(n.substr(0, kBlobIdHexLength))) {
      continue;  // not a temp file of this store
    }
    std::string path = temp_dir + "/" + name;
    if (!OlderThan(path, min_age)) continue;
    if (::unlink(path.c_str()) != 0) {
      if (errno == ENOENT) continue;
      return IoError("unlink", path, errno);
    }
    ++*removed;
    any = true;
  }
  return any ? SyncDirectory(temp_dir) : Status::Ok();
}

StatusOr<uint64_t> FileBlobStore::SweepOrphans(
    const std::function<bool(const domain::BlobId&)>& is_referenced) {
  if (open_writers_.load() != 0) {
    return Conflict("cannot sweep the blob store while blobs are being written",
                    std::string(kBlobWritersActive));
  }
  return Sweep(is_referenced, std::chrono::seconds(0));
}

StatusOr<uint64_t> FileBlobStore::SweepOrphansOlderThan(
    const std::function<bool(const domain::BlobId&)>& is_referenced, std::chrono::seconds min_age) {
  return Sweep(is_referenced, min_age);
}

StatusOr<uint64_t> FileBlobStore::Sweep(const std::function<bool(const domain::BlobId&)>& is_referenced,
                                        std::chrono::seconds min_age) {
  uint64_t removed = 0;
  CUSTOS_RETURN_IF_ERROR(RemoveTempFiles(&removed, min_age));
  CUSTOS_ASSIGN_OR_RETURN(std::vector<domain::BlobId> ids, List());
  std::set<std::string> touched_dirs;
  for (const domain::BlobId& id : ids) {
    std::string path = BlobPath(id);
    // Age first: a young unreferenced blob may be a check-in about to commit.
    if (!OlderThan(path, min_age) || is_referenced(id)) continue;
    if (::unlink(path.c_str()) != 0) {
      if (errno == ENOENT) continue;
      return IoError("unlink", path, errno);
    }
    ++removed;
    touched_dirs.insert(FanOutDir(std::string_view(id.value).substr(0, kBlobFanOutChars)));
  }
  for (const std::string& dir : touched_dirs) CUSTOS_RETURN_IF_ERROR(SyncDirectory(dir));
  return removed;
}

}  // namespace custos::storage
