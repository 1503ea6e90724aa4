// Tests of the BlobStore contract (storage/blob_store.h) against both
// implementations, and of FileBlobStore's on-disk behaviour: modes, temp
// files, sweeping and a full disk (RLIMIT_FSIZE in a child process).
#include "storage/blob_store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "crypto/bytes.h"
#include "tests/testutil/memory_blob_store.h"
#include "tests/testutil/testutil.h"

namespace custos::storage {
namespace {

namespace fs = std::filesystem;
using crypto::Bytes;

// Deterministic filler: different for every seed, not all zeros.
Bytes Pattern(size_t n, uint32_t seed) {
  Bytes b(n);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    b[i] = static_cast<uint8_t>(x >> 24);
  }
  return b;
}

// Reads `source` to its end in pieces of `piece` bytes.
StatusOr<Bytes> ReadAll(ByteSource& source, size_t piece = 4096) {
  Bytes out;
  Bytes buf(piece);
  for (;;) {
    CUSTOS_ASSIGN_OR_RETURN(size_t r, source.Read(buf.data(), buf.size()));
    if (r == 0) return out;
    out.insert(out.end(), buf.begin(), buf.begin() + r);
  }
}

// Writes `data` as a new committed blob; returns its id ("" on failure).
domain::BlobId PutBlob(BlobStore& store, const Bytes& data) {
  auto writer = store.Create();
  EXPECT_TRUE(writer.ok()) << writer.status().ToString();
  if (!writer.ok()) return {};
  EXPECT_TRUE((*writer)->Write(data.data(), data.size()).ok());
  Status committed = (*writer)->Commit();
  EXPECT_TRUE(committed.ok()) << committed.ToString();
  return (*writer)->id();
}

Bytes ReadBlob(BlobStore& store, const domain::BlobId& id) {
  auto source = store.Open(id);
  EXPECT_TRUE(source.ok()) << source.status().ToString();
  if (!source.ok()) return {};
  auto data = ReadAll(**source);
  EXPECT_TRUE(data.ok()) << data.status().ToString();
  return data.ok() ? *data : Bytes{};
}

std::vector<std::string> DirEntries(const std::string& path) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(path, ec)) names.push_back(e.path().filename());
  return names;
}

unsigned ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

void ExpectStatus(const Status& s, ErrorCode code, std::string_view reason) {
  EXPECT_EQ(s.code(), code) << s.ToString();
  EXPECT_EQ(s.reason(), reason) << s.ToString();
}

// ---- The contract, run against both implementations ----

enum class Kind { kFile, kMemory };

class BlobStoreContractTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    if (GetParam() == Kind::kFile) {
      auto store = FileBlobStore::OpenDirectory(dir_.path());
      ASSERT_TRUE(store.ok()) << store.status().ToString();
      file_ = store->get();
      store_ = std::move(*store);
    } else {
      store_ = std::make_unique<MemoryBlobStore>();
    }
  }

  // No temp file is left (FileBlobStore only; memory has none).
  void ExpectNoTempFiles() {
    if (file_ != nullptr) {
      EXPECT_TRUE(DirEntries(file_->TempDir()).empty());
    }
  }

  custos::testing::TempDir dir_;
  std::unique_ptr<BlobStore> store_;
  FileBlobStore* file_ = nullptr;  // store_ when it is a FileBlobStore
};

TEST_P(BlobStoreContractTest, CommitMakesVisible) {
  Bytes data = Pattern(1000, 1);
  auto writer = store_->Create();
  ASSERT_TRUE(writer.ok());
  domain::BlobId id = (*writer)->id();
  EXPECT_TRUE(IsValidBlobId(id.value)) << id.value;
  ASSERT_TRUE((*writer)->Write(data.data(), data.size()).ok());
  EXPECT_EQ((*writer)->size(), 1000u);

  // Not visible before Commit().
  ExpectStatus(store_->Open(id).status(), ErrorCode::kNotFound, kBlobNotFound);
  EXPECT_TRUE(store_->List()->empty());

  ASSERT_TRUE((*writer)->Commit().ok());
  EXPECT_EQ(ReadBlob(*store_, id), data);
  EXPECT_EQ(*store_->Size(id), 1000u);
  EXPECT_EQ(*store_->List(), std::vector<domain::BlobId>{id});
  ExpectNoTempFiles();
}

TEST_P(BlobStoreContractTest, EmptyBlob) {
  domain::BlobId id = PutBlob(*store_, {});
  EXPECT_TRUE(ReadBlob(*store_, id).empty());
  EXPECT_EQ(*store_->Size(id), 0u);
}

TEST_P(BlobStoreContractTest, OddPiecesRoundTrip) {
  // Pieces around the write-buffer size exercise every buffering path.
  Bytes data = Pattern(3 * kBlobIoBufferSize + 12345, 2);
  const size_t pieces[] = {
      1, 7, 100000, kBlobIoBufferSize - 8, kBlobIoBufferSize, 2 * kBlobIoBufferSize + 3, 0, 4096};
  auto writer = store_->Create();
  ASSERT_TRUE(writer.ok());
  size_t at = 0;
  for (size_t i = 0; at < data.size(); ++i) {
    size_t n = std::min(pieces[i % std::size(pieces)], data.size() - at);
    ASSERT_TRUE((*writer)->Write(data.data() + at, n).ok());
    at += n;
  }
  EXPECT_EQ((*writer)->size(), data.size());
  ASSERT_TRUE((*writer)->Commit().ok());
  domain::BlobId id = (*writer)->id();
  for (size_t piece : {size_t{1} << 20, size_t{5}, size_t{65536 + 21}}) {
    auto source = store_->Open(id);
    ASSERT_TRUE(source.ok());
    auto got = ReadAll(**source, piece);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, data) << "piece " << piece;
  }
}

TEST_P(BlobStoreContractTest, SmallBlobsReadInOddPieces) {
  // A blob below kBlobIoBufferSize is buffered in a buffer of its own size:
  // reads smaller, equal to and larger than the blob, around a 64 KiB
  // envelope chunk, must still give back every byte and then the end.
  for (size_t size : {size_t{1}, size_t{4095}, size_t{4097}, size_t{65536 + 60}}) {
    Bytes data = Pattern(size, static_cast<uint32_t>(size));
    domain::BlobId id = PutBlob(*store_, data);
    for (size_t piece : {size_t{1}, size_t{60}, size + 1, size, size - (size > 1 ? 1 : 0), size_t{65536 + 16}}) {
      if (piece == 0) continue;
      auto source = store_->Open(id);
      ASSERT_TRUE(source.ok());
      auto got = ReadAll(**source, piece);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      EXPECT_EQ(*got, data) << "size " << size << " piece " << piece;
      uint8_t b;
      auto after = (*source)->Read(&b, 1);
      ASSERT_TRUE(after.ok());
      EXPECT_EQ(*after, 0u) << "size " << size;
    }
  }
}

TEST_P(BlobStoreContractTest, AbortLeavesNothing) {
  domain::BlobId id;
  {
    auto writer = store_->Create();
    ASSERT_TRUE(writer.ok());
    id = (*writer)->id();
    Bytes data = Pattern(3 * kBlobIoBufferSize, 3);  // some of it reached the disk
    ASSERT_TRUE((*writer)->Write(data.data(), data.size()).ok());
  }  // destroyed without Commit()
  ExpectStatus(store_->Open(id).status(), ErrorCode::kNotFound, kBlobNotFound);
  EXPECT_TRUE(store_->List()->empty());
  ExpectNoTempFiles();
}

TEST_P(BlobStoreContractTest, WriteAfterCommit) {
  auto writer = store_->Create();
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  uint8_t b = 1;
  ExpectStatus((*writer)->Write(&b, 1), ErrorCode::kConflict, kBlobWriterCommitted);
  ExpectStatus((*writer)->Commit(), ErrorCode::kConflict, kBlobWriterCommitted);
  EXPECT_EQ(*store_->Size((*writer)->id()), 0u);  // still there, unchanged
}

TEST_P(BlobStoreContractTest, BadIdsRejected) {
  domain::BlobId good = PutBlob(*store_, Pattern(10, 4));
  std::string upper = good.value;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper == good.value) upper[0] = 'A';
  const std::vector<std::string> bad = {
      "",
      "../x",
      "../../etc/passwd",
      upper,
      good.value.substr(0, 31),
      good.value + "0",
      "0123456789abcdef0123456789abcdeg",
      "0123456789abcdef/123456789abcdef",
      "0123456789abcdef.123456789abcdef",
      std::string("0123456789abcdef\0"
                  "123456789abcde",
                  32),
      good.value + ".part",
  };
  for (const std::string& s : bad) {
    domain::BlobId id{s};
    ExpectStatus(store_->Open(id).status(), ErrorCode::kInvalidArgument, kBlobInvalidId);
    ExpectStatus(store_->Size(id).status(), ErrorCode::kInvalidArgument, kBlobInvalidId);
    ExpectStatus(store_->Delete(id), ErrorCode::kInvalidArgument, kBlobInvalidId);
  }
  EXPECT_EQ(*store_->List(), std::vector<domain::BlobId>{good});
}

TEST_P(BlobStoreContractTest, UnknownIdIsNotFound) {
  domain::BlobId id{std::string(kBlobIdHexLength, 'a')};
  ExpectStatus(store_->Open(id).status(), ErrorCode::kNotFound, kBlobNotFound);
  ExpectStatus(store_->Size(id).status(), ErrorCode::kNotFound, kBlobNotFound);
  ExpectStatus(store_->Delete(id), ErrorCode::kNotFound, kBlobNotFound);
}

TEST_P(BlobStoreContractTest, DeleteRemovesOnlyThatBlob) {
  domain::BlobId a = PutBlob(*store_, Pattern(100, 5));
  domain::BlobId b = PutBlob(*store_, Pattern(200, 6));
  ASSERT_TRUE(store_->Delete(a).ok());
  ExpectStatus(store_->Open(a).status(), ErrorCode::kNotFound, kBlobNotFound);
  ExpectStatus(store_->Delete(a), ErrorCode::kNotFound, kBlobNotFound);  // twice
  EXPECT_EQ(ReadBlob(*store_, b), Pattern(200, 6));
  EXPECT_EQ(*store_->List(), std::vector<domain::BlobId>{b});
}

TEST_P(BlobStoreContractTest, OpenSourceSurvivesDelete) {
  Bytes data = Pattern(kBlobIoBufferSize * 2, 7);
  domain::BlobId id = PutBlob(*store_, data);
  auto source = store_->Open(id);
  ASSERT_TRUE(source.ok());
  ASSERT_TRUE(store_->Delete(id).ok());
  auto got = ReadAll(**source);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, data);
}

TEST_P(BlobStoreContractTest, ListIsSorted) {
  std::vector<domain::BlobId> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(PutBlob(*store_, Pattern(i, i)));
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(*store_->List(), ids);
}

TEST_P(BlobStoreContractTest, SweepKeepsReferencedRemovesOthers) {
  domain::BlobId keep1 = PutBlob(*store_, Pattern(10, 8));
  domain::BlobId drop1 = PutBlob(*store_, Pattern(20, 9));
  domain::BlobId keep2 = PutBlob(*store_, Pattern(30, 10));
  domain::BlobId drop2 = PutBlob(*store_, Pattern(40, 11));
  std::set<domain::BlobId> referenced = {keep1, keep2};
  auto removed = store_->SweepOrphans([&](const domain::BlobId& id) { return referenced.count(id) > 0; });
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 2u);
  std::vector<domain::BlobId> expect = {keep1, keep2};
  std::sort(expect.begin(), expect.end());
  EXPECT_EQ(*store_->List(), expect);
  EXPECT_EQ(ReadBlob(*store_, keep1), Pattern(10, 8));
  ExpectStatus(store_->Open(drop1).status(), ErrorCode::kNotFound, kBlobNotFound);
  ExpectStatus(store_->Open(drop2).status(), ErrorCode::kNotFound, kBlobNotFound);
  // A second sweep has nothing left to do.
  EXPECT_EQ(*store_->SweepOrphans([&](const domain::BlobId& id) { return referenced.count(id) > 0; }), 0u);
}

// Several nodes share one blob folder: another node's blob may be committed
// but not yet referenced, or still being written. The sweep for that case
// leaves files younger than its minimum age alone.
TEST(FileBlobStoreTest, SharedSweepLeavesYoungFilesAlone) {
  custos::testing::TempDir dir;
  auto store = FileBlobStore::OpenDirectory(dir.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  domain::BlobId orphan = PutBlob(**store, Pattern(10, 21));
  auto writer = (*store)->Create();  // another node's upload in flight
  ASSERT_TRUE(writer.ok());
  const Bytes partial = Pattern(10, 22);
  ASSERT_TRUE((*writer)->Write(partial.data(), partial.size()).ok());
  auto none = [](const domain::BlobId&) { return false; };

  auto young = (*store)->SweepOrphansOlderThan(none, std::chrono::hours(1));
  ASSERT_TRUE(young.ok()) << young.status().ToString();
  EXPECT_EQ(*young, 0u);
  EXPECT_EQ(ReadBlob(**store, orphan), Pattern(10, 21));

  // Two hours later both are left over from something that died.
  const time_t old = ::time(nullptr) - 2 * 3600;
  const struct timeval times[2] = {{old, 0}, {old, 0}};
  ASSERT_EQ(::utimes((*store)->BlobPath(orphan).c_str(), times), 0);
  for (const auto& entry : std::filesystem::directory_iterator((*store)->TempDir())) {
    ASSERT_EQ(::utimes(entry.path().c_str(), times), 0);
  }
  auto old_files = (*store)->SweepOrphansOlderThan(none, std::chrono::hours(1));
  ASSERT_TRUE(old_files.ok()) << old_files.status().ToString();
  EXPECT_EQ(*old_files, 2u);
  ExpectStatus((*store)->Open(orphan).status(), ErrorCode::kNotFound, kBlobNotFound);
}

TEST_P(BlobStoreContractTest, SweepRefusedWhileWriting) {
  domain::BlobId a = PutBlob(*store_, Pattern(10, 12));
  auto writer = store_->Create();
  ASSERT_TRUE(writer.ok());
  ExpectStatus(store_->SweepOrphans([](const domain::BlobId&) { return false; }).status(),
               ErrorCode::kConflict, kBlobWritersActive);
  EXPECT_EQ(*store_->List(), std::vector<domain::BlobId>{a});  // nothing removed
  writer->reset();
  EXPECT_EQ(*store_->SweepOrphans([](const domain::BlobId&) { return false; }), 1u);
}

TEST_P(BlobStoreContractTest, ConcurrentWriters) {
  constexpr int kThreads = 6;
  constexpr int kBlobsPerThread = 15;
  std::vector<std::vector<domain::BlobId>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kBlobsPerThread; ++i) {
        uint32_t seed = t * 1000 + i;
        Bytes data = Pattern(1000 + seed % 70000, seed);
        auto writer = store_->Create();
        if (!writer.ok()) return;
        // Two pieces, so writers interleave mid-blob.
        size_t half = data.size() / 2;
        if (!(*writer)->Write(data.data(), half).ok()) return;
        if (!(*writer)->Write(data.data() + half, data.size() - half).ok()) return;
        if (!(*writer)->Commit().ok()) return;
        ids[t].push_back((*writer)->id());
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<domain::BlobId> all;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(ids[t].size(), size_t{kBlobsPerThread}) << "thread " << t;
    for (int i = 0; i < kBlobsPerThread; ++i) {
      uint32_t seed = t * 1000 + i;
      EXPECT_EQ(ReadBlob(*store_, ids[t][i]), Pattern(1000 + seed % 70000, seed));
      all.insert(ids[t][i]);
    }
  }
  EXPECT_EQ(all.size(), size_t{kThreads * kBlobsPerThread});  // ids are distinct
  EXPECT_EQ(store_->List()->size(), all.size());
  ExpectNoTempFiles();
}

INSTANTIATE_TEST_SUITE_P(FileBlobStore, BlobStoreContractTest, ::testing::Values(Kind::kFile));
INSTANTIATE_TEST_SUITE_P(MemoryBlobStore, BlobStoreContractTest, ::testing::Values(Kind::kMemory));

// ---- FileBlobStore on disk ----

TEST(FileBlobStoreTest, MissingDirectoryRejected) {
  custos::testing::TempDir dir;
  ExpectStatus(FileBlobStore::OpenDirectory(dir.Sub("absent")).status(),
               ErrorCode::kInvalidArgument, kBlobDirMissing);
  custos::testing::WriteFile(dir.Sub("file"), "x");
  ExpectStatus(FileBlobStore::OpenDirectory(dir.Sub("file")).status(), ErrorCode::kInvalidArgument,
               kBlobDirMissing);
}

TEST(FileBlobStoreTest, LayoutAndModesIgnoreUmask) {
  custos::testing::TempDir dir;
  mode_t old_umask = ::umask(0);  // modes must be set explicitly, not inherited
  auto store = FileBlobStore::OpenDirectory(dir.path());
  ASSERT_TRUE(store.ok());
  auto writer = (*store)->Create();
  ASSERT_TRUE(writer.ok());
  const domain::BlobId id = (*writer)->id();
  const std::string temp = (*store)->TempDir() + "/" + id.value + std::string(kBlobTempSuffix);
  EXPECT_EQ(ModeOf(temp), kBlobFileMode);  // the temp file, while being written
  ASSERT_TRUE((*writer)->Write(reinterpret_cast<const uint8_t*>("abc"), 3).ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  ::umask(old_umask);

  const std::string fan_out = dir.path() + "/" + id.value.substr(0, kBlobFanOutChars);
  EXPECT_EQ((*store)->BlobPath(id), fan_out + "/" + id.value);
  EXPECT_EQ(custos::testing::ReadFileOrDie((*store)->BlobPath(id)), "abc");
  EXPECT_EQ(ModeOf((*store)->BlobPath(id)), kBlobFileMode);
  EXPECT_EQ(ModeOf(fan_out), kBlobDirMode);
  EXPECT_EQ(ModeOf((*store)->TempDir()), kBlobDirMode);
  EXPECT_FALSE(fs::exists(temp));
}

TEST(FileBlobStoreTest, ReopenSeesCommittedBlobs) {
  custos::testing::TempDir dir;
  domain::BlobId id;
  {
    auto store = FileBlobStore::OpenDirectory(dir.path() + "/");  // trailing slash is fine
    ASSERT_TRUE(store.ok());
    id = PutBlob(**store, Pattern(5000, 13));
  }
  auto store = FileBlobStore::OpenDirectory(dir.path());
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(*(*store)->List(), std::vector<domain::BlobId>{id});
  EXPECT_EQ(ReadBlob(**store, id), Pattern(5000, 13));
  // A new blob in an existing fan-out directory after reopening.
  EXPECT_EQ(ReadBlob(**store, PutBlob(**store, Pattern(7, 14))), Pattern(7, 14));
}

TEST(FileBlobStoreTest, SweepRemovesLeftoverTempFilesAndIgnoresStrangers) {
  custos::testing::TempDir dir;
  auto store = FileBlobStore::OpenDirectory(dir.path());
  ASSERT_TRUE(store.ok());
  domain::BlobId kept = PutBlob(**store, Pattern(10, 15));
  domain::BlobId orphan = PutBlob(**store, Pattern(10, 16));
  // What a crash mid-write leaves behind.
  const std::string leftover = (*store)->TempDir() + "/" + std::string(32, 'b') + ".part";
  custos::testing::WriteFile(leftover, "partial");
  // Files the store did not write are not its business.
  custos::testing::WriteFile(dir.Sub("README"), "x");
  custos::testing::WriteFile((*store)->TempDir() + "/notes.txt", "x");
  fs::create_directory(dir.Sub("zz"));
  custos::testing::WriteFile(dir.Sub("zz") + "/" + std::string(32, 'c'), "x");
  const std::string kept_fan_out = dir.path() + "/" + kept.value.substr(0, 2);
  custos::testing::WriteFile(kept_fan_out + "/" + std::string(32, 'd'), "x");  // wrong prefix

  auto removed = (*store)->SweepOrphans([&](const domain::BlobId& id) { return id == kept; });
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 2u);  // the orphan and the temp file
  EXPECT_FALSE(fs::exists(leftover));
  EXPECT_FALSE(fs::exists((*store)->BlobPath(orphan)));
  EXPECT_TRUE(fs::exists((*store)->BlobPath(kept)));
  EXPECT_TRUE(fs::exists(dir.Sub("README")));
  EXPECT_TRUE(fs::exists((*store)->TempDir() + "/notes.txt"));
  EXPECT_TRUE(fs::exists(dir.Sub("zz") + "/" + std::string(32, 'c')));
  EXPECT_TRUE(fs::exists(kept_fan_out + "/" + std::string(32, 'd')));
  EXPECT_EQ(*(*store)->List(), std::vector<domain::BlobId>{kept});
}

TEST(FileBlobStoreTest, SymlinkedBlobNotFollowed) {
  custos::testing::TempDir dir;
  auto store = FileBlobStore::OpenDirectory(dir.path());
  ASSERT_TRUE(store.ok());
  custos::testing::WriteFile(dir.Sub("secret"), "outside");
  domain::BlobId id{std::string(32, 'e')};
  fs::create_directory(dir.Sub("ee"));
  fs::create_symlink(dir.Sub("secret"), (*store)->BlobPath(id));
  EXPECT_FALSE((*store)->Open(id).ok());
  EXPECT_FALSE((*store)->Size(id).ok());
}

// Exit codes of the full-disk child.
enum ChildResult {
  kChildOk = 0,
  kChildSetupFailed = 10,
  kChildNoFailure = 11,
  kChildWrongError = 12,
  kChildTempLeft = 13,
  kChildBlobVisible = 14,
};

// In a child process: limits the file size, writes past the limit, and
// checks that the store reports storage_full and leaves nothing behind.
int WriteOverFileSizeLimit(const std::string& root) {
  constexpr rlim_t kLimit = 300 * 1024;
  ::signal(SIGXFSZ, SIG_IGN);  // as custosd's main() does
  struct rlimit limit = {kLimit, kLimit};
  if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) return kChildSetupFailed;
  auto store = FileBlobStore::OpenDirectory(root);
  if (!store.ok()) return kChildSetupFailed;
  auto writer = (*store)->Create();
  if (!writer.ok()) return kChildSetupFailed;
  Bytes data = Pattern(64 * 1024, 17);
  Status status;
  for (int i = 0; i < 16 && status.ok(); ++i) status = (*writer)->Write(data.data(), data.size());
  if (status.ok()) status = (*writer)->Commit();
  if (status.ok()) return kChildNoFailure;
  if (status.code() != ErrorCode::kResourceExhausted || status.reason() != kStorageFull) {
    return kChildWrongError;
  }
  if (!DirEntries((*store)->TempDir()).empty()) return kChildTempLeft;  // removed at once
  // A broken writer keeps failing the same way.
  if ((*writer)->Commit().reason() != kStorageFull) return kChildWrongError;
  writer->reset();
  if (!(*store)->List()->empty()) return kChildBlobVisible;
  return kChildOk;
}

TEST(FileBlobStoreTest, StorageFullWhenFileSizeLimitReached) {
  custos::testing::TempDir dir;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) ::_exit(WriteOverFileSizeLimit(dir.path()));
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child died with signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), kChildOk);
  // The parent sees the same empty store.
  auto store = FileBlobStore::OpenDirectory(dir.path());
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->List()->empty());
  EXPECT_TRUE(DirEntries((*store)->TempDir()).empty());
}

// ---- MemoryBlobStore test hooks ----

TEST(MemoryBlobStoreTest, InjectedStorageFull) {
  MemoryBlobStore store;
  auto writer = store.Create();
  ASSERT_TRUE(writer.ok());
  Bytes data = Pattern(100, 18);
  ASSERT_TRUE((*writer)->Write(data.data(), data.size()).ok());
  store.FailNextWriteWithStorageFull();
  ExpectStatus((*writer)->Write(data.data(), data.size()), ErrorCode::kResourceExhausted,
               kStorageFull);
  ExpectStatus((*writer)->Commit(), ErrorCode::kResourceExhausted, kStorageFull);  // sticky
  writer->reset();
  EXPECT_TRUE(store.List()->empty());
  // One shot: the next writer works.
  EXPECT_EQ(ReadBlob(store, PutBlob(store, data)), data);
}

TEST(MemoryBlobStoreTest, CorruptByteFlipsStoredBitsOnly) {
  MemoryBlobStore store;
  Bytes data = Pattern(100, 19);
  domain::BlobId id = PutBlob(store, data);
  auto before = store.Open(id);  // a snapshot
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(store.CorruptByte(id, 42, 0x80).ok());
  Bytes expect = data;
  expect[42] ^= 0x80;
  EXPECT_EQ(*store.Contents(id), expect);
  EXPECT_EQ(ReadBlob(store, id), expect);
  EXPECT_EQ(*ReadAll(**before), data);
  EXPECT_EQ(store.CorruptByte(id, 100).code(), ErrorCode::kInvalidArgument);
  ExpectStatus(store.CorruptByte(domain::BlobId{std::string(32, '0')}, 0), ErrorCode::kNotFound,
               kBlobNotFound);
}

TEST(MemoryBlobStoreTest, CountsOpenWriters) {
  MemoryBlobStore store;
  EXPECT_EQ(store.open_writers(), 0);
  {
    auto a = store.Create();
    auto b = store.Create();
    EXPECT_EQ(store.open_writers(), 2);
    EXPECT_NE((*a)->id(), (*b)->id());
  }
  EXPECT_EQ(store.open_writers(), 0);
}

}  // namespace
}  // namespace custos::storage
