// Snippets of search hits (docs/search.md "API"): the passage of a text
// around the first place a query's words occur, with the words marked.
//
// Pure text: no I/O, no state. The text is compared with the query as the
// content index compares them (storage/text_tokens.h Normalise: full width
// to ASCII, case, traditional to simplified), one code point at a time, so
// every offset in the normalised text maps back to the original and the
// snippet shows the original characters (價格調整 in a document, found by
// a query for 价格调整, is shown as 價格調整).
//
// Thread safety: Snippet may be called from any number of threads at once.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace custos::storage {

// About this many characters (code points) of text around a match.
inline constexpr size_t kSnippetChars = 40;
// What stands where the window cuts the text.
inline constexpr char kSnippetEllipsis[] = "\u2026";

// The passage of `text` around the first occurrence of one of `query`'s
// terms, as alternating segments, plain text first: segments 1, 3, 5, ...
// are the occurrences of the terms inside the window (so the result has an
// odd length of at least 3). The query's terms are, in order of preference,
// its runs of ideographs and of letters and digits as written (价格调整,
// iso9001), and then its index tokens (QueryTokens: 价格, 格调, 调整; iso,
// 9001), so that a text holding the words apart still gives a passage. A
// Latin term matches whole words only: a letter term is not found inside a
// longer run of letters, nor a digit term inside a run of digits.
//
// The window holds about `window_chars` code points centred on the match
// (a longer match is shown whole), cut at code point boundaries, with
// kSnippetEllipsis at the start and end where the text goes on. Invalid
// UTF-8 in `text` shows as U+FFFD; line breaks, tabs and other control
// characters show as a space. Nothing in a segment is markup.
//
// Empty when the query has no term or none occurs in the text.
[[nodiscard]] std::vector<std::string> Snippet(std::string_view text, std::string_view query,
                                               size_t window_chars = kSnippetChars);

}  // namespace custos::storage
