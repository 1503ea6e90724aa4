// Text normalisation and tokens for the content index (storage/search_index.h,
// docs/formats/search-index.md "Normalisation" and "Tokens"). Documents and
// queries go through the same functions, so whatever a query's tokens are,
// a document holding the same words (in either width, either case, and
// traditional or simplified characters) holds them too.
//
// Thread safety: every function may be called from any number of threads
// at once. The one OpenCC converter of the process is created at the first
// call and used under a mutex (OpenCC documents no thread safety for a
// shared converter).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace custos::storage {

// The OpenCC configuration that maps traditional to simplified characters.
inline constexpr char kOpenCcConfig[] = "t2s.json";

// The longest Latin word token, in bytes: a longer run of letters and digits
// (a hash, base64) is cut to its first kMaxWordBytes.
inline constexpr size_t kMaxWordBytes = 64;

// `text` normalised, in this order:
//   1. invalid UTF-8 (stray or truncated sequences, overlong forms,
//      surrogates, code points above U+10FFFF) is replaced by U+FFFD, one
//      per bad byte; it never fails;
//   2. full-width forms U+FF01–U+FF5E (Ａ, ａ, １, ！) become ASCII
//      U+0021–U+007E, and the ideographic space U+3000 becomes a space;
//   3. ASCII A–Z become a–z, Latin-1 À–Þ become à–þ (other letters keep
//      their case);
//   4. traditional Chinese becomes simplified through OpenCC's t2s.json
//      (價格調整 → 价格调整). If OpenCC or its data is missing, this step
//      is skipped; TextTokensReady() says so.
[[nodiscard]] std::string Normalise(std::string_view text);

// OK when the traditional → simplified conversion is available; kInternal
// "opencc_unavailable" otherwise. A server should check it at start: an
// index built without the conversion does not match traditional queries.
[[nodiscard]] Status TextTokensReady();

// The tokens of Normalise(text), in text order, repeated as often as they
// occur:
//   - a run of CJK ideographs (U+3400–U+4DBF, U+4E00–U+9FFF, U+F900–U+FAFF,
//     U+20000–U+2FA1F) gives every overlapping bigram (价格调整 → 价格, 格调,
//     调整); a run of one ideograph gives that ideograph alone (a unigram);
//   - a run of word characters (ASCII letters and digits, and the Latin-1
//     and Latin Extended-A letters U+00C0–U+017F but × and ÷) gives the run
//     (lower case, cut to kMaxWordBytes); a run that mixes letters and
//     digits also gives each of its letter and digit parts: "iso9001" →
//     iso9001, iso, 9001, so a query for 9001 finds it;
//   - everything else (spaces, punctuation, kana, hangul, other scripts)
//     separates runs and gives no token.
// Bigrams never span a break: 甲方ABC公司 → 甲方, abc, 公司.
[[nodiscard]] std::vector<std::string> Tokens(std::string_view text);

// Each distinct token of Tokens(text) with how often it occurs (the term
// frequency of a document field).
[[nodiscard]] std::map<std::string, uint32_t> TermFrequencies(std::string_view text);

// The tokens a query must all match (AND): Tokens(query) without
// repetition, in first-occurrence order, and without the whole of a mixed
// letter-and-digit run (its parts are kept), so "iso9001" also finds
// "ISO 9001". Two ideographs give one bigram; a longer run its bigrams; one
// ideograph alone gives that unigram, which matches only documents where
// it stands alone between non-ideographs. Empty when the query has no
// token.
[[nodiscard]] std::vector<std::string> QueryTokens(std::string_view query);

}  // namespace custos::storage
