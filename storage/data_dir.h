// The data directory: where one Custos installation keeps everything.
//
//   DIR/                 0700
//     custos.conf        0600  configuration (common/config.h)
//     tls/cert.pem       0644  server certificate
//     tls/key.pem        0600  server private key
//     keys/              0700  key-encryption keys, log signing keys
//     blobs/             0700  encrypted files
//     custos.db          0600  metadata, audit log (SQLite backend)
//
// DataDir only knows paths and permissions; it opens no database.
// Thread safety: immutable after construction; share freely.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"

namespace custos::storage {

class DataDir {
 public:
  explicit DataDir(std::string root);

  const std::string& root() const { return root_; }
  std::string ConfigFile() const { return root_ + "/custos.conf"; }
  std::string TlsDir() const { return root_ + "/tls"; }
  std::string TlsCertificate() const { return TlsDir() + "/cert.pem"; }
  std::string TlsPrivateKey() const { return TlsDir() + "/key.pem"; }
  std::string KeysDir() const { return root_ + "/keys"; }
  std::string BlobsDir() const { return root_ + "/blobs"; }
  std::string Database() const { return root_ + "/custos.db"; }
  std::string LockFile() const { return root_ + "/lock"; }

  // Creates root (0700) and its subfolders. Fails with kConflict
  // ("data_dir_exists") if root exists and is not an empty directory, so an
  // existing archive is never overwritten.
  Status CreateFresh() const;

  // Checks that root exists, is a directory, and that this process can create
  // and remove a file in it. The error names the path and the reason.
  Status CheckWritable() const;

  // Checks that the file system holding root has at least `min_free_bytes`
  // available to this process. Fails with kResourceExhausted
  // ("storage_full") naming the free and the required bytes, or with
  // kInternal ("data_dir_statfs") if the file system cannot be asked.
  Status CheckFreeSpace(uint64_t min_free_bytes) const;

 private:
  std::string root_;
};

// An advisory lock on a data directory (flock on DIR/lock, released when
// the process ends, even by a crash). custosd holds it exclusively on an
// SQLite archive (the log's tail lives in the process: a second writer
// would fork the log) and shared on a PostgreSQL one (several nodes may
// serve it). Offline commands that change keys or files take it
// exclusively, so they never run under a live server.
class DataDirLock {
 public:
  enum class Mode { kShared, kExclusive };
  // kConflict "data_dir_in_use" if another process holds a conflicting lock.
  static StatusOr<std::unique_ptr<DataDirLock>> Acquire(const DataDir& dir, Mode mode);
  ~DataDirLock();
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_;
};

// Creates `path` with mode 0700 if missing; fails if it exists as a non-directory.
Status EnsureDirectory(const std::string& path, unsigned mode = 0700);

// Writes `content` to a new file `path` with `mode`, refusing to replace an
// existing file (O_EXCL), and fsyncs it.
Status WriteNewFile(const std::string& path, const std::string& content, unsigned mode);

// Reads a whole (small) file.
StatusOr<std::string> ReadSmallFile(const std::string& path, size_t max_bytes = 1 << 20);

}  // namespace custos::storage
