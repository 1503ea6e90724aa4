#include "domain/canonical_json.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>
#include <typeinfo>
#include <utility>
#include <vector>

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

namespace custos::domain {

namespace {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

constexpr char32_t kReplacementChar = 0xFFFD;
constexpr char32_t kMaxCodePoint = 0x10FFFF;
constexpr char32_t kHighSurrogateFirst = 0xD800;
constexpr char32_t kHighSurrogateLast = 0xDBFF;
constexpr char32_t kLowSurrogateFirst = 0xDC00;
constexpr char32_t kLowSurrogateLast = 0xDFFF;
constexpr char32_t kFirstSupplementary = 0x10000;
constexpr unsigned char kFirstNonControl = 0x20;  // U+0000..U+001F must be escaped
constexpr char kHexDigits[] = "0123456789abcdef";

// ---------------------------------------------------------------------------
// UTF-8 / UTF-16

bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// The length of the leading run of ASCII bytes, eight at a time.
size_t AsciiPrefix(std::string_view s) {
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, s.data() + i, 8);
    if (word & 0x8080808080808080ULL) break;
  }
  while (i < s.size() && static_cast<unsigned char>(s[i]) < 0x80) ++i;
  return i;
}

// Decodes one UTF-8 sequence starting at s[i] per RFC 3629 §4 (no overlong
// forms, no surrogates, nothing above U+10FFFF) and advances i past it.
// Returns nullopt (i unchanged) if the sequence is invalid or truncated.
std::optional<char32_t> NextCodePoint(std::string_view s, size_t& i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  if (lead < 0x80) {
    ++i;
    return lead;
  }
  size_t length;
  char32_t cp;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    cp = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    cp = lead & 0x0F;
    if (lead == 0xE0) second_min = 0xA0;  // overlong
    if (lead == 0xED) second_max = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    cp = lead & 0x07;
    if (lead == 0xF0) second_min = 0x90;  // overlong
    if (lead == 0xF4) second_max = 0x8F;  // above U+10FFFF
  } else {
    return std::nullopt;
  }
  if (s.size() - i < length) return std::nullopt;
  const auto second = static_cast<unsigned char>(s[i + 1]);
  if (second < second_min || second > second_max) return std::nullopt;
  for (size_t k = 1; k < length; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if (!IsContinuation(c)) return std::nullopt;
    cp = (cp << 6) | (c & 0x3F);
  }
  i += length;
  return cp;
}

void AppendUtf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < kFirstSupplementary) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::u16string ToUtf16(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    std::optional<char32_t> cp = NextCodePoint(s, i);
    if (!cp) {
      ++i;
      cp = kReplacementChar;
    }
    if (*cp < kFirstSupplementary) {
      out += static_cast<char16_t>(*cp);
    } else {
      const char32_t v = *cp - kFirstSupplementary;
      out += static_cast<char16_t>(kHighSurrogateFirst + (v >> 10));
      out += static_cast<char16_t>(kLowSurrogateFirst + (v & 0x3FF));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Errors

Status Malformed(std::string_view what, size_t offset) {
  return InvalidArgument("malformed JSON at byte " + std::to_string(offset) + ": " +
                             std::string(what),
                         "json_malformed");
}
Status NonInteger() {
  return InvalidArgument("JSON numbers must be integers (decimals travel as strings)",
                         "json_non_integer");
}
Status IntegerRange() {
  return InvalidArgument("JSON integer outside [-(2^53-1), 2^53-1]", "json_integer_range");
}
Status InvalidUtf8(std::string_view where) {
  return InvalidArgument("invalid UTF-8 or unpaired surrogate in a JSON " + std::string(where),
                         "json_invalid_utf8");
}
Status TooDeep() {
  return InvalidArgument("JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels",
                         "json_too_deep");
}

// ---------------------------------------------------------------------------
// Canonical writer

class CanonicalWriter {
 public:
  Status Write(const Var& value, int depth);
  std::string Take() { return std::move(out_); }

 private:
  Status WriteObject(const Object& object, int depth);
  Status WriteArray(const Array& array, int depth);
  Status WriteString(std::string_view s, std::string_view where);
  Status WriteInteger(const Var& value);

  std::string out_;
};

Status CanonicalWriter::Write(const Var& value, int depth) {
  if (value.isEmpty()) {
    out_ += "null";
    return Status::Ok();
  }
  const std::type_info& type = value.type();
  if (type == typeid(Object::Ptr) || type == typeid(Object) || type == typeid(Array::Ptr) ||
      type == typeid(Array)) {
    if (depth >= kMaxJsonDepth) return TooDeep();
  }
  if (type == typeid(Object::Ptr)) {
    const auto& ptr = value.extract<Object::Ptr>();
    if (ptr.isNull()) {
      out_ += "null";
      return Status::Ok();
    }
    return WriteObject(*ptr, depth + 1);
  }
  if (type == typeid(Object)) return WriteObject(value.extract<Object>(), depth + 1);
  if (type == typeid(Array::Ptr)) {
    const auto& ptr = value.extract<Array::Ptr>();
    if (ptr.isNull()) {
      out_ += "null";
      return Status::Ok();
    }
    return WriteArray(*ptr, depth + 1);
  }
  if (type == typeid(Array)) return WriteArray(value.extract<Array>(), depth + 1);
  if (type == typeid(std::string)) return WriteString(value.extract<std::string>(), "string");
  if (type == typeid(bool)) {
    out_ += value.extract<bool>() ? "true" : "false";
    return Status::Ok();
  }
  if (type == typeid(float) || type == typeid(double)) return NonInteger();
  // char is an integer to Poco but a character to its users: refuse to guess.
  if (type != typeid(char) && value.isInteger()) return WriteInteger(value);
  return InvalidArgument(std::string("no JSON form for a value of type ") + type.name(),
                         "json_unsupported_type");
}

Status CanonicalWriter::WriteObject(const Object& object, int depth) {
  // Members sort by UTF-16 code units (RFC 8785). For ASCII names that is
  // plain byte order, so the conversion is only paid for other names.
  bool ascii = true;
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (!IsValidUtf8(it->first)) return InvalidUtf8("member name");
    ascii = ascii && AsciiPrefix(it->first) == it->first.size();
  }
  std::vector<std::pair<std::u16string, Object::ConstIterator>> sorted;
  sorted.reserve(object.size());
  for (auto it = object.begin(); it != object.end(); ++it) {
    sorted.emplace_back(ascii ? std::u16string() : ToUtf16(it->first), it);
  }
  if (ascii) {
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return a.second->first < b.second->first; });
  } else {
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
  }
  out_ += '{';
  bool first = true;
  for (const auto& [unused, it] : sorted) {
    if (!first) out_ += ',';
    first = false;
    CUSTOS_RETURN_IF_ERROR(WriteString(it->first, "member name"));
    out_ += ':';
    CUSTOS_RETURN_IF_ERROR(Write(it->second, depth));
  }
  out_ += '}';
  return Status::Ok();
}

Status CanonicalWriter::WriteArray(const Array& array, int depth) {
  out_ += '[';
  bool first = true;
  for (const Var& element : array) {
    if (!first) out_ += ',';
    first = false;
    CUSTOS_RETURN_IF_ERROR(Write(element, depth));
  }
  out_ += ']';
  return Status::Ok();
}

Status CanonicalWriter::WriteString(std::string_view s, std::string_view where) {
  out_ += '"';
  size_t i = 0;
  while (i < s.size()) {
    // Runs of printable ASCII other than '"' and '\\' are copied as they are.
    size_t run = i;
    while (run < s.size()) {
      const auto c = static_cast<unsigned char>(s[run]);
      if (c < kFirstNonControl || c >= 0x80 || c == '"' || c == '\\') break;
      ++run;
    }
    out_.append(s.data() + i, run - i);
    i = run;
    if (i == s.size()) break;
    const size_t start = i;
    if (!NextCodePoint(s, i)) return InvalidUtf8(where);
    const auto c = static_cast<unsigned char>(s[start]);
    switch (c) {
      case '"': out_ += "\\\""; continue;
      case '\\': out_ += "\\\\"; continue;
      case '\b': out_ += "\\b"; continue;
      case '\f': out_ += "\\f"; continue;
      case '\n': out_ += "\\n"; continue;
      case '\r': out_ += "\\r"; continue;
      case '\t': out_ += "\\t"; continue;
      default: break;
    }
    if (c < kFirstNonControl) {
      out_ += "\\u00";
      out_ += kHexDigits[c >> 4];
      out_ += kHexDigits[c & 0x0F];
    } else {
      out_.append(s.substr(start, i - start));
    }
  }
  out_ += '"';
  return Status::Ok();
}

Status CanonicalWriter::WriteInteger(const Var& value) {
  if (value.isSigned()) {
    const auto v = value.convert<Poco::Int64>();
    if (v < -kMaxJsonInteger || v > kMaxJsonInteger) return IntegerRange();
    out_ += std::to_string(v);
  } else {
    const auto v = value.convert<Poco::UInt64>();
    if (v > static_cast<Poco::UInt64>(kMaxJsonInteger)) return IntegerRange();
    out_ += std::to_string(v);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Strict parser (RFC 8259 §2–§7)

class StrictParser {
 public:
  explicit StrictParser(std::string_view text) : text_(text) {}

  StatusOr<Var> ParseDocument();

 private:
  Status ParseValue(int depth, Var& out);
  Status ParseObject(int depth, Var& out);
  Status ParseArray(int depth, Var& out);
  Status ParseString(std::string& out);
  Status ParseEscape(std::string& out);
  StatusOr<char32_t> ParseHex4();
  Status ParseNumber(Var& out);
  Status ParseLiteral(Var& out);
  Status Expect(char c);
  void SkipWhitespace();
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }

  std::string_view text_;
  size_t pos_ = 0;
};

StatusOr<Var> StrictParser::ParseDocument() {
  Var value;
  SkipWhitespace();
  CUSTOS_RETURN_IF_ERROR(ParseValue(0, value));
  SkipWhitespace();
  if (!AtEnd()) return Malformed("unexpected data after the JSON value", pos_);
  return value;
}

void StrictParser::SkipWhitespace() {
  while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r')) {
    ++pos_;
  }
}

Status StrictParser::Expect(char c) {
  if (AtEnd() || Peek() != c) return Malformed(std::string("expected '") + c + "'", pos_);
  ++pos_;
  return Status::Ok();
}

Status StrictParser::ParseValue(int depth, Var& out) {
  if (AtEnd()) return Malformed("expected a value", pos_);
  switch (Peek()) {
    case '{':
    case '[':
      if (depth >= kMaxJsonDepth) return TooDeep();
      return Peek() == '{' ? ParseObject(depth + 1, out) : ParseArray(depth + 1, out);
    case '"': {
      std::string s;
      CUSTOS_RETURN_IF_ERROR(ParseString(s));
      out = std::move(s);
      return Status::Ok();
    }
    case 't':
    case 'f':
    case 'n':
      return ParseLiteral(out);
    default:
      return ParseNumber(out);
  }
}

Status StrictParser::ParseObject(int depth, Var& out) {
  Object::Ptr object = new Object();
  ++pos_;  // '{'
  SkipWhitespace();
  if (!AtEnd() && Peek() == '}') {
    ++pos_;
    out = object;
    return Status::Ok();
  }
  while (true) {
    SkipWhitespace();
    if (AtEnd() || Peek() != '"') return Malformed("expected a member name", pos_);
    const size_t name_at = pos_;
    std::string name;
    CUSTOS_RETURN_IF_ERROR(ParseString(name));
    if (object->has(name)) {
      return InvalidArgument("duplicate JSON member name at byte " + std::to_string(name_at),
                             "json_duplicate_key");
    }
    SkipWhitespace();
    CUSTOS_RETURN_IF_ERROR(Expect(':'));
    SkipWhitespace();
    Var value;
    CUSTOS_RETURN_IF_ERROR(ParseValue(depth, value));
    object->set(name, value);
    SkipWhitespace();
    if (!AtEnd() && Peek() == ',') {
      ++pos_;
      continue;
    }
    CUSTOS_RETURN_IF_ERROR(Expect('}'));
    out = object;
    return Status::Ok();
  }
}

Status StrictParser::ParseArray(int depth, Var& out) {
  Array::Ptr array = new Array();
  ++pos_;  // '['
  SkipWhitespace();
  if (!AtEnd() && Peek() == ']') {
    ++pos_;
    out = array;
    return Status::Ok();
  }
  while (true) {
    SkipWhitespace();
    Var value;
    CUSTOS_RETURN_IF_ERROR(ParseValue(depth, value));
    array->add(value);
    SkipWhitespace();
    if (!AtEnd() && Peek() == ',') {
      ++pos_;
      continue;
    }
    CUSTOS_RETURN_IF_ERROR(Expect(']'));
    out = array;
    return Status::Ok();
  }
}

Status StrictParser::ParseString(std::string& out) {
  ++pos_;  // opening quote
  while (true) {
    if (AtEnd()) return Malformed("unterminated string", pos_);
    const auto c = static_cast<unsigned char>(Peek());
    if (c == '"') {
      ++pos_;
      return Status::Ok();
    }
    if (c == '\\') {
      CUSTOS_RETURN_IF_ERROR(ParseEscape(out));
      continue;
    }
    if (c < kFirstNonControl) return Malformed("raw control character in a string", pos_);
    const size_t start = pos_;
    if (c < 0x80) {
      // A run of plain ASCII is taken at once.
      while (pos_ < text_.size()) {
        const auto d = static_cast<unsigned char>(text_[pos_]);
        if (d < kFirstNonControl || d >= 0x80 || d == '"' || d == '\\') break;
        ++pos_;
      }
    } else if (!NextCodePoint(text_, pos_)) {
      return InvalidUtf8("string");
    }
    out.append(text_.substr(start, pos_ - start));
  }
}

StatusOr<char32_t> StrictParser::ParseHex4() {
  if (text_.size() - pos_ < 4) return Malformed("truncated \\u escape", pos_);
  char32_t v = 0;
  for (int k = 0; k < 4; ++k) {
    const char c = text_[pos_ + k];
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      return Malformed("bad hex digit in \\u escape", pos_ + k);
    }
    v = (v << 4) | static_cast<char32_t>(digit);
  }
  pos_ += 4;
  return v;
}

Status StrictParser::ParseEscape(std::string& out) {
  ++pos_;  // backslash
  if (AtEnd()) return Malformed("unterminated escape", pos_);
  const char c = Peek();
  ++pos_;
  switch (c) {
    case '"': out += '"'; return Status::Ok();
    case '\\': out += '\\'; return Status::Ok();
    case '/': out += '/'; return Status::Ok();
    case 'b': out += '\b'; return Status::Ok();
    case 'f': out += '\f'; return Status::Ok();
    case 'n': out += '\n'; return Status::Ok();
    case 'r': out += '\r'; return Status::Ok();
    case 't': out += '\t'; return Status::Ok();
    case 'u': break;
    default: return Malformed("unknown escape", pos_ - 1);
  }
  CUSTOS_ASSIGN_OR_RETURN(char32_t cp, ParseHex4());
  if (cp >= kLowSurrogateFirst && cp <= kLowSurrogateLast) return InvalidUtf8("string");
  if (cp >= kHighSurrogateFirst && cp <= kHighSurrogateLast) {
    if (text_.size() - pos_ < 2 || text_[pos_] != '\\' || text_[pos_ + 1] != 'u') {
      return InvalidUtf8("string");
    }
    pos_ += 2;
    CUSTOS_ASSIGN_OR_RETURN(char32_t low, ParseHex4());
    if (low < kLowSurrogateFirst || low > kLowSurrogateLast) return InvalidUtf8("string");
    cp = kFirstSupplementary + ((cp - kHighSurrogateFirst) << 10) + (low - kLowSurrogateFirst);
  }
  AppendUtf8(cp, out);
  return Status::Ok();
}

Status StrictParser::ParseLiteral(Var& out) {
  static constexpr std::pair<std::string_view, int> kLiterals[] = {
      {"true", 1}, {"false", 0}, {"null", -1}};
  for (const auto& [word, meaning] : kLiterals) {
    if (text_.substr(pos_, word.size()) == word) {
      pos_ += word.size();
      if (meaning < 0) {
        out = Var();
      } else {
        out = (meaning == 1);
      }
      return Status::Ok();
    }
  }
  return Malformed("unknown literal", pos_);
}

Status StrictParser::ParseNumber(Var& out) {
  auto is_digit = [this] { return !AtEnd() && Peek() >= '0' && Peek() <= '9'; };
  const size_t start = pos_;
  bool negative = false;
  if (!AtEnd() && Peek() == '-') {
    negative = true;
    ++pos_;
  }
  if (!is_digit()) return Malformed("expected a value", start);
  uint64_t magnitude = 0;
  bool too_large = false;
  if (Peek() == '0') {
    ++pos_;
    if (is_digit()) return Malformed("leading zero in a number", start);
  } else {
    while (is_digit()) {
      magnitude = magnitude * 10 + static_cast<uint64_t>(Peek() - '0');
      if (magnitude > static_cast<uint64_t>(kMaxJsonInteger)) too_large = true;
      if (too_large) magnitude = static_cast<uint64_t>(kMaxJsonInteger) + 1;  // no overflow
      ++pos_;
    }
  }
  bool fractional = false;
  if (!AtEnd() && Peek() == '.') {
    ++pos_;
    if (!is_digit()) return Malformed("digit expected after '.'", pos_);
    while (is_digit()) ++pos_;
    fractional = true;
  }
  if (!AtEnd() && (Peek() == 'e' || Peek() == 'E')) {
    ++pos_;
    if (!AtEnd() && (Peek() == '+' || Peek() == '-')) ++pos_;
    if (!is_digit()) return Malformed("digit expected in exponent", pos_);
    while (is_digit()) ++pos_;
    fractional = true;
  }
  if (fractional) return NonInteger();
  if (too_large) return IntegerRange();
  const auto v = static_cast<Poco::Int64>(magnitude);
  out = negative ? -v : v;
  return Status::Ok();
}

// Runs `f`, turning any exception (Poco or standard) into kInternal.
template <typename T, typename F>
StatusOr<T> CatchAll(F&& f) {
  try {
    return f();
  } catch (const Poco::Exception& e) {
    return Internal("JSON library failure: " + e.displayText(), "json_internal");
  } catch (const std::exception& e) {
    return Internal(std::string("JSON library failure: ") + e.what(), "json_internal");
  }
}

}  // namespace

bool Utf16Less(std::string_view a, std::string_view b) { return ToUtf16(a) < ToUtf16(b); }

bool IsValidUtf8(std::string_view s) {
  size_t i = AsciiPrefix(s);
  while (i < s.size()) {
    if (!NextCodePoint(s, i)) return false;
  }
  return true;
}

StatusOr<std::string> CanonicalJson(const Poco::Dynamic::Var& value) {
  return CatchAll<std::string>([&]() -> StatusOr<std::string> {
    CanonicalWriter writer;
    CUSTOS_RETURN_IF_ERROR(writer.Write(value, 0));
    return writer.Take();
  });
}

StatusOr<Poco::Dynamic::Var> ParseJsonStrict(std::string_view json_text) {
  return CatchAll<Var>([&]() -> StatusOr<Var> { return StrictParser(json_text).ParseDocument(); });
}

StatusOr<std::string> Canonicalize(std::string_view json_text) {
  CUSTOS_ASSIGN_OR_RETURN(Var value, ParseJsonStrict(json_text));
  return CanonicalJson(value);
}

}  // namespace custos::domain
