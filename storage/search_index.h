// The content index: postings of keyed tokens, never of words
// (docs/formats/search-index.md, docs/search.md "Index").
//
// A token (storage/text_tokens.h: a Chinese character bigram, a Latin word)
// is stored only as its keyed token: the first 16 bytes of
// HMAC-SHA256(index key, "custos-index-v1\0" + token), in lower-case hex.
// The index key is DATA/keys/index.key (32 random bytes, 0600), made at
// first use and never in the database; someone holding the database alone
// cannot test whether a word occurs without the key.
//
// The postings (table search_postings, schema migration 8, made again by
// migration 9 with the token as its 16 raw bytes) say: keyed token
// T occurs tf times in field F (of file FILE, or of the record itself when
// the file id is empty) of record R. They are derived data and, unlike the
// authority tables, NOT row-sealed (storage/row_seal.h) and not in the
// audit log's state images: a forged posting can only make a record a
// candidate, and the services still check visibility and read rights on
// the record itself before showing it; a deleted posting can only hide a
// hit; and verification can rebuild the index from the records and their
// texts. What the table still tells someone holding the database (token
// frequencies, field lengths, which records share tokens) is in
// docs/search.md "Index".
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "crypto/bytes.h"
#include "crypto/hmac.h"
#include "domain/model.h"

namespace custos::storage {

class DataDir;

// The index key file under DATA/keys, and its size.
inline constexpr char kIndexKeyFileName[] = "index.key";
inline constexpr size_t kIndexKeySize = 32;
// What every keyed token's MAC input starts with (16 bytes, the NUL
// included): a version, so that a future scheme never yields the same tokens.
inline constexpr std::string_view kKeyedTokenDomain{"custos-index-v1\0", 16};
// Bytes of the MAC kept; the keyed token is their hex (32 characters) here
// and in the repository's API, the 16 bytes themselves in the table.
inline constexpr size_t kKeyedTokenBytes = 16;

// Turns tokens into keyed tokens under one index key. Thread safety:
// immutable; share freely.
class IndexKey {
 public:
  // `key`: kIndexKeySize bytes (any length works).
  explicit IndexKey(const crypto::Bytes& key) : mac_(key) {}

  // Loads DATA/keys/index.key, creating it if missing (0600, DATA/keys
  // 0700; storage/key_file.h). Refuses a file the group or others may
  // access (kInternal "index_key_mode") or not of 32 bytes (kDataLoss
  // "index_key_bad"); kInternal "index_key_io" for I/O failures.
  static StatusOr<std::unique_ptr<IndexKey>> LoadOrCreate(const DataDir& dir);

  // The keyed token of `token`: 32 lower-case hex digits.
  [[nodiscard]] std::string KeyedToken(std::string_view token) const;
  // Each token keyed, in order.
  [[nodiscard]] std::vector<std::string> KeyedTokens(const std::vector<std::string>& tokens) const;
  // Term frequencies with the tokens keyed (distinct tokens stay distinct:
  // a collision of 128-bit truncated MACs is not expected).
  [[nodiscard]] std::map<std::string, uint32_t> KeyedFrequencies(
      const std::map<std::string, uint32_t>& frequencies) const;

 private:
  crypto::HmacSha256 mac_;
};

// DATA/keys/index.key.
std::string IndexKeyPath(const DataDir& dir);

// One (record, field, file) whose postings hold every token of a query.
struct PostingMatch {
  domain::RecordId record_id;
  std::string field;        // "title", "note", "content", … (the caller's names)
  domain::FileId file_id;   // empty: a field of the record, not of a file
  uint64_t score = 0;       // the sum of the matched tokens' tf
  // The record's columns that rights depend on, read with the match (""
  // when the record has no row). Not authenticated: they decide only which
  // content matches to drop; the records shown are read sealed.
  std::string record_type;
  std::string record_classification;
  std::string record_department;
  std::string record_state;
};

// What SearchIndexRepository::Match found.
struct PostingMatches : std::vector<PostingMatch> {
  // false: more triples may hold every token than were returned: the limit
  // cut them, or the rarest token had more postings than the candidates
  // read (SearchIndexRepository::kMatchCandidates).
  bool complete = true;
};

// Sizes of the index, for documentation and benchmarks.
struct SearchIndexStats {
  uint64_t rows = 0;             // postings
  uint64_t distinct_tokens = 0;  // distinct keyed tokens
};

// The postings table, through a transaction (storage::Transaction::search()).
// Writes fail in a read transaction (kInternal "read_only_transaction").
// Database failures are those of storage/sql_util.h.
class SearchIndexRepository {
 public:
  // At most this many tokens in one Match (kInvalidArgument
  // "too_many_tokens" beyond).
  static constexpr size_t kMaxMatchTokens = 64;
  // The postings of a query's rarest token that Match reads, its best.
  static constexpr size_t kMatchCandidates = 4096;

  virtual ~SearchIndexRepository() = default;

  // Makes `keyed_tf` (keyed token → tf > 0) the postings of (record,
  // field, file): the old ones are deleted first, so re-indexing a field
  // replaces it; an empty map just deletes. kInvalidArgument
  // "bad_posting" for an empty record id or field, a tf of 0 or a keyed
  // token that is not 32 hex digits.
  virtual Status Replace(const domain::RecordId& record_id, const std::string& field,
                         const domain::FileId& file_id, const std::map<std::string, uint32_t>& keyed_tf) = 0;

  // Deletes every posting of the record (all fields and files); returns how
  // many were deleted.
  virtual StatusOr<uint64_t> DeleteRecord(const domain::RecordId& record_id) = 0;

  // The (record, field, file) triples that hold every one of
  // `keyed_tokens` (AND; repeats count once), best first: score
  // descending, then record id, field and file id ascending; at most
  // `limit`. The work is bounded whatever the tokens' frequencies: the
  // candidates are the kMatchCandidates best postings of the token with
  // the fewest (its tf descending, then record id, field and file id
  // ascending), and the other tokens are looked for among them only; a
  // single token's answer is exact. `complete` false when the limit or
  // the candidates cut the answer. Nothing for no tokens. kInvalidArgument "bad_token" for a
  // keyed token that is not 32 hex digits. The tokens need not be adjacent in the
  // text: 价格调整 as 价格, 格调, 调整 also matches a text holding the three
  // bigrams apart (docs/search.md "Index"). Each match of the field
  // `rights_field` (of every field when it is empty) carries its record's
  // type, classification, department and state; the others carry "" (the
  // caller decides rights only for that field's matches, and the records
  // shown are read anyway).
  virtual StatusOr<PostingMatches> Match(const std::vector<std::string>& keyed_tokens, size_t limit,
                                         const std::string& rights_field = "") = 0;

  // Counts of the whole table.
  virtual StatusOr<SearchIndexStats> Stats() = 0;
};

}  // namespace custos::storage
