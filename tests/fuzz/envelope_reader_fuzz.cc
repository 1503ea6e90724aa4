// Fuzz target for EnvelopeReader (crypto/envelope.h,
// docs/formats/envelope.md). The input is read as an envelope under a fixed
// all-zero DEK and a fixed file id, first accepting either suite and then
// insisting on each; the reader must never crash, hand out more plaintext
// than the input could hold, or succeed and then fail. The input is also
// sealed and reopened under both suites and must round-trip exactly.
//
// The seeds in corpus/envelope_reader/ were made with the same key and id.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>

#include "crypto/envelope.h"
#include "common/byte_stream.h"

namespace {

using custos::crypto::Bytes;
using custos::crypto::FileId;
using custos::crypto::SecretBytes;
using custos::crypto::Suite;

constexpr FileId kFuzzFileId = {'c', 'u', 's', 't', 'o', 's', '-', 'f',
                                'u', 'z', 'z', '-', 'f', 'i', 'l', 'e'};
constexpr uint32_t kFuzzChunkSize = 64;

void Check(bool condition) {
  if (!condition) std::abort();
}

void ReadAll(const SecretBytes& dek, const uint8_t* data, size_t size,
             std::optional<Suite> expected_suite) {
  custos::MemorySource source(data, size);
  auto reader = custos::crypto::EnvelopeReader::Open(dek, kFuzzFileId, &source, expected_suite);
  if (!reader.ok()) return;
  uint8_t buf[777];
  size_t total = 0;
  for (;;) {
    auto n = (*reader)->Read(buf, sizeof buf);
    if (!n.ok()) {
      Check(!(*reader)->Read(buf, sizeof buf).ok());  // failures are sticky
      return;
    }
    if (*n == 0) break;
    total += *n;
    Check(total <= size);
  }
  Check((*reader)->at_end());
  Check(total == (*reader)->plaintext_read());
  Check(custos::crypto::EnvelopeSize(total, (*reader)->chunk_size()) == size);
}

void RoundTrip(const SecretBytes& dek, Suite suite, const uint8_t* data, size_t size) {
  auto sealed = custos::crypto::SealAll(suite, dek, kFuzzFileId, data, size, kFuzzChunkSize);
  Check(sealed.ok());
  auto opened = custos::crypto::OpenAll(dek, kFuzzFileId, *sealed, suite);
  Check(opened.ok());
  Check(opened->size() == size && (size == 0 || std::equal(data, data + size, opened->begin())));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const SecretBytes dek(Bytes(custos::crypto::kEnvelopeKeySize, 0));
  ReadAll(dek, data, size, std::nullopt);
  ReadAll(dek, data, size, Suite::kIntl);
  ReadAll(dek, data, size, Suite::kGm);
  if (size <= 4096) {
    RoundTrip(dek, Suite::kIntl, data, size);
    RoundTrip(dek, Suite::kGm, data, size);
  }
  return 0;
}
