#include "storage/custody.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

namespace custos::storage {

namespace {

constexpr char kHeld[] = "held";
constexpr char kAwaiting[] = "awaiting_promotion";
constexpr unsigned kMarkerMode = 0600;

// The directory's inode, and two names of its file system: the device
// number, and the file system id of statfs (which ext4, XFS and btrfs derive
// from the file system's UUID, so it survives a renumbering of devices at
// boot that changes the first).
struct Identity {
  uint64_t device = 0;
  uint64_t filesystem = 0;
  uint64_t inode = 0;
};

StatusOr<Identity> IdentityOf(const DataDir& dir) {
  struct stat st {};
  if (::stat(dir.root().c_str(), &st) != 0) {
    return Internal("cannot stat " + dir.root() + ": " + std::strerror(errno), "custody_io");
  }
  struct statfs fs {};
  if (::statfs(dir.root().c_str(), &fs) != 0) {
    return Internal("cannot statfs " + dir.root() + ": " + std::strerror(errno), "custody_io");
  }
  uint64_t fsid = 0;
  static_assert(sizeof fs.f_fsid == sizeof fsid);
  std::memcpy(&fsid, &fs.f_fsid, sizeof fsid);
  return Identity{static_cast<uint64_t>(st.st_dev), fsid, static_cast<uint64_t>(st.st_ino)};
}

std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

Status FsyncDir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Internal("cannot open " + path + ": " + std::strerror(errno), "custody_io");
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Internal("cannot fsync " + path + ": " + std::strerror(err), "custody_io");
  return Status::Ok();
}

Status WriteMarker(const DataDir& dir, const char* state, const std::string& note,
                   const std::string& source) {
  CUSTOS_ASSIGN_OR_RETURN(Identity id, IdentityOf(dir));
  std::string text = std::string(kCustodyFormat) + "\nstate " + state + "\ndevice " +
                     std::to_string(id.device) + "\nfilesystem " + std::to_string(id.filesystem) +
                     "\ninode " + std::to_string(id.inode) +
                     "\nnote " + OneLine(note) + "\n";
  if (!source.empty()) text += "source " + OneLine(source) + "\n";
  const std::string path = CustodyPath(dir);
  const std::string tmp = path + ".tmp";
  if (::unlink(tmp.c_str()) != 0 && errno != ENOENT) {
    return Internal("cannot remove " + tmp + ": " + std::strerror(errno), "custody_io");
  }
  CUSTOS_RETURN_IF_ERROR(WriteNewFile(tmp, text, kMarkerMode));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Internal("cannot rename " + tmp + ": " + std::strerror(errno), "custody_io");
  }
  return FsyncDir(dir.root());
}

}  // namespace

std::string CustodyPath(const DataDir& dir) {
  return dir.root() + "/" + std::string(kCustodyFileName);
}

StatusOr<Custody> ReadCustody(const DataDir& dir) {
  CUSTOS_ASSIGN_OR_RETURN(Identity here, IdentityOf(dir));
  Custody c;
  struct stat st {};
  if (::lstat(CustodyPath(dir).c_str(), &st) != 0 && errno == ENOENT) {
    c.why_not = "no custody marker";
    return c;
  }
  c.present = true;
  StatusOr<std::string> text = ReadSmallFile(CustodyPath(dir), 64 * 1024);
  if (!text.ok()) {
    c.why_not = "the custody marker cannot be read: " + text.status().message();
    return c;
  }
  std::istringstream in(*text);
  std::string format, state, note;
  uint64_t device = 0, filesystem = 0, inode = 0;
  std::string line;
  bool well_formed = static_cast<bool>(std::getline(in, format)) && format == kCustodyFormat;
  while (well_formed && std::getline(in, line)) {
    const size_t space = line.find(' ');
    const std::string key = line.substr(0, space);
    const std::string value = space == std::string::npos ? "" : line.substr(space + 1);
    try {
      if (key == "state") state = value;
      if (key == "device") device = std::stoull(value);
      if (key == "filesystem") filesystem = std::stoull(value);
      if (key == "inode") inode = std::stoull(value);
      if (key == "note") note = value;
      if (key == "source") c.restored_from = value;
    } catch (const std::exception&) {
      well_formed = false;
    }
  }
  if (!well_formed || (state != kHeld && state != kAwaiting)) {
    c.why_not = "the custody marker " + CustodyPath(dir) + " is not a " +
                std::string(kCustodyFormat) + " marker";
    return c;
  }
  if (state == kAwaiting) {
    c.why_not = "awaiting promotion (" + note + ")";
    return c;
  }
  // The same directory: its inode on the same file system, known by either
  // of its names (a copy or a move to another file system has a new inode).
  const bool same_filesystem =
      device == here.device || (filesystem != 0 && filesystem == here.filesystem);
  if (!same_filesystem || inode != here.inode) {
    c.why_not = "the data directory was copied or moved here from elsewhere (its custody marker "
                "names device " + std::to_string(device) + " inode " + std::to_string(inode) +
                ", this directory is device " + std::to_string(here.device) + " inode " +
                std::to_string(here.inode) + ")";
    return c;
  }
  c.held = true;
  return c;
}

Status BindCustody(const DataDir& dir, const std::string& note) {
  return WriteMarker(dir, kHeld, note, "");
}

Status AwaitPromotion(const DataDir& dir, const std::string& note, const std::string& source) {
  return WriteMarker(dir, kAwaiting, note, source);
}

StatusOr<std::string> CustodySigner::Sign(uint64_t size, const crypto::Digest32& root) {
  if (allowed_.load()) return inner_.Sign(size, root);
  return Unavailable("this data directory does not hold the log's signing custody (" + why_ +
                         "): it serves reads and signs nothing, so it accepts no change until "
                         "`custosctl promote --data DIR` (docs/operations.md, \"Restore, promote "
                         "and the original\")",
                     std::string(kSigningNotPromoted));
}

}  // namespace custos::storage
