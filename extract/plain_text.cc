// Plain text: valid UTF-8 (a byte-order mark is dropped) is taken as is;
// anything else is decoded as GB18030, the superset of GBK and GB2312
// (iconv). Bytes that are neither make the document unreadable.
#include <iconv.h>

#include <cerrno>

#include "extract/parsers.h"

namespace custos::extract {
namespace {

// Decodes GB18030 to UTF-8; false on an invalid or truncated sequence.
bool Gb18030ToUtf8(std::string_view in, std::string& out) {
  iconv_t cd = iconv_open("UTF-8", "GB18030");
  if (cd == reinterpret_cast<iconv_t>(-1)) return false;
  out.clear();
  char* src = const_cast<char*>(in.data());
  size_t left = in.size();
  char buffer[16 * 1024];
  bool ok = true;
  while (left > 0) {
    char* dst = buffer;
    size_t room = sizeof buffer;
    size_t r = iconv(cd, &src, &left, &dst, &room);
    out.append(buffer, static_cast<size_t>(dst - buffer));
    if (r == static_cast<size_t>(-1) && errno != E2BIG) {
      ok = false;
      break;
    }
  }
  iconv_close(cd);
  return ok;
}

size_t Utf8Length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// The code point at s[i] (valid UTF-8 assumed) and its length.
char32_t Decode(std::string_view s, size_t i, size_t& length) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  length = Utf8Length(c);
  if (length <= 1 || i + length > s.size()) {
    length = 1;
    return c;
  }
  char32_t cp = c & (0x7F >> length);
  for (size_t k = 1; k < length; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return cp;
}

bool IsCjk(char32_t cp) {
  return (cp >= 0x3400 && cp <= 0x9FFF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
         (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFF00 && cp <= 0xFFEF) ||
         (cp >= 0x20000 && cp <= 0x2FFFF);
}

bool IsBlank(char32_t cp) {
  return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\f' || cp == '\v' ||
         cp == 0x3000 || cp == 0xA0;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = Utf8Length(c);
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    if (n > 1) {
      unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      if (c == 0xE0 && c1 < 0xA0) return false;  // overlong
      if (c == 0xED && c1 > 0x9F) return false;  // surrogate
      if (c == 0xF0 && c1 < 0x90) return false;  // overlong
      if (c == 0xF4 && c1 > 0x8F) return false;  // above U+10FFFF
    }
    i += n;
  }
  return true;
}

size_t CountNonBlank(std::string_view s) {
  size_t count = 0, length = 0;
  for (size_t i = 0; i < s.size(); i += length) {
    if (!IsBlank(Decode(s, i, length))) ++count;
  }
  return count;
}

std::string JoinCjkSpaces(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t length = 0;
  char32_t last = 0;  // the last non-space code point written
  for (size_t i = 0; i < s.size(); i += length) {
    char32_t cp = Decode(s, i, length);
    if (cp == ' ' && IsCjk(last)) {
      size_t j = i;
      while (j < s.size() && s[j] == ' ') ++j;
      size_t next_length = 0;
      if (j < s.size() && IsCjk(Decode(s, j, next_length))) {
        length = j - i;  // drop the run of spaces
        continue;
      }
    }
    out.append(s.substr(i, length));
    if (cp != ' ') last = cp;
  }
  return out;
}

void Finish(const ParseLimits& limits, Extraction& out) {
  if (out.text.size() > limits.max_text_bytes) {
    size_t cut = limits.max_text_bytes;
    while (cut > 0 && (static_cast<unsigned char>(out.text[cut]) & 0xC0) == 0x80) --cut;
    out.text.resize(cut);
    out.warnings.push_back("text_truncated");
  }
  out.status = CountNonBlank(out.text) > 0 ? kStatusText : kStatusNoText;
}

Extraction ExtractPlainText(std::string_view bytes, const ParseLimits& limits) {
  Extraction out;
  if (IsValidUtf8(bytes)) {
    if (bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
    out.method = kMethodTextUtf8;
    out.text = std::string(bytes);
  } else {
    out.method = kMethodTextGbk;
    if (!Gb18030ToUtf8(bytes, out.text)) throw UnreadableDocument("text: neither UTF-8 nor GBK");
  }
  Finish(limits, out);
  if (out.status == kStatusNoText) out.method = kMethodNone;
  return out;
}

}  // namespace custos::extract
