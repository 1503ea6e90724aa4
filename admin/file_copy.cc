#include "admin/file_copy.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace custos::admin {

namespace {

Status ErrnoStatus(const std::string& what, const std::string& path, int err) {
  std::string message = what + " " + path + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
      return NotFound(std::move(message), "copy_source_missing");
    case EEXIST:
      return Conflict(std::move(message), "copy_target_exists");
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      return ResourceExhausted(std::move(message), "storage_full");
    default:
      return Internal(std::move(message), "copy_failed");
  }
}

// A file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int Close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

Status CopyBytes(int in, int out, const std::string& from, const std::string& to,
                 uint64_t* copied) {
  std::vector<uint8_t> buffer(kCopyBufferSize);
  for (;;) {
    ssize_t n = ::read(in, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("cannot read", from, errno);
    if (n == 0) return Status::Ok();
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out, buffer.data() + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return ErrnoStatus("cannot write", to, w < 0 ? errno : EIO);
      done += w;
    }
    *copied += static_cast<uint64_t>(n);
  }
}

// Entries of a directory without "." and "..", sorted.
StatusOr<std::vector<std::string>> ListDirectory(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return ErrnoStatus("cannot open directory", path, errno);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      names.push_back(e->d_name);
    }
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

Status CopyTreeInto(const std::string& from, const std::string& to, const std::string& rel,
                    unsigned dir_mode, const std::function<unsigned(const std::string&)>& file_mode,
                    TreeCopy* counts) {
  CUSTOS_RETURN_IF_ERROR(MakeDirectory(to, dir_mode, /*must_be_new=*/false));
  CUSTOS_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectory(from));
  for (const std::string& name : names) {
    const std::string src = from + "/" + name;
    const std::string dst = to + "/" + name;
    const std::string sub = rel.empty() ? name : rel + "/" + name;
    struct stat st {};
    if (::stat(src.c_str(), &st) != 0) return ErrnoStatus("cannot stat", src, errno);
    if (S_ISDIR(st.st_mode)) {
      CUSTOS_RETURN_IF_ERROR(CopyTreeInto(src, dst, sub, dir_mode, file_mode, counts));
    } else if (S_ISREG(st.st_mode)) {
      CUSTOS_ASSIGN_OR_RETURN(uint64_t bytes, CopyFileDurably(src, dst, file_mode(sub)));
      counts->files += 1;
      counts->bytes += bytes;
    } else {
      return InvalidArgument(src + " is neither a regular file nor a directory",
                             "copy_not_regular");
    }
  }
  return FsyncDirectory(to);
}

}  // namespace

bool PathExists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool IsEmptyDirectory(const std::string& path) {
  if (!IsDirectory(path)) return false;
  auto names = ListDirectory(path);
  return names.ok() && names->empty();
}

Status FsyncDirectory(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus("cannot open directory", path, errno);
  if (::fsync(fd.get()) != 0) return ErrnoStatus("cannot fsync", path, errno);
  return Status::Ok();
}

Status MakeDirectory(const std::string& path, unsigned mode, bool must_be_new) {
  if (::mkdir(path.c_str(), mode) != 0) {
    int err = errno;
    if (err == EEXIST && !must_be_new && IsDirectory(path)) return Status::Ok();
    return ErrnoStatus("cannot create directory", path, err);
  }
  // mkdir honours the umask; set the mode promised.
  if (::chmod(path.c_str(), mode) != 0) return ErrnoStatus("cannot set the mode of", path, errno);
  return Status::Ok();
}

StatusOr<uint64_t> CopyFileDurably(const std::string& from, const std::string& to, unsigned mode) {
  Fd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return ErrnoStatus("cannot open", from, errno);
  struct stat st {};
  if (::fstat(in.get(), &st) != 0) return ErrnoStatus("cannot stat", from, errno);
  if (!S_ISREG(st.st_mode)) {
    return InvalidArgument(from + " is not a regular file", "copy_not_regular");
  }
  Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (out.get() < 0) return ErrnoStatus("cannot create", to, errno);
  uint64_t copied = 0;
  Status s = ::fchmod(out.get(), mode) == 0 ? Status::Ok()
                                            : ErrnoStatus("cannot set the mode of", to, errno);
  if (s.ok()) s = CopyBytes(in.get(), out.get(), from, to, &copied);
  if (s.ok() && ::fsync(out.get()) != 0) s = ErrnoStatus("cannot fsync", to, errno);
  if (s.ok() && out.Close() != 0) s = ErrnoStatus("cannot close", to, errno);
  if (!s.ok()) {
    ::unlink(to.c_str());
    return s;
  }
  return copied;
}

StatusOr<TreeCopy> CopyTree(const std::string& from, const std::string& to, unsigned dir_mode,
                            const std::function<unsigned(const std::string&)>& file_mode) {
  if (!IsDirectory(from)) return NotFound(from + " is not a directory", "copy_source_missing");
  TreeCopy counts;
  CUSTOS_RETURN_IF_ERROR(CopyTreeInto(from, to, "", dir_mode, file_mode, &counts));
  return counts;
}

}  // namespace custos::admin
