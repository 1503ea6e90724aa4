// The difference of two texts, for comparing the extracted texts of two
// versions of a record (RecordService::Compare, docs/api.md "Version
// comparison"). Pure: no I/O, no state.
//
// A text is cut into units (DiffUnits): each ideograph or other letter of
// a non-Latin script is one unit, so Chinese is compared character by
// character; a run of Latin letters and digits is one unit, so Latin
// scripts are compared word by word; a run of whitespace is one unit, and
// every other character (punctuation, symbols) is one unit. The units of
// the two texts are compared with Myers' O(ND) algorithm, which gives a
// shortest edit script: the fewest units deleted plus inserted.
//
// Bounds: a diff of more than DiffLimits::max_units units per side (after
// the common beginning and end are set aside) or of more than
// DiffLimits::max_edits edits is not computed by unit; the texts are
// compared line by line instead (DiffLevel::kLine), and if that too
// exceeds the limits, the one text is shown deleted and the other
// inserted whole (DiffLevel::kWhole). Memory is O(max_edits²) integers at
// most, time O((N+M)·max_edits).
//
// Thread safety: every function may be called from any number of threads.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace custos::storage {

enum class DiffOp { kEqual, kInsert, kDelete };
std::string_view Name(DiffOp op);  // "equal", "insert", "delete"

// How finely a diff was computed.
enum class DiffLevel {
  kUnit,   // by unit: characters for Chinese, words for Latin scripts
  kLine,   // by line: the unit diff exceeded the limits
  kWhole,  // whole texts: the line diff exceeded them too
};
std::string_view Name(DiffLevel level);  // "unit", "line", "whole"

struct DiffSegment {
  DiffOp op = DiffOp::kEqual;
  std::string text;  // valid UTF-8, never empty
};

struct TextDiff {
  // In text order; no two neighbours have the same op. The kEqual and
  // kDelete segments put together give the old text, the kEqual and
  // kInsert ones the new text (both with invalid UTF-8 replaced).
  std::vector<DiffSegment> segments;
  DiffLevel level = DiffLevel::kUnit;
};

struct DiffLimits {
  size_t max_units = 100000;  // per side, after the common prefix and suffix
  size_t max_edits = 2000;    // units deleted plus inserted
};

// `text` with each byte of invalid UTF-8 (stray, truncated, overlong,
// surrogate, above U+10FFFF) replaced by U+FFFD.
[[nodiscard]] std::string ValidUtf8(std::string_view text);

// The units of `text` (which must be valid UTF-8: pass it through
// ValidUtf8), in order; put together they give `text` again. The views
// point into `text`.
[[nodiscard]] std::vector<std::string_view> DiffUnits(std::string_view text);

// The difference from `from` to `to`. Never fails: invalid UTF-8 is
// replaced (ValidUtf8) first; an empty side gives one insert or delete
// segment; identical texts give one kEqual segment (none when both are
// empty).
[[nodiscard]] TextDiff DiffTexts(std::string_view from, std::string_view to,
                                 const DiffLimits& limits = {});

}  // namespace custos::storage
