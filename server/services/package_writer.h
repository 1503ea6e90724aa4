// The container of an audit package (docs/formats/audit-package.md, "The
// container"): a gzip-compressed POSIX pax tar, or a zip, written entry by
// entry to a ByteSink.
//
// Entry names are UTF-8 in both formats, whatever the process locale (the
// writer never consults it):
//   * tar: every name that is not plain ASCII or does not fit the 100-byte
//     ustar name field is given in a pax extended header ("path=", UTF-8 by
//     POSIX); the ustar field holds an ASCII stand-in;
//   * zip: general purpose bit 11 (language encoding flag: the name is
//     UTF-8) on every entry, and for a name that is not plain ASCII the
//     Info-ZIP Unicode Path extra field (0x7075) as well, for readers that
//     ignore bit 11. Zip64 extra fields and end records are written where a
//     size, offset or count needs them. File data is deflated and followed
//     by a data descriptor; each entry also carries its modification time
//     in UTC (extra field 0x5455).
//
// Thread safety: one writer is used by one thread at a time.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>

#include "common/status.h"
#include "common/byte_stream.h"

namespace custos::services {

enum class PackageFormat { kTarGz, kZip };

class PackageWriter {
 public:
  // A writer of `format` whose every byte goes to `out`, in order; `out`
  // must outlive the writer. Nothing reaches `out` before the first entry.
  static std::unique_ptr<PackageWriter> Create(PackageFormat format, ByteSink& out);
  virtual ~PackageWriter();

  // An empty directory entry; `path` ends with '/'.
  virtual Status Directory(const std::string& path, time_t mtime) = 0;

  // Starts a regular file entry of exactly `size` bytes, to be given by
  // Data() calls. Fails (kInternal) when the previous entry's data did not
  // add up to its size.
  virtual Status Begin(const std::string& path, uint64_t size, time_t mtime) = 0;
  // Appends to the current file entry; more bytes than its size fail.
  virtual Status Data(const void* p, size_t n) = 0;

  // A whole file entry.
  Status Small(const std::string& path, const std::string& content, time_t mtime);

  // Ends the last entry and writes the archive's trailer (tar end blocks
  // and the end of the gzip stream; the zip central directory). The writer
  // takes no entries afterwards.
  virtual Status Close() = 0;

  // Errors: a failure of `out` is returned unchanged, and the package is
  // then to be abandoned; so is it after any other failure.
};

}  // namespace custos::services
