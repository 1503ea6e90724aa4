#include "common/byte_stream.h"

#include <algorithm>
#include <cstring>

namespace custos {

ByteSink::~ByteSink() = default;
ByteSource::~ByteSource() = default;

StatusOr<size_t> ReadFull(ByteSource& source, uint8_t* p, size_t n) {
  size_t got = 0;
  while (got < n) {
    CUSTOS_ASSIGN_OR_RETURN(size_t r, source.Read(p + got, n - got));
    if (r == 0) break;
    got += r;
  }
  return got;
}

Status StringSink::Write(const uint8_t* p, size_t n) {
  if (n > 0) data_.insert(data_.end(), p, p + n);
  return Status::Ok();
}

std::vector<uint8_t> StringSink::Release() {
  std::vector<uint8_t> out = std::move(data_);
  data_.clear();
  return out;
}

StatusOr<size_t> MemorySource::Read(uint8_t* p, size_t n) {
  size_t r = std::min(n, n_ - pos_);
  if (r > 0) std::memcpy(p, p_ + pos_, r);
  pos_ += r;
  return r;
}

}  // namespace custos
