#include "storage/sql_search_match.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace custos::storage {

using sql::P;
using sql::Params;
using sql::Rows;

namespace {

// Postings counted per token to find the rarest (a range of the primary
// key, cheap); a token at the cap counts as common. Above the candidates
// read, so that a cut of them is seen.
constexpr int64_t kRarityCap = 20000;
// The candidates a match reads (SearchIndexRepository::kMatchCandidates).
constexpr int64_t kCandidates = static_cast<int64_t>(SearchIndexRepository::kMatchCandidates);
static_assert(kRarityCap > kCandidates);

// One more row than `limit`, to know whether the limit cut.
int64_t OneMore(size_t limit) { return static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX - 1) + 1); }
// A token's best postings, $2 at most, in two ranges: those of a tf above 1
// from the partial index search_postings_by_impact, best first, then those
// of tf 1 in primary key order (most postings have a tf of 1, so the index
// holds only the others: it costs a fraction of the writes and bytes of a
// full one, and the two ranges together are the order tf descending, then
// record id, field and file id).
constexpr const char* kBestAboveOne =
    "SELECT record_id, field, file_id, tf FROM search_postings WHERE token = $1 AND tf > 1 "
    "ORDER BY tf DESC, record_id, field, file_id LIMIT $2";
constexpr const char* kBestOfOne =
    "SELECT record_id, field, file_id, tf FROM search_postings WHERE token = $1 AND tf = 1 "
    "ORDER BY record_id, field, file_id LIMIT $2";
// A token whose postings number at most this many per candidate record is
// read in one range scan; a commoner one is looked up for the candidates'
// records only (a scanned row costs a fraction of a lookup).
constexpr int64_t kScanPerRecord = 4;
// Record ids per lookup statement (the last batch is padded by repeating
// its last id, so that every batch is one statement text).
constexpr size_t kBatch = 128;

// A (record, field, file) triple that held every token looked at so far.
struct Candidate {
  std::string key;     // record id, NUL, field, NUL, file id: their order is the tuple's
  uint64_t score = 0;  // the sum of the tf seen
  size_t rounds = 0;   // the tokens seen
};

// The candidates of one match, kept in key order and found by key: rows
// of a range scan come in key order on SQLite, so each is looked for
// forward from the last one found.
class Candidates {
 public:
  bool empty() const { return all_.empty(); }
  // The candidates, leaving none.
  std::vector<Candidate> Take() { return std::move(all_); }

  // The postings of the first token, in any order: the candidates.
  void Add(const std::string& key, uint64_t tf) { all_.push_back({key, tf, 1}); }
  // Sorts the candidates by key, once all are added.
  void Seal() {
    if (!std::is_sorted(all_.begin(), all_.end(), ByKey))
      std::sort(all_.begin(), all_.end(), ByKey);
    hint_ = 0;
  }
  // A posting of the token of round `round` (2, 3, …): counts for the
  // candidate `key` if there is one.
  void Hit(const std::string& key, uint64_t tf, size_t round) {
    auto it = Find(key);
    if (it == all_.end() || it->key != key || it->rounds + 1 != round) return;
    it->score += tf;
    it->rounds = round;
  }
  // Drops the candidates the token of round `round` did not hold.
  void KeepSeenIn(size_t round) {
    all_.erase(std::remove_if(all_.begin(), all_.end(),
                              [&](const Candidate& c) { return c.rounds != round; }),
               all_.end());
    hint_ = 0;
  }
  // The distinct record ids of the candidates, ascending.
  std::vector<std::string> RecordIds() const {
    std::vector<std::string> ids;
    for (const Candidate& c : all_) {
      std::string_view id = RecordOf(c.key);
      if (ids.empty() || ids.back() != id) ids.emplace_back(id);
    }
    return ids;  // keys ascend, so their record ids do
  }

  static std::string_view RecordOf(std::string_view key) { return key.substr(0, key.find('\0')); }

 private:
  static bool ByKey(const Candidate& a, const Candidate& b) { return a.key < b.key; }

  // The first candidate whose key is not below `key`: galloping forward
  // from the last one found when `key` lies after it, else from the start.
  std::vector<Candidate>::iterator Find(const std::string& key) {
    size_t lo = hint_ < all_.size() && all_[hint_].key <= key ? hint_ : 0;
    size_t step = 1, hi = lo;
    while (hi < all_.size() && all_[hi].key < key) {
      lo = hi + 1;
      hi = lo + step;
      step *= 2;
    }
    hi = std::min(hi, all_.size());
    auto it = std::lower_bound(all_.begin() + static_cast<std::ptrdiff_t>(lo),
                               all_.begin() + static_cast<std::ptrdiff_t>(hi), key,
                               [](const Candidate& c, const std::string& k) { return c.key < k; });
    hint_ = static_cast<size_t>(it - all_.begin());
    return it;
  }

  std::vector<Candidate> all_;  // ascending by key after Seal()
  size_t hint_ = 0;             // where the last Find ended
};

// `key` made of a postings row's record id, field and file id (columns 0-2).
void KeyOf(const sql::RowView& row, std::string& key) {
  key.assign(row.Bytes(0));
  key.push_back('\0');
  key.append(row.Bytes(1));
  key.push_back('\0');
  key.append(row.Bytes(2));
}

// Calls `visit` for each batch of `ids` as parameters after `prefix`, the
// batch's first id being parameter prefix.size() + 1; the last batch is
// padded with its last id.
Status ForEachBatch(const std::vector<std::string>& ids, const Params& prefix,
                    const std::function<Status(const Params&)>& visit) {
  for (size_t at = 0; at < ids.size(); at += kBatch) {
    Params params = prefix;
    for (size_t i = 0; i < kBatch; ++i) params.push_back(P(ids[std::min(at + i, ids.size() - 1)]));
    CUSTOS_RETURN_IF_ERROR(visit(params));
  }
  return Status::Ok();
}

// "$first, $first+1, …" for one batch.
std::string BatchPlaceholders(size_t first) {
  std::string out;
  for (size_t i = 0; i < kBatch; ++i) out += (i ? ", $" : "$") + std::to_string(first + i);
  return out;
}

// How many postings `token` has, up to `cap` (one statement text for
// every cap).
StatusOr<int64_t> CountPostings(sql::Connection& c, const crypto::Bytes& token, int64_t cap) {
  CUSTOS_ASSIGN_OR_RETURN(Rows n, sql::Query(c,
                                             "SELECT COUNT(*) FROM (SELECT 1 FROM search_postings "
                                             "WHERE token = $1 LIMIT $2) AS capped",
                                             {P(token), P(cap)}));
  return n.Int(0, 0);
}

// Intersects the candidates with the postings of `token`, round `round`:
// one range scan of them all, or lookups for the candidates' records.
Status Intersect(sql::Connection& c, const crypto::Bytes& token, int64_t postings, size_t round,
                 Candidates& candidates) {
  std::string key;
  auto hit = [&](const sql::RowView& row) {
    KeyOf(row, key);
    candidates.Hit(key, static_cast<uint64_t>(row.Int(3)), round);
    return Status::Ok();
  };
  std::vector<std::string> records = candidates.RecordIds();
  const int64_t enough = kScanPerRecord * static_cast<int64_t>(records.size());
  if (postings >= kRarityCap && enough >= kRarityCap) {
    // Counted only up to the cap: count on, as far as it decides.
    CUSTOS_ASSIGN_OR_RETURN(postings, CountPostings(c, token, enough + 1));
  }
  if (postings <= enough) {
    CUSTOS_RETURN_IF_ERROR(
        c.Scan("SELECT record_id, field, file_id, tf FROM search_postings WHERE token = $1",
               {P(token)}, hit));
  } else {
    const std::string statement =
        "SELECT record_id, field, file_id, tf FROM search_postings WHERE token = $1 AND record_id "
        "IN (" +
        BatchPlaceholders(2) + ")";
    CUSTOS_RETURN_IF_ERROR(ForEachBatch(
        records, {P(token)}, [&](const Params& params) { return c.Scan(statement, params, hit); }));
  }
  candidates.KeepSeenIn(round);
  return Status::Ok();
}

// Calls `visit` for the best `n` postings of `token`, best first (above).
Status ForEachBest(sql::Connection& c, const crypto::Bytes& token, int64_t n,
                   const std::function<void(const sql::RowView&)>& visit) {
  int64_t seen = 0;
  auto each = [&](const sql::RowView& row) {
    ++seen;
    visit(row);
    return Status::Ok();
  };
  CUSTOS_RETURN_IF_ERROR(c.Scan(kBestAboveOne, {P(token), P(n)}, each));
  if (seen < n) CUSTOS_RETURN_IF_ERROR(c.Scan(kBestOfOne, {P(token), P(n - seen)}, each));
  return Status::Ok();
}

// The columns rights depend on, of each of `ids` that has a record row.
struct RightsColumns {
  std::string type, classification, department, state;
};
StatusOr<std::unordered_map<std::string, RightsColumns>> ReadRights(
    sql::Connection& c, const std::vector<std::string>& ids) {
  std::unordered_map<std::string, RightsColumns> out;
  const std::string statement =
      "SELECT id, type, classification, department, state FROM records WHERE id IN (" +
      BatchPlaceholders(1) + ")";
  CUSTOS_RETURN_IF_ERROR(ForEachBatch(ids, {}, [&](const Params& params) {
    return c.Scan(statement, params, [&](const sql::RowView& row) {
      out[std::string(row.Bytes(0))] = {std::string(row.Bytes(1)), std::string(row.Bytes(2)),
                                        std::string(row.Bytes(3)), std::string(row.Bytes(4))};
      return Status::Ok();
    });
  }));
  return out;
}

// The match as one statement run by the server: the rarest token's
// postings joined to each other token's by primary key, ranked and cut
// there, with the records' rights columns (PostgreSQL: one round trip, no
// postings sent to the client).
StatusOr<PostingMatches> JoinInServer(sql::Connection& c, const std::vector<crypto::Bytes>& tokens,
                                      const std::vector<std::pair<int64_t, size_t>>& rarity, size_t limit,
                                      const std::string& rights_field) {
  std::string from = std::string("(SELECT * FROM ((") + kBestAboveOne + ") UNION ALL (" + kBestOfOne +
                     ")) AS best ORDER BY tf DESC, record_id, field, file_id LIMIT $2) AS p0";
  std::string where = "1 = 1";
  std::string score = "p0.tf";
  // A single token's candidates are its answer: the limit, and one more
  // to know whether it cut.
  const int64_t one_more = OneMore(limit);
  const bool single = rarity.size() == 1;
  Params params{P(tokens[rarity[0].second]),
                P(single ? one_more : kCandidates)};
  for (size_t k = 1; k < rarity.size(); ++k) {
    const std::string t = "p" + std::to_string(k);
    params.push_back(P(tokens[rarity[k].second]));
    from += " CROSS JOIN search_postings " + t;
    where += " AND " + t + ".token = $" + std::to_string(params.size()) + " AND " + t +
             ".record_id = p0.record_id AND " + t + ".field = p0.field AND " + t +
             ".file_id = p0.file_id";
    score += " + " + t + ".tf";
  }
  params.push_back(P(one_more));
  const std::string limit_param = "$" + std::to_string(params.size());
  params.push_back(P(rights_field));
  const std::string field_param = "$" + std::to_string(params.size());
  CUSTOS_ASSIGN_OR_RETURN(
      Rows rows,
      sql::Query(
          c,
          "SELECT m.record_id, m.field, m.file_id, m.score, COALESCE(r.type, ''), "
          "COALESCE(r.classification, ''), COALESCE(r.department, ''), COALESCE(r.state, '') "
          "FROM (SELECT p0.record_id, p0.field, p0.file_id, CAST(" +
              score + " AS BIGINT) AS score FROM " + from + " WHERE " + where +
              " ORDER BY score DESC, p0.record_id, p0.field, p0.file_id LIMIT " + limit_param +
              ") AS m LEFT JOIN records r ON r.id = m.record_id AND (" + field_param + " = '' OR m.field = " +
              field_param + ") "
              "ORDER BY m.score DESC, m.record_id, m.field, m.file_id",
          params));
  PostingMatches out;
  out.complete = rows.size() <= limit &&
                 (single || rarity[0].first <= kCandidates);
  for (size_t i = 0; i < rows.size() && i < limit; ++i) {
    PostingMatch m;
    m.record_id = domain::RecordId{rows.Text(i, 0)};
    m.field = rows.Text(i, 1);
    m.file_id = domain::FileId{rows.Text(i, 2)};
    m.score = static_cast<uint64_t>(rows.Int(i, 3));
    m.record_type = rows.Text(i, 4);
    m.record_classification = rows.Text(i, 5);
    m.record_department = rows.Text(i, 6);
    m.record_state = rows.Text(i, 7);
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace

StatusOr<PostingMatches> MatchPostings(sql::Connection& c, const std::vector<crypto::Bytes>& tokens,
                                       size_t limit, MatchPlace place, const std::string& rights_field) {
  PostingMatches out;
  if (tokens.empty() || limit == 0) return out;
  // Rarest first: the rarest token's postings bound the candidates.
  std::vector<std::pair<int64_t, size_t>> rarity;
  const bool in_client = place == MatchPlace::kInClient;
  if (in_client && tokens.size() == 1) rarity.push_back({0, 0});  // nothing to rank
  for (size_t i = 0; i < tokens.size() && (tokens.size() > 1 || !in_client); ++i) {
    CUSTOS_ASSIGN_OR_RETURN(int64_t n, CountPostings(c, tokens[i], kRarityCap));
    if (n == 0) return out;  // a token in no posting: nothing holds them all
    rarity.push_back({n, i});
  }
  std::sort(rarity.begin(), rarity.end());
  if (!in_client) return JoinInServer(c, tokens, rarity, limit, rights_field);
  // Ranked as the contract says: score descending, then key (record id,
  // field, file id) ascending.
  auto better = [](const Candidate& a, const Candidate& b) {
    return a.score != b.score ? a.score > b.score : a.key < b.key;
  };
  std::vector<Candidate> all;
  std::string key;
  if (rarity.size() == 1) {
    // One token: its best `limit` postings, in order (one more, to know
    // whether the limit cut).
    CUSTOS_RETURN_IF_ERROR(ForEachBest(c, tokens[0], OneMore(limit),
                                       [&](const sql::RowView& row) {
                                         KeyOf(row, key);
                                         all.push_back({key, static_cast<uint64_t>(row.Int(3)), 1});
                                       }));
  } else {
    // The candidates: the rarest token's best postings.
    if (rarity[0].first > kCandidates) out.complete = false;
    Candidates candidates;
    CUSTOS_RETURN_IF_ERROR(ForEachBest(c, tokens[rarity[0].second], kCandidates,
                                       [&](const sql::RowView& row) {
                                         KeyOf(row, key);
                                         candidates.Add(key, static_cast<uint64_t>(row.Int(3)));
                                       }));
    candidates.Seal();
    for (size_t k = 1; k < rarity.size() && !candidates.empty(); ++k) {
      CUSTOS_RETURN_IF_ERROR(
          Intersect(c, tokens[rarity[k].second], rarity[k].first, k + 1, candidates));
    }
    all = candidates.Take();
  }
  if (all.empty()) return out;

  // The best `limit`.
  std::vector<size_t> order(all.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  const size_t n = std::min(limit, order.size());
  if (order.size() > limit) out.complete = false;
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                    [&](size_t a, size_t b) { return better(all[a], all[b]); });
  order.resize(n);

  // The matches, each key (record id, field, file id joined by NULs) split
  // once; then the rights columns of those of `rights_field`.
  out.reserve(n);
  for (size_t i : order) {
    const std::string& key = all[i].key;
    const size_t a = key.find('\0');
    const size_t b = key.find('\0', a + 1);
    PostingMatch m;
    m.record_id = domain::RecordId{key.substr(0, a)};
    m.field = key.substr(a + 1, b - a - 1);
    m.file_id = domain::FileId{key.substr(b + 1)};
    m.score = all[i].score;
    out.push_back(std::move(m));
  }
  auto wants_rights = [&](const PostingMatch& m) { return rights_field.empty() || m.field == rights_field; };
  std::vector<std::string> ids;
  for (const PostingMatch& m : out) {
    if (wants_rights(m)) ids.push_back(m.record_id.value);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  CUSTOS_ASSIGN_OR_RETURN(auto rights, ReadRights(c, ids));
  for (PostingMatch& m : out) {
    auto r = wants_rights(m) ? rights.find(m.record_id.value) : rights.end();
    if (r == rights.end()) continue;
    m.record_type = r->second.type;
    m.record_classification = r->second.classification;
    m.record_department = r->second.department;
    m.record_state = r->second.state;
  }
  return out;
}

}  // namespace custos::storage
