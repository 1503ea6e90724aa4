#include "storage/log_leaf.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <optional>
#include <typeinfo>
#include <utility>

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include "domain/canonical_json.h"

namespace custos::storage {

namespace {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;
using domain::DetailValue;
using domain::EventDetails;

constexpr std::array<std::string_view, 8> kLeafKeys = {
    kLeafKeyAction, kLeafKeyActor, kLeafKeyAt,      kLeafKeyDetails,
    kLeafKeyPrev,   kLeafKeySeq,   kLeafKeySubject, kLeafKeyVersion};

constexpr char kActionSeparator = '.';
constexpr char32_t kDelete = 0x7F;
constexpr char32_t kLastC1Control = 0x9F;
constexpr char32_t kFirstPrintable = 0x20;

// ---------------------------------------------------------------------------
// Field rules

bool IsActionChar(char c) { return (c >= 'a' && c <= 'z') || c == '_'; }

// [a-z_]+(\.[a-z_]+)+
bool IsValidAction(std::string_view action) {
  if (action.empty() || action.size() > kMaxLeafFieldBytes) return false;
  size_t parts = 1;
  bool part_empty = true;
  for (char c : action) {
    if (c == kActionSeparator) {
      if (part_empty) return false;
      ++parts;
      part_empty = true;
    } else if (IsActionChar(c)) {
      part_empty = false;
    } else {
      return false;
    }
  }
  return !part_empty && parts >= 2;
}

// Checks that `s` is valid UTF-8 without C0/C1 controls or DEL.
bool IsPrintableUtf8(std::string_view s) {
  // Printable ASCII throughout (the common case) needs no decoding.
  if (std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7F; })) return true;
  if (!domain::IsValidUtf8(s)) return false;
  size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    const size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    char32_t cp = length == 1 ? lead : lead & (0x7F >> length);
    for (size_t k = 1; k < length; ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    }
    if (cp < kFirstPrintable || (cp >= kDelete && cp <= kLastC1Control)) return false;
    i += length;
  }
  return true;
}

bool IsValidName(std::string_view s) {
  return !s.empty() && s.size() <= kMaxLeafFieldBytes && IsPrintableUtf8(s);
}

Status InvalidEvent(std::string message) {
  return InvalidArgument("audit event: " + std::move(message), "leaf_invalid_event");
}

// The year of an RFC 3339 time: its first four characters, which must be
// digits. nullopt if they are not.
std::optional<int> LeadingYear(std::string_view text) {
  constexpr size_t kYearDigits = 4;
  if (text.size() < kYearDigits) return std::nullopt;
  int year = 0;
  for (size_t i = 0; i < kYearDigits; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    year = year * 10 + (text[i] - '0');
  }
  return year;
}

bool IsLeafYear(std::string_view text) {
  const std::optional<int> year = LeadingYear(text);
  return year && *year >= kMinLeafYear && *year <= kMaxLeafYear;
}

std::string YearRangeText() {
  return std::to_string(kMinLeafYear) + "-" + std::to_string(kMaxLeafYear);
}

// The time `text` names when it is exactly what LeafTime writes for it
// ("2026-11-22T14:00:00.123Z": fixed width, a real calendar date, seconds
// below 60, a leaf year); nullopt otherwise, and then the caller decides
// through ParseTime and LeafTime, which accept nothing this accepts
// differently. It spares every decoded leaf a timegm, a gmtime and a
// formatted print.
std::optional<domain::Time> CanonicalLeafTime(std::string_view text) {
  constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (text.size() != kShape.size()) return std::nullopt;
  for (size_t i = 0; i < kShape.size(); ++i) {
    const bool digit = text[i] >= '0' && text[i] <= '9';
    if (kShape[i] == 'd' ? !digit : text[i] != kShape[i]) return std::nullopt;
  }
  auto number = [&](size_t at, size_t digits) {
    int v = 0;
    for (size_t i = at; i < at + digits; ++i) v = v * 10 + (text[i] - '0');
    return v;
  };
  const int year = number(0, 4), month = number(5, 2), day = number(8, 2);
  const int hour = number(11, 2), minute = number(14, 2), second = number(17, 2), millis = number(20, 3);
  if (year < kMinLeafYear || year > kMaxLeafYear || month < 1 || month > 12 || hour > 23 || minute > 59 ||
      second > 59) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok()) return std::nullopt;
  const int64_t days = std::chrono::sys_days(date).time_since_epoch().count();
  const int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second;
  return domain::Time(std::chrono::milliseconds(seconds * 1000 + millis));
}

// The 32 bytes `text` encodes when it is exactly Base64Encode of 32 bytes
// (43 characters of the standard alphabet, the two bits left over zero,
// one '='); nullopt otherwise, and then the caller decides through
// Base64Decode and Base64Encode, which accept nothing this accepts
// differently.
// The value of each Base64 character (standard alphabet), -1 for others.
constexpr std::array<int8_t, 256> kBase64Values = [] {
  std::array<int8_t, 256> values{};
  values.fill(-1);
  for (int i = 0; i < 26; ++i) {
    values[static_cast<size_t>('A' + i)] = static_cast<int8_t>(i);
    values[static_cast<size_t>('a' + i)] = static_cast<int8_t>(26 + i);
  }
  for (int i = 0; i < 10; ++i) values[static_cast<size_t>('0' + i)] = static_cast<int8_t>(52 + i);
  values[static_cast<size_t>('+')] = 62;
  values[static_cast<size_t>('/')] = 63;
  return values;
}();

std::optional<crypto::Digest32> CanonicalBase64Digest(std::string_view text) {
  crypto::Digest32 out;
  static_assert(sizeof(out) == 32, "43 characters: ten groups of four, then three");
  constexpr size_t kChars = (8 * sizeof(out) + 5) / 6;  // 43
  if (text.size() != kChars + 1 || text[kChars] != '=') return std::nullopt;
  uint32_t bad = 0;  // the sign bits of the values: set for a character outside the alphabet
  auto value = [&](size_t i) {
    const int8_t v = kBase64Values[static_cast<unsigned char>(text[i])];
    bad |= static_cast<uint8_t>(v);
    return static_cast<uint32_t>(static_cast<uint8_t>(v) & 0x3F);
  };
  size_t o = 0;
  for (size_t i = 0; i < 40; i += 4) {
    const uint32_t w = value(i) << 18 | value(i + 1) << 12 | value(i + 2) << 6 | value(i + 3);
    out[o++] = static_cast<uint8_t>(w >> 16);
    out[o++] = static_cast<uint8_t>(w >> 8);
    out[o++] = static_cast<uint8_t>(w);
  }
  // The last three characters: 16 bits of the last two bytes, then two
  // bits that must be zero (else a second spelling of the same bytes).
  const uint32_t w = value(40) << 12 | value(41) << 6 | value(42);
  if ((bad & 0x80) != 0 || (w & 3) != 0) return std::nullopt;
  out[30] = static_cast<uint8_t>(w >> 10);
  out[31] = static_cast<uint8_t>(w >> 2);
  return out;
}

// Renders `at` the way the leaf stores it and checks that it reads back.
StatusOr<std::string> LeafTime(domain::Time at) {
  const domain::Time millis = domain::TruncateToMillis(at);
  std::string text = domain::FormatTime(millis);
  if (!IsLeafYear(text)) {
    return InvalidEvent("time '" + text + "' outside the years " + YearRangeText());
  }
  StatusOr<domain::Time> back = domain::ParseTime(text);
  if (!back.ok() || *back != millis) {
    return InvalidEvent("time '" + text + "' does not read back as RFC 3339");
  }
  return text;
}

Status ValidateEvent(const LogEvent& e) {
  if (!IsValidAction(e.action)) {
    return InvalidEvent("action must be dotted lower-case words ([a-z_]+(.[a-z_]+)+), at most " +
                        std::to_string(kMaxLeafFieldBytes) + " bytes");
  }
  if (!IsValidName(e.actor)) {
    return InvalidEvent("actor must be 1.." + std::to_string(kMaxLeafFieldBytes) +
                        " bytes of printable UTF-8");
  }
  if (!IsValidName(e.subject)) {
    return InvalidEvent("subject must be 1.." + std::to_string(kMaxLeafFieldBytes) +
                        " bytes of printable UTF-8");
  }
  return Status::Ok();
}

Status ValidateLink(uint64_t seq, const std::optional<crypto::Digest32>& prev) {
  if (seq > kMaxLeafSeq) {
    return InvalidArgument("audit log seq " + std::to_string(seq) + " beyond 2^53-1",
                           "leaf_seq_range");
  }
  if (seq == 0 && prev.has_value()) {
    return InvalidArgument("entry 0 has no previous leaf hash", "leaf_invalid_prev");
  }
  if (seq != 0 && !prev.has_value()) {
    return InvalidArgument("entry " + std::to_string(seq) + " needs the previous leaf hash",
                           "leaf_invalid_prev");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Decoding helpers

Status LeafMalformed(std::string message) {
  return InvalidArgument("audit leaf: " + std::move(message), "leaf_malformed");
}

StatusOr<std::string> GetString(const Object& o, std::string_view key) {
  const Var v = o.get(std::string(key));
  if (v.type() != typeid(std::string)) {
    return LeafMalformed("\"" + std::string(key) + "\" must be a string");
  }
  return v.extract<std::string>();
}

// The version check comes first so that a leaf of a later format is reported
// as such rather than as having unexpected members.
Status CheckVersion(const Object& o) {
  const std::string key(kLeafKeyVersion);
  if (!o.has(key)) return LeafMalformed("missing \"v\"");
  const Var v = o.get(key);
  if (v.type() != typeid(Poco::Int64)) return LeafMalformed("\"v\" must be an integer");
  const Poco::Int64 version = v.extract<Poco::Int64>();
  if (version != kLeafFormatVersion) {
    return InvalidArgument("audit leaf format version " + std::to_string(version) +
                               " (this build reads version " +
                               std::to_string(kLeafFormatVersion) + ")",
                           "leaf_bad_version");
  }
  return Status::Ok();
}

Status CheckMemberSet(const Object& o) {
  for (std::string_view key : kLeafKeys) {
    if (!o.has(std::string(key))) return LeafMalformed("missing \"" + std::string(key) + "\"");
  }
  if (o.size() != kLeafKeys.size()) return LeafMalformed("unexpected members");
  return Status::Ok();
}

StatusOr<uint64_t> GetSeq(const Object& o) {
  const Var v = o.get(std::string(kLeafKeySeq));
  if (v.type() != typeid(Poco::Int64)) return LeafMalformed("\"seq\" must be an integer");
  const Poco::Int64 seq = v.extract<Poco::Int64>();
  if (seq < 0) return LeafMalformed("\"seq\" must not be negative");
  return static_cast<uint64_t>(seq);
}

StatusOr<std::optional<crypto::Digest32>> GetPrev(const Object& o) {
  CUSTOS_ASSIGN_OR_RETURN(std::string text, GetString(o, kLeafKeyPrev));
  if (text.empty()) return std::optional<crypto::Digest32>();
  std::optional<crypto::Bytes> bytes = crypto::Base64Decode(text);
  crypto::Digest32 hash;
  if (!bytes || bytes->size() != hash.size()) {
    return LeafMalformed("\"prev\" must be \"\" or the base64 of 32 bytes");
  }
  std::copy(bytes->begin(), bytes->end(), hash.begin());
  return std::optional<crypto::Digest32>(hash);
}

// ---------------------------------------------------------------------------
// Details: the typed value and its JSON

Object::Ptr DetailsJson(const EventDetails& details);

Var ValueJson(const DetailValue& value) {
  if (const std::string* s = value.AsString()) return *s;
  if (std::optional<int64_t> i = value.AsInt()) return static_cast<Poco::Int64>(*i);
  if (std::optional<bool> b = value.AsBool()) return *b;
  if (const DetailValue::Array* values = value.AsArray()) {
    Array::Ptr array = new Array;
    for (const DetailValue& v : *values) array->add(ValueJson(v));
    return array;
  }
  if (const EventDetails* object = value.AsObject()) return DetailsJson(*object);
  return Var();
}

Object::Ptr DetailsJson(const EventDetails& details) {
  Object::Ptr object = new Object;
  for (const auto& [key, value] : details.members()) object->set(key, ValueJson(value));
  return object;
}

EventDetails DetailsOf(const Object& object);

// A value as ParseJsonStrict returns it (its depth is bounded there).
DetailValue ValueOf(const Var& v) {
  if (v.isEmpty()) return DetailValue();
  if (v.type() == typeid(std::string)) return v.extract<std::string>();
  if (v.type() == typeid(Poco::Int64)) return v.extract<Poco::Int64>();
  if (v.type() == typeid(bool)) return v.extract<bool>();
  if (v.type() == typeid(Array::Ptr)) {
    const Array::Ptr& array = v.extract<Array::Ptr>();
    DetailValue::Array values;
    values.reserve(array->size());
    for (size_t i = 0; i < array->size(); ++i) values.push_back(ValueOf(array->get(static_cast<unsigned>(i))));
    return values;
  }
  if (v.type() == typeid(Object::Ptr) && !v.extract<Object::Ptr>().isNull()) {
    return DetailsOf(*v.extract<Object::Ptr>());
  }
  return DetailValue();
}

EventDetails DetailsOf(const Object& object) {
  EventDetails details;
  for (const auto& [key, value] : object) details.Set(key, ValueOf(value));
  return details;
}

StatusOr<EventDetails> GetDetails(const Object& o) {
  const Var v = o.get(std::string(kLeafKeyDetails));
  if (v.type() != typeid(Object::Ptr) || v.extract<Object::Ptr>().isNull()) {
    return LeafMalformed("\"details\" must be an object");
  }
  return DetailsOf(*v.extract<Object::Ptr>());
}

StatusOr<Object::Ptr> ParseLeafObject(std::string_view leaf) {
  if (leaf.size() > kMaxLeafBytes) {
    return LeafMalformed("larger than " + std::to_string(kMaxLeafBytes) + " bytes");
  }
  StatusOr<Var> parsed = domain::ParseJsonStrict(leaf);
  if (!parsed.ok()) return LeafMalformed(parsed.status().ToString());
  if (parsed->type() != typeid(Object::Ptr) || parsed->extract<Object::Ptr>().isNull()) {
    return LeafMalformed("not a JSON object");
  }
  return parsed->extract<Object::Ptr>();
}

StatusOr<DecodedLeaf> FieldsOf(const Object& o) {
  DecodedLeaf out;
  CUSTOS_ASSIGN_OR_RETURN(out.seq, GetSeq(o));
  CUSTOS_ASSIGN_OR_RETURN(out.prev, GetPrev(o));
  CUSTOS_ASSIGN_OR_RETURN(out.event.action, GetString(o, kLeafKeyAction));
  CUSTOS_ASSIGN_OR_RETURN(out.event.actor, GetString(o, kLeafKeyActor));
  CUSTOS_ASSIGN_OR_RETURN(out.event.subject, GetString(o, kLeafKeySubject));
  CUSTOS_ASSIGN_OR_RETURN(out.event.details, GetDetails(o));
  CUSTOS_ASSIGN_OR_RETURN(std::string at, GetString(o, kLeafKeyAt));
  // The year is checked first: only times in range convert to Time safely.
  if (!IsLeafYear(at)) {
    return LeafMalformed("\"at\" must be an RFC 3339 time in the years " + YearRangeText());
  }
  StatusOr<domain::Time> time = domain::ParseTime(at);
  if (!time.ok()) return LeafMalformed("\"at\" is not an RFC 3339 time");
  out.event.at = *time;
  return out;
}

std::string IndexText(uint64_t index) { return "audit log entry " + std::to_string(index); }

// ---------------------------------------------------------------------------
// One pass: a reader that accepts only the bytes CanonicalJson writes
// (domain/canonical_json.h) and gives up at the first other byte.

int LowerHexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// Canonical member order: strictly ascending UTF-16 code units (for ASCII
// names, bytes); strict, so a repeated name is refused too.
bool NameBefore(std::string_view a, std::string_view b) {
  return IsAscii(a) && IsAscii(b) ? a < b : domain::Utf16Less(a, b);
}

class OnePassReader {
 public:
  explicit OnePassReader(std::string_view text) : t_(text) {}

  // True when the text is a leaf in canonical form; fills `out`.
  bool Read(DecodedLeaf& out);

 private:
  bool Literal(std::string_view s) {
    if (t_.substr(p_, s.size()) != s) return false;
    p_ += s.size();
    return true;
  }
  // `{"key":` for the first member, `,"key":` for the others.
  bool Member(std::string_view key, bool first) {
    const size_t n = key.size() + 4;
    if (t_.size() - p_ < n) return false;
    const char* q = t_.data() + p_;
    if (q[0] != (first ? '{' : ',') || q[1] != '"' || std::memcmp(q + 2, key.data(), key.size()) != 0 ||
        q[n - 2] != '"' || q[n - 1] != ':') {
      return false;
    }
    p_ += n;
    return true;
  }
  bool At(char c) const { return p_ < t_.size() && t_[p_] == c; }
  // A string value: `out` views its text, in the leaf when it holds no
  // escape, else in `scratch`, which then holds it unescaped.
  bool StringView(std::string_view& out, std::string& scratch);
  bool String(std::string& out) {
    std::string_view text;
    if (!StringView(text, out)) return false;
    if (text.data() != out.data()) out.assign(text);
    return true;
  }
  bool PlainRun(bool& ascii);
  bool Escape(std::string& out);
  bool Integer(int64_t& out);
  bool Value(int depth, DetailValue& out);
  bool ObjectOf(int depth, EventDetails& out);
  bool ArrayOf(int depth, DetailValue::Array& out);

  std::string_view t_;
  size_t p_ = 0;
};

// Moves past the bytes of a string that need no attention (anything but
// '"', '\\' and the controls below 0x20), eight at a time where it can;
// `ascii` says whether all of them were below 0x80. False at the end of
// the text.
bool OnePassReader::PlainRun(bool& ascii) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  uint64_t high = 0;
  while (t_.size() - p_ >= 8) {
    uint64_t w;
    std::memcpy(&w, t_.data() + p_, 8);
    const uint64_t quote = w ^ (kOnes * '"');
    const uint64_t backslash = w ^ (kOnes * '\\');
    // Exact tests for "some byte is zero" and "some byte is below 0x20".
    const uint64_t stop = ((quote - kOnes) & ~quote) | ((backslash - kOnes) & ~backslash) |
                          ((w - kOnes * kFirstPrintable) & ~w);
    if ((stop & kHigh) != 0) break;
    high |= w;
    p_ += 8;
  }
  ascii = (high & kHigh) == 0;
  while (p_ < t_.size()) {
    const auto c = static_cast<unsigned char>(t_[p_]);
    if (c == '"' || c == '\\' || c < kFirstPrintable) break;
    ascii = ascii && c < 0x80;
    ++p_;
  }
  return p_ < t_.size();
}

bool OnePassReader::StringView(std::string_view& out, std::string& scratch) {
  if (!At('"')) return false;
  ++p_;
  const size_t first = p_;
  bool escaped = false;  // the text is in scratch
  while (true) {
    const size_t start = p_;
    bool ascii = true;
    if (!PlainRun(ascii)) return false;
    // A run ends at an ASCII byte, never inside a UTF-8 sequence.
    const std::string_view run = t_.substr(start, p_ - start);
    if (!ascii && !domain::IsValidUtf8(run)) return false;
    if (escaped) scratch.append(run);
    const char c = t_[p_];
    if (c == '"') {
      out = escaped ? std::string_view(scratch) : t_.substr(first, p_ - first);
      ++p_;
      return true;
    }
    if (c != '\\') return false;
    if (!escaped) {
      scratch.assign(t_.substr(first, p_ - first));
      escaped = true;
    }
    if (!Escape(scratch)) return false;
  }
}

// The escapes CanonicalJson writes: \" \\ \b \f \n \r \t, and \u00xx in
// lower-case hex for the other controls.
bool OnePassReader::Escape(std::string& out) {
  if (t_.size() - p_ < 2) return false;
  const char e = t_[p_ + 1];
  p_ += 2;
  switch (e) {
    case '"': out += '"'; return true;
    case '\\': out += '\\'; return true;
    case 'b': out += '\b'; return true;
    case 'f': out += '\f'; return true;
    case 'n': out += '\n'; return true;
    case 'r': out += '\r'; return true;
    case 't': out += '\t'; return true;
    case 'u': break;
    default: return false;
  }
  if (t_.size() - p_ < 4 || t_[p_] != '0' || t_[p_ + 1] != '0') return false;
  const int high = LowerHexDigit(t_[p_ + 2]);
  const int low = LowerHexDigit(t_[p_ + 3]);
  if (high < 0 || high > 1 || low < 0) return false;
  const char c = static_cast<char>(high * 16 + low);
  if (c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t') return false;
  out += c;
  p_ += 4;
  return true;
}

// Plain decimal, no "-0", no leading zero, within ±(2^53-1).
bool OnePassReader::Integer(int64_t& out) {
  constexpr int kMaxDigits = 16;  // 2^53-1 = 9007199254740991
  const bool negative = At('-');
  if (negative) ++p_;
  if (p_ >= t_.size() || t_[p_] < '0' || t_[p_] > '9') return false;
  if (t_[p_] == '0') {
    ++p_;
    out = 0;
    return !negative;
  }
  uint64_t magnitude = 0;
  int digits = 0;
  while (p_ < t_.size() && t_[p_] >= '0' && t_[p_] <= '9') {
    if (++digits > kMaxDigits) return false;
    magnitude = magnitude * 10 + static_cast<uint64_t>(t_[p_] - '0');
    ++p_;
  }
  if (magnitude > static_cast<uint64_t>(domain::kMaxJsonInteger)) return false;
  out = negative ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude);
  return true;
}

// `depth` counts the arrays and objects around the value, the leaf's own
// object included, as ParseJsonStrict does.
bool OnePassReader::Value(int depth, DetailValue& out) {
  if (p_ >= t_.size()) return false;
  switch (t_[p_]) {
    case '{': {
      if (depth >= domain::kMaxJsonDepth) return false;
      EventDetails object;
      if (!ObjectOf(depth + 1, object)) return false;
      out = DetailValue(std::move(object));
      return true;
    }
    case '[': {
      if (depth >= domain::kMaxJsonDepth) return false;
      DetailValue::Array array;
      if (!ArrayOf(depth + 1, array)) return false;
      out = DetailValue(std::move(array));
      return true;
    }
    case '"': {
      std::string_view text;
      std::string scratch;
      if (!StringView(text, scratch)) return false;
      out = DetailValue(text.data() == scratch.data() ? std::move(scratch) : std::string(text));
      return true;
    }
    case 't':
      out = DetailValue(true);
      return Literal("true");
    case 'f':
      out = DetailValue(false);
      return Literal("false");
    case 'n':
      out = DetailValue();
      return Literal("null");
    default: {
      int64_t i = 0;
      if (!Integer(i)) return false;
      out = DetailValue(i);
      return true;
    }
  }
}

bool OnePassReader::ObjectOf(int depth, EventDetails& out) {
  if (!Literal("{")) return false;
  if (At('}')) {
    ++p_;
    return true;
  }
  // Names are viewed in the leaf; only one with an escape is copied.
  std::string_view previous;
  std::string previous_scratch;
  std::string name_scratch;
  for (bool first = true;; first = false) {
    std::string_view name;
    if (!StringView(name, name_scratch) || (!first && !NameBefore(previous, name)) || !Literal(":")) {
      return false;
    }
    DetailValue value;
    if (!Value(depth, value)) return false;
    out.Set(name, std::move(value));
    if (name.data() == name_scratch.data()) {
      std::swap(previous_scratch, name_scratch);
      previous = previous_scratch;
    } else {
      previous = name;
    }
    if (At(',')) {
      ++p_;
      continue;
    }
    return Literal("}");
  }
}

bool OnePassReader::ArrayOf(int depth, DetailValue::Array& out) {
  if (!Literal("[")) return false;
  if (At(']')) {
    ++p_;
    return true;
  }
  while (true) {
    DetailValue value;
    if (!Value(depth, value)) return false;
    out.push_back(std::move(value));
    if (At(',')) {
      ++p_;
      continue;
    }
    return Literal("]");
  }
}

bool OnePassReader::Read(DecodedLeaf& out) {
  if (t_.size() > kMaxLeafBytes) return false;
  // The leaf's own object is depth 1, its details object depth 2.
  constexpr int kDetailsDepth = 2;
  static const std::string kVersionText = std::to_string(kLeafFormatVersion);
  std::string_view at;
  std::string at_scratch;
  std::string_view prev;
  std::string prev_scratch;
  int64_t seq = 0;
  LogEvent& e = out.event;
  if (!Member(kLeafKeyAction, true) || !String(e.action) || !Member(kLeafKeyActor, false) ||
      !String(e.actor) || !Member(kLeafKeyAt, false) || !StringView(at, at_scratch) ||
      !Member(kLeafKeyDetails, false) || !ObjectOf(kDetailsDepth, e.details) ||
      !Member(kLeafKeyPrev, false) || !StringView(prev, prev_scratch) || !Member(kLeafKeySeq, false) ||
      !Integer(seq) || !Member(kLeafKeySubject, false) || !String(e.subject) ||
      !Member(kLeafKeyVersion, false) || !Literal(kVersionText) ||
      !Literal("}") || p_ != t_.size() || seq < 0) {
    return false;
  }
  out.seq = static_cast<uint64_t>(seq);
  if (std::optional<crypto::Digest32> fast = CanonicalBase64Digest(prev)) {
    out.prev = *fast;
  } else if (!prev.empty()) {
    std::optional<crypto::Bytes> bytes = crypto::Base64Decode(prev);
    crypto::Digest32 hash;
    if (!bytes || bytes->size() != hash.size()) return false;
    std::copy(bytes->begin(), bytes->end(), hash.begin());
    // Base64 has one form per byte string too.
    if (crypto::Base64Encode(hash) != prev) return false;
    out.prev = hash;
  }
  if (!ValidateLink(out.seq, out.prev).ok() || !ValidateEvent(e).ok() || !IsLeafYear(at)) {
    return false;
  }
  if (std::optional<domain::Time> fast = CanonicalLeafTime(at)) {
    e.at = *fast;
    return true;
  }
  StatusOr<domain::Time> time = domain::ParseTime(at);
  if (!time.ok()) return false;
  StatusOr<std::string> written = LeafTime(*time);
  if (!written.ok() || *written != at) return false;
  e.at = *time;
  return true;
}

}  // namespace

StatusOr<std::string> EncodeLeaf(const LogEvent& e, uint64_t seq,
                                 const std::optional<crypto::Digest32>& prev_leaf_hash) {
  CUSTOS_RETURN_IF_ERROR(ValidateLink(seq, prev_leaf_hash));
  CUSTOS_RETURN_IF_ERROR(ValidateEvent(e));
  CUSTOS_ASSIGN_OR_RETURN(std::string at, LeafTime(e.at));

  // The eight members in their canonical order, written directly: the
  // same bytes as CanonicalJson of the whole object (tests compare both),
  // without building and sorting a Poco object for every event.
  auto member = [](std::string& out, std::string_view key, const Poco::Dynamic::Var& value) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(std::string text, domain::CanonicalJson(value));
    out += out.empty() ? "{\"" : ",\"";
    out += key;
    out += "\":";
    out += text;
    return Status::Ok();
  };
  std::string bytes;
  bytes.reserve(256);
  CUSTOS_RETURN_IF_ERROR(member(bytes, kLeafKeyAction, e.action));
  CUSTOS_RETURN_IF_ERROR(member(bytes, kLeafKeyActor, e.actor));
  CUSTOS_RETURN_IF_ERROR(member(bytes, kLeafKeyAt, at));
  CUSTOS_RETURN_IF_ERROR(member(bytes, kLeafKeyDetails, DetailsJson(e.details)));
  CUSTOS_RETURN_IF_ERROR(member(bytes, kLeafKeyPrev,
                                prev_leaf_hash ? crypto::Base64Encode(*prev_leaf_hash) : std::string()));
  CUSTOS_RETURN_IF_ERROR(member(bytes, kLeafKeySeq, static_cast<Poco::UInt64>(seq)));
  CUSTOS_RETURN_IF_ERROR(member(bytes, kLeafKeySubject, e.subject));
  CUSTOS_RETURN_IF_ERROR(member(bytes, kLeafKeyVersion, kLeafFormatVersion));
  bytes += '}';
  if (bytes.size() > kMaxLeafBytes) {
    return InvalidArgument("audit leaf of " + std::to_string(bytes.size()) + " bytes exceeds " +
                               std::to_string(kMaxLeafBytes),
                           "leaf_too_large");
  }
  return bytes;
}

std::optional<DecodedLeaf> DecodeLeafOnePass(std::string_view leaf) {
  DecodedLeaf decoded;
  if (!OnePassReader(leaf).Read(decoded)) return std::nullopt;
  return decoded;
}

StatusOr<DecodedLeaf> DecodeLeaf(std::string_view leaf) {
  if (std::optional<DecodedLeaf> decoded = DecodeLeafOnePass(leaf)) return std::move(*decoded);
  return DecodeLeafReference(leaf);
}

StatusOr<DecodedLeaf> DecodeLeafReference(std::string_view leaf) {
  CUSTOS_ASSIGN_OR_RETURN(Object::Ptr object, ParseLeafObject(leaf));
  CUSTOS_RETURN_IF_ERROR(CheckVersion(*object));
  CUSTOS_RETURN_IF_ERROR(CheckMemberSet(*object));
  CUSTOS_ASSIGN_OR_RETURN(DecodedLeaf decoded, FieldsOf(*object));

  // The one encoding of this event: anything else is a second form.
  StatusOr<std::string> canonical = EncodeLeaf(decoded.event, decoded.seq, decoded.prev);
  if (!canonical.ok()) return LeafMalformed(canonical.status().ToString());
  if (*canonical != leaf) {
    return InvalidArgument("audit leaf is valid but not in its canonical encoding",
                           "leaf_not_canonical");
  }
  return decoded;
}

Status CheckChainLink(const DecodedLeaf& leaf, uint64_t expected_seq,
                      const std::optional<crypto::Digest32>& prev_leaf_hash) {
  if (leaf.seq != expected_seq) {
    return DataLoss(IndexText(expected_seq) + " carries seq " + std::to_string(leaf.seq),
                    "log_seq_mismatch");
  }
  if (leaf.prev != prev_leaf_hash) {
    return DataLoss(IndexText(expected_seq) +
                        (expected_seq == 0 ? ": prev must be empty for the first entry"
                                           : ": prev is not the leaf hash of entry " +
                                                 std::to_string(expected_seq - 1)),
                    "log_chain_broken");
  }
  return Status::Ok();
}

}  // namespace custos::storage
