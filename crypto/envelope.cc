#include "crypto/envelope.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "crypto/random.h"

namespace custos::crypto {
namespace {

// Offsets inside the 44-byte header.
constexpr size_t kOffVersion = 4;
constexpr size_t kOffSuite = 5;
constexpr size_t kOffReserved = 6;
constexpr size_t kOffChunkSize = 8;
constexpr size_t kOffFileId = 12;
constexpr size_t kOffSalt = kOffFileId + kFileIdSize;
static_assert(kOffSalt + kEnvelopeSaltSize == kEnvelopeHeaderSize);

constexpr size_t kGcmNonceSize = 12;
constexpr size_t kSm4KeySize = 16;
constexpr size_t kSm4IvSize = 16;
constexpr size_t kHmacSm3KeySize = 32;
constexpr size_t kSm3Size = 32;

using Header = std::array<uint8_t, kEnvelopeHeaderSize>;

void PutU32(uint8_t* p, uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
void PutU64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
uint32_t GetU32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

Status CryptoFailure(std::string_view what) {
  return Internal("OpenSSL failed: " + std::string(what), std::string(kEnvelopeCryptoFailure));
}
Status DataError(std::string message, std::string_view reason) {
  return DataLoss(std::move(message), std::string(reason));
}
Status TagMismatch(uint64_t index) {
  return DataError("chunk " + std::to_string(index) + " failed authentication",
                   kEnvelopeChunkTagMismatch);
}

uint8_t SuiteId(Suite suite) {
  return suite == Suite::kIntl ? kEnvelopeSuiteIdIntl : kEnvelopeSuiteIdGm;
}

Status CheckKey(const SecretBytes& dek) {
  if (dek.size() != kEnvelopeKeySize) {
    return InvalidArgument("the data key must be 32 bytes", std::string(kEnvelopeBadKey));
  }
  return Status::Ok();
}

bool ChunkSizeInRange(uint64_t chunk_size) {
  return chunk_size >= kMinChunkSize && chunk_size <= kMaxChunkSize;
}

// HKDF (RFC 5869) with `digest`, IKM = DEK, salt = header salt,
// info = label ‖ header.
StatusOr<SecretBytes> DeriveKey(const char* digest, const SecretBytes& dek, const Header& header,
                                std::string_view label, size_t out_len) {
  Bytes info(label.begin(), label.end());
  info.insert(info.end(), header.begin(), header.end());
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kdf == nullptr) return CryptoFailure("fetch HKDF");
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (ctx == nullptr) return CryptoFailure("HKDF context");
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(digest), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(dek.data()),
                                        dek.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                        const_cast<uint8_t*>(header.data() + kOffSalt),
                                        kEnvelopeSaltSize),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end()};
  SecretBytes out(out_len);
  int rc = EVP_KDF_derive(ctx, out.data(), out.size(), params);
  EVP_KDF_CTX_free(ctx);
  if (rc != 1) return CryptoFailure("HKDF derive");
  return out;
}

// Encrypts or decrypts the chunks of one envelope. The per-chunk IV is built
// from (index, flag); `aad` is the full kChunkAadSize additional data.
class ChunkCipher {
 public:
  virtual ~ChunkCipher() = default;
  // Encrypts `n` bytes from `in` to `out` (which may equal `in`) and writes a
  // kChunkTagSize tag.
  virtual Status Seal(const uint8_t* aad, uint64_t index, uint8_t flag, const uint8_t* in,
                      size_t n, uint8_t* out, uint8_t* tag) = 0;
  // Verifies and decrypts in place. On a tag mismatch returns TagMismatch and
  // leaves no plaintext in `buf`.
  virtual Status Open(const uint8_t* aad, uint64_t index, uint8_t flag, uint8_t* buf, size_t n,
                      const uint8_t* tag) = 0;
};

// AES-256-GCM. Nonce = index:u64be ‖ 00 00 00 ‖ flag.
class GcmChunkCipher final : public ChunkCipher {
 public:
  ~GcmChunkCipher() override { EVP_CIPHER_CTX_free(ctx_); }

  static StatusOr<std::unique_ptr<ChunkCipher>> Create(const SecretBytes& dek,
                                                       const Header& header, bool encrypt) {
    CUSTOS_ASSIGN_OR_RETURN(SecretBytes key,
                            DeriveKey("SHA256", dek, header, kKdfLabelIntlKey, 32));
    auto c = std::unique_ptr<GcmChunkCipher>(new GcmChunkCipher());
    c->ctx_ = EVP_CIPHER_CTX_new();
    if (c->ctx_ == nullptr ||
        EVP_CipherInit_ex(c->ctx_, EVP_aes_256_gcm(), nullptr, key.data(), nullptr,
                          encrypt ? 1 : 0) != 1) {
      return CryptoFailure("AES-256-GCM init");
    }
    return std::unique_ptr<ChunkCipher>(std::move(c));
  }

  Status Seal(const uint8_t* aad, uint64_t index, uint8_t flag, const uint8_t* in, size_t n,
              uint8_t* out, uint8_t* tag) override {
    CUSTOS_RETURN_IF_ERROR(Start(aad, index, flag));
    int len = 0;
    if (n > 0 && EVP_EncryptUpdate(ctx_, out, &len, in, static_cast<int>(n)) != 1) {
      return CryptoFailure("AES-256-GCM encrypt");
    }
    if (EVP_EncryptFinal_ex(ctx_, out + len, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_GET_TAG, kChunkTagSize, tag) != 1) {
      return CryptoFailure("AES-256-GCM tag");
    }
    return Status::Ok();
  }

  Status Open(const uint8_t* aad, uint64_t index, uint8_t flag, uint8_t* buf, size_t n,
              const uint8_t* tag) override {
    CUSTOS_RETURN_IF_ERROR(Start(aad, index, flag));
    int len = 0;
    if (n > 0 && EVP_DecryptUpdate(ctx_, buf, &len, buf, static_cast<int>(n)) != 1) {
      SecureZero(buf, n);
      return CryptoFailure("AES-256-GCM decrypt");
    }
    if (EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_SET_TAG, kChunkTagSize,
                            const_cast<uint8_t*>(tag)) != 1) {
      SecureZero(buf, n);
      return CryptoFailure("AES-256-GCM set tag");
    }
    if (EVP_DecryptFinal_ex(ctx_, buf + len, &len) != 1) {
      SecureZero(buf, n);
      return TagMismatch(index);
    }
    return Status::Ok();
  }

 private:
  GcmChunkCipher() = default;

  Status Start(const uint8_t* aad, uint64_t index, uint8_t flag) {
    uint8_t nonce[kGcmNonceSize] = {};
    PutU64(nonce, index);
    nonce[kGcmNonceSize - 1] = flag;
    int len = 0;
    if (EVP_CipherInit_ex(ctx_, nullptr, nullptr, nullptr, nonce, -1) != 1 ||
        EVP_CipherUpdate(ctx_, nullptr, &len, aad, static_cast<int>(kChunkAadSize)) != 1) {
      return CryptoFailure("AES-256-GCM nonce");
    }
    return Status::Ok();
  }

  EVP_CIPHER_CTX* ctx_ = nullptr;
};

// SM4-CTR, then HMAC-SM3 over aad ‖ ciphertext truncated to kChunkTagSize.
// Counter block = index:u64be ‖ flag ‖ 00 00 00 ‖ block counter:u32be (from 0).
class Sm4HmacChunkCipher final : public ChunkCipher {
 public:
  ~Sm4HmacChunkCipher() override {
    EVP_CIPHER_CTX_free(cipher_);
    EVP_MAC_CTX_free(mac_);
  }

  static StatusOr<std::unique_ptr<ChunkCipher>> Create(const SecretBytes& dek,
                                                       const Header& header) {
    CUSTOS_ASSIGN_OR_RETURN(SecretBytes enc_key,
                            DeriveKey("SM3", dek, header, kKdfLabelGmEncKey, kSm4KeySize));
    CUSTOS_ASSIGN_OR_RETURN(SecretBytes mac_key,
                            DeriveKey("SM3", dek, header, kKdfLabelGmMacKey, kHmacSm3KeySize));
    auto c = std::unique_ptr<Sm4HmacChunkCipher>(new Sm4HmacChunkCipher());
    c->cipher_ = EVP_CIPHER_CTX_new();
    if (c->cipher_ == nullptr ||
        EVP_EncryptInit_ex(c->cipher_, EVP_sm4_ctr(), nullptr, enc_key.data(), nullptr) != 1) {
      return CryptoFailure("SM4-CTR init");
    }
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac == nullptr) return CryptoFailure("fetch HMAC");
    c->mac_ = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                            const_cast<char*>("SM3"), 0),
                           OSSL_PARAM_construct_end()};
    if (c->mac_ == nullptr ||
        EVP_MAC_init(c->mac_, mac_key.data(), mac_key.size(), params) != 1) {
      return CryptoFailure("HMAC-SM3 init");
    }
    return std::unique_ptr<ChunkCipher>(std::move(c));
  }

  Status Seal(const uint8_t* aad, uint64_t index, uint8_t flag, const uint8_t* in, size_t n,
              uint8_t* out, uint8_t* tag) override {
    CUSTOS_RETURN_IF_ERROR(Crypt(index, flag, in, n, out));
    uint8_t mac[kSm3Size];
    CUSTOS_RETURN_IF_ERROR(Mac(aad, out, n, mac));
    std::memcpy(tag, mac, kChunkTagSize);
    return Status::Ok();
  }

  Status Open(const uint8_t* aad, uint64_t index, uint8_t flag, uint8_t* buf, size_t n,
              const uint8_t* tag) override {
    uint8_t mac[kSm3Size];
    CUSTOS_RETURN_IF_ERROR(Mac(aad, buf, n, mac));
    if (CRYPTO_memcmp(mac, tag, kChunkTagSize) != 0) return TagMismatch(index);
    return Crypt(index, flag, buf, n, buf);
  }

 private:
  Sm4HmacChunkCipher() = default;

  Status Crypt(uint64_t index, uint8_t flag, const uint8_t* in, size_t n, uint8_t* out) {
    uint8_t iv[kSm4IvSize] = {};
    PutU64(iv, index);
    iv[8] = flag;
    int len = 0;
    if (EVP_EncryptInit_ex(cipher_, nullptr, nullptr, nullptr, iv) != 1 ||
        (n > 0 && EVP_EncryptUpdate(cipher_, out, &len, in, static_cast<int>(n)) != 1)) {
      return CryptoFailure("SM4-CTR");
    }
    return Status::Ok();
  }

  Status Mac(const uint8_t* aad, const uint8_t* ct, size_t n, uint8_t* mac) {
    size_t mac_len = 0;
    if (EVP_MAC_init(mac_, nullptr, 0, nullptr) != 1 ||
        EVP_MAC_update(mac_, aad, kChunkAadSize) != 1 ||
        (n > 0 && EVP_MAC_update(mac_, ct, n) != 1) ||
        EVP_MAC_final(mac_, mac, &mac_len, kSm3Size) != 1 || mac_len != kSm3Size) {
      return CryptoFailure("HMAC-SM3");
    }
    return Status::Ok();
  }

  EVP_CIPHER_CTX* cipher_ = nullptr;
  EVP_MAC_CTX* mac_ = nullptr;
};

StatusOr<std::unique_ptr<ChunkCipher>> MakeChunkCipher(Suite suite, const SecretBytes& dek,
                                                       const Header& header, bool encrypt) {
  if (suite == Suite::kIntl) return GcmChunkCipher::Create(dek, header, encrypt);
  return Sm4HmacChunkCipher::Create(dek, header);
}

// The per-chunk additional data: header ‖ index ‖ flag ‖ length.
class ChunkAad {
 public:
  explicit ChunkAad(const Header& header) {
    std::memcpy(bytes_.data(), header.data(), header.size());
  }
  const uint8_t* Set(uint64_t index, uint8_t flag, uint32_t length) {
    uint8_t* p = bytes_.data() + kEnvelopeHeaderSize;
    PutU64(p, index);
    p[8] = flag;
    PutU32(p + 9, length);
    return bytes_.data();
  }

 private:
  std::array<uint8_t, kChunkAadSize> bytes_{};
};

Header BuildHeader(Suite suite, uint32_t chunk_size, const FileId& file_id,
                   const uint8_t* salt) {
  Header h{};
  std::copy(kEnvelopeMagic.begin(), kEnvelopeMagic.end(), h.begin());
  h[kOffVersion] = kEnvelopeVersion;
  h[kOffSuite] = SuiteId(suite);
  PutU32(h.data() + kOffChunkSize, chunk_size);
  std::copy(file_id.begin(), file_id.end(), h.begin() + kOffFileId);
  std::memcpy(h.data() + kOffSalt, salt, kEnvelopeSaltSize);
  return h;
}

// Reads and validates a header; see EnvelopeReader::Open for the order.
StatusOr<Header> ReadHeader(ByteSource& source, const FileId& expected_file_id,
                            std::optional<Suite> expected_suite, Suite* suite) {
  Header h{};
  CUSTOS_ASSIGN_OR_RETURN(size_t got, ReadFull(source, h.data(), h.size()));
  size_t magic_len = std::min(got, kEnvelopeMagic.size());
  if (!std::equal(h.begin(), h.begin() + magic_len, kEnvelopeMagic.begin())) {
    return DataError("not an envelope (bad magic)", kEnvelopeBadMagic);
  }
  if (got < h.size()) return DataError("envelope header is truncated", kEnvelopeTruncated);
  if (h[kOffVersion] != kEnvelopeVersion) {
    return Unprocessable("unsupported envelope version " + std::to_string(h[kOffVersion]),
                         std::string(kEnvelopeUnsupportedVersion));
  }
  if (h[kOffSuite] == kEnvelopeSuiteIdIntl) {
    *suite = Suite::kIntl;
  } else if (h[kOffSuite] == kEnvelopeSuiteIdGm) {
    *suite = Suite::kGm;
  } else {
    return DataError("unknown envelope suite id", kEnvelopeUnknownSuite);
  }
  if (expected_suite.has_value() && *expected_suite != *suite) {
    return DataError("envelope suite is " + std::string(SuiteName(*suite)) + ", expected " +
                         std::string(SuiteName(*expected_suite)),
                     kEnvelopeWrongSuite);
  }
  if (h[kOffReserved] != 0 || h[kOffReserved + 1] != 0 ||
      !ChunkSizeInRange(GetU32(h.data() + kOffChunkSize))) {
    return DataError("malformed envelope header", kEnvelopeBadHeader);
  }
  if (!std::equal(expected_file_id.begin(), expected_file_id.end(), h.begin() + kOffFileId)) {
    return DataError("envelope belongs to another file", kEnvelopeWrongFileId);
  }
  return h;
}

}  // namespace

// ---- Suites ----

std::string_view SuiteName(Suite suite) { return suite == Suite::kIntl ? "intl" : "gm"; }

StatusOr<Suite> ParseSuite(std::string_view name) {
  if (name == "intl") return Suite::kIntl;
  if (name == "gm") return Suite::kGm;
  return InvalidArgument("unknown crypto suite (expected \"intl\" or \"gm\")", "unknown_suite");
}

uint64_t EnvelopeSize(uint64_t plaintext_size, uint32_t chunk_size) {
  uint64_t records = plaintext_size == 0 ? 1 : (plaintext_size + chunk_size - 1) / chunk_size;
  return kEnvelopeHeaderSize + records * kRecordOverhead + plaintext_size;
}

// ---- Writer ----

class EnvelopeWriter::Impl {
 public:
  Impl(const Header& header, std::unique_ptr<ChunkCipher> cipher, ByteSink* sink,
       uint32_t chunk_size)
      : aad(header), cipher(std::move(cipher)), sink(sink), record(chunk_size + kRecordOverhead) {}
  ~Impl() { SecureZero(record.data(), record.size()); }

  // Plaintext waits at record[kRecordHeaderSize...].
  uint8_t* payload() { return record.data() + kRecordHeaderSize; }

  ChunkAad aad;
  std::unique_ptr<ChunkCipher> cipher;
  ByteSink* sink;  // not owned
  Bytes record;    // flag ‖ length ‖ payload ‖ tag
};

StatusOr<std::unique_ptr<EnvelopeWriter>> EnvelopeWriter::Create(Suite suite,
                                                                  const SecretBytes& dek,
                                                                  const FileId& file_id,
                                                                  ByteSink* sink,
                                                                  uint32_t chunk_size) {
  CUSTOS_RETURN_IF_ERROR(CheckKey(dek));
  if (!ChunkSizeInRange(chunk_size)) {
    return InvalidArgument("chunk size out of range", std::string(kEnvelopeBadChunkSize));
  }
  if (sink == nullptr) return InvalidArgument("no sink");
  uint8_t salt[kEnvelopeSaltSize];
  CUSTOS_RETURN_IF_ERROR(RandomFill(salt, sizeof salt));
  Header header = BuildHeader(suite, chunk_size, file_id, salt);
  CUSTOS_ASSIGN_OR_RETURN(auto cipher, MakeChunkCipher(suite, dek, header, /*encrypt=*/true));
  CUSTOS_RETURN_IF_ERROR(sink->Write(header.data(), header.size()));
  auto impl = std::make_unique<Impl>(header, std::move(cipher), sink, chunk_size);
  auto w = std::unique_ptr<EnvelopeWriter>(new EnvelopeWriter(suite, chunk_size, std::move(impl)));
  w->ciphertext_size_ = header.size();
  return w;
}

EnvelopeWriter::EnvelopeWriter(Suite suite, uint32_t chunk_size, std::unique_ptr<Impl> impl)
    : suite_(suite), chunk_size_(chunk_size), impl_(std::move(impl)) {}

EnvelopeWriter::~EnvelopeWriter() = default;

size_t EnvelopeWriter::buffered_bytes_peak() const { return impl_->record.capacity(); }

Status EnvelopeWriter::Fail(Status s) {
  status_ = s;
  fill_ = 0;
  SecureZero(impl_->record.data(), impl_->record.size());
  return s;
}

// Encrypts `n` plaintext bytes from `plaintext` (the record buffer's payload
// or caller memory) into the record buffer and writes the record.
Status EnvelopeWriter::EmitRecord(uint8_t flag, const uint8_t* plaintext, size_t n) {
  if (next_index_ == std::numeric_limits<uint64_t>::max()) {
    return TooLarge("too many chunks for one envelope", "envelope_too_large");
  }
  uint8_t* rec = impl_->record.data();
  rec[0] = flag;
  PutU32(rec + 1, static_cast<uint32_t>(n));
  const uint8_t* aad = impl_->aad.Set(next_index_, flag, static_cast<uint32_t>(n));
  CUSTOS_RETURN_IF_ERROR(impl_->cipher->Seal(aad, next_index_, flag, plaintext, n,
                                             impl_->payload(), impl_->payload() + n));
  size_t record_len = kRecordOverhead + n;
  CUSTOS_RETURN_IF_ERROR(impl_->sink->Write(rec, record_len));
  ciphertext_size_ += record_len;
  ++next_index_;
  return Status::Ok();
}

Status EnvelopeWriter::Write(const uint8_t* p, size_t n) {
  if (!status_.ok()) return status_;
  if (finished_) {
    return Conflict("write after Finish", std::string(kEnvelopeWriterFinished));
  }
  while (n > 0) {
    // A full buffered chunk is written only now that we know more follows.
    if (fill_ == chunk_size_) {
      Status s = EmitRecord(kRecordFlagMore, impl_->payload(), fill_);
      if (!s.ok()) return Fail(s);
      fill_ = 0;
    }
    // Fast path: encrypt whole chunks straight from the caller's memory.
    if (fill_ == 0 && n > chunk_size_) {
      Status s = EmitRecord(kRecordFlagMore, p, chunk_size_);
      if (!s.ok()) return Fail(s);
      p += chunk_size_;
      n -= chunk_size_;
      plaintext_size_ += chunk_size_;
      continue;
    }
    size_t take = std::min<size_t>(chunk_size_ - fill_, n);
    std::memcpy(impl_->payload() + fill_, p, take);
    fill_ += take;
    p += take;
    n -= take;
    plaintext_size_ += take;
  }
  return Status::Ok();
}

Status EnvelopeWriter::Finish() {
  if (!status_.ok()) return status_;
  if (finished_) {
    return Conflict("Finish called twice", std::string(kEnvelopeWriterFinished));
  }
  Status s = EmitRecord(kRecordFlagFinal, impl_->payload(), fill_);
  if (!s.ok()) return Fail(s);
  fill_ = 0;
  finished_ = true;
  SecureZero(impl_->record.data(), impl_->record.size());
  return Status::Ok();
}

// ---- Reader ----

class EnvelopeReader::Impl {
 public:
  Impl(const Header& header, std::unique_ptr<ChunkCipher> cipher, uint32_t chunk_size)
      : aad(header), cipher(std::move(cipher)), chunk(chunk_size + kChunkTagSize) {}
  ~Impl() { SecureZero(chunk.data(), chunk.size()); }

  ChunkAad aad;
  std::unique_ptr<ChunkCipher> cipher;
  Bytes chunk;  // ciphertext ‖ tag, then verified plaintext in place
};

StatusOr<std::unique_ptr<EnvelopeReader>> EnvelopeReader::Open(const SecretBytes& dek,
                                                               const FileId& expected_file_id,
                                                               ByteSource* source,
                                                               std::optional<Suite> expected_suite) {
  CUSTOS_RETURN_IF_ERROR(CheckKey(dek));
  if (source == nullptr) return InvalidArgument("no source");
  Suite suite = Suite::kIntl;
  CUSTOS_ASSIGN_OR_RETURN(Header header,
                          ReadHeader(*source, expected_file_id, expected_suite, &suite));
  uint32_t chunk_size = GetU32(header.data() + kOffChunkSize);
  CUSTOS_ASSIGN_OR_RETURN(auto cipher, MakeChunkCipher(suite, dek, header, /*encrypt=*/false));
  auto impl = std::make_unique<Impl>(header, std::move(cipher), chunk_size);
  return std::unique_ptr<EnvelopeReader>(
      new EnvelopeReader(suite, chunk_size, source, std::move(impl)));
}

EnvelopeReader::EnvelopeReader(Suite suite, uint32_t chunk_size, ByteSource* source,
                               std::unique_ptr<Impl> impl)
    : suite_(suite), chunk_size_(chunk_size), source_(source), impl_(std::move(impl)) {}

EnvelopeReader::~EnvelopeReader() = default;

size_t EnvelopeReader::buffered_bytes_peak() const { return impl_->chunk.capacity(); }

Status EnvelopeReader::Fail(Status s) {
  status_ = s;
  pos_ = len_ = 0;
  SecureZero(impl_->chunk.data(), impl_->chunk.size());
  return s;
}

// Reads, verifies and decrypts the next record into the chunk buffer.
Status EnvelopeReader::LoadNextChunk() {
  uint8_t rh[kRecordHeaderSize];
  CUSTOS_ASSIGN_OR_RETURN(size_t got, ReadFull(*source_, rh, sizeof rh));
  if (got < sizeof rh) {
    return DataError("envelope ends before its final chunk", kEnvelopeTruncated);
  }
  uint8_t flag = rh[0];
  uint32_t length = GetU32(rh + 1);
  bool final = flag == kRecordFlagFinal;
  bool framing_ok = final ? (length <= chunk_size_ && (length > 0 || next_index_ == 0))
                          : (flag == kRecordFlagMore && length == chunk_size_);
  if (!framing_ok || next_index_ == std::numeric_limits<uint64_t>::max()) {
    return DataError("malformed chunk record " + std::to_string(next_index_),
                     kEnvelopeBadRecord);
  }
  uint8_t* buf = impl_->chunk.data();
  size_t want = size_t{length} + kChunkTagSize;
  CUSTOS_ASSIGN_OR_RETURN(got, ReadFull(*source_, buf, want));
  if (got < want) return DataError("envelope chunk is truncated", kEnvelopeTruncated);
  const uint8_t* aad = impl_->aad.Set(next_index_, flag, length);
  CUSTOS_RETURN_IF_ERROR(impl_->cipher->Open(aad, next_index_, flag, buf, length, buf + length));
  if (final) {
    uint8_t probe;
    CUSTOS_ASSIGN_OR_RETURN(size_t extra, source_->Read(&probe, 1));
    if (extra != 0) {
      return DataError("data follows the final chunk", kEnvelopeTrailingData);
    }
    done_ = true;
  }
  ++next_index_;
  pos_ = 0;
  len_ = length;
  return Status::Ok();
}

Status EnvelopeReader::Fill() {
  if (!status_.ok()) return status_;
  while (pos_ == len_) {
    if (done_) {
      if (len_ != 0) SecureZero(impl_->chunk.data(), len_);  // once, at the end
      pos_ = len_ = 0;
      return Status::Ok();
    }
    Status s = LoadNextChunk();
    if (!s.ok()) return Fail(s);
  }
  return Status::Ok();
}

StatusOr<size_t> EnvelopeReader::Read(uint8_t* p, size_t n) {
  if (!status_.ok()) return status_;
  if (n == 0) return size_t{0};
  CUSTOS_RETURN_IF_ERROR(Fill());
  size_t take = std::min(n, len_ - pos_);
  if (take > 0) std::memcpy(p, impl_->chunk.data() + pos_, take);
  pos_ += take;
  plaintext_read_ += take;
  return take;
}

StatusOr<std::span<const uint8_t>> EnvelopeReader::ReadChunk() {
  CUSTOS_RETURN_IF_ERROR(Fill());
  std::span<const uint8_t> view(impl_->chunk.data() + pos_, len_ - pos_);
  plaintext_read_ += view.size();
  pos_ = len_;
  return view;
}

// ---- Whole-buffer convenience ----

StatusOr<Bytes> SealAll(Suite suite, const SecretBytes& dek, const FileId& file_id,
                        const uint8_t* p, size_t n, uint32_t chunk_size) {
  StringSink sink;
  CUSTOS_ASSIGN_OR_RETURN(auto writer,
                          EnvelopeWriter::Create(suite, dek, file_id, &sink, chunk_size));
  CUSTOS_RETURN_IF_ERROR(writer->Write(p, n));
  CUSTOS_RETURN_IF_ERROR(writer->Finish());
  return sink.Release();
}

StatusOr<Bytes> OpenAll(const SecretBytes& dek, const FileId& expected_file_id,
                        const uint8_t* p, size_t n, std::optional<Suite> expected_suite) {
  MemorySource source(p, n);
  CUSTOS_ASSIGN_OR_RETURN(auto reader,
                          EnvelopeReader::Open(dek, expected_file_id, &source, expected_suite));
  // The plaintext is shorter than the envelope, so one allocation suffices
  // and no copy of plaintext is left behind in freed memory.
  Bytes out(n + 1);  // +1: a zero-length Read would look like the end
  size_t at = 0;
  for (;;) {
    StatusOr<size_t> r = reader->Read(out.data() + at, out.size() - at);
    if (!r.ok()) {
      SecureZero(out.data(), out.size());
      return r.status();
    }
    if (*r == 0) break;
    at += *r;
  }
  out.resize(at);
  return out;
}

}  // namespace custos::crypto
