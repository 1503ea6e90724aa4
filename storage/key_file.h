// Small secret key files made at first use: DATA/keys/factor.key
// (server/services/second_factor.h) and DATA/keys/index.key
// (storage/search_index.h). One code path creates and reads them all.
//
// Thread safety: the functions touch only the file named; two processes
// (or threads) racing to create the same file both end up reading the one
// that won (creation is O_EXCL).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace custos::storage {

// Loads the key file `path`, holding exactly `size` bytes, creating it with
// `size` random bytes if it is missing: mode 0600, created exclusively,
// written and fsynced together with its directory before this returns; the
// directory itself (0700) is created if missing, but not its parents.
// Refuses a file that is a symbolic link or not a regular file, or whose
// mode gives the group or others any access (kInternal "<name>_key_mode",
// the message says chmod 600), or that does not hold exactly `size` bytes
// (kDataLoss "<name>_key_bad"); other I/O failures are kInternal
// "<name>_key_io". `name` also names the key in messages ("the index key
// DATA/keys/index.key ..."). An existing file is never rewritten.
[[nodiscard]] StatusOr<std::vector<uint8_t>> LoadOrCreateKeyFile(const std::string& path, size_t size,
                                                                 const std::string& name);

}  // namespace custos::storage
