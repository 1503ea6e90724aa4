// Durable file copies for custosctl backup and restore.
//
// Every file is created new (O_EXCL: nothing is ever overwritten), gets
// exactly the requested mode (fchmod, so the umask does not matter), and is
// fsynced before it is closed. Directories are created with an exact mode.
// Callers fsync the directories they filled (FsyncDirectory) once their
// entries are complete; CopyTree does that itself for the trees it copies.
//
// Failures name the path and the system's reason:
//   kNotFound "copy_source_missing"     the source does not exist
//   kConflict "copy_target_exists"      the target exists already
//   kResourceExhausted "storage_full"   ENOSPC, EDQUOT, EFBIG
//   kInvalidArgument "copy_not_regular" a source that is neither a regular
//                                       file nor a directory (symlinks are
//                                       followed)
//   kInternal "copy_failed"             any other error
//
// Thread safety: stateless functions.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"

namespace custos::admin {

// Copies are read and written in pieces of this size.
inline constexpr size_t kCopyBufferSize = 256 * 1024;

bool PathExists(const std::string& path);
bool IsDirectory(const std::string& path);
// True if `path` is a directory with no entries besides "." and "..".
bool IsEmptyDirectory(const std::string& path);

// Makes the entries created, renamed or removed in the directory `path`
// durable (fsync on the directory).
Status FsyncDirectory(const std::string& path);

// Creates the directory `path` with exactly `mode`. With `must_be_new`, an
// existing path is kConflict "copy_target_exists"; otherwise an existing
// directory is accepted as it is.
Status MakeDirectory(const std::string& path, unsigned mode, bool must_be_new);

// Copies the file `from` into the new file `to` with `mode`, fsynced.
// Returns the number of bytes copied. A partly written target is removed.
StatusOr<uint64_t> CopyFileDurably(const std::string& from, const std::string& to, unsigned mode);

// Counts of a CopyTree.
struct TreeCopy {
  uint64_t files = 0;
  uint64_t bytes = 0;
};

// Copies the directory tree `from` into `to` (created with `dir_mode` if
// missing; so are its subdirectories). Each file gets file_mode(relative
// path, e.g. "kek/current"). Every directory of the target is fsynced after
// its entries were written.
StatusOr<TreeCopy> CopyTree(const std::string& from, const std::string& to, unsigned dir_mode,
                            const std::function<unsigned(const std::string&)>& file_mode);

}  // namespace custos::admin
