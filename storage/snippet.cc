#include "storage/snippet.h"

#include <algorithm>
#include <unordered_map>

#include "storage/text_tokens.h"

namespace custos::storage {

namespace {

constexpr char kReplacementUtf8[] = "\xEF\xBF\xBD";  // U+FFFD

// Decodes one code point at `s[*i]`, advancing `*i`; false (and one byte)
// for a bad sequence: stray or truncated, overlong, a surrogate or above
// U+10FFFF, as Normalise judges them.
bool DecodeOne(std::string_view s, size_t* i, char32_t* cp) {
  const auto b0 = static_cast<unsigned char>(s[*i]);
  if (b0 < 0x80) {
    *cp = b0;
    ++*i;
    return true;
  }
  size_t n = 0;
  char32_t v = 0;
  char32_t min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 1, v = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 2, v = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 3, v = b0 & 0x07, min = 0x10000;
  } else {
    ++*i;
    return false;
  }
  if (s.size() - *i <= n) {
    ++*i;
    return false;
  }
  for (size_t k = 1; k <= n; ++k) {
    const auto b = static_cast<unsigned char>(s[*i + k]);
    if ((b & 0xC0) != 0x80) {
      ++*i;
      return false;
    }
    v = (v << 6) | (b & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
    ++*i;
    return false;
  }
  *i += n + 1;
  *cp = v;
  return true;
}

enum class CharClass { kOther, kIdeograph, kLetter, kDigit };

// The classes of storage/text_tokens.h Tokens: ideographs, word letters
// (ASCII, Latin-1 and Latin Extended-A letters but × and ÷), digits.
CharClass ClassOf(char32_t c) {
  if ((c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) ||
      (c >= 0x20000 && c <= 0x2FA1F)) {
    return CharClass::kIdeograph;
  }
  if (c >= '0' && c <= '9') return CharClass::kDigit;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return CharClass::kLetter;
  if (c >= 0xC0 && c <= 0x17F && c != 0xD7 && c != 0xF7) return CharClass::kLetter;
  return CharClass::kOther;
}

// The class of the first code point of UTF-8 `s` (kOther when empty).
CharClass FirstClass(std::string_view s) {
  if (s.empty()) return CharClass::kOther;
  size_t i = 0;
  char32_t c = 0;
  return DecodeOne(s, &i, &c) ? ClassOf(c) : CharClass::kOther;
}

// One code point of the text: where it is in the original and in the
// normalised text, and its class after normalisation.
struct Point {
  size_t begin = 0;  // bytes of the original
  size_t end = 0;
  bool valid = true;
  bool control = false;
  size_t norm = 0;  // first byte in the normalised text
  CharClass cls = CharClass::kOther;
};

// Normalise of one non-ASCII code point (its UTF-8 `utf8`), remembered per
// thread: converting a character costs microseconds, a text holds
// thousands of them, and a language has few distinct ones. The cache is
// emptied when it passes kMaxCachedPoints (a text of rare characters).
const std::string& NormalisedPoint(char32_t c, std::string_view utf8) {
  constexpr size_t kMaxCachedPoints = 65536;
  thread_local std::unordered_map<char32_t, std::string> cache;
  if (cache.size() >= kMaxCachedPoints) cache.clear();
  auto [it, added] = cache.try_emplace(c);
  if (added) it->second = Normalise(utf8);
  return it->second;
}

// The text normalised one code point at a time (Normalise of each,
// NormalisedPoint).
class NormalisedText {
 public:
  explicit NormalisedText(std::string_view text) : text_(text) {
    for (size_t i = 0; i < text.size();) {
      Point p;
      p.begin = i;
      char32_t c = 0;
      p.valid = DecodeOne(text, &i, &c);
      p.end = i;
      p.norm = norm_.size();
      std::string n;
      if (!p.valid) {
        n = kReplacementUtf8;
      } else if (c < 0x80) {
        n.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
      } else {
        n = NormalisedPoint(c, text.substr(p.begin, p.end - p.begin));
      }
      p.control = p.valid && (c < 0x20 || (c >= 0x7F && c <= 0x9F));
      p.cls = FirstClass(n);
      norm_ += n;
      points_.push_back(p);
    }
    point_at_.assign(norm_.size() + 1, kNone);
    for (size_t k = 0; k < points_.size(); ++k) point_at_[points_[k].norm] = k;
    point_at_[norm_.size()] = points_.size();
  }

  size_t size() const { return points_.size(); }

  // The code points [first, end) of the first whole occurrence of `term`
  // starting at or after code point `from`; false if there is none.
  bool Find(const std::string& term, size_t from, size_t* first, size_t* end) const {
    if (term.empty() || from >= points_.size()) return false;
    for (size_t pos = norm_.find(term, points_[from].norm); pos != std::string::npos;
         pos = norm_.find(term, pos + 1)) {
      if (IsWhole(term, pos, first, end)) return true;
    }
    return false;
  }

  // Whether `term` occurs whole at code point `k`; its end if so.
  bool At(const std::string& term, size_t k, size_t* end) const {
    size_t first = 0;
    return k < points_.size() && norm_.compare(points_[k].norm, term.size(), term) == 0 &&
           IsWhole(term, points_[k].norm, &first, end);
  }

  // The original characters of code points [first, end), as shown.
  std::string Shown(size_t first, size_t end) const {
    std::string out;
    for (size_t k = first; k < end; ++k) {
      const Point& p = points_[k];
      if (!p.valid) {
        out += kReplacementUtf8;
      } else if (p.control) {
        out.push_back(' ');
      } else {
        out.append(text_.substr(p.begin, p.end - p.begin));
      }
    }
    return out;
  }

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);

  // Whether `term` at normalised byte `pos` starts and ends on code points
  // and, for a Latin term, on word edges.
  bool IsWhole(const std::string& term, size_t pos, size_t* first, size_t* end) const {
    const size_t stop = pos + term.size();
    if (stop > norm_.size() || point_at_[pos] == kNone || point_at_[stop] == kNone) return false;
    *first = point_at_[pos];
    *end = point_at_[stop];
    const CharClass head = points_[*first].cls;
    const CharClass tail = points_[*end - 1].cls;
    auto word = [](CharClass c) { return c == CharClass::kLetter || c == CharClass::kDigit; };
    if (word(head) && *first > 0 && points_[*first - 1].cls == head) return false;
    if (word(tail) && *end < points_.size() && points_[*end].cls == tail) return false;
    return true;
  }

  std::string_view text_;
  std::string norm_;
  std::vector<Point> points_;
  std::vector<size_t> point_at_;  // normalised byte → code point (kNone inside one)
};

// The query's runs of ideographs and of letters and digits, normalised.
std::vector<std::string> Runs(std::string_view query) {
  const std::string n = Normalise(query);
  std::vector<std::string> runs;
  std::string run;
  CharClass run_cls = CharClass::kOther;
  for (size_t i = 0; i < n.size();) {
    const size_t start = i;
    char32_t c = 0;
    CharClass cls = DecodeOne(n, &i, &c) ? ClassOf(c) : CharClass::kOther;
    if (cls == CharClass::kDigit) cls = CharClass::kLetter;  // a word run mixes both
    if (cls != run_cls && !run.empty()) runs.push_back(std::move(run)), run.clear();
    run_cls = cls;
    if (cls != CharClass::kOther) run.append(n, start, i - start);
  }
  if (!run.empty()) runs.push_back(std::move(run));
  return runs;
}

void AddUnique(std::vector<std::string>* terms, std::string t) {
  if (!t.empty() && std::find(terms->begin(), terms->end(), t) == terms->end()) {
    terms->push_back(std::move(t));
  }
}

}  // namespace

std::vector<std::string> Snippet(std::string_view text, std::string_view query, size_t window_chars) {
  std::vector<std::string> runs;
  for (std::string& r : Runs(query)) AddUnique(&runs, std::move(r));
  std::vector<std::string> terms = runs;
  for (std::string& t : QueryTokens(query)) AddUnique(&terms, std::move(t));
  if (terms.empty() || text.empty()) return {};

  const NormalisedText n(text);
  // The first occurrence of a run, else of any token.
  size_t best_first = n.size(), best_end = n.size();
  for (const auto* set : {&runs, &terms}) {
    for (const std::string& t : *set) {
      size_t first = 0, end = 0;
      if (n.Find(t, 0, &first, &end) && first < best_first) best_first = first, best_end = end;
    }
    if (best_first < n.size()) break;
  }
  if (best_first >= n.size()) return {};

  // The window, centred on the match.
  const size_t length = best_end - best_first;
  size_t from = best_first, to = best_end;
  if (length < window_chars) {
    const size_t extra = window_chars - length;
    from = best_first - std::min(best_first, extra / 2);
    to = std::min(n.size(), best_end + (extra - (best_first - from)));
    from = to - std::min(to, std::max(window_chars, to - from));
    from = std::min(from, best_first);
  }

  // Alternate plain and marked segments over the window.
  std::vector<std::string> segments;
  std::string plain = from > 0 ? kSnippetEllipsis : "";
  size_t plain_from = from;
  for (size_t k = from; k < to;) {
    size_t longest = 0;
    for (const std::string& t : terms) {
      size_t end = 0;
      if (n.At(t, k, &end) && end <= to && end - k > longest) longest = end - k;
    }
    if (longest == 0) {
      ++k;
      continue;
    }
    segments.push_back(plain + n.Shown(plain_from, k));
    segments.push_back(n.Shown(k, k + longest));
    plain.clear();
    k += longest;
    plain_from = k;
  }
  std::string last = plain + n.Shown(plain_from, to);
  if (to < n.size()) last += kSnippetEllipsis;
  segments.push_back(std::move(last));
  return segments;
}

}  // namespace custos::storage
