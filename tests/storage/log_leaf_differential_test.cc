// DecodeLeaf reads a leaf in one pass (DecodeLeafOnePass) and hands every
// other input to the decoder as first written (DecodeLeafReference). These
// tests run both over the fuzz corpus and a few thousand generated leaves,
// valid and spoiled: the one pass must accept exactly what the reference
// accepts, decode it to the same event, and DecodeLeaf must refuse the rest
// with the reference's reason (leaf_bad_version, leaf_not_canonical,
// leaf_malformed).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "crypto/bytes.h"
#include "storage/log_leaf.h"

namespace custos::storage {
namespace {

// The verdict of all three decoders on `leaf`: "accepted" or the reason.
std::string SameVerdict(std::string_view leaf) {
  StatusOr<DecodedLeaf> reference = DecodeLeafReference(leaf);
  StatusOr<DecodedLeaf> decoded = DecodeLeaf(leaf);
  std::optional<DecodedLeaf> one_pass = DecodeLeafOnePass(leaf);
  EXPECT_EQ(reference.ok(), one_pass.has_value()) << leaf;
  EXPECT_EQ(reference.ok(), decoded.ok()) << leaf;
  if (!reference.ok()) {
    EXPECT_FALSE(decoded.ok()) << leaf;
    if (!decoded.ok()) EXPECT_EQ(decoded.status().reason(), reference.status().reason()) << leaf;
    return reference.status().reason();
  }
  if (!one_pass || !decoded.ok()) return "differs";
  for (const DecodedLeaf* d : {&*one_pass, &*decoded}) {
    EXPECT_EQ(d->seq, reference->seq) << leaf;
    EXPECT_EQ(d->prev, reference->prev) << leaf;
    EXPECT_EQ(d->event.action, reference->event.action) << leaf;
    EXPECT_EQ(d->event.actor, reference->event.actor) << leaf;
    EXPECT_EQ(d->event.subject, reference->event.subject) << leaf;
    EXPECT_EQ(d->event.at, reference->event.at) << leaf;
    EXPECT_TRUE(d->event.details == reference->event.details) << leaf;
  }
  return "accepted";
}

TEST(LogLeafDifferential, FuzzCorpusGetsTheReferenceVerdict) {
  const std::filesystem::path dir = "tests/fuzz/corpus/log_leaf";
  ASSERT_TRUE(std::filesystem::is_directory(dir));
  std::map<std::string, int> verdicts;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    ++verdicts[SameVerdict(text.str())];
  }
  EXPECT_GT(verdicts["accepted"], 0);
  EXPECT_GT(verdicts["leaf_bad_version"], 0);
  EXPECT_GT(verdicts["leaf_not_canonical"], 0);
  EXPECT_EQ(verdicts.count("differs"), 0u);
}

// Pieces of strings: Chinese, escapes, controls, U+007F, U+2028, a
// character above U+FFFF (a surrogate pair in UTF-16) and U+E000/U+FFFF,
// which sort differently by UTF-16 than by bytes.
const std::vector<std::string> kPieces = {
    "合同", "上海某某有限公司", "法务部", "\"", "\\", "\n", "\t", "\x01", "\x1f", "\x7f",
    "\xe2\x80\xa8", "\xf0\x9f\x98\x80", "\xee\x80\x80", "\xef\xbf\xbf", "/", "a", "Z", " ",
    "A", "0"};

std::string RandomText(std::mt19937& rng, size_t max_pieces) {
  std::string s;
  const size_t n = rng() % (max_pieces + 1);
  for (size_t i = 0; i < n; ++i) s += kPieces[rng() % kPieces.size()];
  return s;
}

domain::DetailValue RandomValue(std::mt19937& rng, int depth);

domain::EventDetails RandomObject(std::mt19937& rng, int depth) {
  domain::EventDetails o;
  const size_t n = rng() % 5;
  for (size_t i = 0; i < n; ++i) o.Set(RandomText(rng, 2), RandomValue(rng, depth + 1));
  return o;
}

domain::DetailValue RandomValue(std::mt19937& rng, int depth) {
  constexpr int64_t kMax = (int64_t{1} << 53) - 1;
  static const std::vector<int64_t> kIntegers = {0, 1, -1, 42, kMax, -kMax, kMax - 1, 1000000};
  switch (rng() % (depth > 3 ? 5 : 7)) {
    case 0: return domain::DetailValue();
    case 1: return domain::DetailValue(rng() % 2 == 0);
    case 2: return domain::DetailValue(kIntegers[rng() % kIntegers.size()]);
    case 3:
    case 4: return domain::DetailValue(RandomText(rng, 6));
    case 5: {
      domain::DetailValue::Array a;
      for (size_t i = rng() % 4; i > 0; --i) a.push_back(RandomValue(rng, depth + 1));
      return a;
    }
    default: return RandomObject(rng, depth);
  }
}

// `levels` arrays nested in each other.
domain::DetailValue Nested(int levels) {
  domain::DetailValue v = domain::DetailValue::Array{};
  for (int i = 1; i < levels; ++i) v = domain::DetailValue::Array{v};
  return v;
}

std::string RandomLeaf(std::mt19937& rng, int i) {
  static const std::vector<std::string> kActions = {"record.checkin", "loan.approve", "state.rows"};
  static const std::vector<std::string> kTimes = {"2026-11-22T14:00:00.123Z", "1678-01-01T00:00:00.000Z",
                                                  "2261-12-31T23:59:59.999Z"};
  LogEvent e;
  e.action = kActions[rng() % kActions.size()];
  e.actor = "archivist" + std::to_string(i % 7) + (rng() % 3 == 0 ? "王" : "");
  e.subject = "CT-2026-" + std::to_string(100000 + i) + (rng() % 3 == 0 ? "·合同" : "");
  e.at = domain::ParseTime(kTimes[rng() % kTimes.size()]).value();
  e.details = RandomObject(rng, 1);
  if (rng() % 10 == 0) e.details.Set("deep", Nested(60 + static_cast<int>(rng() % 5)));
  const uint64_t seq = rng() % 4 == 0 ? 0 : (rng() % 2 == 0 ? kMaxLeafSeq : rng() % 100000 + 1);
  std::optional<crypto::Digest32> prev;
  if (seq != 0) {
    crypto::Digest32 hash;
    for (uint8_t& b : hash) b = static_cast<uint8_t>(rng());
    prev = hash;
  }
  StatusOr<std::string> leaf = EncodeLeaf(e, seq, prev);
  return leaf.ok() ? *leaf : std::string();
}

// `leaf` with the first `from` (at or after a random place) made `to`.
std::string Replace(std::mt19937& rng, std::string leaf, std::string_view from, std::string_view to) {
  size_t at = leaf.find(from, rng() % (leaf.size() + 1));
  if (at == std::string::npos) at = leaf.find(from);
  if (at != std::string::npos) leaf.replace(at, from.size(), to);
  return leaf;
}

// One of the ways a leaf is spoiled: second forms, wrong values, broken
// bytes.
std::string Spoil(std::mt19937& rng, const std::string& leaf) {
  static const std::vector<std::pair<std::string, std::string>> kEdits = {
      {"\"v\":1}", "\"v\":2}"},      {"\"v\":1}", "\"v\":1 }"},    {"\"v\":1}", "\"v\":1.0}"},
      {"\"v\":1}", "\"v\":01}"},     {":0", ":-0"},                {":1", ":1.0"},
      {":1", ":1e0"},                {":42", ":042"},              {"9007199254740991", "9007199254740992"},
      {"A", "\\u0041"},              {"a", "\\u0061"},             {"/", "\\/"},
      {"\\n", "\\u000a"},            {"\\u001f", "\\u001F"},       {"\\u0001", "\\u0001"},
      {"\xe2\x80\xa8", "\\u2028"},   {"合", "\\u5408"},            {"\xf0\x9f\x98\x80", "\\ud83d\\ude00"},
      {"\xf0\x9f\x98\x80", "\\ud83d"}, {"\xf0\x9f\x98\x80", "\xf0\x9f\x98"}, {"{\"", "{\"a\":1,\""},
      {"{\"", "{\"\xf0\x9f\x98\x80\":1,\""}, {",\"", ",\"a\":null,\""}, {"\"actor\"", "\"actoR\""},
      {"\"seq\":", "\"seq\":-"},     {"\"prev\":\"", "\"prev\":\"A"}, {"=\"", "\"="},
      {"T", "t"},                    {".", ""},                    {"Z\"", "+00:00\""},
      {"[", "[ "},                   {":", " :"},                  {"true", "tru"},
      {"\"at\":\"", "\"at\":\"0"},   {"\"details\":{", "\"details\":["}, {"\x7f", "\\u007f"}};
  switch (rng() % 5) {
    case 0: {  // a byte changed
      std::string s = leaf;
      s[rng() % s.size()] ^= static_cast<char>(1 + rng() % 255);
      return s;
    }
    case 1: return leaf.substr(0, rng() % leaf.size());  // truncated
    case 2: {  // whitespace somewhere
      std::string s = leaf;
      s.insert(rng() % (s.size() + 1), rng() % 2 == 0 ? " " : "\n");
      return s;
    }
    default: {
      const auto& [from, to] = kEdits[rng() % kEdits.size()];
      return Replace(rng, leaf, from, to);
    }
  }
}

TEST(LogLeafDifferential, GeneratedLeavesGetTheReferenceVerdict) {
  std::mt19937 rng(20261207);
  std::map<std::string, int> verdicts;
  constexpr int kLeaves = 2500;
  constexpr int kSpoilsPerLeaf = 4;
  for (int i = 0; i < kLeaves; ++i) {
    const std::string leaf = RandomLeaf(rng, i);
    if (leaf.empty()) continue;  // details EncodeLeaf refuses (too deep)
    ++verdicts[SameVerdict(leaf)];
    for (int k = 0; k < kSpoilsPerLeaf; ++k) ++verdicts[SameVerdict(Spoil(rng, leaf))];
  }
  for (const auto& [verdict, count] : verdicts) std::cout << verdict << ": " << count << "\n";
  EXPECT_EQ(verdicts.count("differs"), 0u);
  EXPECT_GT(verdicts["accepted"], kLeaves);
  EXPECT_GT(verdicts["leaf_not_canonical"], kLeaves / 4);
  EXPECT_GT(verdicts["leaf_malformed"], kLeaves / 4);
  EXPECT_GT(verdicts["leaf_bad_version"], 10);
}

// The depth limit: details hold arrays up to 62 deep (the leaf's object
// and the details object are the first two of kMaxJsonDepth levels).
TEST(LogLeafDifferential, NestingAtTheDepthLimit) {
  int encoded = 0;
  for (int levels = 60; levels <= 64; ++levels) {
    LogEvent e{"record.checkin", "alice", domain::ParseTime("2026-11-22T14:00:00.123Z").value(),
               "CT-2026-000001", {}};
    e.details.Set("deep", Nested(levels));
    StatusOr<std::string> leaf = EncodeLeaf(e, 0, std::nullopt);
    if (!leaf.ok()) continue;
    ++encoded;
    EXPECT_EQ(SameVerdict(*leaf), levels <= 62 ? "accepted" : "leaf_malformed") << levels;
  }
  EXPECT_GE(encoded, 4);  // 60 to 63 at least: both sides of the limit
}

// The decoder reads a canonical time and a canonical 32-byte Base64 prev
// directly and leaves every other spelling to the former checks: each
// spelling near those shortcuts' edges gets the reference's verdict, and
// an accepted time the reference's instant.
TEST(LogLeafDifferential, TimesAndPrevSpellingsNearTheShortcutsGetTheReferenceVerdict) {
  crypto::Digest32 prev;
  for (size_t i = 0; i < prev.size(); ++i) prev[i] = static_cast<uint8_t>(0xA0 + i);
  LogEvent e{"record.checkin", "档案员 alice", domain::ParseTime("2026-11-22T14:00:00.123Z").value(),
             "CT-2026-时间", {}};
  const std::string leaf = EncodeLeaf(e, 7, prev).value();
  const std::string at = "\"2026-11-22T14:00:00.123Z\"";
  const std::string prev_text = "\"" + crypto::Base64Encode(prev) + "\"";
  ASSERT_NE(leaf.find(at), std::string::npos);
  ASSERT_NE(leaf.find(prev_text), std::string::npos);
  auto with = [](std::string text, const std::string& from, const std::string& to) {
    text.replace(text.find(from), from.size(), to);
    return text;
  };
  const std::map<std::string, std::string> times = {
      {"2026-11-22T14:00:00.123Z", "accepted"}, {"2024-02-29T23:59:59.999Z", "accepted"},
      {"1678-01-01T00:00:00.000Z", "accepted"}, {"1969-12-31T23:59:59.999Z", "accepted"},
      {"2261-12-31T23:59:59.999Z", "accepted"}, {"2026-02-29T00:00:00.000Z", "leaf_malformed"},
      {"2026-04-31T00:00:00.000Z", "leaf_malformed"}, {"2026-13-01T00:00:00.000Z", "leaf_malformed"},
      {"2026-00-10T00:00:00.000Z", "leaf_malformed"}, {"2026-11-00T00:00:00.000Z", "leaf_malformed"},
      {"2026-11-22T24:00:00.000Z", "leaf_malformed"}, {"2026-11-22T14:60:00.000Z", "leaf_malformed"},
      {"2016-12-31T23:59:60.000Z", "leaf_malformed"}, {"2026-11-22t14:00:00.123Z", "leaf_malformed"},
      {"2026-11-22T14:00:00.123z", "leaf_malformed"}, {"2026-11-22T14:00:00.12Z", "leaf_malformed"},
      {"2026-11-22T14:00:00Z", "leaf_malformed"}, {"2026-11-22T15:00:00.123+01:00", "leaf_malformed"},
      {"1677-12-31T23:59:59.999Z", "leaf_malformed"}, {"2262-01-01T00:00:00.000Z", "leaf_malformed"},
      {"2026-11-22T14:00:00.1230Z", "leaf_malformed"}, {"２026-11-22T14:00:00.123Z", "leaf_malformed"}};
  for (const auto& [time, verdict] : times) {
    const std::string spoiled = with(leaf, at, "\"" + time + "\"");
    const std::string got = SameVerdict(spoiled);
    EXPECT_EQ(got == "accepted", verdict == "accepted") << time << ": " << got;
    if (got == "accepted") EXPECT_EQ(DecodeLeaf(spoiled)->event.at, domain::ParseTime(time).value()) << time;
  }
  const std::string canonical = crypto::Base64Encode(prev);
  std::string pad_bits = canonical;
  pad_bits[42] = static_cast<char>(pad_bits[42] + 1);  // a second spelling of the same 32 bytes
  std::string bad_char = canonical;
  bad_char[5] = '-';
  for (const auto& [spelling, accepted] :
       std::vector<std::pair<std::string, bool>>{{canonical, true},
                                                 {pad_bits, false},
                                                 {bad_char, false},
                                                 {canonical.substr(0, 43), false},
                                                 {canonical + "=", false},
                                                 {canonical.substr(0, 43) + "A", false}}) {
    const std::string spoiled = with(leaf, prev_text, "\"" + spelling + "\"");
    EXPECT_EQ(SameVerdict(spoiled) == "accepted", accepted) << spelling;
  }
}

}  // namespace
}  // namespace custos::storage
