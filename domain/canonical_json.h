// Canonical JSON: the RFC 8785 JSON Canonicalization Scheme (JCS) for the
// subset of JSON that Custos signs and hashes (audit log leaves, manifests).
//
// The canonical form of a value is unique: two values that mean the same thing
// serialise to the same bytes, so the bytes can be hashed. The rules, as in
// RFC 8785 §3.2:
//
//   * no insignificant whitespace;
//   * object members sorted by their names compared as arrays of UTF-16 code
//     units (RFC 8785 §3.2.3; this differs from UTF-8 byte order for names
//     holding characters above U+FFFF versus U+E000..U+FFFF);
//   * strings in UTF-8, escaping only '"' as \", '\' as \\ and U+0000..U+001F
//     (as \b \f \n \r \t where those exist, else \u00xx with lower-case hex);
//     every other character, U+007F and U+2028 included, is written literally;
//   * literals null, true, false;
//   * numbers: integers only, written in plain decimal ("-0" becomes "0").
//
// Restrictions (stricter than RFC 8785, so that every value Custos accepts has
// an exact canonical form without ECMAScript double formatting):
//
//   * Non-integer numbers (any fraction or exponent, even "1.0" or "1e2") are
//     rejected. Custos events carry amounts and other decimals as strings.
//   * Integers must lie in the I-JSON range [-(2^53-1), 2^53-1] (RFC 7493
//     §2.2), so every consumer reads them exactly.
//   * Nesting is limited to kMaxJsonDepth levels of arrays and objects.
//
// Failures are kInvalidArgument with one of these stable reasons:
//   json_malformed       not RFC 8259 JSON text (syntax error, trailing
//                        garbage, raw control character in a string, BOM)
//   json_duplicate_key   an object names the same member twice (compared
//                        after unescaping)
//   json_non_integer     a number with a fraction or an exponent, or a Poco
//                        float/double value
//   json_integer_range   an integer outside [-(2^53-1), 2^53-1]
//   json_invalid_utf8    a string or member name that is not valid UTF-8, or
//                        an unpaired surrogate escape (\ud800 alone)
//   json_too_deep        more than kMaxJsonDepth nested arrays/objects
//   json_unsupported_type a Poco value of a type JSON has no form for (char,
//                        dates, UUIDs, DynamicStruct, …)
// plus kInternal / "json_internal" if Poco throws unexpectedly.
//
// Thread safety: all functions are pure; they may run concurrently. Values
// passed in are only read; Poco objects shared between threads need the
// caller's synchronisation as usual.
#pragma once

#include <string>
#include <string_view>

#include <Poco/Dynamic/Var.h>

#include "common/status.h"

namespace custos::domain {

// Maximum number of nested arrays and objects (the top-level value counts as
// one level). Bounds recursion on hostile input and on cyclic Poco values.
inline constexpr int kMaxJsonDepth = 64;

// Largest magnitude of an integer accepted: 2^53 - 1 (I-JSON, RFC 7493 §2.2).
inline constexpr int64_t kMaxJsonInteger = (int64_t{1} << 53) - 1;

// Serialises a Poco JSON value in canonical form. Accepted value types:
// Poco::JSON::Object::Ptr and Object (a null Ptr is written as null),
// Poco::JSON::Array::Ptr and Array, std::string, bool, every Poco integer type
// (Int8…UInt64, long, long long and their unsigned forms), and the empty Var
// (null). Errors: json_non_integer, json_integer_range, json_invalid_utf8,
// json_too_deep, json_unsupported_type.
[[nodiscard]] StatusOr<std::string> CanonicalJson(const Poco::Dynamic::Var& value);

// Parses JSON text strictly (RFC 8259 grammar: exactly one value, optional
// whitespace around it, nothing else; duplicate member names rejected) into
// Poco values: objects as Poco::JSON::Object::Ptr, arrays as
// Poco::JSON::Array::Ptr, strings as std::string (unescaped, valid UTF-8),
// integers as Poco::Int64, true/false as bool, null as the empty Var.
// Errors: json_malformed, json_duplicate_key, json_non_integer,
// json_integer_range, json_invalid_utf8, json_too_deep.
[[nodiscard]] StatusOr<Poco::Dynamic::Var> ParseJsonStrict(std::string_view json_text);

// ParseJsonStrict followed by CanonicalJson: the canonical form of JSON text.
// Errors: as ParseJsonStrict.
[[nodiscard]] StatusOr<std::string> Canonicalize(std::string_view json_text);

// True iff `a` sorts before `b` when both are compared as sequences of UTF-16
// code units (RFC 8785 §3.2.3). Both must be valid UTF-8; invalid sequences
// compare as U+FFFD. Exposed for tests and for callers that sort names.
[[nodiscard]] bool Utf16Less(std::string_view a, std::string_view b);

// True iff `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no encoded
// surrogates, nothing above U+10FFFF). The empty string is valid.
[[nodiscard]] bool IsValidUtf8(std::string_view s);

}  // namespace custos::domain
