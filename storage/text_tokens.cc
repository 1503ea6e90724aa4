#include "storage/text_tokens.h"

#include <opencc.h>

#include <algorithm>
#include <mutex>
#include <set>

namespace custos::storage {

namespace {

constexpr char32_t kReplacement = 0xFFFD;
constexpr char32_t kIdeographicSpace = 0x3000;
constexpr char32_t kFullWidthFirst = 0xFF01;  // ！
constexpr char32_t kFullWidthLast = 0xFF5E;   // ～
constexpr char32_t kFullWidthOffset = 0xFF01 - 0x21;

// Decodes one code point at `s[*i]`, advancing `*i`; a bad sequence gives
// U+FFFD and advances one byte.
char32_t DecodeOne(std::string_view s, size_t* i) {
  const auto b0 = static_cast<unsigned char>(s[*i]);
  if (b0 < 0x80) {
    ++*i;
    return b0;
  }
  size_t n = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 1, cp = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 2, cp = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 3, cp = b0 & 0x07, min = 0x10000;
  } else {
    ++*i;
    return kReplacement;
  }
  if (s.size() - *i <= n) {  // fewer than n continuation bytes left
    ++*i;
    return kReplacement;
  }
  for (size_t k = 1; k <= n; ++k) {
    const auto b = static_cast<unsigned char>(s[*i + k]);
    if ((b & 0xC0) != 0x80) {
      ++*i;
      return kReplacement;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++*i;
    return kReplacement;
  }
  *i += n + 1;
  return cp;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Steps 1–3 of Normalise: valid UTF-8, narrow forms, lower case.
std::string FoldWidthAndCase(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    char32_t cp = DecodeOne(text, &i);
    if (cp >= kFullWidthFirst && cp <= kFullWidthLast) cp -= kFullWidthOffset;
    if (cp == kIdeographicSpace) cp = U' ';
    if (cp >= U'A' && cp <= U'Z') cp += U'a' - U'A';
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) cp += 0x20;  // À–Þ → à–þ
    AppendUtf8(cp, &out);
  }
  return out;
}

// The process's traditional → simplified converter. It is a fixed table,
// not configuration, so it is made once here rather than passed down; the
// static's destructor closes it at exit (nothing leaks).
class TraditionalToSimplified {
 public:
  TraditionalToSimplified() : handle_(opencc_open(kOpenCcConfig)) {}
  ~TraditionalToSimplified() {
    if (ok()) opencc_close(handle_);
  }
  TraditionalToSimplified(const TraditionalToSimplified&) = delete;
  TraditionalToSimplified& operator=(const TraditionalToSimplified&) = delete;

  bool ok() const { return handle_ != reinterpret_cast<opencc_t>(-1) && handle_ != nullptr; }

  // `text` (valid UTF-8) converted; `text` itself if conversion fails.
  std::string Convert(const std::string& text) {
    if (!ok() || text.empty()) return text;
    std::lock_guard<std::mutex> lock(mu_);
    char* converted = opencc_convert_utf8(handle_, text.data(), text.size());
    if (converted == nullptr) return text;
    std::string out(converted);
    opencc_convert_utf8_free(converted);
    return out;
  }

 private:
  const opencc_t handle_;
  std::mutex mu_;  // guards every use of handle_
};

TraditionalToSimplified& Converter() {
  static TraditionalToSimplified converter;
  return converter;
}

bool IsIdeograph(char32_t cp) {
  return (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
         (cp >= 0x20000 && cp <= 0x2FA1F);
}
bool IsDigit(char32_t cp) { return cp >= U'0' && cp <= U'9'; }
bool IsWordChar(char32_t cp) {
  if (IsDigit(cp) || (cp >= U'a' && cp <= U'z') || (cp >= U'A' && cp <= U'Z')) return true;
  return cp >= 0xC0 && cp <= 0x17F && cp != 0xD7 && cp != 0xF7;
}

std::string Utf8Of(const std::u32string& cps, size_t from, size_t to) {
  std::string out;
  for (size_t i = from; i < to; ++i) AppendUtf8(cps[i], &out);
  return out;
}

// The tokens of one ideograph run.
void IdeographTokens(const std::u32string& run, std::vector<std::string>* out) {
  if (run.size() == 1) {
    out->push_back(Utf8Of(run, 0, 1));
    return;
  }
  for (size_t i = 0; i + 1 < run.size(); ++i) out->push_back(Utf8Of(run, i, i + 2));
}

// Cuts a word to kMaxWordBytes without splitting a code point.
std::string Cut(std::string word) {
  if (word.size() <= kMaxWordBytes) return word;
  size_t end = kMaxWordBytes;
  while (end > 0 && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) --end;
  word.resize(end);
  return word;
}

// The tokens of one word run: the run, then, if it mixes letters and
// digits, each part. `whole` says whether the mixed run itself is kept.
void WordTokens(const std::u32string& run, bool whole, std::vector<std::string>* out) {
  bool mixed = false;
  for (size_t i = 1; i < run.size(); ++i) mixed |= IsDigit(run[i]) != IsDigit(run[0]);
  if (!mixed || whole) out->push_back(Cut(Utf8Of(run, 0, run.size())));
  if (!mixed) return;
  size_t start = 0;
  for (size_t i = 1; i <= run.size(); ++i) {
    if (i == run.size() || IsDigit(run[i]) != IsDigit(run[start])) {
      out->push_back(Cut(Utf8Of(run, start, i)));
      start = i;
    }
  }
}

std::vector<std::string> TokensOf(std::string_view text, bool whole_mixed_runs) {
  const std::string normal = Normalise(text);
  std::u32string cps;
  cps.reserve(normal.size());
  for (size_t i = 0; i < normal.size();) cps.push_back(DecodeOne(normal, &i));
  std::vector<std::string> out;
  std::u32string run;
  enum class Kind { kNone, kIdeograph, kWord } kind = Kind::kNone;
  auto flush = [&] {
    if (kind == Kind::kIdeograph) IdeographTokens(run, &out);
    if (kind == Kind::kWord) WordTokens(run, whole_mixed_runs, &out);
    run.clear();
    kind = Kind::kNone;
  };
  for (char32_t cp : cps) {
    const Kind k = IsIdeograph(cp) ? Kind::kIdeograph : IsWordChar(cp) ? Kind::kWord : Kind::kNone;
    if (k != kind) flush();
    kind = k;
    if (k != Kind::kNone) run.push_back(cp);
  }
  flush();
  return out;
}

}  // namespace

std::string Normalise(std::string_view text) { return Converter().Convert(FoldWidthAndCase(text)); }

Status TextTokensReady() {
  if (Converter().ok()) return Status::Ok();
  return Internal(std::string("OpenCC cannot open its configuration ") + kOpenCcConfig +
                      " (install the opencc package): traditional characters would not match simplified ones",
                  "opencc_unavailable");
}

std::vector<std::string> Tokens(std::string_view text) { return TokensOf(text, true); }

std::map<std::string, uint32_t> TermFrequencies(std::string_view text) {
  std::map<std::string, uint32_t> tf;
  for (std::string& token : Tokens(text)) ++tf[std::move(token)];
  return tf;
}

std::vector<std::string> QueryTokens(std::string_view query) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (std::string& token : TokensOf(query, false)) {
    if (seen.insert(token).second) out.push_back(std::move(token));
  }
  return out;
}

}  // namespace custos::storage
