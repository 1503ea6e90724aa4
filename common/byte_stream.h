// Narrow byte-stream interfaces: where content goes to and comes from —
// encrypted blobs, uploads read from a request body, packages written to a
// response. Storage implements them over files, crypto encrypts through them,
// the HTTP layer reads multipart bodies as a ByteSource; tests and small
// payloads use the in-memory StringSink and MemorySource below.
//
// Thread safety: none of these objects may be used from two threads at once
// without external synchronisation; distinct objects are independent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/status.h"

namespace custos {

// Somewhere to write bytes.
class ByteSink {
 public:
  virtual ~ByteSink();

  // Writes all `n` bytes at `p` (n may be 0), or fails. After a failure the
  // sink's contents are unspecified: callers abandon the stream.
  virtual Status Write(const uint8_t* p, size_t n) = 0;
};

// Somewhere to read bytes from.
class ByteSource {
 public:
  virtual ~ByteSource();

  // Reads up to `n` bytes into `p` and returns how many were read. For n > 0
  // the result is 0 only at end of stream; a short count (0 < r < n) does not
  // by itself mean end of stream. For n == 0 it returns 0 and reads nothing.
  virtual StatusOr<size_t> Read(uint8_t* p, size_t n) = 0;
};

// Reads from `source` until `n` bytes are in `p` or the stream ends. Returns
// the number read: n, or less only at end of stream. Errors from `source`
// are passed through unchanged.
StatusOr<size_t> ReadFull(ByteSource& source, uint8_t* p, size_t n);

// A ByteSink that appends everything to an in-memory buffer. Never fails.
class StringSink final : public ByteSink {
 public:
  Status Write(const uint8_t* p, size_t n) override;

  const std::vector<uint8_t>& data() const { return data_; }
  // Moves the collected bytes out, leaving the sink empty.
  std::vector<uint8_t> Release();

 private:
  std::vector<uint8_t> data_;
};

// A ByteSource over a caller-owned buffer, which must stay alive and unchanged
// while the source is in use. Never fails. Reads return min(n, remaining).
class MemorySource final : public ByteSource {
 public:
  MemorySource(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  explicit MemorySource(const std::vector<uint8_t>& b) : p_(b.data()), n_(b.size()) {}

  StatusOr<size_t> Read(uint8_t* p, size_t n) override;

  // Bytes not yet read.
  size_t remaining() const { return n_ - pos_; }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
};

}  // namespace custos
