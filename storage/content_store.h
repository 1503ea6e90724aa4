// ContentStore: plaintext in, encrypted blob out, and back (DESIGN §6).
//
// Put() streams a file's plaintext through a fresh random data key (DEK) and
// the envelope writer (crypto/envelope.h, docs/formats/envelope.md) into a
// new blob, hashing the plaintext on the way, and commits the blob durably
// before returning. The caller stores the returned StoredContent (blob id,
// file id, size, digests, KEK id, wrapped DEK) in the database commit that
// references the blob (DESIGN §7). The DEK itself is never returned or
// stored: only its wrapped form, so deleting the wrapped DEK destroys the
// content (crypto-shredding).
//
// Open() gives back a stream that releases only authenticated plaintext and,
// at the end, also checks the plaintext's SHA-256 against the recorded value.
// Fixity() decrypts and hashes a whole blob without returning content.
//
// Memory: every operation streams through one kContentCopyBufferSize buffer
// (plus the envelope's one-chunk buffer); Put() of content larger than
// 256 KiB through four buffers of 256 KiB, which a second thread hashes,
// encrypts and writes while the caller's thread fills the next (one such
// thread per Put() at a time, for its duration). Nothing grows with the
// file size.
//
// Thread safety: a ContentStore holds no mutable state; it is safe for
// concurrent use as long as its BlobStore and KeyProvider are (both
// interfaces promise that). A source returned by Open() is used by one thread
// at a time. The BlobStore and KeyProvider must outlive the ContentStore and
// every source it returned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "crypto/envelope.h"
#include "crypto/key_provider.h"
#include "common/byte_stream.h"
#include "storage/blob_store.h"
#include "domain/model.h"

namespace custos::storage {

// Plaintext is copied through a buffer of this size.
inline constexpr size_t kContentCopyBufferSize = 64 * 1024;

// ---- Stable failure reasons (Status::reason()) ----

// kTooLarge: the plaintext is longer than Put()'s max_bytes.
inline constexpr std::string_view kFileTooLarge = "file_too_large";
// kNotFound: the file's wrapped DEK is empty; its content was destroyed.
inline constexpr std::string_view kContentDestroyed = "content_destroyed";
// kDataLoss: the decrypted plaintext does not have the recorded SHA-256.
inline constexpr std::string_view kContentHashMismatch = "content_hash_mismatch";
// kInvalidArgument: a file id that is not 32 hex characters.
inline constexpr std::string_view kInvalidFileId = "invalid_file_id";
// kInvalidArgument: an expected SHA-256 that is not 64 hex characters.
inline constexpr std::string_view kInvalidSha256 = "invalid_sha256";

// What Put() stored: everything the database keeps about the content.
struct StoredContent {
  domain::BlobId blob_id;
  domain::FileId file_id;      // 32 lower-hex characters; bound into every envelope chunk
  uint64_t size = 0;   // plaintext bytes
  std::string sha256;  // lower-hex SHA-256 of the plaintext
  std::string sm3;     // lower-hex SM3 of the plaintext; empty unless the suite is gm
  std::string kek_id;  // the KEK that wrapped the DEK
  std::vector<uint8_t> wrapped_dek;
};

// Put() turned around, for content that is produced rather than read (an
// audit package written by a library): the caller writes plaintext into the
// writer, which encrypts it under a fresh DEK and file id on the way into a
// new blob, then commits. Destroying a writer that has not committed
// discards the blob (nothing of it remains). Thread safety: one thread at a
// time; the writer must not outlive its ContentStore.
class ContentWriter : public ByteSink {
 public:
  ~ContentWriter() override;
  // Encrypts and appends `n` bytes. Failures: those of the blob store
  // (kResourceExhausted / kStorageFull, kInternal / kBlobIo); after one,
  // and after Commit(), every call fails.
  Status Write(const uint8_t* p, size_t n) override = 0;
  // Ends the envelope and commits the blob durably; returns what Put()
  // returns. Same failures as Write(); the blob is discarded on failure.
  [[nodiscard]] virtual StatusOr<StoredContent> Commit() = 0;
};

// What every derived file id's hash input starts with (18 bytes, the NUL
// included; docs/formats/envelope.md "Derived data").
inline constexpr std::string_view kDerivedIdDomain{"custos-derived-v1\0", 18};

// The file id that data derived from file `file_id` for `purpose` is
// sealed under: the first 16 bytes of SHA-256(kDerivedIdDomain + purpose +
// "\0" + file_id), file_id as its 32 lower-case hex characters.
crypto::FileId DerivedFileId(const domain::FileId& file_id, std::string_view purpose);

class ContentStore {
 public:
  // `blobs` and `keys` are not owned and must outlive this object. `suite`
  // encrypts new content; Open() and Fixity() read blobs of either suite (the
  // envelope header names it and every chunk authenticates the header), so an
  // installation that switched suites still reads its older files.
  ContentStore(BlobStore& blobs, const crypto::KeyProvider& keys, crypto::Suite suite);

  crypto::Suite suite() const { return suite_; }

  // Reads `plaintext` to its end and stores it encrypted under a fresh DEK
  // and a fresh random file id, in a new blob that is committed (durable)
  // before this returns. Failures, after which no blob and no temp file of
  // this call remain:
  //   kTooLarge / kFileTooLarge   more than `max_bytes` bytes of plaintext;
  //   kResourceExhausted / kStorageFull, kInternal / kBlobIo   from the store;
  //   errors of `plaintext` (passed through unchanged) and of the key
  //   provider (crypto/key_provider.h).
  StatusOr<StoredContent> Put(ByteSource& plaintext, uint64_t max_bytes);

  // A writer for new content (see ContentWriter), with its blob started.
  // Failures: those of the blob store and the key provider.
  StatusOr<std::unique_ptr<ContentWriter>> Create();

  // A stream of the plaintext of a stored file. Checks, in this order:
  //   wrapped_dek empty             kNotFound / kContentDestroyed;
  //   malformed file id or hash     kInvalidArgument / kInvalidFileId,
  //                                 kInvalidSha256;
  //   unwrapping the DEK            kNotFound / kKekUnknown,
  //                                 kDataLoss / kDekUnwrapFailed;
  //   the blob                      kBlobInvalidId, kBlobNotFound, kBlobIo;
  //   the envelope header           the EnvelopeReader::Open failures
  //                                 (e.g. kEnvelopeWrongFileId, kDataLoss).
  // The stream's Read() releases only plaintext whose chunk verified, and
  // fails with the EnvelopeReader::Read failures (e.g. kDataLoss /
  // kEnvelopeChunkTagMismatch for a modified byte, kEnvelopeTruncated). At
  // the end, instead of reporting end of stream, Read() fails with kDataLoss /
  // kContentHashMismatch if the plaintext's SHA-256 differs from
  // `expected_sha256` (hex), so no caller sees a "complete" stream of wrong
  // bytes. Failures are sticky.
  StatusOr<std::unique_ptr<ByteSource>> Open(const domain::BlobId& blob_id, const domain::FileId& file_id,
                                                     const std::string& kek_id,
                                                     const std::vector<uint8_t>& wrapped_dek,
                                                     const std::string& expected_sha256);
  // The same for a stored file's recorded fields.
  StatusOr<std::unique_ptr<ByteSource>> Open(const domain::StoredFile& file);

  // Decrypts the whole blob, discarding the plaintext, and returns its
  // SHA-256 as lower-case hex (for fixity checks: the caller compares it with
  // the recorded value). Same failures as Open() and the stream's Read(),
  // without the hash comparison.
  StatusOr<std::string> Fixity(const domain::BlobId& blob_id, const domain::FileId& file_id,
                               const std::string& kek_id, const std::vector<uint8_t>& wrapped_dek);
  StatusOr<std::string> Fixity(const domain::StoredFile& file);

  // Data derived from a stored file (its extracted text, a preview),
  // sealed under that file's own DEK, so that deleting the file's wrapped
  // DEK (a destruction) shreds it too. The envelope
  // (docs/formats/envelope.md) is bound to a derived file id, the first 16
  // bytes of SHA-256("custos-derived-v1\0" + purpose + "\0" + file id), so
  // derived data cannot pass for the file or for another purpose, and each
  // seal has its own random salt. Failures: those of Open() for the DEK
  // (kContentDestroyed, kKekUnknown, kDekUnwrapFailed); OpenDerived also
  // the envelope's (kDataLoss for sealed bytes of another file or
  // purpose, or changed).
  StatusOr<std::vector<uint8_t>> SealDerived(const domain::StoredFile& file, std::string_view purpose,
                                             std::string_view plaintext);
  StatusOr<std::string> OpenDerived(const domain::StoredFile& file, std::string_view purpose,
                                    const std::vector<uint8_t>& sealed);

 private:
  // The file's DEK, unwrapped; the checks of Open() before the blob.
  StatusOr<crypto::SecretBytes> DerivedKey(const domain::StoredFile& file);

  class DecryptingSource;
  StatusOr<std::unique_ptr<DecryptingSource>> OpenDecrypting(
      const domain::BlobId& blob_id, const domain::FileId& file_id, const std::string& kek_id,
      const std::vector<uint8_t>& wrapped_dek);

  BlobStore& blobs_;                 // not owned
  const crypto::KeyProvider& keys_;  // not owned
  const crypto::Suite suite_;
};

}  // namespace custos::storage
