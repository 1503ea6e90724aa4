#include "storage/text_diff.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace custos::storage {

namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD

// The code point at text[i] and its length in bytes; length 0 when the
// bytes there are not valid UTF-8.
std::pair<char32_t, size_t> DecodeAt(std::string_view text, size_t i) {
  const auto b0 = static_cast<unsigned char>(text[i]);
  if (b0 < 0x80) return {b0, 1};
  size_t length = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2, cp = b0 & 0x1F, min = 0x80;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3, cp = b0 & 0x0F, min = 0x800;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return {0, 0};
  }
  if (i + length > text.size()) return {0, 0};
  for (size_t k = 1; k < length; ++k) {
    const auto b = static_cast<unsigned char>(text[i + k]);
    if ((b & 0xC0) != 0x80) return {0, 0};
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {0, 0};
  return {cp, length};
}

// Letters and digits of Latin scripts: a run of them is one word.
bool IsLatinWordChar(char32_t c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  if (c == 0xD7 || c == 0xF7) return false;  // × ÷
  return c >= 0xC0 && c <= 0x24F;            // Latin-1 letters, Latin Extended-A and -B
}

bool IsSpace(char32_t c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xA0 || c == 0x3000 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029;
}

enum class UnitKind { kWord, kSpace, kSingle };

UnitKind KindOf(char32_t c) {
  if (IsLatinWordChar(c)) return UnitKind::kWord;
  if (IsSpace(c)) return UnitKind::kSpace;
  return UnitKind::kSingle;
}

// The lines of `text`, each with its "\n".
std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    end = end == std::string_view::npos ? text.size() : end + 1;
    out.push_back(text.substr(start, end - start));
    start = end;
  }
  return out;
}

// One step of an edit script, over unit indices.
struct Edit {
  DiffOp op;
  size_t index;  // into the old units (kEqual, kDelete) or the new (kInsert)
};

// Myers' shortest edit script of a → b (ids of units), or nullopt when it
// needs more than `max_edits` edits. Keeps the furthest x of every
// diagonal for each d, to walk back from the end.
std::optional<std::vector<Edit>> Myers(const std::vector<uint32_t>& a,
                                       const std::vector<uint32_t>& b, size_t max_edits) {
  const auto n = static_cast<int64_t>(a.size());
  const auto m = static_cast<int64_t>(b.size());
  const int64_t max = std::min<int64_t>(n + m, static_cast<int64_t>(max_edits));
  const int64_t off = max + 1;
  std::vector<int64_t> v(static_cast<size_t>(2 * max + 3), 0);
  // trace[d][k + d] = furthest x on diagonal k after d edits (32 bits: a
  // side has at most max_units units, far below 2^31).
  std::vector<std::vector<int32_t>> trace;
  int64_t found = -1;
  for (int64_t d = 0; d <= max && found < 0; ++d) {
    for (int64_t k = -d; k <= d; k += 2) {
      int64_t x = (k == -d || (k != d && v[off + k - 1] < v[off + k + 1])) ? v[off + k + 1]
                                                                           : v[off + k - 1] + 1;
      int64_t y = x - k;
      while (x < n && y < m && a[x] == b[y]) ++x, ++y;
      v[off + k] = x;
      if (x >= n && y >= m) found = d;
    }
    trace.emplace_back(v.begin() + (off - d), v.begin() + (off + d + 1));
  }
  if (found < 0) return std::nullopt;
  std::vector<Edit> edits;
  int64_t x = n;
  int64_t y = m;
  for (int64_t d = found; d > 0; --d) {
    const std::vector<int32_t>& prev = trace[static_cast<size_t>(d - 1)];
    auto at = [&](int64_t k) { return static_cast<int64_t>(prev[static_cast<size_t>(k + d - 1)]); };
    const int64_t k = x - y;
    const bool down = k == -d || (k != d && at(k - 1) < at(k + 1));
    const int64_t prev_k = down ? k + 1 : k - 1;
    const int64_t prev_x = at(prev_k);
    const int64_t prev_y = prev_x - prev_k;
    while (x > prev_x && y > prev_y)
      edits.push_back({DiffOp::kEqual, static_cast<size_t>(--x)}), --y;
    if (down) {
      edits.push_back({DiffOp::kInsert, static_cast<size_t>(--y)});
    } else {
      edits.push_back({DiffOp::kDelete, static_cast<size_t>(--x)});
    }
  }
  while (x > 0) edits.push_back({DiffOp::kEqual, static_cast<size_t>(--x)});
  std::reverse(edits.begin(), edits.end());
  return edits;
}

// Appends `text` as `op`, merged into the last segment when it has that op.
void Append(std::vector<DiffSegment>& out, DiffOp op, std::string_view text) {
  if (text.empty()) return;
  if (!out.empty() && out.back().op == op) {
    out.back().text.append(text);
  } else {
    out.push_back({op, std::string(text)});
  }
}

// The diff of two unit lists, or nullopt past the limits. The common
// beginning and end are set aside first (cheap, and usually most of a
// revised document).
std::optional<std::vector<DiffSegment>> DiffUnitLists(const std::vector<std::string_view>& a,
                                                      const std::vector<std::string_view>& b,
                                                      const DiffLimits& limits) {
  size_t prefix = 0;
  while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) ++prefix;
  size_t suffix = 0;
  while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
         a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix]) {
    ++suffix;
  }
  const size_t a_mid = a.size() - prefix - suffix;
  const size_t b_mid = b.size() - prefix - suffix;
  constexpr size_t kMaxSide = INT32_MAX / 2;  // Myers keeps positions in 32 bits
  if (a_mid > std::min(limits.max_units, kMaxSide) ||
      b_mid > std::min(limits.max_units, kMaxSide)) {
    return std::nullopt;
  }
  // Units as small integers: equal text, equal id.
  std::unordered_map<std::string_view, uint32_t> ids;
  auto id_of = [&](std::string_view u) {
    return ids.emplace(u, static_cast<uint32_t>(ids.size())).first->second;
  };
  std::vector<uint32_t> a_ids(a_mid);
  std::vector<uint32_t> b_ids(b_mid);
  for (size_t i = 0; i < a_mid; ++i) a_ids[i] = id_of(a[prefix + i]);
  for (size_t i = 0; i < b_mid; ++i) b_ids[i] = id_of(b[prefix + i]);
  std::optional<std::vector<Edit>> edits = Myers(a_ids, b_ids, limits.max_edits);
  if (!edits) return std::nullopt;
  std::vector<DiffSegment> out;
  for (size_t i = 0; i < prefix; ++i) Append(out, DiffOp::kEqual, a[i]);
  for (const Edit& e : *edits)
    Append(out, e.op, e.op == DiffOp::kInsert ? b[prefix + e.index] : a[prefix + e.index]);
  for (size_t i = a.size() - suffix; i < a.size(); ++i) Append(out, DiffOp::kEqual, a[i]);
  return out;
}

}  // namespace

std::string_view Name(DiffOp op) {
  switch (op) {
    case DiffOp::kEqual:
      return "equal";
    case DiffOp::kInsert:
      return "insert";
    case DiffOp::kDelete:
      return "delete";
  }
  return "equal";
}

std::string_view Name(DiffLevel level) {
  switch (level) {
    case DiffLevel::kUnit:
      return "unit";
    case DiffLevel::kLine:
      return "line";
    case DiffLevel::kWhole:
      return "whole";
  }
  return "unit";
}

std::string ValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    auto [cp, length] = DecodeAt(text, i);
    if (length == 0) {
      out += kReplacement;
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

std::vector<std::string_view> DiffUnits(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < text.size()) {
    auto [cp, length] = DecodeAt(text, i);
    if (length == 0) length = 1;  // not expected (ValidUtf8 first): one byte, one unit
    const UnitKind kind = KindOf(cp);
    size_t end = i + length;
    if (kind != UnitKind::kSingle) {
      while (end < text.size()) {
        auto [next, next_length] = DecodeAt(text, end);
        if (next_length == 0 || KindOf(next) != kind) break;
        end += next_length;
      }
    }
    out.push_back(text.substr(i, end - i));
    i = end;
  }
  return out;
}

TextDiff DiffTexts(std::string_view from_text, std::string_view to_text, const DiffLimits& limits) {
  const std::string from = ValidUtf8(from_text);
  const std::string to = ValidUtf8(to_text);
  TextDiff out;
  if (auto by_unit = DiffUnitLists(DiffUnits(from), DiffUnits(to), limits)) {
    out.segments = std::move(*by_unit);
    return out;
  }
  if (auto by_line = DiffUnitLists(Lines(from), Lines(to), limits)) {
    out.level = DiffLevel::kLine;
    out.segments = std::move(*by_line);
    return out;
  }
  out.level = DiffLevel::kWhole;
  Append(out.segments, DiffOp::kDelete, from);
  Append(out.segments, DiffOp::kInsert, to);
  return out;
}

}  // namespace custos::storage
