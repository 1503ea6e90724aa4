#include "storage/log_leaf.h"

#include <string>
#include <vector>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <gtest/gtest.h>

#include "crypto/bytes.h"
#include "crypto/merkle.h"
#include "domain/canonical_json.h"

namespace custos::storage {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

// The worked example of docs/formats/audit-log.md, section "Leaf".
constexpr std::string_view kLeaf0 =
    R"({"action":"record.checkin","actor":"alice","at":"2026-11-22T14:00:00.123Z",)"
    R"("details":{"files":[{"name":"note.txt","sha256":)"
    R"("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","size":3}],)"
    R"("version":1},"prev":"","seq":0,"subject":"CT-2026-000001","v":1})";
constexpr std::string_view kLeaf0HashHex =
    "917249eefbeb74c839973d634540cb7158ef5e071e7942c0063299caa10c12de";
constexpr std::string_view kLeaf0HashBase64 = "kXJJ7vvrdMg5lz1jRUDLcVjvXgceeULABjKZyqEMEt4=";
constexpr std::string_view kLeaf1HashHex =
    "11395f73371ee77b9d4a189c3940a7d85fb4a9713096f67a551bd1b8eaf02403";

domain::Time TimeOf(std::string_view text) {
  StatusOr<domain::Time> t = domain::ParseTime(text);
  EXPECT_TRUE(t.ok()) << text;
  return t.ok() ? *t : domain::Time();
}

LogEvent Event0() {
  domain::EventDetails file;
  file.Set("name", "note.txt");
  file.Set("sha256", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  file.Set("size", 3);
  domain::EventDetails details;
  details.Set("version", 1);
  details.Set("files", domain::DetailValue::Array{file});
  return LogEvent{"record.checkin", "alice", TimeOf("2026-11-22T14:00:00.123Z"),
                  "CT-2026-000001", details};
}

LogEvent Event1() {
  domain::EventDetails details;
  details.Set("reason", "annual audit");
  return LogEvent{"loan.request", "bob", TimeOf("2026-11-22T14:05:30Z"), "CT-2026-000001",
                  details};
}

std::string Leaf1(const crypto::Digest32& prev) {
  return R"({"action":"loan.request","actor":"bob","at":"2026-11-22T14:05:30.000Z",)"
         R"("details":{"reason":"annual audit"},"prev":")" +
         crypto::Base64Encode(prev) +
         R"(","seq":1,"subject":"CT-2026-000001","v":1})";
}

// kLeaf0 with the first occurrence of `from` replaced by `to`.
std::string Leaf0With(std::string_view from, std::string_view to) {
  std::string s(kLeaf0);
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

std::string DecodeReason(std::string_view leaf) {
  StatusOr<DecodedLeaf> d = DecodeLeaf(leaf);
  if (d.ok()) return "accepted";
  EXPECT_EQ(d.status().code(), ErrorCode::kInvalidArgument) << d.status().ToString();
  return d.status().reason();
}

std::string EncodeReason(const LogEvent& e, uint64_t seq = 0,
                         const std::optional<crypto::Digest32>& prev = std::nullopt) {
  StatusOr<std::string> leaf = EncodeLeaf(e, seq, prev);
  if (leaf.ok()) return "accepted";
  EXPECT_EQ(leaf.status().code(), ErrorCode::kInvalidArgument) << leaf.status().ToString();
  return leaf.status().reason();
}

crypto::Digest32 SomeHash(uint8_t fill) {
  crypto::Digest32 h;
  h.fill(fill);
  return h;
}

// ---------------------------------------------------------------------------
// Encoding

TEST(LogLeaf, KnownEventExactBytes) {
  StatusOr<std::string> leaf = EncodeLeaf(Event0(), 0, std::nullopt);
  ASSERT_TRUE(leaf.ok()) << leaf.status().ToString();
  EXPECT_EQ(*leaf, kLeaf0);
}

// EncodeLeaf writes the envelope itself: its bytes must be those of the
// whole event object put through the canonical serialiser, for events with
// escapes, non-ASCII text and nested details.
TEST(LogLeaf, EnvelopeEqualsCanonicalJsonOfTheWholeObject) {
  const std::vector<std::string> texts = {"alice", "Zoë \"quoted\" \\ back", "tab\there",
                                          "\xF0\x9F\x93\x84 file", "line\nbreak"};
  for (size_t i = 0; i < texts.size(); ++i) {
    LogEvent e = Event0();
    // Actors and subjects may not hold control characters; details may.
    const std::vector<std::string> names = {"alice", "Zoë \"quoted\" \\ back", "\xF0\x9F\x93\x84 file"};
    e.actor = i % 2 ? names[i % names.size()] : "system";
    e.subject = names[(i + 1) % names.size()];
    e.details = domain::EventDetails();
    e.details.Set("name", texts[i]);
    e.details.Set("size", i * 1000003);
    e.details.Set("\xC3\xA9t\xC3\xA9", domain::DetailValue::Array{texts[(i + 2) % texts.size()], true});
    // The same details as a Poco object, for the reference serialisation.
    Object::Ptr details = new Object;
    details->set("name", texts[i]);
    details->set("size", static_cast<Poco::Int64>(i * 1000003));
    Array::Ptr list = new Array;
    list->add(texts[(i + 2) % texts.size()]);
    list->add(true);
    details->set("\xC3\xA9t\xC3\xA9", list);
    std::optional<crypto::Digest32> prev;
    if (i > 0) prev = crypto::merkle::HashLeaf(texts[i]);
    StatusOr<std::string> leaf = EncodeLeaf(e, i, prev);
    ASSERT_TRUE(leaf.ok()) << leaf.status().ToString();

    Object::Ptr whole = new Object;
    whole->set("action", e.action);
    whole->set("actor", e.actor);
    whole->set("at", leaf->substr(leaf->find("\"at\":\"") + 6, 24));
    whole->set("details", details);
    whole->set("prev", prev ? crypto::Base64Encode(*prev) : std::string());
    whole->set("seq", static_cast<Poco::UInt64>(i));
    whole->set("subject", e.subject);
    whole->set("v", kLeafFormatVersion);
    StatusOr<std::string> canonical = domain::CanonicalJson(whole);
    ASSERT_TRUE(canonical.ok());
    EXPECT_EQ(*leaf, *canonical) << i;
    EXPECT_TRUE(DecodeLeaf(*leaf).ok()) << i;
  }
}

// The leaf hashes quoted in docs/formats/audit-log.md, section "Leaf".
TEST(LogLeaf, WorkedExampleLeafHashes) {
  const crypto::Digest32 h0 = crypto::merkle::HashLeaf(kLeaf0);
  EXPECT_EQ(crypto::HexEncode(h0), kLeaf0HashHex);
  EXPECT_EQ(crypto::Base64Encode(h0), kLeaf0HashBase64);

  StatusOr<std::string> leaf1 = EncodeLeaf(Event1(), 1, h0);
  ASSERT_TRUE(leaf1.ok()) << leaf1.status().ToString();
  EXPECT_EQ(*leaf1, Leaf1(h0));
  EXPECT_EQ(crypto::HexEncode(crypto::merkle::HashLeaf(*leaf1)), kLeaf1HashHex);
}

TEST(LogLeaf, Seq0HasEmptyPrev) {
  StatusOr<std::string> leaf = EncodeLeaf(Event0(), 0, std::nullopt);
  ASSERT_TRUE(leaf.ok());
  EXPECT_NE(leaf->find(R"("prev":"")"), std::string::npos);
  StatusOr<DecodedLeaf> d = DecodeLeaf(*leaf);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_FALSE(d->prev.has_value());
}

TEST(LogLeaf, RoundTrip) {
  const crypto::Digest32 prev = SomeHash(0xAB);
  StatusOr<std::string> leaf = EncodeLeaf(Event1(), 41, prev);
  ASSERT_TRUE(leaf.ok()) << leaf.status().ToString();
  StatusOr<DecodedLeaf> d = DecodeLeaf(*leaf);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->seq, 41u);
  ASSERT_TRUE(d->prev.has_value());
  EXPECT_EQ(*d->prev, prev);
  EXPECT_EQ(d->event.action, "loan.request");
  EXPECT_EQ(d->event.actor, "bob");
  EXPECT_EQ(d->event.subject, "CT-2026-000001");
  EXPECT_EQ(d->event.at, TimeOf("2026-11-22T14:05:30Z"));
  EXPECT_EQ(d->event.details.String("reason"), "annual audit");
  StatusOr<std::string> again = EncodeLeaf(d->event, d->seq, d->prev);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *leaf);
}

TEST(LogLeaf, EmptyDetailsEncodeAsEmptyObject) {
  LogEvent e = Event0();
  e.details = domain::EventDetails();
  StatusOr<std::string> leaf = EncodeLeaf(e, 0, std::nullopt);
  ASSERT_TRUE(leaf.ok());
  EXPECT_NE(leaf->find(R"("details":{},)"), std::string::npos);
  StatusOr<DecodedLeaf> d = DecodeLeaf(*leaf);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->event.details.empty());
}

// Details may hold any canonical JSON: null, booleans, negative integers,
// empty and nested arrays and objects all read back as the same values and
// encode to the same bytes.
TEST(LogLeaf, DetailsOfEveryJsonKindRoundTrip) {
  const std::string details =
      R"({"a":null,"b":[true,false,null,-9007199254740991,[],{}],"c":{"d":{"e":"归档"}},"f":""})";
  const std::string leaf = Leaf0With(
      R"({"files":[{"name":"note.txt","sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","size":3}],"version":1})",
      details);
  StatusOr<DecodedLeaf> d = DecodeLeaf(leaf);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  const domain::EventDetails& got = d->event.details;
  ASSERT_TRUE(got.Has("a"));
  EXPECT_TRUE(got.Find("a")->IsNull());
  const domain::DetailValue::Array* b = got.Array("b");
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b->size(), 6u);
  EXPECT_EQ((*b)[0].AsBool(), true);
  EXPECT_TRUE((*b)[2].IsNull());
  EXPECT_EQ((*b)[3].AsInt(), -domain::kMaxJsonInteger);
  ASSERT_NE((*b)[5].AsObject(), nullptr);
  EXPECT_TRUE((*b)[5].AsObject()->empty());
  ASSERT_NE(got.Object("c"), nullptr);
  ASSERT_NE(got.Object("c")->Object("d"), nullptr);
  EXPECT_EQ(got.Object("c")->Object("d")->String("e"), "归档");
  EXPECT_EQ(got.String("f"), "");
  EXPECT_EQ(got.String("a"), std::nullopt);  // null is not a string
  StatusOr<std::string> again = EncodeLeaf(d->event, d->seq, d->prev);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, leaf);
}

TEST(LogLeaf, SubMillisecondTimeTruncated) {
  LogEvent e = Event0();
  e.at += std::chrono::microseconds(999);
  StatusOr<std::string> leaf = EncodeLeaf(e, 0, std::nullopt);
  ASSERT_TRUE(leaf.ok());
  EXPECT_EQ(*leaf, kLeaf0);
}

TEST(LogLeaf, UnicodeActorAndSystemActorAccepted) {
  LogEvent e = Event0();
  e.actor = "J\xC3\xBCrgen";
  EXPECT_EQ(EncodeReason(e), "accepted");
  e.actor = "system";
  EXPECT_EQ(EncodeReason(e), "accepted");
  e.actor = std::string(kMaxLeafFieldBytes, 'a');
  EXPECT_EQ(EncodeReason(e), "accepted");
}

TEST(LogLeaf, BadActionRejected) {
  for (const char* action : {"", "record", "Record.checkin", "record.", ".record", "record..x",
                             "record.check-in", "record.checkin2", "record checkin", "r\xC3\xA9.x"}) {
    LogEvent e = Event0();
    e.action = action;
    EXPECT_EQ(EncodeReason(e), "leaf_invalid_event") << action;
  }
  LogEvent e = Event0();
  e.action = "a." + std::string(kMaxLeafFieldBytes, 'b');
  EXPECT_EQ(EncodeReason(e), "leaf_invalid_event");
  e.action = "key.kek_rotate.done";
  EXPECT_EQ(EncodeReason(e), "accepted");
}

TEST(LogLeaf, BadActorOrSubjectRejected) {
  const std::vector<std::string> bad = {"", "a\nb", "tab\t", std::string("nul\0", 4), "del\x7F",
                                        "c1\xC2\x85", "bad\xFF", std::string(257, 'a')};
  for (const std::string& value : bad) {
    LogEvent e = Event0();
    e.actor = value;
    EXPECT_EQ(EncodeReason(e), "leaf_invalid_event") << "actor " << value;
    e = Event0();
    e.subject = value;
    EXPECT_EQ(EncodeReason(e), "leaf_invalid_event") << "subject " << value;
  }
}

TEST(LogLeaf, PrevMustMatchSeq) {
  EXPECT_EQ(EncodeReason(Event0(), 0, SomeHash(1)), "leaf_invalid_prev");
  EXPECT_EQ(EncodeReason(Event0(), 1, std::nullopt), "leaf_invalid_prev");
  EXPECT_EQ(EncodeReason(Event0(), 1, SomeHash(1)), "accepted");
}

TEST(LogLeaf, SeqBeyondIJsonRangeRejected) {
  EXPECT_EQ(EncodeReason(Event0(), kMaxLeafSeq, SomeHash(1)), "accepted");
  EXPECT_EQ(EncodeReason(Event0(), kMaxLeafSeq + 1, SomeHash(1)), "leaf_seq_range");
}

TEST(LogLeaf, NonCanonicalisableDetailsRejected) {
  LogEvent e = Event0();
  e.details.Set("amount", domain::kMaxJsonInteger + 1);
  EXPECT_EQ(EncodeReason(e), "json_integer_range");
  e = Event0();
  e.details.Set("count", uint64_t{1} << 63);
  EXPECT_EQ(EncodeReason(e), "json_integer_range");
  e = Event0();
  e.details.Set("name", std::string("\xC3\x28"));
  EXPECT_EQ(EncodeReason(e), "json_invalid_utf8");
}

TEST(LogLeaf, TimeRangeEdgesRoundTrip) {
  for (const char* text : {"1678-01-01T00:00:00.000Z", "2261-12-31T23:59:59.999Z",
                           "1970-01-01T00:00:00.000Z", "1969-12-31T23:59:59.999Z"}) {
    LogEvent e = Event0();
    e.at = TimeOf(text);
    StatusOr<std::string> leaf = EncodeLeaf(e, 0, std::nullopt);
    ASSERT_TRUE(leaf.ok()) << leaf.status().ToString();
    EXPECT_NE(leaf->find(text), std::string::npos) << *leaf;
    StatusOr<DecodedLeaf> d = DecodeLeaf(*leaf);
    ASSERT_TRUE(d.ok()) << d.status().ToString() << " " << *leaf;
    EXPECT_EQ(d->event.at, e.at) << *leaf;
  }
}

TEST(LogLeaf, TimeOutsideYearRangeRejected) {
  LogEvent e = Event0();
  e.at = domain::Time::max();
  EXPECT_EQ(EncodeReason(e), "leaf_invalid_event");
  e.at = domain::Time::min();
  EXPECT_EQ(EncodeReason(e), "leaf_invalid_event");
  e.at = TimeOf("2262-01-01T00:00:00.000Z");
  EXPECT_EQ(EncodeReason(e), "leaf_invalid_event");
  // Years the clock cannot hold are refused before any conversion (a
  // conversion would overflow).
  for (const char* at : {"4052-11-22T14:00:00.123Z", "9999-12-31T23:59:59.999Z",
                         "2262-01-01T00:00:00.000Z", "1677-12-31T23:59:59.999Z",
                         "0000-01-01T00:00:00.000Z", "2261-12-31T23:59:59.999-23:59"}) {
    EXPECT_EQ(DecodeReason(Leaf0With("2026-11-22T14:00:00.123Z", at)), "leaf_malformed") << at;
  }
}

TEST(LogLeaf, OversizedLeafRejected) {
  LogEvent e = Event0();
  e.details.Set("blob", std::string(kMaxLeafBytes, 'x'));
  EXPECT_EQ(EncodeReason(e), "leaf_too_large");
  EXPECT_EQ(DecodeReason(std::string(kMaxLeafBytes + 1, ' ')), "leaf_malformed");
}

// ---------------------------------------------------------------------------
// Decoding

TEST(LogLeaf, DecodesKnownLeaf) {
  StatusOr<DecodedLeaf> d = DecodeLeaf(kLeaf0);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->seq, 0u);
  EXPECT_FALSE(d->prev.has_value());
  EXPECT_EQ(d->event.action, "record.checkin");
  EXPECT_EQ(d->event.actor, "alice");
  EXPECT_EQ(d->event.subject, "CT-2026-000001");
  EXPECT_EQ(domain::FormatTime(d->event.at), "2026-11-22T14:00:00.123Z");
  EXPECT_EQ(d->event.details.Int("version"), 1);
  const domain::DetailValue::Array* files = d->event.details.Array("files");
  ASSERT_NE(files, nullptr);
  ASSERT_EQ(files->size(), 1u);
  ASSERT_NE((*files)[0].AsObject(), nullptr);
  EXPECT_EQ((*files)[0].AsObject()->String("name"), "note.txt");
  EXPECT_EQ((*files)[0].AsObject()->Int("size"), 3);
}

// Each is a valid leaf written in a form other than its canonical one.
TEST(LogLeaf, NonCanonicalFormsRejected) {
  const std::vector<std::string> cases = {
      Leaf0With(R"("actor":"alice")", R"("actor": "alice")"),  // space after ':'
      Leaf0With(R"(,"seq")", R"(, "seq")"),                     // space after ','
      Leaf0With(R"("size":3)", R"("size":3 )"),                 // space before '}'
      " " + std::string(kLeaf0),                                // leading space
      std::string(kLeaf0) + "\n",                               // trailing newline
      Leaf0With(R"("action":"record.checkin","actor":"alice")",  // unsorted members
                R"("actor":"alice","action":"record.checkin")"),
      Leaf0With(R"("name":"note.txt","sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")",
                R"("sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","name":"note.txt")"),
      Leaf0With("CT-2026-000001", R"(CT-2026\/000001)"),       // "\/" for "/"
      Leaf0With(R"("actor":"alice")", R"("actor":"\u0041lice")"),  // "\u0041" for "A"
      Leaf0With("note.txt", R"(note\u002etxt)"),               // "\u002e" for "."
      Leaf0With("note.txt", R"(note\u001F.txt)"),              // upper-case hex escape
      Leaf0With("note.txt", R"(n\u00f6te.txt)"),               // escaped non-ASCII
      Leaf0With(R"("version":1)", R"("version":-0)"),          // "-0" for "0"
      Leaf0With("14:00:00.123Z", "15:00:00.123+01:00"),        // offset instead of Z
      Leaf0With("14:00:00.123Z", "14:00:00.123z"),             // lower-case z
      Leaf0With("14:00:00.123Z", "14:00:00.1230Z"),            // extra fraction digit
  };
  for (const std::string& leaf : cases) {
    EXPECT_EQ(DecodeReason(leaf), "leaf_not_canonical") << leaf;
  }
  // Sanity: the same edits that keep the canonical form are accepted.
  EXPECT_EQ(DecodeReason(Leaf0With("note.txt", "n\xC3\xB6te.txt")), "accepted");
}

TEST(LogLeaf, BadVersionRejected) {
  EXPECT_EQ(DecodeReason(Leaf0With(R"("v":1})", R"("v":2})")), "leaf_bad_version");
  EXPECT_EQ(DecodeReason(Leaf0With(R"("v":1})", R"("v":0})")), "leaf_bad_version");
  // A later format with other members is still reported as a version issue.
  EXPECT_EQ(DecodeReason(Leaf0With(R"("v":1})", R"("v":2,"w":"new"})")), "leaf_bad_version");
  EXPECT_EQ(DecodeReason(R"({"v":2})"), "leaf_bad_version");
  EXPECT_EQ(DecodeReason(Leaf0With(R"("v":1})", R"("v":"1"})")), "leaf_malformed");
  EXPECT_EQ(DecodeReason(Leaf0With(R"("v":1})", R"("v":1.0})")), "leaf_malformed");
  EXPECT_EQ(DecodeReason(Leaf0With(R"(,"v":1})", "}")), "leaf_malformed");
}

TEST(LogLeaf, MissingOrExtraMembersRejected) {
  const std::vector<std::string> cases = {
      Leaf0With(R"("action":"record.checkin",)", ""),
      Leaf0With(R"("actor":"alice",)", ""),
      Leaf0With(R"("at":"2026-11-22T14:00:00.123Z",)", ""),
      Leaf0With(R"(,"prev":"")", ""),
      Leaf0With(R"(,"seq":0)", ""),
      Leaf0With(R"(,"subject":"CT-2026-000001")", ""),
      Leaf0With(R"(,"prev")", R"(,"extra":1,"prev")"),
      Leaf0With(R"("action")", R"("Action":"x.y","action")"),
  };
  for (const std::string& leaf : cases) {
    EXPECT_EQ(DecodeReason(leaf), "leaf_malformed") << leaf;
  }
  // The details object is removed as a whole (it holds nested braces).
  std::string no_details(kLeaf0);
  const size_t from = no_details.find(R"("details")");
  const size_t to = no_details.find(R"("prev")");
  no_details.erase(from, to - from);
  EXPECT_EQ(DecodeReason(no_details), "leaf_malformed");
}

TEST(LogLeaf, WrongTypesRejected) {
  const std::vector<std::pair<std::string, std::string>> edits = {
      {R"("seq":0)", R"("seq":"0")"},
      {R"("seq":0)", R"("seq":-1)"},
      {R"("seq":0)", R"("seq":true)"},
      {R"("seq":0)", R"("seq":null)"},
      {R"("prev":"")", R"("prev":null)"},
      {R"("prev":"")", R"("prev":[])"},
      {R"("actor":"alice")", R"("actor":5)"},
      {R"("action":"record.checkin")", R"("action":null)"},
      {R"("subject":"CT-2026-000001")", R"("subject":{})"},
      {R"("at":"2026-11-22T14:00:00.123Z")", R"("at":1795356000123)"},
  };
  for (const auto& [from, to] : edits) {
    EXPECT_EQ(DecodeReason(Leaf0With(from, to)), "leaf_malformed") << to;
  }
  std::string details_array(kLeaf0);
  const size_t from = details_array.find(R"({"files")");
  const size_t to = details_array.find(R"(,"prev")");
  for (const char* replacement : {"[]", "null", "\"\"", "1"}) {
    std::string leaf = details_array;
    leaf.replace(from, to - from, replacement);
    EXPECT_EQ(DecodeReason(leaf), "leaf_malformed") << replacement;
  }
}

TEST(LogLeaf, BadFieldValuesRejected) {
  EXPECT_EQ(DecodeReason(Leaf0With("record.checkin", "Record.checkin")), "leaf_malformed");
  EXPECT_EQ(DecodeReason(Leaf0With("record.checkin", "record")), "leaf_malformed");
  EXPECT_EQ(DecodeReason(Leaf0With(R"("actor":"alice")", R"("actor":"")")), "leaf_malformed");
  EXPECT_EQ(DecodeReason(Leaf0With("alice", R"(al\nice)")), "leaf_malformed");
  EXPECT_EQ(DecodeReason(Leaf0With("2026-11-22T14:00:00.123Z", "yesterday")), "leaf_malformed");
  EXPECT_EQ(DecodeReason(Leaf0With("2026-11-22T14:00:00.123Z", "2026-02-30T14:00:00.123Z")),
            "leaf_malformed");
  EXPECT_EQ(DecodeReason(Leaf0With(R"("seq":0)", R"("seq":9007199254740992)")),
            "leaf_malformed");
}

TEST(LogLeaf, BadPrevRejected) {
  const std::string b64_32 = crypto::Base64Encode(SomeHash(7));
  const std::string b64_31 = crypto::Base64Encode(crypto::Bytes(31, 7));
  const std::string b64_33 = crypto::Base64Encode(crypto::Bytes(33, 7));
  // Entry 0 with a hash; entry 1 without one.
  EXPECT_EQ(DecodeReason(Leaf0With(R"("prev":"")", R"("prev":")" + b64_32 + "\"")),
            "leaf_malformed");
  EXPECT_EQ(DecodeReason(Leaf0With(R"("seq":0)", R"("seq":1)")), "leaf_malformed");
  // Wrong lengths and bad base64, on an entry that needs a prev.
  const std::string leaf1 = Leaf0With(R"("seq":0)", R"("seq":1)");
  auto with_prev = [&](const std::string& prev) {
    std::string s = leaf1;
    s.replace(s.find(R"("prev":"")"), 9, R"("prev":")" + prev + "\"");
    return s;
  };
  EXPECT_EQ(DecodeReason(with_prev(b64_32)), "accepted");
  EXPECT_EQ(DecodeReason(with_prev(b64_31)), "leaf_malformed");
  EXPECT_EQ(DecodeReason(with_prev(b64_33)), "leaf_malformed");
  EXPECT_EQ(DecodeReason(with_prev(b64_32.substr(0, 43))), "leaf_malformed");  // no padding
  EXPECT_EQ(DecodeReason(with_prev("!" + b64_32.substr(1))), "leaf_malformed");
  EXPECT_EQ(DecodeReason(with_prev(crypto::HexEncode(SomeHash(7)))), "leaf_malformed");
  // Non-zero bits under the padding ("Bw==" would be canonical, "Bx==" is not).
  std::string loose = b64_32;
  loose[42] = static_cast<char>(loose[42] + 1);
  EXPECT_EQ(DecodeReason(with_prev(loose)), "leaf_malformed");
}

TEST(LogLeaf, NotAJsonObjectRejected) {
  const std::vector<std::string> cases = {
      "",
      "null",
      "[]",
      "\"leaf\"",
      std::string(kLeaf0.substr(0, kLeaf0.size() - 1)),          // truncated
      Leaf0With(R"("seq":0)", R"("seq":0,"seq":0)"),              // duplicate member
      std::string(kLeaf0) + "{}",                                 // trailing data
      Leaf0With("alice", "al\xFF" "ice"),                         // invalid UTF-8
  };
  for (const std::string& leaf : cases) {
    EXPECT_EQ(DecodeReason(leaf), "leaf_malformed") << leaf;
  }
}

// ---------------------------------------------------------------------------
// Hash chain

TEST(LogLeaf, ChainOfThreeLinks) {
  std::optional<crypto::Digest32> prev;
  for (uint64_t seq = 0; seq < 3; ++seq) {
    StatusOr<std::string> leaf = EncodeLeaf(seq % 2 ? Event1() : Event0(), seq, prev);
    ASSERT_TRUE(leaf.ok()) << leaf.status().ToString();
    StatusOr<DecodedLeaf> d = DecodeLeaf(*leaf);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_TRUE(CheckChainLink(*d, seq, prev).ok()) << seq;
    prev = crypto::merkle::HashLeaf(*leaf);
  }
}

TEST(LogLeaf, ChainSeqMismatch) {
  StatusOr<DecodedLeaf> d = DecodeLeaf(Leaf1(SomeHash(3)));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  Status s = CheckChainLink(*d, 2, SomeHash(3));
  EXPECT_EQ(s.code(), ErrorCode::kDataLoss);
  EXPECT_EQ(s.reason(), "log_seq_mismatch");
  EXPECT_NE(s.message().find("entry 2"), std::string::npos) << s.message();
}

TEST(LogLeaf, ChainBrokenByWrongPrev) {
  StatusOr<DecodedLeaf> d = DecodeLeaf(Leaf1(SomeHash(3)));
  ASSERT_TRUE(d.ok());
  Status s = CheckChainLink(*d, 1, SomeHash(4));
  EXPECT_EQ(s.code(), ErrorCode::kDataLoss);
  EXPECT_EQ(s.reason(), "log_chain_broken");
  EXPECT_NE(s.message().find("entry 1"), std::string::npos) << s.message();
  // A tampered leaf 0 breaks the link from leaf 1.
  const crypto::Digest32 real = crypto::merkle::HashLeaf(kLeaf0);
  StatusOr<DecodedLeaf> d1 = DecodeLeaf(Leaf1(real));
  ASSERT_TRUE(d1.ok());
  EXPECT_TRUE(CheckChainLink(*d1, 1, real).ok());
  const std::string tampered = Leaf0With("alice", "alicf");
  EXPECT_EQ(CheckChainLink(*d1, 1, crypto::merkle::HashLeaf(tampered)).reason(),
            "log_chain_broken");
}

TEST(LogLeaf, ChainPrevPresenceMismatch) {
  DecodedLeaf first{0, SomeHash(1), Event0()};
  EXPECT_EQ(CheckChainLink(first, 0, std::nullopt).reason(), "log_chain_broken");
  DecodedLeaf second{1, std::nullopt, Event0()};
  EXPECT_EQ(CheckChainLink(second, 1, SomeHash(1)).reason(), "log_chain_broken");
}

}  // namespace
}  // namespace custos::storage
