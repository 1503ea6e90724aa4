// Audit log leaves (DESIGN §5): one event of the audit log as the exact bytes
// that the Merkle tree commits to. Format specified in
// docs/formats/audit-log.md, section "Leaf".
//
// A leaf is the event as canonical JSON (domain/canonical_json.h), with
// exactly these eight members, in this (canonical) order:
//
//   {"action":"record.checkin","actor":"alice","at":"2026-11-22T14:00:00.123Z",
//    "details":{…},"prev":"<base64 leaf hash of entry seq-1, \"\" for entry 0>",
//    "seq":0,"subject":"CT-2026-000001","v":1}
//
// `prev` is the RFC 6962 leaf hash (crypto::merkle::HashLeaf) of the previous
// entry's leaf bytes, so the log is a hash chain as well as a tree.
//
// Leaves never contain document content. `details` carries only hashes (hex
// SHA-256/SM3 of files and manifests), identifiers and metadata such as file
// names, sizes, version numbers and reasons; the services that build events
// must never put plaintext, passwords, keys or tokens there, because a leaf
// is kept forever and handed to anyone who asks for a receipt.
//
// Every leaf has exactly one encoding: DecodeLeaf accepts only the bytes that
// EncodeLeaf produces for the decoded event, so equal events hash equally and
// a leaf cannot be re-serialised into a second valid form.
//
// Event details are a typed value (domain/event_details.h); this file is the
// only place they are written as JSON and read back from it.
//
// Thread safety: all functions are pure and may run concurrently. Event
// details are only read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "crypto/bytes.h"
#include "domain/event_details.h"
#include "domain/model.h"

namespace custos::storage {

// Value of the "v" member of every leaf this code writes and reads.
inline constexpr int kLeafFormatVersion = 1;
// Largest actor or subject, in bytes of UTF-8; also the largest action.
inline constexpr size_t kMaxLeafFieldBytes = 256;
// Largest encoded leaf, in bytes. EncodeLeaf refuses to build a larger one
// and DecodeLeaf refuses to read one.
inline constexpr size_t kMaxLeafBytes = 1024 * 1024;
// The largest leaf a C2SP tlog-tiles entry bundle carries (its length
// prefix is a uint16; docs/formats/tiles.md). The log keeps new leaves
// within it where it can split them: row images ride on their event only
// while the leaf stays within it, and state events carry at most
// kStateChunkBytes of images. Only an event whose own details, or a single
// row image, exceed it is larger (up to kMaxLeafBytes).
inline constexpr size_t kBundleLeafBytes = 65535;
// Largest seq: the log stays within I-JSON integers (2^53 - 1).
inline constexpr uint64_t kMaxLeafSeq = (uint64_t{1} << 53) - 1;
// Range of years of `at`: the whole years that Time
// (std::chrono::system_clock, nanoseconds since 1970 in 64 bits, i.e.
// 1677-09-21 to 2262-04-11) holds, so that every leaf time converts to Time
// without overflow.
inline constexpr int kMinLeafYear = 1678;
inline constexpr int kMaxLeafYear = 2261;

// Member names, in canonical order.
inline constexpr std::string_view kLeafKeyAction = "action";
inline constexpr std::string_view kLeafKeyActor = "actor";
inline constexpr std::string_view kLeafKeyAt = "at";
inline constexpr std::string_view kLeafKeyDetails = "details";
inline constexpr std::string_view kLeafKeyPrev = "prev";
inline constexpr std::string_view kLeafKeySeq = "seq";
inline constexpr std::string_view kLeafKeySubject = "subject";
inline constexpr std::string_view kLeafKeyVersion = "v";

// One audit event, as the services describe it.
struct LogEvent {
  // What happened: dotted lower-case ASCII, at least two parts, each of
  // [a-z_]+ (e.g. "record.checkin", "loan.approve", "key.kek_rotate"), at most
  // kMaxLeafFieldBytes bytes.
  std::string action;
  // Who did it: a username, or "system" for the server itself. Non-empty
  // valid UTF-8, no control characters (U+0000–U+001F, U+007F–U+009F), at
  // most kMaxLeafFieldBytes bytes.
  std::string actor;
  // When. Recorded with millisecond precision (sub-millisecond parts are
  // dropped, i.e. truncated towards zero), as RFC 3339 UTC
  // ("…T14:00:00.123Z", domain::FormatTime). Years kMinLeafYear to
  // kMaxLeafYear.
  domain::Time at;
  // What it happened to (archive number, username, key id, …). Same rules as
  // actor.
  std::string subject;
  // Hashes and metadata, never document content. Empty means {}. Must be
  // canonicalisable (domain/canonical_json.h: integers within 2^53-1, valid
  // UTF-8, at most kMaxJsonDepth levels).
  domain::EventDetails details;
};

// Builds the leaf bytes for log entry `seq`. `prev_leaf_hash` must be nullopt
// exactly when seq == 0 and otherwise the leaf hash of entry seq-1.
// Errors (all kInvalidArgument):
//   leaf_invalid_event  action, actor, subject or at breaks the rules above
//   leaf_invalid_prev   prev_leaf_hash given for seq 0, or missing for seq > 0
//   leaf_seq_range      seq > kMaxLeafSeq
//   leaf_too_large      the leaf would exceed kMaxLeafBytes
//   json_*              details are not canonicalisable (canonical_json.h)
[[nodiscard]] StatusOr<std::string> EncodeLeaf(
    const LogEvent& e, uint64_t seq, const std::optional<crypto::Digest32>& prev_leaf_hash);

// A leaf read back.
struct DecodedLeaf {
  uint64_t seq = 0;
  // Leaf hash of entry seq-1; nullopt for entry 0 (encoded as "").
  std::optional<crypto::Digest32> prev;
  // The event; `details` holds whatever JSON the leaf's details object held
  // (any canonical JSON, null included, so that old leaves still read).
  LogEvent event;
};

// Parses and validates leaf bytes strictly. Succeeds only if the leaf is
// valid JSON with exactly the eight members, v == kLeafFormatVersion, every
// member of the right type and obeying EncodeLeaf's rules (prev is "" iff
// seq == 0, else base64 of 32 bytes; `at` is RFC 3339 with a year from
// kMinLeafYear to kMaxLeafYear), AND the input
// is byte-identical to EncodeLeaf of the decoded event.
// Errors (all kInvalidArgument):
//   leaf_bad_version    "v" is an integer other than kLeafFormatVersion
//                       (checked before the member set, so a future format
//                       is reported as such)
//   leaf_not_canonical  a valid leaf written in any other form (whitespace,
//                       member order, escapes such as "\/" or "\u0041",
//                       "-0", a time not in "YYYY-MM-DDTHH:MM:SS.mmmZ" form)
//   leaf_malformed      everything else: not JSON, not an object, missing or
//                       extra members, wrong types, bad prev (wrong length,
//                       not strict base64, "" for seq > 0 or a hash for
//                       seq 0), bad action/actor/subject/at, negative seq,
//                       larger than kMaxLeafBytes
// The message says what is wrong; the reason is one of the three above.
//
// How: one pass over the bytes (DecodeLeafOnePass) accepts a leaf that is
// valid and in its canonical form, building the event as it goes. Any
// other input is handed to DecodeLeafReference, which names the reason; so
// a valid leaf is read in one pass and a refused one costs a second.
[[nodiscard]] StatusOr<DecodedLeaf> DecodeLeaf(std::string_view leaf);

// The one-pass reader beneath DecodeLeaf: the decoded leaf exactly when
// DecodeLeaf accepts `leaf`, else nullopt (without saying why). It checks
// the canonical form while it parses (member order, escapes, integers,
// UTF-8, depth) and the same field rules as EncodeLeaf, and builds the
// details directly; nothing is re-encoded. Details members keep the leaf's
// order (UTF-16 order of their names).
[[nodiscard]] std::optional<DecodedLeaf> DecodeLeafOnePass(std::string_view leaf);

// The strict decoder as first written: parse into Poco JSON
// (domain::ParseJsonStrict), check the fields, re-encode with EncodeLeaf
// and compare the bytes. Same contract as DecodeLeaf; kept as the reference
// the one-pass reader is tested against (tests/storage/
// log_leaf_differential_test.cc) and to name the reason of every refusal.
// Details members come in byte order of their names.
[[nodiscard]] StatusOr<DecodedLeaf> DecodeLeafReference(std::string_view leaf);

// Checks one link of the hash chain while walking the log: the leaf must be
// entry `expected_seq` and its prev must equal `prev_leaf_hash`, the leaf hash
// of entry expected_seq-1 (nullopt for entry 0). Errors (kDataLoss, message
// naming the entry index):
//   log_seq_mismatch  leaf.seq != expected_seq
//   log_chain_broken  leaf.prev != prev_leaf_hash
[[nodiscard]] Status CheckChainLink(const DecodedLeaf& leaf, uint64_t expected_seq,
                                    const std::optional<crypto::Digest32>& prev_leaf_hash);

}  // namespace custos::storage
