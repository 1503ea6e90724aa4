// Streaming envelope encryption of file content (DESIGN §6).
//
// Every stored file is encrypted under its own random 256-bit data key (DEK)
// as a sequence of fixed-size authenticated chunks, so a file of any size
// streams through bounded memory and no plaintext is ever released from a
// chunk whose tag has not verified. The byte format, the key derivation and a
// worked example are in docs/formats/envelope.md; every constant it names is
// defined below.
//
//   envelope = header record* final-record
//   header   = "CSTE" version:u8 suite:u8 reserved:u16 chunk_size:u32be
//              file_id[16] salt[16]                              (44 bytes)
//   record   = flag:u8 length:u32be ciphertext[length] tag[16]
//
// Per file, the chunk keys are derived from the DEK, the random salt and the
// whole header, so the header is authenticated by every chunk. Each chunk's
// nonce and additional data bind its 64-bit index and a final-chunk flag:
// truncation, dropped or reordered chunks, chunks spliced from another file
// (same DEK or not), data appended after the final chunk and a modified header
// are all detected. An empty file is one final chunk with no plaintext.
//
// Suites:
//   intl — AES-256-GCM, 16-byte tag; subkey by HKDF-SHA256.
//   gm   — SM4-CTR then HMAC-SM3 over (additional data ‖ ciphertext),
//          truncated to 16 bytes (encrypt-then-MAC); subkeys by HKDF-SM3.
//
// Thread safety: an EnvelopeWriter or EnvelopeReader is used by one thread at a
// time; distinct objects are independent. SealAll/OpenAll are thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "common/status.h"
#include "crypto/bytes.h"
#include "common/byte_stream.h"

namespace custos::crypto {

// ---- Format constants (docs/formats/envelope.md) ----

inline constexpr std::array<uint8_t, 4> kEnvelopeMagic = {'C', 'S', 'T', 'E'};
inline constexpr uint8_t kEnvelopeVersion = 1;
inline constexpr uint8_t kEnvelopeSuiteIdIntl = 0x01;
inline constexpr uint8_t kEnvelopeSuiteIdGm = 0x02;
inline constexpr size_t kEnvelopeKeySize = 32;  // DEK length
inline constexpr size_t kFileIdSize = 16;
inline constexpr size_t kEnvelopeSaltSize = 16;
// magic(4) version(1) suite(1) reserved(2) chunk_size(4) file_id salt
inline constexpr size_t kEnvelopeHeaderSize = 4 + 1 + 1 + 2 + 4 + kFileIdSize + kEnvelopeSaltSize;
static_assert(kEnvelopeHeaderSize == 44);

inline constexpr uint32_t kDefaultChunkSize = 64 * 1024;
inline constexpr uint32_t kMinChunkSize = 16;
inline constexpr uint32_t kMaxChunkSize = 16 * 1024 * 1024;

inline constexpr uint8_t kRecordFlagMore = 0x00;   // more chunks follow
inline constexpr uint8_t kRecordFlagFinal = 0x01;  // the last chunk
inline constexpr size_t kRecordHeaderSize = 1 + 4;  // flag, length
inline constexpr size_t kChunkTagSize = 16;
inline constexpr size_t kRecordOverhead = kRecordHeaderSize + kChunkTagSize;

// Per-chunk additional data: header ‖ index:u64be ‖ flag ‖ length:u32be.
inline constexpr size_t kChunkAadSize = kEnvelopeHeaderSize + 8 + kRecordHeaderSize;

// HKDF info labels; the full 44-byte header follows the label in `info`.
inline constexpr std::string_view kKdfLabelIntlKey = "custos/envelope/v1/intl/aes-256-gcm";
inline constexpr std::string_view kKdfLabelGmEncKey = "custos/envelope/v1/gm/sm4-ctr";
inline constexpr std::string_view kKdfLabelGmMacKey = "custos/envelope/v1/gm/hmac-sm3";

// ---- Stable failure reasons (Status::reason()) ----

// Caller mistakes (ErrorCode::kInvalidArgument) and misuse (kConflict).
inline constexpr std::string_view kEnvelopeBadKey = "envelope_bad_key";
inline constexpr std::string_view kEnvelopeBadChunkSize = "envelope_bad_chunk_size";
inline constexpr std::string_view kEnvelopeWriterFinished = "envelope_writer_finished";
// Problems with the stored bytes (kDataLoss unless noted).
inline constexpr std::string_view kEnvelopeBadMagic = "envelope_bad_magic";
inline constexpr std::string_view kEnvelopeUnsupportedVersion =
    "envelope_unsupported_version";  // kUnprocessable
inline constexpr std::string_view kEnvelopeUnknownSuite = "envelope_unknown_suite";
inline constexpr std::string_view kEnvelopeWrongSuite = "envelope_wrong_suite";
inline constexpr std::string_view kEnvelopeBadHeader = "envelope_bad_header";
inline constexpr std::string_view kEnvelopeWrongFileId = "envelope_wrong_file_id";
inline constexpr std::string_view kEnvelopeTruncated = "envelope_truncated";
inline constexpr std::string_view kEnvelopeBadRecord = "envelope_bad_record";
inline constexpr std::string_view kEnvelopeChunkTagMismatch = "envelope_chunk_tag_mismatch";
inline constexpr std::string_view kEnvelopeTrailingData = "envelope_trailing_data";
// An OpenSSL call failed unexpectedly (kInternal).
inline constexpr std::string_view kEnvelopeCryptoFailure = "envelope_crypto_failure";

// ---- Suites and identifiers ----

enum class Suite { kIntl, kGm };

// "intl" or "gm".
std::string_view SuiteName(Suite suite);
// Parses "intl" or "gm" (exactly, lower case); otherwise kInvalidArgument
// with reason "unknown_suite".
StatusOr<Suite> ParseSuite(std::string_view name);

// The 16-byte identifier of a stored file, bound into every chunk.
using FileId = std::array<uint8_t, kFileIdSize>;

// Exact envelope length for `plaintext_size` bytes at `chunk_size`:
// header + max(1, ceil(size / chunk_size)) records.
uint64_t EnvelopeSize(uint64_t plaintext_size, uint32_t chunk_size);

// ---- Writer ----

// Encrypts a stream into an envelope written to a ByteSink. Holds one chunk
// of plaintext at most: memory does not grow with the file size.
class EnvelopeWriter final : public ByteSink {
 public:
  // Checks the arguments, derives the chunk keys and writes the header to
  // `*sink`. `dek` must be kEnvelopeKeySize bytes (else kEnvelopeBadKey) and
  // is not retained; `chunk_size` must be in [kMinChunkSize, kMaxChunkSize]
  // (else kEnvelopeBadChunkSize). `sink` is not owned and must outlive the
  // writer. Sink errors are returned unchanged.
  static StatusOr<std::unique_ptr<EnvelopeWriter>> Create(
      Suite suite, const SecretBytes& dek, const FileId& file_id, ByteSink* sink,
      uint32_t chunk_size = kDefaultChunkSize);

  ~EnvelopeWriter() override;
  EnvelopeWriter(const EnvelopeWriter&) = delete;
  EnvelopeWriter& operator=(const EnvelopeWriter&) = delete;

  // Appends `n` plaintext bytes (any n, including 0). Complete chunks are
  // encrypted and written to the sink as soon as more data follows them.
  // Fails with kEnvelopeWriterFinished after Finish(); after any failure the
  // writer is broken and every later call returns the same error.
  Status Write(const uint8_t* p, size_t n) override;

  // Encrypts and writes the final chunk. Without a successful Finish() the
  // sink holds an envelope that readers reject as truncated. Calling it
  // twice fails with kEnvelopeWriterFinished.
  [[nodiscard]] Status Finish();

  Suite suite() const { return suite_; }
  uint32_t chunk_size() const { return chunk_size_; }
  // Plaintext bytes accepted by Write() so far.
  uint64_t plaintext_size() const { return plaintext_size_; }
  // Envelope bytes written to the sink so far (header included). After
  // Finish() it equals EnvelopeSize(plaintext_size(), chunk_size()).
  uint64_t ciphertext_size() const { return ciphertext_size_; }
  bool finished() const { return finished_; }
  // Bytes of internal buffering held; allocated once at creation and never
  // grown: chunk_size() + kRecordOverhead.
  size_t buffered_bytes_peak() const;

 private:
  class Impl;
  EnvelopeWriter(Suite suite, uint32_t chunk_size, std::unique_ptr<Impl> impl);
  Status EmitRecord(uint8_t flag, const uint8_t* plaintext, size_t n);
  Status Fail(Status s);

  Suite suite_;
  uint32_t chunk_size_;
  std::unique_ptr<Impl> impl_;
  size_t fill_ = 0;  // plaintext bytes waiting in the record buffer
  uint64_t next_index_ = 0;
  uint64_t plaintext_size_ = 0;
  uint64_t ciphertext_size_ = 0;
  bool finished_ = false;
  Status status_;  // first failure; sticky
};

// ---- Reader ----

// Decrypts an envelope read from a ByteSource. Plaintext is released only
// from chunks whose tag verified; each chunk is decrypted into an internal
// buffer of one chunk, so memory does not grow with the file size.
class EnvelopeReader final : public ByteSource {
 public:
  // Reads and checks the header from `*source`. Fails with, in this order of
  // checking: kEnvelopeTruncated (fewer than kEnvelopeHeaderSize bytes,
  // including empty input, whose bytes match the magic so far),
  // kEnvelopeBadMagic, kEnvelopeUnsupportedVersion, kEnvelopeUnknownSuite,
  // kEnvelopeWrongSuite (only if `expected_suite` is given and differs),
  // kEnvelopeBadHeader (reserved bits set or chunk size out of range),
  // kEnvelopeWrongFileId; kEnvelopeBadKey if `dek` is not kEnvelopeKeySize
  // bytes. `dek` is not retained. `source` is not owned and must outlive the
  // reader; its errors are returned unchanged.
  static StatusOr<std::unique_ptr<EnvelopeReader>> Open(
      const SecretBytes& dek, const FileId& expected_file_id, ByteSource* source,
      std::optional<Suite> expected_suite = std::nullopt);

  ~EnvelopeReader() override;  // wipes buffered plaintext
  EnvelopeReader(const EnvelopeReader&) = delete;
  EnvelopeReader& operator=(const EnvelopeReader&) = delete;

  // Copies up to `n` bytes of verified plaintext into `p` and returns how
  // many; returns 0 (for n > 0) only once the final chunk has verified and
  // the source has ended. Failures: kEnvelopeTruncated (the source ended
  // before the final chunk was complete), kEnvelopeBadRecord (malformed
  // record framing), kEnvelopeChunkTagMismatch (wrong key, modified bytes,
  // reordered or spliced chunks, modified header), kEnvelopeTrailingData
  // (bytes after the final chunk; the final chunk's plaintext is withheld),
  // or a source error. After a failure every later call returns that error.
  StatusOr<size_t> Read(uint8_t* p, size_t n) override;

  // Zero-copy alternative to Read(): a view of the verified plaintext not yet
  // returned from the current chunk, or of the whole next chunk if the
  // current one is used up. Empty only at end of stream (as Read() returning
  // 0). The view points into the reader's buffer and stays valid until the
  // next Read(), ReadChunk() or the reader's destruction. Same failures as
  // Read(); Read() and ReadChunk() may be mixed.
  StatusOr<std::span<const uint8_t>> ReadChunk();

  Suite suite() const { return suite_; }
  uint32_t chunk_size() const { return chunk_size_; }
  // Plaintext bytes returned by Read() and ReadChunk() so far.
  uint64_t plaintext_read() const { return plaintext_read_; }
  // True once Read() has returned end of stream.
  bool at_end() const { return done_ && pos_ == len_; }
  // Bytes of internal buffering held; allocated once at Open() and never
  // grown: chunk_size() + kChunkTagSize.
  size_t buffered_bytes_peak() const;

 private:
  class Impl;
  EnvelopeReader(Suite suite, uint32_t chunk_size, ByteSource* source,
                 std::unique_ptr<Impl> impl);
  Status LoadNextChunk();
  // Loads chunks until plaintext is buffered or the stream has ended.
  Status Fill();
  Status Fail(Status s);

  Suite suite_;
  uint32_t chunk_size_;
  ByteSource* source_;  // not owned
  std::unique_ptr<Impl> impl_;
  size_t pos_ = 0;  // next plaintext byte to hand out
  size_t len_ = 0;  // verified plaintext bytes in the buffer
  uint64_t next_index_ = 0;
  uint64_t plaintext_read_ = 0;
  bool done_ = false;  // the final chunk has verified
  Status status_;      // first failure; sticky
};

// ---- Whole-buffer convenience (small payloads, tests) ----

// Seals `n` bytes at `p` into a complete envelope. Same failures as
// EnvelopeWriter::Create.
StatusOr<Bytes> SealAll(Suite suite, const SecretBytes& dek, const FileId& file_id,
                        const uint8_t* p, size_t n,
                        uint32_t chunk_size = kDefaultChunkSize);
inline StatusOr<Bytes> SealAll(Suite suite, const SecretBytes& dek, const FileId& file_id,
                               const Bytes& plaintext,
                               uint32_t chunk_size = kDefaultChunkSize) {
  return SealAll(suite, dek, file_id, plaintext.data(), plaintext.size(), chunk_size);
}

// Opens a complete envelope and returns all of its plaintext, or the first
// failure EnvelopeReader::Open/Read reports (never partial plaintext).
StatusOr<Bytes> OpenAll(const SecretBytes& dek, const FileId& expected_file_id,
                        const uint8_t* p, size_t n,
                        std::optional<Suite> expected_suite = std::nullopt);
inline StatusOr<Bytes> OpenAll(const SecretBytes& dek, const FileId& expected_file_id,
                               const Bytes& envelope,
                               std::optional<Suite> expected_suite = std::nullopt) {
  return OpenAll(dek, expected_file_id, envelope.data(), envelope.size(), expected_suite);
}

}  // namespace custos::crypto
