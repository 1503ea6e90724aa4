#include "storage/key_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "crypto/random.h"

namespace custos::storage {

namespace {

constexpr mode_t kKeyFileMode = 0600;
constexpr mode_t kKeyDirMode = 0700;
constexpr mode_t kGroupOtherBits = 0077;

// The error statuses of one key file, named after it.
struct KeyErrors {
  const std::string& name;
  const std::string& path;
  Status Io(const std::string& what, const std::string& where, int err) const {
    return Internal(what + " " + where + ": " + std::strerror(err), name + "_key_io");
  }
  Status Bad(const std::string& why) const {
    return DataLoss("the " + name + " key " + path + " " + why, name + "_key_bad");
  }
};

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

Status FsyncDirectory(const std::string& dir, const KeyErrors& e) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return e.Io("cannot open", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return e.Io("cannot fsync", dir, err);
  return Status::Ok();
}

// Reads the open key file `fd`, refusing one others may read or of the
// wrong size.
StatusOr<std::vector<uint8_t>> ReadKey(int fd, size_t size, const KeyErrors& e) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return e.Io("cannot stat", e.path, errno);
  if (!S_ISREG(st.st_mode)) return e.Bad("is not a regular file");
  if ((st.st_mode & kGroupOtherBits) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Internal("the " + e.name + " key " + e.path + " has mode " + mode +
                        "; it must be readable by its owner only (chmod 600)",
                    e.name + "_key_mode");
  }
  if (static_cast<size_t>(st.st_size) != size) return e.Bad("does not hold " + std::to_string(size) + " bytes");
  std::vector<uint8_t> key(size);
  size_t done = 0;
  while (done < key.size()) {
    ssize_t n = ::read(fd, key.data() + done, key.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return e.Io("cannot read", e.path, errno);
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  if (done != size) return e.Bad("does not hold " + std::to_string(size) + " bytes");
  return key;
}

// Creates the key file with O_EXCL; kConflict when another process made it
// first (the caller then reads that one). Removes a half-written file.
StatusOr<std::vector<uint8_t>> CreateKey(size_t size, const KeyErrors& e) {
  CUSTOS_ASSIGN_OR_RETURN(crypto::Bytes key, crypto::RandomBytes(size));
  int fd = ::open(e.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kKeyFileMode);
  if (fd < 0 && errno == EEXIST) return Conflict("created meanwhile", e.name + "_key_exists");
  if (fd < 0) return e.Io("cannot create", e.path, errno);
  Status s;
  if (::fchmod(fd, kKeyFileMode) != 0) s = e.Io("cannot chmod", e.path, errno);  // the umask
  size_t done = 0;
  while (s.ok() && done < key.size()) {
    ssize_t n = ::write(fd, key.data() + done, key.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      s = e.Io("cannot write", e.path, n < 0 ? errno : EIO);
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (s.ok() && ::fsync(fd) != 0) s = e.Io("cannot fsync", e.path, errno);
  ::close(fd);
  if (s.ok()) s = FsyncDirectory(DirectoryOf(e.path), e);
  if (!s.ok()) {
    ::unlink(e.path.c_str());
    crypto::SecureZero(key.data(), key.size());
    return s;
  }
  return key;
}

}  // namespace

StatusOr<std::vector<uint8_t>> LoadOrCreateKeyFile(const std::string& path, size_t size, const std::string& name) {
  const KeyErrors e{name, path};
  const std::string dir = DirectoryOf(path);
  if (::mkdir(dir.c_str(), kKeyDirMode) != 0 && errno != EEXIST) return e.Io("cannot create", dir, errno);
  for (int attempt = 0; attempt < 2; ++attempt) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      auto key = ReadKey(fd, size, e);
      ::close(fd);
      return key;
    }
    if (errno == ELOOP) return e.Bad("is a symbolic link");
    if (errno != ENOENT) return e.Io("cannot open", path, errno);
    auto created = CreateKey(size, e);
    if (created.ok() || created.status().code() != ErrorCode::kConflict) return created;
  }
  return Internal("the " + name + " key " + path + " appeared and vanished", name + "_key_io");
}

}  // namespace custos::storage
