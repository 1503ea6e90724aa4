#include "storage/content_store.h"

#include <algorithm>
#include <array>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include "crypto/bytes.h"
#include "crypto/hash.h"
#include "crypto/random.h"

namespace custos::storage {

namespace {

StatusOr<crypto::FileId> ParseFileId(const domain::FileId& id) {
  std::optional<crypto::Bytes> raw = crypto::HexDecode(id.value);
  if (!raw || raw->size() != crypto::kFileIdSize) {
    return InvalidArgument(
        "file id must be " + std::to_string(2 * crypto::kFileIdSize) + " hex characters",
        std::string(kInvalidFileId));
  }
  crypto::FileId out{};
  std::copy(raw->begin(), raw->end(), out.begin());
  return out;
}

StatusOr<crypto::Digest32> ParseSha256(const std::string& hex) {
  std::optional<crypto::Bytes> raw = crypto::HexDecode(hex);
  if (!raw || raw->size() != crypto::kDigestSize) {
    return InvalidArgument(
        "sha256 must be " + std::to_string(2 * crypto::kDigestSize) + " hex characters",
        std::string(kInvalidSha256));
  }
  crypto::Digest32 out{};
  std::copy(raw->begin(), raw->end(), out.begin());
  return out;
}

Status DestroyedError(const domain::FileId& file_id) {
  return NotFound("the content of file " + file_id.value + " has been destroyed",
                  std::string(kContentDestroyed));
}

// The plaintext digests Put() records: SHA-256 always, SM3 for the gm suite.
class PlaintextDigests {
 public:
  explicit PlaintextDigests(crypto::Suite suite) {
    if (suite == crypto::Suite::kGm) sm3_.emplace();
  }
  void Update(const uint8_t* p, size_t n) {
    sha256_.Update(p, n);
    if (sm3_) sm3_->Update(p, n);
  }
  std::string Sha256Hex() { return crypto::HexEncode(sha256_.Finish()); }
  std::string Sm3Hex() { return sm3_ ? crypto::HexEncode(sm3_->Finish()) : std::string(); }

 private:
  crypto::Sha256 sha256_;
  std::optional<crypto::Sm3> sm3_;
};

// Copies `source` to its end into `sink` (kFileTooLarge once more than
// `max_bytes` arrived), in two stages for content larger than one buffer:
// the calling thread reads (for an upload: TLS decryption and the multipart
// scan) into one of kPipelineBuffers buffers of kPipelineBufferSize while a
// second thread writes the buffers already filled into `sink` (hashing,
// encryption and the blob's writes), so neither waits for the other.
// Content that fits in the first buffer is written by the calling thread,
// with no second thread. The buffers hold plaintext and are wiped before
// they are freed. After the writer fails the reader stops at its next
// buffer; after the reader fails the writer ends once the buffers already
// filled are written (the caller then discards the blob). The sink is used
// by one thread at a time: the writer thread, until it is joined.
class PipelinedCopy {
 public:
  PipelinedCopy(ByteSource& source, uint64_t max_bytes, ByteSink& sink)
      : source_(source), max_bytes_(max_bytes), sink_(sink) {}
  ~PipelinedCopy() {
    Stop();
    for (Buffer& b : buffers_) {
      if (b.data) crypto::SecureZero(b.data.get(), b.used_peak);
    }
  }
  PipelinedCopy(const PipelinedCopy&) = delete;
  PipelinedCopy& operator=(const PipelinedCopy&) = delete;

  Status Run() {
    Buffer& first = Take(0);
    bool end = false;
    CUSTOS_RETURN_IF_ERROR(Fill(first, end, /*whole=*/true));
    if (end) return first.used ? sink_.Write(first.data.get(), first.used) : Status::Ok();
    try {
      writer_ = std::thread([this] { WriteLoop(); });
    } catch (const std::system_error&) {
      return Serial(first);  // no thread to be had: one stage
    }
    Push(0);
    for (size_t next = 1; !end; next = (next + 1) % kPipelineBuffers) {
      Buffer* b = Acquire(next);
      if (b == nullptr) break;  // the writer failed
      Status filled = Fill(*b, end);
      if (!filled.ok()) {
        Stop();
        return filled;
      }
      Push(next);
    }
    Stop();
    std::lock_guard<std::mutex> lock(mu_);
    return write_status_;
  }

 private:
  static constexpr size_t kPipelineBufferSize = 256 * 1024;
  static constexpr size_t kPipelineBuffers = 4;
  static constexpr size_t kMinRead = 64 * 1024;

  struct Buffer {
    std::unique_ptr<uint8_t[]> data;
    size_t used = 0;
    size_t used_peak = 0;  // how much of it ever held plaintext
    bool full = false;     // filled, not yet written (GUARDED_BY(mu_))
  };

  Buffer& Take(size_t i) {
    if (!buffers_[i].data) buffers_[i].data.reset(new uint8_t[kPipelineBufferSize]);
    return buffers_[i];
  }

  // Reads into `b` until the source ends (`end`), or until it is full
  // (`whole`) or has less than kMinRead left: a smaller Read() may cost the
  // source a copy (MultipartReader reads large ones straight into the
  // buffer). The first buffer is filled whole, so content that fits in it
  // is never handed to a second thread.
  Status Fill(Buffer& b, bool& end, bool whole = false) {
    b.used = 0;
    while (b.used < kPipelineBufferSize && (whole || kPipelineBufferSize - b.used >= kMinRead)) {
      CUSTOS_ASSIGN_OR_RETURN(size_t r, source_.Read(b.data.get() + b.used, kPipelineBufferSize - b.used));
      if (r == 0) {
        end = true;
        break;
      }
      b.used += r;
      b.used_peak = std::max(b.used_peak, b.used);
      total_ += r;
      if (total_ > max_bytes_) {
        return TooLarge("file is larger than the limit of " + std::to_string(max_bytes_) + " bytes",
                        std::string(kFileTooLarge))
            .WithParam("maxBytes", max_bytes_);
      }
    }
    return Status::Ok();
  }

  // The one-stage copy, after the first buffer was filled.
  Status Serial(Buffer& b) {
    bool end = false;
    while (true) {
      CUSTOS_RETURN_IF_ERROR(sink_.Write(b.data.get(), b.used));
      if (end) return Status::Ok();
      CUSTOS_RETURN_IF_ERROR(Fill(b, end));
    }
  }

  // Waits until buffer i is free (written); nullptr once the writer failed.
  Buffer* Acquire(size_t i) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !buffers_[i].full || !write_status_.ok(); });
    if (!write_status_.ok()) return nullptr;
    lock.unlock();
    return &Take(i);
  }

  void Push(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    buffers_[i].full = true;
    cv_.notify_all();
  }

  // Ends the writer thread once it has written every buffer pushed, or
  // at once after it failed.
  void Stop() {
    if (!writer_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      cv_.notify_all();
    }
    writer_.join();
  }

  void WriteLoop() {
    for (size_t i = 0;; i = (i + 1) % kPipelineBuffers) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return buffers_[i].full || done_; });
      if (!buffers_[i].full) return;  // done_ and nothing more to write
      lock.unlock();
      Status s;
      try {
        s = sink_.Write(buffers_[i].data.get(), buffers_[i].used);
      } catch (const std::exception& e) {  // e.g. bad_alloc: not to end the process here
        s = Internal(std::string("content writer: ") + e.what());
      }
      lock.lock();
      buffers_[i].full = false;
      if (!s.ok()) write_status_ = s;
      cv_.notify_all();
      if (!s.ok()) return;
    }
  }

  ByteSource& source_;
  const uint64_t max_bytes_;
  ByteSink& sink_;
  uint64_t total_ = 0;
  std::array<Buffer, kPipelineBuffers> buffers_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;    // GUARDED_BY(mu_): no more buffers will be pushed
  Status write_status_;  // GUARDED_BY(mu_): the writer's first failure
  std::thread writer_;
};

// The one ContentWriter: plaintext → digests and envelope → blob.
class EncryptingWriter final : public ContentWriter {
 public:
  EncryptingWriter(crypto::Suite suite, crypto::FileId file_id, crypto::WrappedKey wrapped,
                   std::unique_ptr<BlobWriter> blob)
      : digests_(suite), file_id_(file_id), wrapped_(std::move(wrapped)), blob_(std::move(blob)) {}

  Status Open(crypto::Suite suite, const crypto::SecretBytes& dek) {
    CUSTOS_ASSIGN_OR_RETURN(envelope_, crypto::EnvelopeWriter::Create(suite, dek, file_id_, blob_.get()));
    return Status::Ok();
  }

  Status Write(const uint8_t* p, size_t n) override {
    CUSTOS_RETURN_IF_ERROR(status_);
    digests_.Update(p, n);
    size_ += n;
    return Check(envelope_->Write(p, n));
  }

  StatusOr<StoredContent> Commit() override {
    CUSTOS_RETURN_IF_ERROR(status_);
    CUSTOS_RETURN_IF_ERROR(Check(envelope_->Finish()));
    CUSTOS_RETURN_IF_ERROR(Check(blob_->Commit()));
    status_ = Conflict("the content writer has committed", std::string(kBlobWriterCommitted));
    StoredContent out;
    out.blob_id = blob_->id();
    out.file_id = domain::FileId{crypto::HexEncode(file_id_.data(), file_id_.size())};
    out.size = size_;
    out.sha256 = digests_.Sha256Hex();
    out.sm3 = digests_.Sm3Hex();
    out.kek_id = std::move(wrapped_.kek_id);
    out.wrapped_dek = std::move(wrapped_.wrapped);
    return out;
  }

 private:
  Status Check(Status s) {
    if (!s.ok()) status_ = s;
    return s;
  }

  PlaintextDigests digests_;
  crypto::FileId file_id_;
  crypto::WrappedKey wrapped_;
  uint64_t size_ = 0;
  std::unique_ptr<BlobWriter> blob_;
  // Declared after `blob_`, so destroyed before it; an uncommitted blob
  // writer discards the blob when destroyed.
  std::unique_ptr<crypto::EnvelopeWriter> envelope_;
  Status status_;  // first failure, or "committed"; sticky
};

}  // namespace

// Decrypts a blob and hashes the plaintext it releases; optionally checks the
// hash at the end of the stream.
class ContentStore::DecryptingSource final : public ByteSource {
 public:
  // Opens the envelope over the blob (checks its header and file id).
  static StatusOr<std::unique_ptr<DecryptingSource>> Create(
      std::unique_ptr<ByteSource> blob, const crypto::SecretBytes& dek,
      const crypto::FileId& file_id) {
    std::unique_ptr<DecryptingSource> s(new DecryptingSource(std::move(blob)));
    CUSTOS_ASSIGN_OR_RETURN(s->reader_, crypto::EnvelopeReader::Open(dek, file_id, s->blob_.get()));
    return s;
  }

  void ExpectSha256(const crypto::Digest32& expected) { expected_ = expected; }

  StatusOr<size_t> Read(uint8_t* p, size_t n) override {
    CUSTOS_RETURN_IF_ERROR(status_);
    StatusOr<size_t> r = reader_->Read(p, n);
    if (!r.ok()) return Fail(r.status());
    if (*r > 0) {
      sha256_.Update(p, *r);
    } else if (n > 0 && !finished_) {
      finished_ = true;
      digest_ = sha256_.Finish();
      if (expected_ && *expected_ != digest_) {
        return Fail(DataLoss("decrypted content does not match its recorded SHA-256",
                             std::string(kContentHashMismatch)));
      }
    }
    return r;
  }

  // SHA-256 of the whole plaintext; valid once Read() has reported the end.
  const crypto::Digest32& digest() const { return digest_; }

 private:
  explicit DecryptingSource(std::unique_ptr<ByteSource> blob) : blob_(std::move(blob)) {}

  Status Fail(Status s) {
    status_ = s;
    return s;
  }

  std::unique_ptr<ByteSource> blob_;        // read by reader_
  std::unique_ptr<crypto::EnvelopeReader> reader_;  // declared after blob_: destroyed first
  crypto::Sha256 sha256_;
  crypto::Digest32 digest_{};
  std::optional<crypto::Digest32> expected_;
  bool finished_ = false;
  Status status_;  // first failure; sticky
};

ContentStore::ContentStore(BlobStore& blobs, const crypto::KeyProvider& keys, crypto::Suite suite)
    : blobs_(blobs), keys_(keys), suite_(suite) {}

ContentWriter::~ContentWriter() = default;

StatusOr<std::unique_ptr<ContentWriter>> ContentStore::Create() {
  crypto::FileId file_id{};
  CUSTOS_RETURN_IF_ERROR(crypto::RandomFill(file_id.data(), file_id.size()));
  CUSTOS_ASSIGN_OR_RETURN(crypto::SecretBytes dek, keys_.NewDataKey());
  CUSTOS_ASSIGN_OR_RETURN(crypto::WrappedKey wrapped, keys_.Wrap(dek));
  CUSTOS_ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> blob, blobs_.Create());
  auto writer = std::make_unique<EncryptingWriter>(suite_, file_id, std::move(wrapped), std::move(blob));
  CUSTOS_RETURN_IF_ERROR(writer->Open(suite_, dek));
  dek.Clear();
  return std::unique_ptr<ContentWriter>(std::move(writer));
}

StatusOr<StoredContent> ContentStore::Put(ByteSource& plaintext, uint64_t max_bytes) {
  CUSTOS_ASSIGN_OR_RETURN(std::unique_ptr<ContentWriter> writer, Create());
  PipelinedCopy copy(plaintext, max_bytes, *writer);
  CUSTOS_RETURN_IF_ERROR(copy.Run());
  return writer->Commit();
}

StatusOr<std::unique_ptr<ContentStore::DecryptingSource>> ContentStore::OpenDecrypting(
    const domain::BlobId& blob_id, const domain::FileId& file_id, const std::string& kek_id,
    const std::vector<uint8_t>& wrapped_dek) {
  if (wrapped_dek.empty()) return DestroyedError(file_id);
  CUSTOS_ASSIGN_OR_RETURN(crypto::FileId raw_file_id, ParseFileId(file_id));
  CUSTOS_ASSIGN_OR_RETURN(crypto::SecretBytes dek,
                          keys_.Unwrap(crypto::WrappedKey{kek_id, wrapped_dek}));
  CUSTOS_ASSIGN_OR_RETURN(std::unique_ptr<ByteSource> blob, blobs_.Open(blob_id));
  return DecryptingSource::Create(std::move(blob), dek, raw_file_id);
}

StatusOr<std::unique_ptr<ByteSource>> ContentStore::Open(
    const domain::BlobId& blob_id, const domain::FileId& file_id, const std::string& kek_id,
    const std::vector<uint8_t>& wrapped_dek, const std::string& expected_sha256) {
  if (wrapped_dek.empty()) return DestroyedError(file_id);
  CUSTOS_ASSIGN_OR_RETURN(crypto::Digest32 expected, ParseSha256(expected_sha256));
  CUSTOS_ASSIGN_OR_RETURN(std::unique_ptr<DecryptingSource> source,
                          OpenDecrypting(blob_id, file_id, kek_id, wrapped_dek));
  source->ExpectSha256(expected);
  return std::unique_ptr<ByteSource>(std::move(source));
}

StatusOr<std::unique_ptr<ByteSource>> ContentStore::Open(const domain::StoredFile& file) {
  return Open(file.blob_id, file.id, file.kek_id, file.wrapped_dek, file.sha256);
}

StatusOr<std::string> ContentStore::Fixity(const domain::BlobId& blob_id, const domain::FileId& file_id,
                                           const std::string& kek_id,
                                           const std::vector<uint8_t>& wrapped_dek) {
  CUSTOS_ASSIGN_OR_RETURN(std::unique_ptr<DecryptingSource> source,
                          OpenDecrypting(blob_id, file_id, kek_id, wrapped_dek));
  crypto::SecretBytes buffer(kContentCopyBufferSize);
  for (;;) {
    CUSTOS_ASSIGN_OR_RETURN(size_t r, source->Read(buffer.data(), buffer.size()));
    if (r == 0) break;
  }
  return crypto::HexEncode(source->digest());
}

StatusOr<std::string> ContentStore::Fixity(const domain::StoredFile& file) {
  return Fixity(file.blob_id, file.id, file.kek_id, file.wrapped_dek);
}

crypto::FileId DerivedFileId(const domain::FileId& file_id, std::string_view purpose) {
  std::string input(kDerivedIdDomain);
  input.append(purpose);
  input.push_back('\0');
  input.append(file_id.value);
  const crypto::Digest32 digest = crypto::Sha256Of(input);
  crypto::FileId out{};
  std::copy(digest.begin(), digest.begin() + out.size(), out.begin());
  return out;
}

StatusOr<crypto::SecretBytes> ContentStore::DerivedKey(const domain::StoredFile& file) {
  if (file.wrapped_dek.empty()) return DestroyedError(file.id);
  CUSTOS_RETURN_IF_ERROR(ParseFileId(file.id).status());
  return keys_.Unwrap(crypto::WrappedKey{file.kek_id, file.wrapped_dek});
}

StatusOr<std::vector<uint8_t>> ContentStore::SealDerived(const domain::StoredFile& file, std::string_view purpose,
                                                         std::string_view plaintext) {
  CUSTOS_ASSIGN_OR_RETURN(crypto::SecretBytes dek, DerivedKey(file));
  return crypto::SealAll(suite_, dek, DerivedFileId(file.id, purpose),
                         reinterpret_cast<const uint8_t*>(plaintext.data()), plaintext.size());
}

StatusOr<std::string> ContentStore::OpenDerived(const domain::StoredFile& file, std::string_view purpose,
                                                const std::vector<uint8_t>& sealed) {
  CUSTOS_ASSIGN_OR_RETURN(crypto::SecretBytes dek, DerivedKey(file));
  CUSTOS_ASSIGN_OR_RETURN(crypto::Bytes plaintext,
                          crypto::OpenAll(dek, DerivedFileId(file.id, purpose), sealed.data(), sealed.size()));
  std::string out(plaintext.begin(), plaintext.end());
  crypto::SecureZero(plaintext.data(), plaintext.size());
  return out;
}

}  // namespace custos::storage
