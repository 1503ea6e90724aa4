// Tests of ContentStore (storage/content_store.h): round trips in both
// suites over both blob stores, and every way a stored file can fail to read
// back — modified blob bytes, wrong or destroyed keys, wrong ids, a wrong
// recorded hash — plus the size limit and a full disk.
#include "storage/content_store.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "crypto/bytes.h"
#include "crypto/envelope.h"
#include "crypto/key_provider.h"
#include "crypto/random.h"
#include "storage/blob_store.h"
#include "tests/testutil/memory_blob_store.h"
#include "tests/testutil/testutil.h"

namespace custos::storage {
namespace {

namespace fs = std::filesystem;
using crypto::Bytes;

// FIPS 180-2, Appendix B.1: SHA-256("abc").
constexpr const char* kSha256Abc =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
// GB/T 32905-2016, Appendix A.1: SM3("abc").
constexpr const char* kSm3Abc = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0";
// FIPS 180-2: SHA-256("").
constexpr const char* kSha256Empty =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

constexpr uint64_t kNoLimit = UINT64_MAX;

Bytes Pattern(size_t n, uint32_t seed) {
  Bytes b(n);
  uint32_t x = seed * 2654435761u + 7;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    b[i] = static_cast<uint8_t>(x >> 24);
  }
  return b;
}

// SHA-256 straight from OpenSSL, independent of crypto/hash.h.
std::string IndependentSha256(const Bytes& data) {
  uint8_t md[SHA256_DIGEST_LENGTH];
  ::SHA256(data.data(), data.size(), md);
  return crypto::HexEncode(md, sizeof md);
}

std::unique_ptr<crypto::LocalKeyProvider> NewKeyProvider() {
  auto key = crypto::RandomBytes(crypto::kKekSize);
  auto kek = crypto::MakeKek(crypto::SecretBytes(std::move(*key)));
  return std::move(crypto::LocalKeyProvider::Create(std::move(*kek)).value());
}

// Reads to the end in `piece`-byte reads. On failure returns the status and
// leaves in *got the plaintext released before it.
Status ReadAll(ByteSource& source, Bytes* got, size_t piece = 4096) {
  got->clear();
  Bytes buf(piece);
  for (;;) {
    StatusOr<size_t> r = source.Read(buf.data(), buf.size());
    if (!r.ok()) return r.status();
    if (*r == 0) return Status::Ok();
    got->insert(got->end(), buf.begin(), buf.begin() + *r);
  }
}

void ExpectStatus(const Status& s, ErrorCode code, std::string_view reason) {
  EXPECT_EQ(s.code(), code) << s.ToString();
  EXPECT_EQ(s.reason(), reason) << s.ToString();
}

// A plaintext source that fails after `good` bytes (a client that went away).
class FailingSource final : public ByteSource {
 public:
  explicit FailingSource(size_t good) : data_(Pattern(good, 99)), source_(data_) {}
  StatusOr<size_t> Read(uint8_t* p, size_t n) override {
    if (source_.remaining() == 0) return Status(ErrorCode::kUnavailable, "gone", "client_gone");
    return source_.Read(p, n);
  }

 private:
  Bytes data_;
  MemorySource source_;
};

enum class Kind { kFile, kMemory };
using Param = std::tuple<crypto::Suite, Kind>;

class ContentStoreTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    if (kind() == Kind::kFile) {
      auto store = FileBlobStore::OpenDirectory(dir_.path());
      ASSERT_TRUE(store.ok()) << store.status().ToString();
      file_ = store->get();
      blobs_ = std::move(*store);
    } else {
      memory_ = new MemoryBlobStore();
      blobs_.reset(memory_);
    }
    keys_ = NewKeyProvider();
    content_ = std::make_unique<ContentStore>(*blobs_, *keys_, suite());
  }

  crypto::Suite suite() const { return std::get<0>(GetParam()); }
  Kind kind() const { return std::get<1>(GetParam()); }

  StoredContent PutOk(const Bytes& data) {
    MemorySource source(data);
    auto stored = content_->Put(source, kNoLimit);
    EXPECT_TRUE(stored.ok()) << stored.status().ToString();
    return stored.ok() ? *stored : StoredContent{};
  }

  StatusOr<std::unique_ptr<ByteSource>> OpenStored(const StoredContent& c) {
    return content_->Open(c.blob_id, c.file_id, c.kek_id, c.wrapped_dek, c.sha256);
  }

  // Flips one stored byte of blob `id`, through whichever store is in use.
  void CorruptBlob(const domain::BlobId& id, uint64_t offset) {
    if (memory_ != nullptr) {
      ASSERT_TRUE(memory_->CorruptByte(id, offset).ok());
      return;
    }
    std::fstream f(file_->BlobPath(id), std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good());
    f.seekg(static_cast<std::streamoff>(offset));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(offset));
    f.put(static_cast<char>(c ^ 0x01));
    ASSERT_TRUE(f.good());
  }

  Bytes BlobBytes(const domain::BlobId& id) {
    auto source = blobs_->Open(id);
    EXPECT_TRUE(source.ok());
    Bytes out;
    if (source.ok()) {
      EXPECT_TRUE(ReadAll(**source, &out).ok());
    }
    return out;
  }

  // Nothing stored, nothing half-written.
  void ExpectStoreEmpty() {
    EXPECT_TRUE(blobs_->List()->empty());
    if (file_ != nullptr) {
      EXPECT_TRUE(fs::is_empty(file_->TempDir()));
    }
    if (memory_ != nullptr) {
      EXPECT_EQ(memory_->open_writers(), 0);
    }
  }

  custos::testing::TempDir dir_;
  std::unique_ptr<BlobStore> blobs_;
  FileBlobStore* file_ = nullptr;      // blobs_, when files
  MemoryBlobStore* memory_ = nullptr;  // blobs_, when in memory
  std::unique_ptr<crypto::LocalKeyProvider> keys_;
  std::unique_ptr<ContentStore> content_;
};

TEST_P(ContentStoreTest, RoundTripSizes) {
  const size_t chunk = crypto::kDefaultChunkSize;
  const size_t sizes[] = {0, 1, chunk - 1, chunk, chunk + 1, (1u << 20) + 1, 3 * (1u << 20) + 17};
  uint32_t seed = 0;
  for (size_t size : sizes) {
    SCOPED_TRACE(size);
    Bytes data = Pattern(size, ++seed);
    StoredContent c = PutOk(data);
    EXPECT_EQ(c.size, size);
    EXPECT_EQ(c.sha256, IndependentSha256(data));
    EXPECT_EQ(c.sm3.empty(), suite() == crypto::Suite::kIntl);
    EXPECT_EQ(c.kek_id, keys_->current_kek_id());
    EXPECT_EQ(c.wrapped_dek.size(), crypto::kDataKeySize + crypto::kKeyWrapOverhead);
    EXPECT_EQ(c.file_id.value.size(), 32u);
    EXPECT_EQ(*blobs_->Size(c.blob_id), crypto::EnvelopeSize(size, crypto::kDefaultChunkSize));

    auto source = OpenStored(c);
    ASSERT_TRUE(source.ok()) << source.status().ToString();
    Bytes got;
    ASSERT_TRUE(ReadAll(**source, &got, 100000).ok());
    EXPECT_TRUE(got == data);
    // End of stream stays end of stream.
    uint8_t b;
    EXPECT_EQ(*(*source)->Read(&b, 1), 0u);

    auto fixity = content_->Fixity(c.blob_id, c.file_id, c.kek_id, c.wrapped_dek);
    ASSERT_TRUE(fixity.ok()) << fixity.status().ToString();
    EXPECT_EQ(*fixity, c.sha256);
  }
  EXPECT_EQ(blobs_->List()->size(), std::size(sizes));
}

TEST_P(ContentStoreTest, KnownDigests) {
  StoredContent abc = PutOk(crypto::ToBytes("abc"));
  EXPECT_EQ(abc.sha256, kSha256Abc);
  EXPECT_EQ(abc.sm3, suite() == crypto::Suite::kGm ? kSm3Abc : "");
  StoredContent empty = PutOk({});
  EXPECT_EQ(empty.sha256, kSha256Empty);
}

TEST_P(ContentStoreTest, BlobHoldsNoPlaintext) {
  Bytes data = Pattern(200000, 3);
  StoredContent c = PutOk(data);
  Bytes blob = BlobBytes(c.blob_id);
  ASSERT_GT(blob.size(), data.size());
  // The header names the suite; no 16-byte window of plaintext appears.
  EXPECT_EQ(blob[5], suite() == crypto::Suite::kGm ? crypto::kEnvelopeSuiteIdGm
                                                   : crypto::kEnvelopeSuiteIdIntl);
  for (size_t at : {size_t{0}, size_t{65536}, size_t{150000}}) {
    auto it = std::search(blob.begin(), blob.end(), data.begin() + at, data.begin() + at + 16);
    EXPECT_TRUE(it == blob.end()) << "plaintext at " << at << " found in the blob";
  }
  // Two puts of the same plaintext give unrelated blobs (fresh key, file id).
  StoredContent again = PutOk(data);
  EXPECT_NE(again.blob_id, c.blob_id);
  EXPECT_NE(again.file_id, c.file_id);
  EXPECT_NE(again.wrapped_dek, c.wrapped_dek);
  EXPECT_EQ(again.sha256, c.sha256);
}

TEST_P(ContentStoreTest, OpenStoredFileRecord) {
  Bytes data = Pattern(70000, 4);
  StoredContent c = PutOk(data);
  domain::StoredFile file;
  file.id = c.file_id;
  file.blob_id = c.blob_id;
  file.kek_id = c.kek_id;
  file.wrapped_dek = c.wrapped_dek;
  file.sha256 = c.sha256;
  auto source = content_->Open(file);
  ASSERT_TRUE(source.ok());
  Bytes got;
  ASSERT_TRUE(ReadAll(**source, &got, 1).ok());  // byte by byte
  EXPECT_TRUE(got == data);
  EXPECT_EQ(*content_->Fixity(file), c.sha256);
}

TEST_P(ContentStoreTest, TamperedChunkByte) {
  const size_t chunk = crypto::kDefaultChunkSize;
  Bytes data = Pattern(3 * chunk, 5);
  StoredContent c = PutOk(data);
  // A ciphertext byte inside the second record.
  const uint64_t second_record = crypto::kEnvelopeHeaderSize + crypto::kRecordOverhead + chunk;
  CorruptBlob(c.blob_id, second_record + crypto::kRecordHeaderSize + 1000);

  auto source = OpenStored(c);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  Bytes got;
  Status s = ReadAll(**source, &got);
  EXPECT_EQ(s.code(), ErrorCode::kDataLoss) << s.ToString();
  EXPECT_EQ(s.reason(), crypto::kEnvelopeChunkTagMismatch);
  // Only the first, intact chunk was released — none of the modified one.
  ASSERT_EQ(got.size(), chunk);
  EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin()));
  // The failure is sticky.
  uint8_t b;
  EXPECT_EQ((*source)->Read(&b, 1).status().reason(), crypto::kEnvelopeChunkTagMismatch);

  auto fixity = content_->Fixity(c.blob_id, c.file_id, c.kek_id, c.wrapped_dek);
  ExpectStatus(fixity.status(), ErrorCode::kDataLoss, crypto::kEnvelopeChunkTagMismatch);
}

TEST_P(ContentStoreTest, TamperedTag) {
  Bytes data = Pattern(1000, 6);
  StoredContent c = PutOk(data);
  uint64_t size = *blobs_->Size(c.blob_id);
  CorruptBlob(c.blob_id, size - 1);  // last byte of the final tag
  auto source = OpenStored(c);
  ASSERT_TRUE(source.ok());
  Bytes got;
  ExpectStatus(ReadAll(**source, &got), ErrorCode::kDataLoss, crypto::kEnvelopeChunkTagMismatch);
  EXPECT_TRUE(got.empty());
}

TEST_P(ContentStoreTest, TamperedHeaderFileId) {
  StoredContent c = PutOk(Pattern(1000, 7));
  CorruptBlob(c.blob_id, 12);  // first byte of the file id in the header
  ExpectStatus(OpenStored(c).status(), ErrorCode::kDataLoss, crypto::kEnvelopeWrongFileId);
}

TEST_P(ContentStoreTest, WrongWrappedKey) {
  StoredContent c = PutOk(Pattern(1000, 9));
  std::vector<uint8_t> wrapped = c.wrapped_dek;
  wrapped[10] ^= 0x01;
  ExpectStatus(content_->Open(c.blob_id, c.file_id, c.kek_id, wrapped, c.sha256).status(),
               ErrorCode::kDataLoss, crypto::kDekUnwrapFailed);
  ExpectStatus(content_->Fixity(c.blob_id, c.file_id, c.kek_id, wrapped).status(),
               ErrorCode::kDataLoss, crypto::kDekUnwrapFailed);
}

TEST_P(ContentStoreTest, UnknownKek) {
  StoredContent c = PutOk(Pattern(1000, 10));
  auto other_keys = NewKeyProvider();
  ContentStore other(*blobs_, *other_keys, suite());
  ExpectStatus(other.Open(c.blob_id, c.file_id, c.kek_id, c.wrapped_dek, c.sha256).status(),
               ErrorCode::kNotFound, crypto::kKekUnknown);
}

TEST_P(ContentStoreTest, DekOfAnotherFile) {
  StoredContent a = PutOk(Pattern(1000, 11));
  StoredContent b = PutOk(Pattern(1000, 12));
  // b's key on a's blob: the header (with a's file id) is checked first...
  ExpectStatus(content_->Open(a.blob_id, b.file_id, b.kek_id, b.wrapped_dek, a.sha256).status(),
               ErrorCode::kDataLoss, crypto::kEnvelopeWrongFileId);
  // ...and with a's file id, the first chunk's tag fails.
  auto source = content_->Open(a.blob_id, a.file_id, b.kek_id, b.wrapped_dek, a.sha256);
  ASSERT_TRUE(source.ok());
  Bytes got;
  ExpectStatus(ReadAll(**source, &got), ErrorCode::kDataLoss, crypto::kEnvelopeChunkTagMismatch);
  EXPECT_TRUE(got.empty());
}

TEST_P(ContentStoreTest, DestroyedKey) {
  StoredContent c = PutOk(Pattern(1000, 13));
  ExpectStatus(content_->Open(c.blob_id, c.file_id, c.kek_id, {}, c.sha256).status(),
               ErrorCode::kNotFound, kContentDestroyed);
  ExpectStatus(content_->Fixity(c.blob_id, c.file_id, c.kek_id, {}).status(), ErrorCode::kNotFound,
               kContentDestroyed);
}

TEST_P(ContentStoreTest, RecordedHashMismatch) {
  Bytes data = Pattern(100000, 14);
  StoredContent c = PutOk(data);
  std::string wrong = IndependentSha256(Pattern(100000, 15));
  auto source = content_->Open(c.blob_id, c.file_id, c.kek_id, c.wrapped_dek, wrong);
  ASSERT_TRUE(source.ok());
  Bytes got;
  ExpectStatus(ReadAll(**source, &got), ErrorCode::kDataLoss, kContentHashMismatch);
  EXPECT_EQ(got.size(), data.size());  // never reported as complete
  uint8_t b;
  EXPECT_EQ((*source)->Read(&b, 1).status().reason(), kContentHashMismatch);
  // Upper-case hex of the right digest is accepted.
  std::string upper = c.sha256;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  auto ok = content_->Open(c.blob_id, c.file_id, c.kek_id, c.wrapped_dek, upper);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ReadAll(**ok, &got).ok());
}

TEST_P(ContentStoreTest, MalformedArguments) {
  StoredContent c = PutOk(Pattern(10, 16));
  ExpectStatus(content_->Open(c.blob_id, domain::FileId{"xyz"}, c.kek_id, c.wrapped_dek, c.sha256).status(),
               ErrorCode::kInvalidArgument, kInvalidFileId);
  ExpectStatus(content_->Open(c.blob_id, c.file_id, c.kek_id, c.wrapped_dek, "abcd").status(),
               ErrorCode::kInvalidArgument, kInvalidSha256);
  ExpectStatus(
      content_->Open(domain::BlobId{"../x"}, c.file_id, c.kek_id, c.wrapped_dek, c.sha256).status(),
      ErrorCode::kInvalidArgument, kBlobInvalidId);
  ExpectStatus(
      content_->Open(domain::BlobId{std::string(32, '0')}, c.file_id, c.kek_id, c.wrapped_dek, c.sha256)
          .status(),
      ErrorCode::kNotFound, kBlobNotFound);
}

TEST_P(ContentStoreTest, TooLarge) {
  Bytes data = Pattern(200001, 17);
  MemorySource over(data);
  ExpectStatus(content_->Put(over, 200000).status(), ErrorCode::kTooLarge, kFileTooLarge);
  ExpectStoreEmpty();
  // Exactly the limit is fine.
  MemorySource exact(data.data(), 200000);
  auto stored = content_->Put(exact, 200000);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(stored->size, 200000u);
  MemorySource one(data.data(), 1);
  ExpectStatus(content_->Put(one, 0).status(), ErrorCode::kTooLarge, kFileTooLarge);
  // Past the first 256 KiB the copy runs in two stages (a writer thread):
  // the limit is caught there too and nothing of the blob remains.
  Bytes big = Pattern((1u << 20) + 1, 19);
  MemorySource big_over(big);
  ExpectStatus(content_->Put(big_over, 1u << 20).status(), ErrorCode::kTooLarge, kFileTooLarge);
  EXPECT_EQ(blobs_->List()->size(), 1u);  // the 200000-byte one
}

TEST_P(ContentStoreTest, PlaintextSourceFails) {
  FailingSource source(150000);
  ExpectStatus(content_->Put(source, kNoLimit).status(), ErrorCode::kUnavailable, "client_gone");
  ExpectStoreEmpty();
  // Failing after the writer thread has started.
  FailingSource later(700000);
  ExpectStatus(content_->Put(later, kNoLimit).status(), ErrorCode::kUnavailable, "client_gone");
  ExpectStoreEmpty();
}

TEST_P(ContentStoreTest, ConcurrentPuts) {
  constexpr int kThreads = 4;
  std::vector<StoredContent> stored(kThreads);
  std::vector<Bytes> inputs;
  for (int t = 0; t < kThreads; ++t) inputs.push_back(Pattern(150000 + t, 20 + t));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      MemorySource source(inputs[t]);
      auto r = content_->Put(source, kNoLimit);
      if (r.ok()) stored[t] = *r;
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    auto source = OpenStored(stored[t]);
    ASSERT_TRUE(source.ok()) << t << ": " << source.status().ToString();
    Bytes got;
    ASSERT_TRUE(ReadAll(**source, &got).ok());
    EXPECT_TRUE(got == inputs[t]) << t;
  }
}

std::string ParamName(const ::testing::TestParamInfo<Param>& info) {
  return std::string(crypto::SuiteName(std::get<0>(info.param))) +
         (std::get<1>(info.param) == Kind::kFile ? "_file" : "_memory");
}

INSTANTIATE_TEST_SUITE_P(ContentStore, ContentStoreTest,
                         ::testing::Combine(::testing::Values(crypto::Suite::kIntl,
                                                              crypto::Suite::kGm),
                                            ::testing::Values(Kind::kFile, Kind::kMemory)),
                         ParamName);

// ---- Faults specific to one store ----

TEST(ContentStoreFile, TruncatedBlob) {
  custos::testing::TempDir dir;
  auto blobs = FileBlobStore::OpenDirectory(dir.path());
  ASSERT_TRUE(blobs.ok());
  auto keys = NewKeyProvider();
  for (crypto::Suite suite : {crypto::Suite::kIntl, crypto::Suite::kGm}) {
    SCOPED_TRACE(crypto::SuiteName(suite));
    ContentStore content(**blobs, *keys, suite);
    Bytes data = Pattern(2 * crypto::kDefaultChunkSize + 10, 8);
    MemorySource input(data);
    auto c = content.Put(input, kNoLimit);
    ASSERT_TRUE(c.ok());
    // Cut the blob right after its first record.
    fs::resize_file(
        (*blobs)->BlobPath(c->blob_id),
        crypto::kEnvelopeHeaderSize + crypto::kRecordOverhead + crypto::kDefaultChunkSize);
    auto source = content.Open(c->blob_id, c->file_id, c->kek_id, c->wrapped_dek, c->sha256);
    ASSERT_TRUE(source.ok());
    Bytes got;
    ExpectStatus(ReadAll(**source, &got), ErrorCode::kDataLoss, crypto::kEnvelopeTruncated);
    EXPECT_EQ(got.size(), crypto::kDefaultChunkSize);
  }
}

TEST(ContentStoreMemory, StorageFullInjected) {
  MemoryBlobStore blobs;
  auto keys = NewKeyProvider();
  for (crypto::Suite suite : {crypto::Suite::kIntl, crypto::Suite::kGm}) {
    SCOPED_TRACE(crypto::SuiteName(suite));
    ContentStore content(blobs, *keys, suite);
    blobs.FailNextWriteWithStorageFull();
    Bytes data = Pattern(100000, 18);
    MemorySource source(data);
    ExpectStatus(content.Put(source, kNoLimit).status(), ErrorCode::kResourceExhausted,
                 kStorageFull);
    EXPECT_TRUE(blobs.List()->empty());
    EXPECT_EQ(blobs.open_writers(), 0);
  }
}

// ---- Key rotation (needs control over both KEKs) ----

TEST(ContentStoreRotation, ReadableThroughRetiredKekAndAfterRewrap) {
  MemoryBlobStore blobs;
  auto old_kek = crypto::MakeKek(crypto::SecretBytes(*crypto::RandomBytes(crypto::kKekSize)));
  auto new_kek = crypto::MakeKek(crypto::SecretBytes(*crypto::RandomBytes(crypto::kKekSize)));
  ASSERT_TRUE(old_kek.ok() && new_kek.ok());
  auto before = crypto::LocalKeyProvider::Create(crypto::Kek{old_kek->id, old_kek->key.Clone()});
  ASSERT_TRUE(before.ok());
  Bytes data = Pattern(100000, 30);
  MemorySource source(data);
  auto stored = ContentStore(blobs, **before, crypto::Suite::kIntl).Put(source, kNoLimit);
  ASSERT_TRUE(stored.ok());

  std::vector<crypto::Kek> retired;
  retired.push_back(crypto::Kek{old_kek->id, old_kek->key.Clone()});
  auto after = crypto::LocalKeyProvider::Create(crypto::Kek{new_kek->id, new_kek->key.Clone()},
                                                std::move(retired));
  ASSERT_TRUE(after.ok());
  ContentStore content(blobs, **after, crypto::Suite::kIntl);
  EXPECT_EQ(*content.Fixity(stored->blob_id, stored->file_id, stored->kek_id, stored->wrapped_dek),
            stored->sha256);
  auto rewrapped = (*after)->Rewrap(crypto::WrappedKey{stored->kek_id, stored->wrapped_dek});
  ASSERT_TRUE(rewrapped.ok());
  EXPECT_EQ(rewrapped->kek_id, new_kek->id);
  auto opened = content.Open(stored->blob_id, stored->file_id, rewrapped->kek_id,
                             rewrapped->wrapped, stored->sha256);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Bytes got;
  ASSERT_TRUE(ReadAll(**opened, &got).ok());
  EXPECT_TRUE(got == data);
}

// ---- A full disk, through FileBlobStore (RLIMIT_FSIZE in a child) ----

int PutOverFileSizeLimit(const std::string& root) {
  constexpr rlim_t kLimit = 256 * 1024;
  ::signal(SIGXFSZ, SIG_IGN);  // as custosd's main() does
  struct rlimit limit = {kLimit, kLimit};
  if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) return 10;
  auto blobs = FileBlobStore::OpenDirectory(root);
  if (!blobs.ok()) return 11;
  auto keys = NewKeyProvider();
  ContentStore content(**blobs, *keys, crypto::Suite::kGm);
  Bytes data = Pattern(1 << 20, 31);
  MemorySource source(data);
  auto stored = content.Put(source, kNoLimit);
  if (stored.ok()) return 12;
  if (stored.status().code() != ErrorCode::kResourceExhausted) return 13;
  if (stored.status().reason() != kStorageFull) return 14;
  if (!(*blobs)->List()->empty()) return 15;
  if (!fs::is_empty((*blobs)->TempDir())) return 16;
  return 0;
}

TEST(ContentStoreFile, StorageFullWhenFileSizeLimitReached) {
  custos::testing::TempDir dir;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) ::_exit(PutOverFileSizeLimit(dir.path()));
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died with signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "see PutOverFileSizeLimit for the code";
  EXPECT_TRUE(fs::is_empty(dir.path() + "/tmp"));
}

}  // namespace
}  // namespace custos::storage
