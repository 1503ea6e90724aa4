// The postings match of the SQL stores (SearchIndexRepository::Match,
// storage/search_index.h), for SQLite and PostgreSQL alike, with portable
// statements over search_postings and records.
//
// The match is an intersection of the query tokens' postings, done here
// rather than in one SQL join: the rarest token's postings are read in one
// range scan and become the candidates; each other token, rarest first,
// either is read in one range scan too (when it has few postings per
// candidate record) and intersected in memory, or is looked up for the
// candidates' records only, a batch of records per statement. A join probed
// the primary key once per candidate and token; a range scan reads a row
// for a fraction of a probe's cost. The best `limit` candidates are then
// ranked in memory, and their records' rights columns read in batches.
#pragma once

#include <cstddef>
#include <vector>

#include "common/status.h"
#include "crypto/bytes.h"
#include "storage/search_index.h"
#include "storage/sql_util.h"

namespace custos::storage {

// The (record, field, file) triples whose postings hold every one of
// `tokens` (distinct keyed tokens as their kKeyedTokenBytes raw bytes, at
// most SearchIndexRepository::kMaxMatchTokens), best first: score (the sum
// of their tf) descending, then record id, field and file id ascending,
// compared byte by byte; at most `limit`, each with its record's type,
// classification, department and state ("" without a record row). Nothing
// for no tokens or a `limit` of 0. Runs its statements on `connection`,
// inside the caller's transaction, which must outlive the call; database
// failures are those of storage/sql_util.h.
StatusOr<std::vector<PostingMatch>> MatchPostings(sql::Connection& connection,
                                                  const std::vector<crypto::Bytes>& tokens,
                                                  size_t limit);

}  // namespace custos::storage
