// Tests for the streaming envelope (crypto/envelope.h,
// docs/formats/envelope.md): round trips, every tampering the format must
// detect, bounded memory, and a throughput measurement (disabled by default).
#include "crypto/envelope.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "common/byte_stream.h"

namespace custos::crypto {
namespace {

constexpr uint32_t kChunk = 1024;  // small chunks keep multi-chunk cases cheap
constexpr size_t kRecord = kChunk + kRecordOverhead;

SecretBytes Key(uint8_t fill) { return SecretBytes(Bytes(kEnvelopeKeySize, fill)); }

FileId Id(uint8_t fill) {
  FileId id;
  id.fill(fill);
  return id;
}

// Deterministic, position-dependent content.
uint8_t PatternByte(uint64_t i) { return static_cast<uint8_t>((i * 131) ^ (i >> 11) ^ 0x5a); }

Bytes Pattern(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = PatternByte(i);
  return b;
}

// Seals `pt` writing it in odd-sized pieces.
Bytes SealInPieces(Suite suite, const SecretBytes& key, const FileId& id, const Bytes& pt,
                   uint32_t chunk = kChunk) {
  static constexpr size_t kPieces[] = {1, 7, 333, 1000, 4097, 2, 1023, 1025};
  StringSink sink;
  auto w = EnvelopeWriter::Create(suite, key, id, &sink, chunk);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  if (!w.ok()) return {};
  size_t off = 0;
  for (size_t i = 0; off < pt.size(); ++i) {
    size_t n = std::min(kPieces[i % std::size(kPieces)], pt.size() - off);
    EXPECT_TRUE((*w)->Write(pt.data() + off, n).ok());
    off += n;
  }
  EXPECT_TRUE((*w)->Finish().ok());
  EXPECT_EQ((*w)->plaintext_size(), pt.size());
  EXPECT_EQ((*w)->ciphertext_size(), sink.data().size());
  return sink.Release();
}

// What a streaming reader released before it stopped, and why it stopped.
struct Outcome {
  Status status;       // OK if the whole envelope verified
  Bytes released;      // plaintext handed out before the failure
  bool sticky = true;  // a Read after the failure failed again, same reason
};

// A source that returns at most `max_read` bytes per call.
class TrickleSource final : public ByteSource {
 public:
  TrickleSource(const Bytes& b, size_t max_read) : inner_(b), max_read_(max_read) {}
  StatusOr<size_t> Read(uint8_t* p, size_t n) override {
    return inner_.Read(p, std::min(n, max_read_));
  }

 private:
  MemorySource inner_;
  size_t max_read_;
};

Outcome ReadStreaming(const Bytes& env, const SecretBytes& key, const FileId& id,
                      std::optional<Suite> suite = std::nullopt, size_t read_size = 300,
                      size_t max_source_read = SIZE_MAX) {
  Outcome o;
  TrickleSource src(env, max_source_read);
  auto r = EnvelopeReader::Open(key, id, &src, suite);
  if (!r.ok()) {
    o.status = r.status();
    return o;
  }
  Bytes buf(read_size);
  for (;;) {
    StatusOr<size_t> n = (*r)->Read(buf.data(), buf.size());
    if (!n.ok()) {
      o.status = n.status();
      StatusOr<size_t> again = (*r)->Read(buf.data(), buf.size());
      o.sticky = !again.ok() && again.status().reason() == n.status().reason();
      return o;
    }
    if (*n == 0) break;
    o.released.insert(o.released.end(), buf.begin(), buf.begin() + *n);
  }
  EXPECT_TRUE((*r)->at_end());
  return o;
}

std::string Reason(const Outcome& o) { return o.status.reason(); }

Bytes Prefix(const Bytes& b, size_t n) { return Bytes(b.begin(), b.begin() + n); }

// ---------------------------------------------------------------------------
// Suites and helpers

TEST(EnvelopeSuite, NamesRoundTrip) {
  EXPECT_EQ(SuiteName(Suite::kIntl), "intl");
  EXPECT_EQ(SuiteName(Suite::kGm), "gm");
  ASSERT_TRUE(ParseSuite("intl").ok());
  EXPECT_EQ(*ParseSuite("intl"), Suite::kIntl);
  EXPECT_EQ(*ParseSuite("gm"), Suite::kGm);
  EXPECT_EQ(ParseSuite("GM").status().reason(), "unknown_suite");
  EXPECT_EQ(ParseSuite("").status().reason(), "unknown_suite");
}

TEST(EnvelopeSize, MatchesLayout) {
  EXPECT_EQ(EnvelopeSize(0, kChunk), kEnvelopeHeaderSize + kRecordOverhead);
  EXPECT_EQ(EnvelopeSize(1, kChunk), kEnvelopeHeaderSize + kRecordOverhead + 1);
  EXPECT_EQ(EnvelopeSize(kChunk, kChunk), kEnvelopeHeaderSize + kRecord);
  EXPECT_EQ(EnvelopeSize(kChunk + 1, kChunk), kEnvelopeHeaderSize + kRecord + kRecordOverhead + 1);
}

// ---------------------------------------------------------------------------
// Round trips, both suites

class EnvelopeRoundTrip : public ::testing::TestWithParam<Suite> {};

TEST_P(EnvelopeRoundTrip, SizesAroundChunkBoundaries) {
  const Suite suite = GetParam();
  for (size_t size : {size_t{0}, size_t{1}, size_t{kChunk - 1}, size_t{kChunk},
                      size_t{kChunk + 1}, size_t{2 * kChunk}, size_t{5 * kChunk + 17}}) {
    SCOPED_TRACE("size " + std::to_string(size));
    Bytes pt = Pattern(size);
    Bytes env = SealInPieces(suite, Key(7), Id(1), pt);
    EXPECT_EQ(env.size(), EnvelopeSize(size, kChunk));
    Outcome o = ReadStreaming(env, Key(7), Id(1), suite, 301, 999);
    ASSERT_TRUE(o.status.ok()) << o.status.ToString();
    EXPECT_EQ(o.released, pt);
    auto all = OpenAll(Key(7), Id(1), env);
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    EXPECT_EQ(*all, pt);
  }
}

TEST_P(EnvelopeRoundTrip, DefaultChunkSize) {
  Bytes pt = Pattern(3 * kDefaultChunkSize + 5);
  auto env = SealAll(GetParam(), Key(3), Id(4), pt);
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->size(), EnvelopeSize(pt.size(), kDefaultChunkSize));
  Outcome o = ReadStreaming(*env, Key(3), Id(4), GetParam(), 70000);
  ASSERT_TRUE(o.status.ok()) << o.status.ToString();
  EXPECT_EQ(o.released, pt);
}

TEST_P(EnvelopeRoundTrip, HeaderRecordsSuiteAndChunkSize) {
  auto env = SealAll(GetParam(), Key(1), Id(2), Pattern(10), kChunk);
  ASSERT_TRUE(env.ok());
  EXPECT_TRUE(std::equal(kEnvelopeMagic.begin(), kEnvelopeMagic.end(), env->begin()));
  EXPECT_EQ((*env)[4], kEnvelopeVersion);
  EXPECT_EQ((*env)[5], GetParam() == Suite::kIntl ? kEnvelopeSuiteIdIntl : kEnvelopeSuiteIdGm);
  MemorySource src(*env);
  auto r = EnvelopeReader::Open(Key(1), Id(2), &src);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->suite(), GetParam());
  EXPECT_EQ((*r)->chunk_size(), kChunk);
}

TEST_P(EnvelopeRoundTrip, SamePlaintextSealsDifferently) {
  Bytes pt = Pattern(100);
  auto a = SealAll(GetParam(), Key(1), Id(2), pt);
  auto b = SealAll(GetParam(), Key(1), Id(2), pt);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);  // fresh random salt per envelope
}

TEST_P(EnvelopeRoundTrip, ZeroLengthWritesAndReads) {
  StringSink sink;
  auto w = EnvelopeWriter::Create(GetParam(), Key(1), Id(2), &sink, kChunk);
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE((*w)->Write(nullptr, 0).ok());
  ASSERT_TRUE((*w)->Finish().ok());
  MemorySource src(sink.data());
  auto r = EnvelopeReader::Open(Key(1), Id(2), &src);
  ASSERT_TRUE(r.ok());
  uint8_t b[4];
  EXPECT_EQ(*(*r)->Read(b, 0), 0u);
  EXPECT_FALSE((*r)->at_end());  // a zero-length read does not consume
  EXPECT_EQ(*(*r)->Read(b, sizeof b), 0u);
  EXPECT_TRUE((*r)->at_end());
}

TEST_P(EnvelopeRoundTrip, ReadChunkMixedWithRead) {
  Bytes pt = Pattern(3 * kChunk + 10);
  auto env = SealAll(GetParam(), Key(1), Id(2), pt, kChunk);
  ASSERT_TRUE(env.ok());
  MemorySource src(*env);
  auto r = EnvelopeReader::Open(Key(1), Id(2), &src);
  ASSERT_TRUE(r.ok());
  Bytes got(100);
  ASSERT_EQ(*(*r)->Read(got.data(), 100), 100u);
  auto view = (*r)->ReadChunk();  // the rest of chunk 0
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->size(), kChunk - 100);
  got.insert(got.end(), view->begin(), view->end());
  for (;;) {
    view = (*r)->ReadChunk();
    ASSERT_TRUE(view.ok()) << view.status().ToString();
    if (view->empty()) break;
    EXPECT_LE(view->size(), kChunk);
    got.insert(got.end(), view->begin(), view->end());
  }
  EXPECT_EQ(got, pt);
  EXPECT_EQ((*r)->plaintext_read(), pt.size());
  EXPECT_TRUE((*r)->at_end());
  EXPECT_TRUE((*r)->ReadChunk()->empty());
}

INSTANTIATE_TEST_SUITE_P(Envelope, EnvelopeRoundTrip,
                         ::testing::Values(Suite::kIntl, Suite::kGm),
                         [](const auto& info) { return std::string(SuiteName(info.param)); });

// ---------------------------------------------------------------------------
// Tampering, both suites. Each case asserts the reason and that no plaintext
// of an unverified chunk came out.

class EnvelopeTamper : public ::testing::TestWithParam<Suite> {
 protected:
  // Three chunks: two full, one of 100 bytes.
  void SetUp() override {
    pt_ = Pattern(2 * kChunk + 100);
    env_ = SealInPieces(GetParam(), Key(9), Id(5), pt_);
    ASSERT_EQ(env_.size(), kEnvelopeHeaderSize + 2 * kRecord + kRecordOverhead + 100);
  }
  static size_t RecordStart(size_t i) { return kEnvelopeHeaderSize + i * kRecord; }

  Outcome Open(const Bytes& env) { return ReadStreaming(env, Key(9), Id(5), GetParam()); }
  void ExpectRejected(const Bytes& env, std::string_view reason, size_t released_chunks) {
    Outcome o = Open(env);
    EXPECT_EQ(Reason(o), reason) << o.status.ToString();
    EXPECT_EQ(o.released, Prefix(pt_, released_chunks * kChunk));
    EXPECT_TRUE(o.sticky);
    // The whole-buffer API fails the same way and returns no plaintext.
    auto all = OpenAll(Key(9), Id(5), env, GetParam());
    EXPECT_EQ(all.status().reason(), reason);
  }

  Bytes pt_;
  Bytes env_;
};

TEST_P(EnvelopeTamper, Untouched) {
  Outcome o = Open(env_);
  ASSERT_TRUE(o.status.ok()) << o.status.ToString();
  EXPECT_EQ(o.released, pt_);
}

TEST_P(EnvelopeTamper, HeaderSaltByteFlipped) {
  env_[kEnvelopeHeaderSize - 1] ^= 0x01;
  ExpectRejected(env_, kEnvelopeChunkTagMismatch, 0);
}

TEST_P(EnvelopeTamper, HeaderChunkSizeChanged) {
  Bytes one = SealInPieces(GetParam(), Key(9), Id(5), Pattern(100));
  one[10] ^= 0x08;  // 1024 → 3072, still in range: keys no longer match
  Outcome o = Open(one);
  EXPECT_EQ(Reason(o), kEnvelopeChunkTagMismatch);
  EXPECT_TRUE(o.released.empty());
}

TEST_P(EnvelopeTamper, BadMagic) {
  env_[0] = 'X';
  ExpectRejected(env_, kEnvelopeBadMagic, 0);
}

TEST_P(EnvelopeTamper, UnsupportedVersion) {
  env_[4] = kEnvelopeVersion + 1;
  ExpectRejected(env_, kEnvelopeUnsupportedVersion, 0);
}

TEST_P(EnvelopeTamper, UnknownSuiteId) {
  env_[5] = 0x7f;
  ExpectRejected(env_, kEnvelopeUnknownSuite, 0);
}

TEST_P(EnvelopeTamper, ReservedBitsSet) {
  env_[7] = 0x01;
  ExpectRejected(env_, kEnvelopeBadHeader, 0);
}

TEST_P(EnvelopeTamper, ChunkSizeOutOfRange) {
  env_[8] = 0xff;  // > kMaxChunkSize
  ExpectRejected(env_, kEnvelopeBadHeader, 0);
}

TEST_P(EnvelopeTamper, ChunkByteFlipped) {
  env_[RecordStart(1) + kRecordHeaderSize + 10] ^= 0x80;
  ExpectRejected(env_, kEnvelopeChunkTagMismatch, 1);
}

TEST_P(EnvelopeTamper, FirstChunkByteFlipped) {
  env_[RecordStart(0) + kRecordHeaderSize] ^= 0x01;
  ExpectRejected(env_, kEnvelopeChunkTagMismatch, 0);
}

TEST_P(EnvelopeTamper, TagByteFlipped) {
  env_[env_.size() - 1] ^= 0x01;  // the final chunk's tag
  ExpectRejected(env_, kEnvelopeChunkTagMismatch, 2);
}

TEST_P(EnvelopeTamper, FinalFlagForgedOnFullChunk) {
  env_[RecordStart(1)] = kRecordFlagFinal;  // claim the file ends after chunk 1
  env_.resize(RecordStart(2));
  ExpectRejected(env_, kEnvelopeChunkTagMismatch, 1);
}

TEST_P(EnvelopeTamper, FinalFlagCleared) {
  env_[RecordStart(2)] = kRecordFlagMore;  // short record claims more follow
  ExpectRejected(env_, kEnvelopeBadRecord, 2);
}

TEST_P(EnvelopeTamper, UnknownRecordFlag) {
  env_[RecordStart(0)] = 0x02;
  ExpectRejected(env_, kEnvelopeBadRecord, 0);
}

TEST_P(EnvelopeTamper, RecordLengthChanged) {
  env_[RecordStart(2) + 4] ^= 0x01;  // final chunk length 100 → 101
  ExpectRejected(env_, kEnvelopeTruncated, 2);
}

TEST_P(EnvelopeTamper, TruncatedMidChunk) {
  env_.resize(RecordStart(1) + 500);
  ExpectRejected(env_, kEnvelopeTruncated, 1);
}

TEST_P(EnvelopeTamper, TruncatedMidFinalTag) {
  env_.resize(env_.size() - 3);
  ExpectRejected(env_, kEnvelopeTruncated, 2);
}

TEST_P(EnvelopeTamper, TruncatedMidRecordHeader) {
  env_.resize(RecordStart(1) + 2);
  ExpectRejected(env_, kEnvelopeTruncated, 1);
}

TEST_P(EnvelopeTamper, DroppedLastChunk) {
  env_.resize(RecordStart(2));
  ExpectRejected(env_, kEnvelopeTruncated, 2);
}

TEST_P(EnvelopeTamper, HeaderOnly) {
  env_.resize(kEnvelopeHeaderSize);
  ExpectRejected(env_, kEnvelopeTruncated, 0);
}

TEST_P(EnvelopeTamper, DroppedMiddleChunk) {
  env_.erase(env_.begin() + RecordStart(1), env_.begin() + RecordStart(2));
  ExpectRejected(env_, kEnvelopeChunkTagMismatch, 1);
}

TEST_P(EnvelopeTamper, ReorderedChunks) {
  std::swap_ranges(env_.begin() + RecordStart(0), env_.begin() + RecordStart(1),
                   env_.begin() + RecordStart(1));
  ExpectRejected(env_, kEnvelopeChunkTagMismatch, 0);
}

TEST_P(EnvelopeTamper, ChunkSplicedFromOtherFileSameKeyAndId) {
  // Same DEK, same file id, same plaintext: only the random salt differs.
  Bytes other = SealInPieces(GetParam(), Key(9), Id(5), pt_);
  std::copy(other.begin() + RecordStart(1), other.begin() + RecordStart(2),
            env_.begin() + RecordStart(1));
  ExpectRejected(env_, kEnvelopeChunkTagMismatch, 1);
}

TEST_P(EnvelopeTamper, ChunkSplicedFromOtherFileSameKey) {
  Bytes other = SealInPieces(GetParam(), Key(9), Id(6), pt_);
  std::copy(other.begin() + RecordStart(0), other.begin() + RecordStart(1),
            env_.begin() + RecordStart(0));
  ExpectRejected(env_, kEnvelopeChunkTagMismatch, 0);
}

TEST_P(EnvelopeTamper, HeaderSplicedFromOtherFile) {
  Bytes other = SealInPieces(GetParam(), Key(9), Id(5), pt_);
  std::copy(other.begin(), other.begin() + kEnvelopeHeaderSize, env_.begin());
  ExpectRejected(env_, kEnvelopeChunkTagMismatch, 0);
}

TEST_P(EnvelopeTamper, GarbageAfterFinalChunk) {
  env_.push_back(0x00);
  ExpectRejected(env_, kEnvelopeTrailingData, 2);
}

TEST_P(EnvelopeTamper, FinalChunkRepeated) {
  Bytes last(env_.begin() + RecordStart(2), env_.end());
  env_.insert(env_.end(), last.begin(), last.end());
  ExpectRejected(env_, kEnvelopeTrailingData, 2);
}

TEST_P(EnvelopeTamper, WrongKey) {
  Outcome o = ReadStreaming(env_, Key(10), Id(5), GetParam());
  EXPECT_EQ(Reason(o), kEnvelopeChunkTagMismatch);
  EXPECT_TRUE(o.released.empty());
}

TEST_P(EnvelopeTamper, WrongFileId) {
  Outcome o = ReadStreaming(env_, Key(9), Id(6), GetParam());
  EXPECT_EQ(Reason(o), kEnvelopeWrongFileId);
  EXPECT_TRUE(o.released.empty());
}

TEST_P(EnvelopeTamper, FileIdForgedToExpected) {
  std::fill(env_.begin() + 12, env_.begin() + 12 + kFileIdSize, 6);
  Outcome o = ReadStreaming(env_, Key(9), Id(6), GetParam());
  EXPECT_EQ(Reason(o), kEnvelopeChunkTagMismatch);
  EXPECT_TRUE(o.released.empty());
}

TEST_P(EnvelopeTamper, WrongSuite) {
  Suite other = GetParam() == Suite::kIntl ? Suite::kGm : Suite::kIntl;
  Outcome o = ReadStreaming(env_, Key(9), Id(5), other);
  EXPECT_EQ(Reason(o), kEnvelopeWrongSuite);
  EXPECT_EQ(o.status.code(), ErrorCode::kDataLoss);
  EXPECT_TRUE(o.released.empty());
}

TEST_P(EnvelopeTamper, SuiteIdSwapped) {
  env_[5] = GetParam() == Suite::kIntl ? kEnvelopeSuiteIdGm : kEnvelopeSuiteIdIntl;
  Outcome o = ReadStreaming(env_, Key(9), Id(5));
  EXPECT_EQ(Reason(o), kEnvelopeChunkTagMismatch);
  EXPECT_TRUE(o.released.empty());
}

TEST_P(EnvelopeTamper, TruncatedHeader) {
  env_.resize(kEnvelopeHeaderSize - 1);
  ExpectRejected(env_, kEnvelopeTruncated, 0);
}

TEST_P(EnvelopeTamper, EmptyInput) {
  ExpectRejected(Bytes{}, kEnvelopeTruncated, 0);
  auto all = OpenAll(Key(9), Id(5), Bytes{});
  EXPECT_EQ(all.status().reason(), kEnvelopeTruncated);
}

TEST_P(EnvelopeTamper, ReadChunkStopsAtTamperedChunk) {
  env_[RecordStart(1) + kRecordHeaderSize + 1] ^= 0x04;
  MemorySource src(env_);
  auto r = EnvelopeReader::Open(Key(9), Id(5), &src);
  ASSERT_TRUE(r.ok());
  auto first = (*r)->ReadChunk();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(Bytes(first->begin(), first->end()), Prefix(pt_, kChunk));
  EXPECT_EQ((*r)->ReadChunk().status().reason(), kEnvelopeChunkTagMismatch);
  EXPECT_EQ((*r)->ReadChunk().status().reason(), kEnvelopeChunkTagMismatch);
}

TEST_P(EnvelopeTamper, OpenAllReturnsNothingOnLateFailure) {
  env_[env_.size() - 1] ^= 0x01;
  auto all = OpenAll(Key(9), Id(5), env_);
  EXPECT_EQ(all.status().reason(), kEnvelopeChunkTagMismatch);
  EXPECT_FALSE(all.ok());
}

TEST_P(EnvelopeTamper, EmptyFileCannotBeExtended) {
  Bytes empty = SealInPieces(GetParam(), Key(9), Id(5), Bytes{});
  ASSERT_EQ(empty.size(), kEnvelopeHeaderSize + kRecordOverhead);
  Outcome o = ReadStreaming(empty, Key(9), Id(5));
  ASSERT_TRUE(o.status.ok());
  EXPECT_TRUE(o.released.empty());
  // An empty final record is only valid as the first record.
  Bytes forged(env_.begin(), env_.begin() + RecordStart(1));
  forged.insert(forged.end(), empty.begin() + kEnvelopeHeaderSize, empty.end());
  EXPECT_EQ(Reason(Open(forged)), kEnvelopeBadRecord);
}

INSTANTIATE_TEST_SUITE_P(Envelope, EnvelopeTamper, ::testing::Values(Suite::kIntl, Suite::kGm),
                         [](const auto& info) { return std::string(SuiteName(info.param)); });

// ---------------------------------------------------------------------------
// Writer and reader contracts

class FailingSink final : public ByteSink {
 public:
  explicit FailingSink(size_t fail_after) : budget_(fail_after) {}
  Status Write(const uint8_t* p, size_t n) override {
    if (n > budget_) return ResourceExhausted("disk full", "disk_full");
    budget_ -= n;
    return Status::Ok();
  }

 private:
  size_t budget_;
};

TEST(EnvelopeWriter, WriteAfterFinish) {
  StringSink sink;
  auto w = EnvelopeWriter::Create(Suite::kIntl, Key(1), Id(1), &sink, kChunk);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Finish().ok());
  EXPECT_TRUE((*w)->finished());
  uint8_t b = 0;
  EXPECT_EQ((*w)->Write(&b, 1).reason(), kEnvelopeWriterFinished);
  EXPECT_EQ((*w)->Finish().reason(), kEnvelopeWriterFinished);
  EXPECT_EQ(sink.data().size(), EnvelopeSize(0, kChunk));
}

TEST(EnvelopeWriter, BadKeySize) {
  StringSink sink;
  SecretBytes short_key(Bytes(16, 1));
  auto w = EnvelopeWriter::Create(Suite::kIntl, short_key, Id(1), &sink);
  EXPECT_EQ(w.status().reason(), kEnvelopeBadKey);
  EXPECT_EQ(w.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(sink.data().empty());
  MemorySource src(nullptr, 0);
  EXPECT_EQ(EnvelopeReader::Open(short_key, Id(1), &src).status().reason(), kEnvelopeBadKey);
}

TEST(EnvelopeWriter, BadChunkSize) {
  StringSink sink;
  EXPECT_EQ(EnvelopeWriter::Create(Suite::kGm, Key(1), Id(1), &sink, kMinChunkSize - 1)
                .status()
                .reason(),
            kEnvelopeBadChunkSize);
  EXPECT_EQ(EnvelopeWriter::Create(Suite::kGm, Key(1), Id(1), &sink, kMaxChunkSize + 1)
                .status()
                .reason(),
            kEnvelopeBadChunkSize);
}

TEST(EnvelopeWriter, SinkFailureIsSticky) {
  FailingSink sink(kEnvelopeHeaderSize + kRecord + 10);
  auto w = EnvelopeWriter::Create(Suite::kIntl, Key(1), Id(1), &sink, kChunk);
  ASSERT_TRUE(w.ok());
  Bytes pt = Pattern(3 * kChunk);
  Status s = (*w)->Write(pt.data(), pt.size());
  EXPECT_EQ(s.reason(), "disk_full");
  EXPECT_EQ((*w)->Write(pt.data(), 1).reason(), "disk_full");
  EXPECT_EQ((*w)->Finish().reason(), "disk_full");
}

TEST(EnvelopeWriter, UnfinishedEnvelopeIsTruncated) {
  StringSink sink;
  auto w = EnvelopeWriter::Create(Suite::kGm, Key(1), Id(1), &sink, kChunk);
  ASSERT_TRUE(w.ok());
  Bytes pt = Pattern(3 * kChunk);
  ASSERT_TRUE((*w)->Write(pt.data(), pt.size()).ok());
  // Two chunks went out; the third waits for Finish() or more data.
  EXPECT_EQ((*w)->ciphertext_size(), kEnvelopeHeaderSize + 2 * kRecord);
  Outcome o = ReadStreaming(sink.data(), Key(1), Id(1));
  EXPECT_EQ(Reason(o), kEnvelopeTruncated);
  EXPECT_EQ(o.released, Prefix(pt, 2 * kChunk));
}

// ---------------------------------------------------------------------------
// Bounded memory: 64 MiB stream end to end with nothing held but one chunk
// in the writer, one record in flight and one chunk in the reader.

// A ByteSource that produces an envelope on demand by feeding generated
// plaintext to an EnvelopeWriter.
class GeneratedEnvelopeSource final : public ByteSource {
 public:
  GeneratedEnvelopeSource(Suite suite, uint64_t total, uint32_t chunk) : total_(total) {
    auto w = EnvelopeWriter::Create(suite, Key(2), Id(3), &pending_, chunk);
    EXPECT_TRUE(w.ok());
    writer_ = std::move(*w);
  }
  StatusOr<size_t> Read(uint8_t* p, size_t n) override {
    while (off_ == pending_.data().size() && !writer_->finished()) Produce();
    size_t take = std::min(n, pending_.data().size() - off_);
    std::memcpy(p, pending_.data().data() + off_, take);
    off_ += take;
    return take;
  }
  const EnvelopeWriter& writer() const { return *writer_; }
  size_t max_pending() const { return max_pending_; }

 private:
  void Produce() {
    pending_.Release();
    off_ = 0;
    uint8_t piece[7919];  // prime-sized pieces
    size_t n = static_cast<size_t>(std::min<uint64_t>(sizeof piece, total_ - produced_));
    for (size_t i = 0; i < n; ++i) piece[i] = PatternByte(produced_ + i);
    produced_ += n;
    EXPECT_TRUE(writer_->Write(piece, n).ok());
    if (produced_ == total_) {
      EXPECT_TRUE(writer_->Finish().ok());
    }
    max_pending_ = std::max(max_pending_, pending_.data().size());
  }

  uint64_t total_;
  uint64_t produced_ = 0;
  StringSink pending_;
  size_t off_ = 0;
  size_t max_pending_ = 0;
  std::unique_ptr<EnvelopeWriter> writer_;
};

class EnvelopeBoundedMemory : public ::testing::TestWithParam<Suite> {};

TEST_P(EnvelopeBoundedMemory, Stream64MiB) {
  constexpr uint64_t kTotal = uint64_t{64} << 20;
  constexpr uint32_t kStreamChunk = kDefaultChunkSize;
  GeneratedEnvelopeSource source(GetParam(), kTotal, kStreamChunk);
  auto r = EnvelopeReader::Open(Key(2), Id(3), &source, GetParam());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  Bytes buf(12345);
  uint64_t got = 0;
  bool content_ok = true;
  for (;;) {
    StatusOr<size_t> n = (*r)->Read(buf.data(), buf.size());
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    if (*n == 0) break;
    for (size_t i = 0; i < *n && content_ok; ++i) content_ok = buf[i] == PatternByte(got + i);
    got += *n;
  }
  EXPECT_TRUE(content_ok);
  EXPECT_EQ(got, kTotal);
  EXPECT_EQ(source.writer().plaintext_size(), kTotal);
  EXPECT_EQ(source.writer().ciphertext_size(), EnvelopeSize(kTotal, kStreamChunk));
  EXPECT_LE(source.writer().buffered_bytes_peak(), 2 * kStreamChunk);
  EXPECT_LE((*r)->buffered_bytes_peak(), 2 * kStreamChunk);
  // Each plaintext piece pushes out at most one record.
  EXPECT_LE(source.max_pending(), kStreamChunk + kRecordOverhead);
}

INSTANTIATE_TEST_SUITE_P(Envelope, EnvelopeBoundedMemory,
                         ::testing::Values(Suite::kIntl, Suite::kGm),
                         [](const auto& info) { return std::string(SuiteName(info.param)); });

// ---------------------------------------------------------------------------
// The worked example of docs/formats/envelope.md, computed independently of
// this implementation: pins the byte format.

struct WorkedExample {
  Suite suite;
  const char* envelope_hex;
};

// DEK = 00 01 02 … 1f, file id = a0 a1 … af, salt = 10 11 … 1f,
// chunk size 16, plaintext "Custos keeps archives safe." (27 bytes).
const WorkedExample kWorkedExamples[] = {
    {Suite::kIntl,
     "435354450101000000000010a0a1a2a3a4a5a6a7a8a9aaabacadaeaf10111213"
     "1415161718191a1b1c1d1e1f0000000010075f8b3d44b60e4dbe7f1e83650f13"
     "de99131043d7f5993f78cf0d7924f75b62010000000b9ffa3e88c3895da66523"
     "3871964edb42ac6ec6934129b15fe08530"},
    {Suite::kGm,
     "435354450102000000000010a0a1a2a3a4a5a6a7a8a9aaabacadaeaf10111213"
     "1415161718191a1b1c1d1e1f0000000010474d02d6f8e5294e7d951e6aeb448d"
     "ed02ec2fd336cfd752a27ca4f1591a682b010000000bce51d5b419eaa874cd9f"
     "820bfe70c05653b2e2a4b98881e937cfcc"},
};

TEST(EnvelopeFormat, WorkedExampleOpens) {
  SecretBytes dek(Bytes(32));
  for (uint8_t i = 0; i < 32; ++i) dek.data()[i] = i;
  FileId id;
  for (uint8_t i = 0; i < kFileIdSize; ++i) id[i] = 0xa0 + i;
  for (const WorkedExample& ex : kWorkedExamples) {
    SCOPED_TRACE(std::string(SuiteName(ex.suite)));
    std::optional<Bytes> env = HexDecode(ex.envelope_hex);
    ASSERT_TRUE(env.has_value());
    auto pt = OpenAll(dek, id, *env, ex.suite);
    ASSERT_TRUE(pt.ok()) << pt.status().ToString();
    EXPECT_EQ(ToString(*pt), "Custos keeps archives safe.");
  }
}

// ---------------------------------------------------------------------------
// Throughput. Run with
//   crypto_tests --gtest_also_run_disabled_tests
//                --gtest_filter='EnvelopeThroughput.DISABLED_Measure'

class PreallocatedSink final : public ByteSink {
 public:
  explicit PreallocatedSink(size_t capacity) : data_(capacity) {}
  Status Write(const uint8_t* p, size_t n) override {
    if (n > data_.size() - size_) return ResourceExhausted("full");
    std::memcpy(data_.data() + size_, p, n);
    size_ += n;
    return Status::Ok();
  }
  const uint8_t* data() const { return data_.data(); }
  size_t size() const { return size_; }
  void Reset() { size_ = 0; }

 private:
  Bytes data_;
  size_t size_ = 0;
};

// Wall-clock and CPU time (this thread). `openssl speed` divides by CPU
// time unless given -elapsed, so the CPU-time figure is the one to compare
// with it on a busy machine.
struct Clock {
  std::chrono::steady_clock::time_point wall;
  double cpu;
  static Clock Now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return {std::chrono::steady_clock::now(), ts.tv_sec + ts.tv_nsec / 1e9};
  }
};

void Report(const char* what, Suite suite, size_t bytes, const Clock& a, const Clock& b) {
  double wall = std::chrono::duration<double>(b.wall - a.wall).count();
  std::printf("%-4s %-26s %5.0f MB/s (CPU time)  %5.0f MB/s (wall)\n",
              std::string(SuiteName(suite)).c_str(), what, bytes / 1e6 / (b.cpu - a.cpu),
              bytes / 1e6 / wall);
}

// The same work without the envelope: raw EVP over the same buffer in
// 64 KiB chunks (out-of-place, as the envelope does), for comparison.
void RawSeal(Suite suite, const Bytes& pt, Bytes* out) {
  uint8_t key[32] = {1}, iv[16] = {}, aad[kChunkAadSize] = {}, tag[32];
  int len = 0;
  size_t tag_len = 0;
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* m = EVP_MAC_CTX_new(mac);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SM3"), 0),
      OSSL_PARAM_construct_end()};
  if (suite == Suite::kIntl) {
    EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), nullptr, key, nullptr);
  } else {
    EVP_EncryptInit_ex(c, EVP_sm4_ctr(), nullptr, key, nullptr);
    EVP_MAC_init(m, key, 32, params);
  }
  for (size_t off = 0; off < pt.size(); off += kDefaultChunkSize) {
    iv[0] = static_cast<uint8_t>(off >> 16);
    uint8_t* o = out->data() + off;
    EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, iv);
    if (suite == Suite::kIntl) {
      EVP_EncryptUpdate(c, nullptr, &len, aad, sizeof aad);
      EVP_EncryptUpdate(c, o, &len, pt.data() + off, kDefaultChunkSize);
      EVP_EncryptFinal_ex(c, o + len, &len);
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag);
    } else {
      EVP_EncryptUpdate(c, o, &len, pt.data() + off, kDefaultChunkSize);
      EVP_MAC_init(m, nullptr, 0, nullptr);
      EVP_MAC_update(m, aad, sizeof aad);
      EVP_MAC_update(m, o, kDefaultChunkSize);
      EVP_MAC_final(m, tag, &tag_len, sizeof tag);
    }
  }
  EVP_MAC_CTX_free(m);
  EVP_MAC_free(mac);
  EVP_CIPHER_CTX_free(c);
}

class DiscardingSink final : public ByteSink {
 public:
  Status Write(const uint8_t* p, size_t n) override {
    bytes_ += n;
    return Status::Ok();
  }
  uint64_t bytes() const { return bytes_; }

 private:
  uint64_t bytes_ = 0;
};

// Runs `fn` kRepeats times and reports the fastest run (by CPU time).
void Measure(const char* what, Suite suite, size_t bytes, const std::function<void()>& fn) {
  constexpr int kRepeats = 3;
  Clock best_a{}, best_b{};
  double best = 1e30;
  for (int i = 0; i < kRepeats; ++i) {
    Clock a = Clock::Now();
    fn();
    Clock b = Clock::Now();
    if (b.cpu - a.cpu < best) {
      best = b.cpu - a.cpu;
      best_a = a;
      best_b = b;
    }
  }
  Report(what, suite, bytes, best_a, best_b);
}

TEST(EnvelopeThroughput, DISABLED_Measure) {
  constexpr size_t kSize = size_t{256} << 20;
  Bytes pt(kSize);
  for (size_t i = 0; i < kSize; i += 8) std::memcpy(&pt[i], &i, sizeof i);
  Bytes out(kSize + 1);
  for (Suite suite : {Suite::kIntl, Suite::kGm}) {
    Measure("raw EVP, no framing", suite, kSize, [&] { RawSeal(suite, pt, &out); });
    Measure("seal, discarding sink", suite, kSize, [&] {
      DiscardingSink sink;
      auto w = EnvelopeWriter::Create(suite, Key(1), Id(1), &sink);
      ASSERT_TRUE(w.ok());
      ASSERT_TRUE((*w)->Write(pt.data(), pt.size()).ok());
      ASSERT_TRUE((*w)->Finish().ok());
      ASSERT_EQ(sink.bytes(), EnvelopeSize(kSize, kDefaultChunkSize));
    });
    PreallocatedSink sink(EnvelopeSize(kSize, kDefaultChunkSize));
    Measure("seal, memory sink", suite, kSize, [&] {
      sink.Reset();
      auto w = EnvelopeWriter::Create(suite, Key(1), Id(1), &sink);
      ASSERT_TRUE(w.ok());
      ASSERT_TRUE((*w)->Write(pt.data(), pt.size()).ok());
      ASSERT_TRUE((*w)->Finish().ok());
    });
    Measure("open, Read into buffer", suite, kSize, [&] {
      MemorySource src(sink.data(), sink.size());
      auto r = EnvelopeReader::Open(Key(1), Id(1), &src);
      ASSERT_TRUE(r.ok());
      size_t got = 0;
      for (;;) {
        StatusOr<size_t> n =
            (*r)->Read(out.data() + got, std::min<size_t>(kSize - got + 1, 1 << 20));
        ASSERT_TRUE(n.ok());
        if (*n == 0) break;
        got += *n;
      }
      ASSERT_EQ(got, kSize);
    });
    ASSERT_TRUE(std::equal(pt.begin(), pt.end(), out.begin()));
    Measure("open, ReadChunk (no copy)", suite, kSize, [&] {
      MemorySource src(sink.data(), sink.size());
      auto r = EnvelopeReader::Open(Key(1), Id(1), &src);
      ASSERT_TRUE(r.ok());
      size_t got = 0;
      for (;;) {
        auto view = (*r)->ReadChunk();
        ASSERT_TRUE(view.ok());
        if (view->empty()) break;
        got += view->size();
      }
      ASSERT_EQ(got, kSize);
    });
  }
}

}  // namespace
}  // namespace custos::crypto
