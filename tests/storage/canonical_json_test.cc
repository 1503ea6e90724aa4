#include "domain/canonical_json.h"

#include <cstdint>
#include <string>
#include <vector>

#include <Poco/DateTime.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <gtest/gtest.h>

namespace custos::domain {
namespace {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

std::string CanonOrDie(std::string_view text) {
  StatusOr<std::string> out = Canonicalize(text);
  EXPECT_TRUE(out.ok()) << out.status().ToString() << " for " << text;
  return out.ok() ? *out : std::string();
}

std::string ReasonOf(std::string_view text) {
  StatusOr<std::string> out = Canonicalize(text);
  if (out.ok()) return "accepted: " + *out;
  EXPECT_EQ(out.status().code(), ErrorCode::kInvalidArgument) << out.status().ToString();
  return out.status().reason();
}

std::string ReasonOfValue(const Var& v) {
  StatusOr<std::string> out = CanonicalJson(v);
  if (out.ok()) return "accepted: " + *out;
  return out.status().reason();
}

// ---------------------------------------------------------------------------
// Published vectors

// RFC 8785 §3.2.2 ("Sample Input" / "Expected Output"), the string and
// literals members. Our profile has no non-integer numbers, so the "numbers"
// member is checked separately below (Rfc8785SampleNumbersAreRejected).
TEST(CanonicalJson, Rfc8785SampleStringAndLiterals) {
  const std::string input = R"({
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    })";
  EXPECT_EQ(CanonOrDie(input),
            "{\"literals\":[null,true,false],"
            "\"string\":\"\xE2\x82\xAC$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

// RFC 8785 §3.2.2 sample input, complete: its numbers have fractions and
// exponents, which Custos refuses rather than formats.
TEST(CanonicalJson, Rfc8785SampleNumbersAreRejected) {
  const std::string input = R"({
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    })";
  EXPECT_EQ(ReasonOf(input), "json_non_integer");
}

// RFC 8785 §3.2.3 (Sorting of Object Properties). The expected property
// order given there is: Carriage Return, One, Control, Latin Small Letter O
// With Diaeresis, Euro Sign, Emoji: Grinning Face, Hebrew Letter Dalet With
// Dagesh. U+1F600 (UTF-16 D83D DE00) sorts before U+FB33, the reverse of
// code-point and UTF-8 byte order.
TEST(CanonicalJson, Rfc8785PropertySorting) {
  const std::string input = R"({
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    })";
  EXPECT_EQ(CanonOrDie(input),
            "{\"\\r\":\"Carriage Return\","
            "\"1\":\"One\","
            "\"\xC2\x80\":\"Control\","
            "\"\xC3\xB6\":\"Latin Small Letter O With Diaeresis\","
            "\"\xE2\x82\xAC\":\"Euro Sign\","
            "\"\xF0\x9F\x98\x80\":\"Emoji: Grinning Face\","
            "\"\xEF\xAC\xB3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

// JCS reference test data (cyberphone/json-canonicalization,
// testdata/input/structures.json → output/structures.json), with the one
// non-integer value 56.0 written as 56.
TEST(CanonicalJson, JcsStructuresVector) {
  const std::string input = R"({
  "1": {"f": {"f": "hi","F": 5} ,"\n": 56},
  "10": { },
  "": "empty",
  "a": { },
  "111": [ { } ],
  "A": { }
})";
  EXPECT_EQ(CanonOrDie(input),
            R"({"":"empty","1":{"\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{}],"A":{},"a":{}})");
}

// JCS reference test data, testdata/input/french.json: sorting ignores locale.
TEST(CanonicalJson, JcsFrenchVectorIgnoresLocale) {
  const std::string input =
      "{\n  \"peach\": \"This sorting order\",\n  \"p\xC3\xA9" "ch\xC3\xA9\": \"is wrong according "
      "to French\",\n  \"p\xC3\xAA" "che\": \"but canonicalization MUST\",\n  \"sin\":   \"ingnore "
      "locale\"\n}\n";
  EXPECT_EQ(CanonOrDie(input),
            "{\"peach\":\"This sorting order\",\"p\xC3\xA9" "ch\xC3\xA9\":\"is wrong according to "
            "French\",\"p\xC3\xAA" "che\":\"but canonicalization MUST\",\"sin\":\"ingnore "
            "locale\"}");
}

// JCS reference test data, testdata/input/unicode.json: no Unicode
// normalisation is applied.
TEST(CanonicalJson, JcsUnicodeVectorIsNotNormalised) {
  EXPECT_EQ(CanonOrDie(R"({"Unnormalized Unicode":"\u1e0d\u0307"})"),
            "{\"Unnormalized Unicode\":\"\xE1\xB8\x8D\xCC\x87\"}");
}

// ---------------------------------------------------------------------------
// Ordering and escaping

TEST(CanonicalJson, Utf16OrderDiffersFromByteOrder) {
  const std::string emoji = "\xF0\x9F\x98\x80";   // U+1F600
  const std::string private_use = "\xEE\x80\x80";  // U+E000
  const std::string dalet = "\xEF\xAC\xB3";        // U+FB33
  EXPECT_TRUE(Utf16Less(emoji, private_use));
  EXPECT_TRUE(Utf16Less(emoji, dalet));
  EXPECT_FALSE(Utf16Less(dalet, emoji));
  EXPECT_GT(emoji, dalet);  // byte order says the opposite
  EXPECT_TRUE(Utf16Less("a", "ab"));
  EXPECT_TRUE(Utf16Less("", "a"));
  EXPECT_FALSE(Utf16Less("a", "a"));
  EXPECT_TRUE(Utf16Less("A", "a"));

  Object::Ptr o = new Object();
  o->set(dalet, 1);
  o->set(emoji, 2);
  o->set(private_use, 3);
  EXPECT_EQ(ReasonOfValue(o),
            "accepted: {\"" + emoji + "\":2,\"" + private_use + "\":3,\"" + dalet + "\":1}");
}

TEST(CanonicalJson, ControlCharactersEscapedMinimally) {
  std::string all;
  for (int c = 0; c < 0x20; ++c) all += static_cast<char>(c);
  all += "\x7F \"\\/\xE2\x80\xA8";  // DEL, space, quote, backslash, slash, U+2028
  EXPECT_EQ(ReasonOfValue(all),
            "accepted: \"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007"
            "\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f"
            "\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017"
            "\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f"
            "\x7F \\\"\\\\/\xE2\x80\xA8\"");
}

TEST(CanonicalJson, EscapesInInputAreDecoded) {
  EXPECT_EQ(CanonOrDie(R"(["\/", "\u0041", "\u00e9", "\uD834\uDD1E", "\u001F", "\u0000"])"),
            "[\"/\",\"A\",\"\xC3\xA9\",\"\xF0\x9D\x84\x9E\",\"\\u001f\",\"\\u0000\"]");
}

TEST(CanonicalJson, WhitespaceAroundTokensDropped) {
  EXPECT_EQ(CanonOrDie(" \t\r\n{ \"b\" : [ 1 , 2 , { } , [ ] ] , \"a\" : true } \n"),
            R"({"a":true,"b":[1,2,{},[]]})");
}

TEST(CanonicalJson, ScalarsAtTopLevel) {
  EXPECT_EQ(CanonOrDie("null"), "null");
  EXPECT_EQ(CanonOrDie(" true "), "true");
  EXPECT_EQ(CanonOrDie("false"), "false");
  EXPECT_EQ(CanonOrDie("\"x\""), "\"x\"");
  EXPECT_EQ(CanonOrDie("-0"), "0");
  EXPECT_EQ(CanonOrDie("-12"), "-12");
}

TEST(CanonicalJson, CanonicalFormIsAFixedPoint) {
  const std::string once = CanonOrDie(R"({"z":[3,{"y":"\u00e9","x":null}],"a":-7})");
  EXPECT_EQ(once, "{\"a\":-7,\"z\":[3,{\"x\":null,\"y\":\"\xC3\xA9\"}]}");
  EXPECT_EQ(CanonOrDie(once), once);
}

// ---------------------------------------------------------------------------
// Poco values

TEST(CanonicalJson, PocoValuesOfEveryIntegerType) {
  Array::Ptr a = new Array();
  a->add(Var(static_cast<Poco::Int8>(-8)));
  a->add(Var(static_cast<Poco::UInt8>(8)));
  a->add(Var(static_cast<Poco::Int16>(-16)));
  a->add(Var(static_cast<Poco::UInt16>(16)));
  a->add(Var(static_cast<Poco::Int32>(-32)));
  a->add(Var(static_cast<Poco::UInt32>(32)));
  a->add(Var(static_cast<Poco::Int64>(-64)));
  a->add(Var(static_cast<Poco::UInt64>(64)));
  a->add(Var(-1L));
  a->add(Var(1UL));
  a->add(Var(-2LL));
  a->add(Var(2ULL));
  EXPECT_EQ(ReasonOfValue(a), "accepted: [-8,8,-16,16,-32,32,-64,64,-1,1,-2,2]");
}

TEST(CanonicalJson, PocoNestedObjectsArraysAndNulls) {
  Object::Ptr inner = new Object();
  inner->set("k", "v");
  Object by_value;
  by_value.set("n", Var());
  Array::Ptr list = new Array();
  list->add(inner);
  list->add(Var(by_value));
  list->add(Object::Ptr());  // null pointer → null
  list->add(true);
  Object::Ptr root = new Object();
  root->set("list", list);
  root->set("empty", Var());
  root->set("array_by_value", Var(Array()));
  EXPECT_EQ(ReasonOfValue(root),
            R"(accepted: {"array_by_value":[],"empty":null,"list":[{"k":"v"},{"n":null},null,true]})");
  EXPECT_EQ(ReasonOfValue(Var()), "accepted: null");
}

TEST(CanonicalJson, PocoPreserveOrderObjectStillSorted) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("b", 1);
  o->set("a", 2);
  EXPECT_EQ(ReasonOfValue(o), R"(accepted: {"a":2,"b":1})");
}

TEST(CanonicalJson, PocoFloatingPointRejected) {
  EXPECT_EQ(ReasonOfValue(Var(1.0)), "json_non_integer");
  EXPECT_EQ(ReasonOfValue(Var(1.0f)), "json_non_integer");
  Object::Ptr o = new Object();
  o->set("amount", 12.5);
  EXPECT_EQ(ReasonOfValue(o), "json_non_integer");
}

TEST(CanonicalJson, PocoUnsupportedTypesRejected) {
  EXPECT_EQ(ReasonOfValue(Var('c')), "json_unsupported_type");
  EXPECT_EQ(ReasonOfValue(Var(Poco::DateTime(2026, 1, 1))), "json_unsupported_type");
}

TEST(CanonicalJson, PocoInvalidUtf8Rejected) {
  EXPECT_EQ(ReasonOfValue(Var(std::string("\xC3\x28"))), "json_invalid_utf8");
  Object::Ptr o = new Object();
  o->set(std::string("bad\xFF"), 1);
  EXPECT_EQ(ReasonOfValue(o), "json_invalid_utf8");
}

TEST(CanonicalJson, PocoIntegerOutOfRange) {
  EXPECT_EQ(ReasonOfValue(Var(static_cast<Poco::Int64>(kMaxJsonInteger))),
            "accepted: 9007199254740991");
  EXPECT_EQ(ReasonOfValue(Var(static_cast<Poco::Int64>(-kMaxJsonInteger))),
            "accepted: -9007199254740991");
  EXPECT_EQ(ReasonOfValue(Var(static_cast<Poco::Int64>(kMaxJsonInteger + 1))),
            "json_integer_range");
  EXPECT_EQ(ReasonOfValue(Var(static_cast<Poco::Int64>(-kMaxJsonInteger - 1))),
            "json_integer_range");
  EXPECT_EQ(ReasonOfValue(Var(UINT64_MAX)), "json_integer_range");
  EXPECT_EQ(ReasonOfValue(Var(INT64_MIN)), "json_integer_range");
}

TEST(CanonicalJson, CyclicPocoObjectTooDeep) {
  Object::Ptr o = new Object();
  o->set("self", o);
  EXPECT_EQ(ReasonOfValue(o), "json_too_deep");
  o->remove("self");  // break the cycle so the object is freed
}

// ---------------------------------------------------------------------------
// Rejected text

TEST(CanonicalJson, IntegerBoundaries) {
  EXPECT_EQ(CanonOrDie("9007199254740991"), "9007199254740991");
  EXPECT_EQ(CanonOrDie("-9007199254740991"), "-9007199254740991");
  EXPECT_EQ(ReasonOf("9007199254740992"), "json_integer_range");
  EXPECT_EQ(ReasonOf("-9007199254740992"), "json_integer_range");
  EXPECT_EQ(ReasonOf("123456789012345678901234567890"), "json_integer_range");
  EXPECT_EQ(ReasonOf("[1, 99999999999999999999999999999999999999999]"), "json_integer_range");
}

TEST(CanonicalJson, NonIntegerNumbers) {
  for (const char* text : {"1.0", "1e2", "1E+2", "-0.5", "0e0", "[1, 2.25]", "{\"a\":1e-3}"}) {
    EXPECT_EQ(ReasonOf(text), "json_non_integer") << text;
  }
}

TEST(CanonicalJson, MalformedText) {
  const std::vector<std::string> cases = {
      "",          " ",           "{",          "}",          "[1,]",         "[,1]",
      "{\"a\":1,}", "{\"a\" 1}",   "{1:2}",      "{'a':1}",    "[1 2]",        "01",
      "-01",       "+1",          "-",          "1.",         ".5",           "1e",
      "1e+",       "tru",         "nul",        "True",       "NaN",          "Infinity",
      "\"abc",     "\"\\x\"",     "\"\\u12\"",  "\"\\u00G0\"", "\"\\",        "[1] x",
      "{} {}",     "\xEF\xBB\xBF{}", "\"a\x01\"", "\"tab\there\"", "[1]]",      "/*c*/1",
      "\"\n\"",    "[\"a\":1]",   "{\"a\"}",    "{\"a\":}",   "[}",           "\x0C" "1",
  };
  for (const std::string& text : cases) {
    EXPECT_EQ(ReasonOf(text), "json_malformed") << "input: " << text;
  }
  // Embedded NUL after a complete value (std::string keeps it).
  EXPECT_EQ(ReasonOf(std::string("1\0", 2)), "json_malformed");
}

TEST(CanonicalJson, DuplicateKeys) {
  EXPECT_EQ(ReasonOf(R"({"a":1,"a":2})"), "json_duplicate_key");
  EXPECT_EQ(ReasonOf(R"({"a":1,"\u0061":1})"), "json_duplicate_key");  // same after unescape
  EXPECT_EQ(ReasonOf(R"({"x":[{"b":null,"b":null}]})"), "json_duplicate_key");
  EXPECT_EQ(CanonOrDie(R"({"a":{"a":1},"b":{"a":1}})"), R"({"a":{"a":1},"b":{"a":1}})");
}

TEST(CanonicalJson, InvalidUtf8Text) {
  const std::vector<std::string> cases = {
      "\"\xC3\x28\"",              // bad continuation
      "\"\xC0\xAF\"",              // overlong '/'
      "\"\xE0\x80\xAF\"",          // overlong, three bytes
      "\"\xED\xA0\x80\"",          // encoded surrogate U+D800
      "\"\xF4\x90\x80\x80\"",      // above U+10FFFF
      "\"\xF8\x88\x80\x80\x80\"",  // five-byte form
      "\"\xE2\x82\"",              // truncated
      "\"\x80\"",                  // lone continuation
      "{\"\xFF\":1}",              // in a member name
      R"("\ud800")",               // unpaired high surrogate escape
      R"("\udc00")",               // unpaired low surrogate escape
      R"("\ud800\u0041")",         // high surrogate followed by a non-surrogate
      R"("\ud800\ud800")",         // two high surrogates
  };
  for (const std::string& text : cases) {
    EXPECT_EQ(ReasonOf(text), "json_invalid_utf8") << "input: " << text;
  }
}

TEST(CanonicalJson, NestingLimit) {
  const std::string ok = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_EQ(CanonOrDie(ok), ok);
  const std::string deep =
      std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']');
  EXPECT_EQ(ReasonOf(deep), "json_too_deep");
  std::string objects;
  for (int i = 0; i <= kMaxJsonDepth; ++i) objects += "{\"a\":";
  objects += "1" + std::string(kMaxJsonDepth + 1, '}');
  EXPECT_EQ(ReasonOf(objects), "json_too_deep");
  // Very deep hostile input fails cleanly instead of exhausting the stack.
  EXPECT_EQ(ReasonOf(std::string(100000, '[')), "json_too_deep");
}

TEST(CanonicalJson, ParseJsonStrictBuildsPocoTypes) {
  StatusOr<Var> v = ParseJsonStrict(R"({"s":"x","i":-3,"b":false,"n":null,"a":[1],"o":{}})");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_EQ(v->type(), typeid(Object::Ptr));
  const Object::Ptr o = v->extract<Object::Ptr>();
  EXPECT_EQ(o->get("s").type(), typeid(std::string));
  EXPECT_EQ(o->get("i").type(), typeid(Poco::Int64));
  EXPECT_EQ(o->get("i").extract<Poco::Int64>(), -3);
  EXPECT_EQ(o->get("b").type(), typeid(bool));
  EXPECT_TRUE(o->get("n").isEmpty());
  EXPECT_TRUE(o->has("n"));
  EXPECT_EQ(o->get("a").type(), typeid(Array::Ptr));
  EXPECT_EQ(o->get("o").type(), typeid(Object::Ptr));
}

}  // namespace
}  // namespace custos::domain
