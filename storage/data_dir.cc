#include "storage/data_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace custos::storage {

namespace {

std::string ErrnoText(int err) { return std::strerror(err); }

bool IsEmptyDirectory(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return false;
  bool empty = true;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

}  // namespace

DataDir::DataDir(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

Status EnsureDirectory(const std::string& path, unsigned mode) {
  if (::mkdir(path.c_str(), mode) == 0) {
    // mkdir honours the umask; set the mode we promised.
    if (::chmod(path.c_str(), mode) != 0) {
      return Internal("cannot set mode of " + path + ": " + ErrnoText(errno));
    }
    return Status::Ok();
  }
  int err = errno;
  struct stat st {};
  if (err == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return Status::Ok();
  }
  return Status(ErrorCode::kInvalidArgument,
                "cannot create directory " + path + ": " + ErrnoText(err),
                "directory_not_writable");
}

Status DataDir::CreateFresh() const {
  struct stat st {};
  if (::stat(root_.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return Conflict(root_ + " exists and is not a directory", "data_dir_exists");
    }
    if (!IsEmptyDirectory(root_)) {
      return Conflict(root_ + " already exists and is not empty; refusing to overwrite it",
                      "data_dir_exists");
    }
  }
  CUSTOS_RETURN_IF_ERROR(EnsureDirectory(root_));
  for (const std::string& sub : {TlsDir(), KeysDir(), BlobsDir()}) {
    CUSTOS_RETURN_IF_ERROR(EnsureDirectory(sub));
  }
  return Status::Ok();
}

Status DataDir::CheckWritable() const {
  struct stat st {};
  if (::stat(root_.c_str(), &st) != 0) {
    return InvalidArgument("data directory " + root_ + " does not exist (run custosctl init)",
                           "data_dir_missing");
  }
  if (!S_ISDIR(st.st_mode)) {
    return InvalidArgument("data directory " + root_ + " is not a directory", "data_dir_missing");
  }
  std::string probe = root_ + "/.write-probe";
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return InvalidArgument("data directory " + root_ + " is not writable: " + ErrnoText(errno),
                           "data_dir_not_writable");
  }
  ::close(fd);
  ::unlink(probe.c_str());
  return Status::Ok();
}

Status DataDir::CheckFreeSpace(uint64_t min_free_bytes) const {
  struct statvfs fs {};
  if (::statvfs(root_.c_str(), &fs) != 0) {
    return Internal("cannot read the free space of " + root_ + ": " + ErrnoText(errno), "data_dir_statfs");
  }
  uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (free_bytes < min_free_bytes) {
    return ResourceExhausted(std::to_string(free_bytes) + " bytes free on the file system of " + root_ +
                                 ", below storage.min_free_bytes (" + std::to_string(min_free_bytes) +
                                 "): content reads, sign-ins and writes need room for their log entries",
                             "storage_full");
  }
  return Status::Ok();
}

Status WriteNewFile(const std::string& path, const std::string& content, unsigned mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return Status(ErrorCode::kConflict, "cannot create " + path + ": " + ErrnoText(errno),
                  "file_exists");
  }
  Status result;
  if (::fchmod(fd, mode) != 0) {
    result = Internal("cannot set mode of " + path + ": " + ErrnoText(errno));
  }
  size_t done = 0;
  while (result.ok() && done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      result = Internal("cannot write " + path + ": " + ErrnoText(errno));
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (result.ok() && ::fsync(fd) != 0) {
    result = Internal("cannot fsync " + path + ": " + ErrnoText(errno));
  }
  ::close(fd);
  if (!result.ok()) ::unlink(path.c_str());
  return result;
}

StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return NotFound("cannot open " + path + ": " + ErrnoText(errno), "file_unreadable");
  }
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Internal("cannot read " + path + ": " + ErrnoText(err));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      ::close(fd);
      return TooLarge(path + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  ::close(fd);
  return out;
}

StatusOr<std::unique_ptr<DataDirLock>> DataDirLock::Acquire(const DataDir& dir, Mode mode) {
  int fd = ::open(dir.LockFile().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Internal("cannot open " + dir.LockFile() + ": " + std::strerror(errno), "data_dir_lock");
  }
  if (::flock(fd, (mode == Mode::kExclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Conflict(dir.root() + " is in use by another process (a running custosd or an offline command)",
                      "data_dir_in_use");
    }
    return Internal("cannot lock " + dir.LockFile() + ": " + std::strerror(err), "data_dir_lock");
  }
  return std::unique_ptr<DataDirLock>(new DataDirLock(fd));
}

DataDirLock::~DataDirLock() { ::close(fd_); }

}  // namespace custos::storage
