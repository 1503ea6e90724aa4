// The postings match of the SQL stores (SearchIndexRepository::Match,
// storage/search_index.h), for SQLite and PostgreSQL alike, with portable
// statements over search_postings and records.
//
// The match is an intersection of the query tokens' postings, rarest token
// first. Its work is bounded whatever the tokens' frequencies: the
// candidates are the rarest token's kMatchCandidates best postings (tf
// descending, read from the index search_postings_by_impact, one range
// scan), and each other token is only looked for among them. The
// intersection is done in one of two places (MatchPlace):
//   - in the client (SQLite, where reading a row is a function call): each
//     other token either is read in one range scan (when it has few
//     postings per candidate record) and intersected in memory, or is
//     looked up for the candidates' records only, a batch of records per
//     statement. A join probes the primary key once per candidate and
//     token; a range scan reads a row for a fraction of a probe's cost.
//     The best `limit` candidates are then ranked in memory, and their
//     records' rights columns read in batches;
//   - in the server (PostgreSQL, where every statement is a round trip and
//     every row crosses the socket): one statement joins the rarest token's
//     best postings to the others' by primary key, ranks, cuts and reads
//     the rights columns.
// Both give the same answer.
#pragma once

#include <cstddef>
#include <vector>

#include "common/status.h"
#include "crypto/bytes.h"
#include "storage/search_index.h"
#include "storage/sql_util.h"

namespace custos::storage {

// Where MatchPostings intersects the postings (above).
enum class MatchPlace { kInClient, kInServer };

// The (record, field, file) triples whose postings hold every one of
// `tokens` (distinct keyed tokens as their kKeyedTokenBytes raw bytes, at
// most SearchIndexRepository::kMaxMatchTokens), among the candidates above,
// best first: score (the sum of their tf) descending, then record id,
// field and file id ascending, compared byte by byte; at most `limit`,
// each of the field `rights_field` (of any field when it is empty) with
// its record's type, classification, department and state ("" without a
// record row, and for other fields); `complete` false when the limit or the
// candidates cut the answer. Nothing for no tokens or a `limit` of 0.
// `place`: where the postings are intersected (above). Runs its statements
// on `connection`, inside the caller's transaction, which must outlive the
// call; database failures are those of storage/sql_util.h.
StatusOr<PostingMatches> MatchPostings(sql::Connection& connection, const std::vector<crypto::Bytes>& tokens,
                                       size_t limit, MatchPlace place, const std::string& rights_field = "");

}  // namespace custos::storage
