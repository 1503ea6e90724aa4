// Cryptographically secure random bytes from the operating system's CSPRNG
// (through OpenSSL's RAND_bytes). Thread-safe.
#pragma once

#include "common/status.h"
#include "crypto/bytes.h"

namespace custos::crypto {

// Fills `n` bytes at `out`. Fails only if the CSPRNG is unavailable.
Status RandomFill(uint8_t* out, size_t n);
// `n` random bytes, or an error.
StatusOr<Bytes> RandomBytes(size_t n);
// A random identifier: `n` random bytes as lower-case hex (2n characters).
StatusOr<std::string> RandomHexId(size_t n);

}  // namespace custos::crypto
