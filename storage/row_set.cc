#include "storage/row_set.h"

#include <algorithm>
#include <map>
#include <optional>

namespace custos::storage {

namespace {

using sql::P;

struct Summary {
  int64_t count = 0;
  crypto::Digest32 digest{};
};

crypto::Digest32 MemberHash(const RowSealer& sealer, const std::string& table, const std::string& key) {
  RowImage member{"row_set_member", key, {{"table", table}}};
  return sealer.SealBytes(member);
}

void XorInto(crypto::Digest32& into, const crypto::Digest32& d) {
  for (size_t i = 0; i < into.size(); ++i) into[i] ^= d[i];
}

RowImage SummaryImage(const std::string& table, const Summary& s) {
  return RowImage{"row_sets",
                  table,
                  {{"table_name", table}, {"row_count", std::to_string(s.count)}, {"digest", crypto::HexEncode(s.digest)}}};
}

// The key query of each table: its key columns, joined by '/' as
// RowImage::key joins them.
std::string KeyQuery(const std::string& table) {
  if (table == "departments") return "SELECT name FROM departments";
  if (table == "users") return "SELECT username FROM users";
  if (table == "sessions") return "SELECT token_hash FROM sessions";
  if (table == "versions") return "SELECT record_id, number FROM versions";
  if (table == "documents") return "SELECT kind, id FROM documents";
  return "SELECT id FROM " + table;  // records, files, exports
}

// The summary of `table` as its keys make it.
StatusOr<Summary> FromKeys(sql::Connection& s, const RowSealer& sealer, const std::string& table) {
  CUSTOS_ASSIGN_OR_RETURN(sql::Rows r, sql::Query(s, KeyQuery(table)));
  const bool pair = table == "versions" || table == "documents";
  Summary out;
  for (size_t i = 0; i < r.size(); ++i) {
    const std::string key = pair ? r.Text(i, 0) + "/" + r.Text(i, 1) : r.Text(i, 0);
    XorInto(out.digest, MemberHash(sealer, table, key));
    ++out.count;
  }
  return out;
}

// The stored summary of `table`: nullopt when there is none; `*sealed`
// tells whether its seal verifies.
// The summary in row `i` of `r` (row_count, digest, mac from column
// `first` on) for `table`; `*sealed` tells whether its seal verifies.
Summary SummaryOfRow(const sql::Rows& r, size_t i, size_t first, const RowSealer& sealer, const std::string& table,
                     bool* sealed) {
  Summary out;
  out.count = r.Int(i, first);
  auto digest = crypto::HexDecode(r.Text(i, first + 1));
  if (digest.has_value() && digest->size() == out.digest.size()) {
    std::copy(digest->begin(), digest->end(), out.digest.begin());
  }
  *sealed = digest.has_value() && sealer.Check(SummaryImage(table, out), r.Text(i, first + 2));
  return out;
}

StatusOr<std::optional<Summary>> Stored(sql::Connection& s, const RowSealer& sealer, const std::string& table,
                                        bool* sealed) {
  CUSTOS_ASSIGN_OR_RETURN(sql::Rows r, sql::Query(s, "SELECT row_count, digest, mac FROM row_sets WHERE table_name = $1",
                                                  {P(table)}));
  if (r.empty()) return std::optional<Summary>();
  return std::optional<Summary>(SummaryOfRow(r, 0, 0, sealer, table, sealed));
}

// A stored summary as Stored gives it, with its seal's verdict.
struct StoredSummary {
  std::optional<Summary> summary;
  bool sealed = false;
};

// Stored for every table of `tables` in one query (a write's row-set
// changes read their tables' summaries in one round trip).
StatusOr<std::map<std::string, StoredSummary>> StoredOf(sql::Connection& s, const RowSealer& sealer,
                                                        const std::vector<std::string>& tables) {
  std::string query = "SELECT table_name, row_count, digest, mac FROM row_sets WHERE table_name IN (";
  sql::Params params;
  for (const std::string& table : tables) {
    params.push_back(P(table));
    query += (params.size() > 1 ? ", $" : "$") + std::to_string(params.size());
  }
  CUSTOS_ASSIGN_OR_RETURN(sql::Rows r, sql::Query(s, query + ")", params));
  std::map<std::string, StoredSummary> out;
  for (const std::string& table : tables) out[table];
  for (size_t i = 0; i < r.size(); ++i) {
    StoredSummary& x = out[r.Text(i, 0)];
    if (x.summary.has_value()) continue;  // the first row, as Stored
    x.summary = SummaryOfRow(r, i, 1, sealer, r.Text(i, 0), &x.sealed);
  }
  return out;
}

Status Store(sql::Connection& s, const RowSealer& sealer, const std::string& table, const Summary& summary) {
  const RowImage image = SummaryImage(table, summary);
  CUSTOS_RETURN_IF_ERROR(sql::Exec(s, "DELETE FROM row_sets WHERE table_name = $1", {P(table)}));
  return sql::Exec(s, "INSERT INTO row_sets(table_name, row_count, digest, mac) VALUES ($1, $2, $3, $4)",
                   {P(table), P(summary.count), P(*image.Find("digest")), P(sealer.Seal(image))});
}

}  // namespace

const std::vector<std::string>& RowSetTables() {
  static const std::vector<std::string> tables = {"departments", "users",     "sessions", "records",
                                                  "versions",    "files",     "documents", "exports"};
  return tables;
}

Status ApplyRowSetChanges(sql::Connection& connection, const RowSealer& sealer,
                          const std::vector<RowChanges::Member>& members) {
  std::map<std::string, Summary> delta;
  for (const RowChanges::Member& m : members) {
    Summary& d = delta[m.table];
    XorInto(d.digest, MemberHash(sealer, m.table, m.key));
    d.count += m.inserted ? 1 : -1;
  }
  if (delta.empty()) return Status::Ok();
  std::vector<std::string> tables;
  for (const auto& [table, d] : delta) tables.push_back(table);
  CUSTOS_ASSIGN_OR_RETURN(auto summaries, StoredOf(connection, sealer, tables));
  for (const auto& [table, d] : delta) {
    std::optional<Summary>& stored = summaries[table].summary;
    if (!stored.has_value() || !summaries[table].sealed) return RowIntegrityError("row_sets", table);
    stored->count += d.count;
    XorInto(stored->digest, d.digest);
    const RowImage image = SummaryImage(table, *stored);
    CUSTOS_RETURN_IF_ERROR(sql::Exec(connection, "UPDATE row_sets SET row_count = $1, digest = $2, mac = $3 "
                                                 "WHERE table_name = $4",
                                     {P(stored->count), P(*image.Find("digest")), P(sealer.Seal(image)), P(table)}));
  }
  return Status::Ok();
}

Status SealRowSets(sql::Connection& connection, const RowSealer& sealer) {
  for (const std::string& table : RowSetTables()) {
    CUSTOS_ASSIGN_OR_RETURN(Summary summary, FromKeys(connection, sealer, table));
    CUSTOS_RETURN_IF_ERROR(Store(connection, sealer, table, summary));
  }
  return Status::Ok();
}

Status SealNewRowSets(sql::Connection& connection, const RowSealer& sealer, const char* begin, bool upgraded) {
  CUSTOS_RETURN_IF_ERROR(sql::Exec(connection, begin));
  Status st;
  bool seal = upgraded;
  if (!seal) {
    auto r = sql::Query(connection, "SELECT seq FROM log_leaves LIMIT 1");
    if (r.ok()) seal = r->empty();
    st = r.status();
  }
  if (st.ok() && seal) st = SealRowSets(connection, sealer);
  if (st.ok()) st = sql::Exec(connection, "COMMIT");
  if (!st.ok()) (void)sql::Exec(connection, "ROLLBACK");
  return st;
}

StatusOr<std::vector<RowSetDifference>> CheckRowSets(sql::Connection& connection, const RowSealer& sealer,
                                                      const std::vector<std::string>& tables) {
  std::vector<RowSetDifference> out;
  for (const std::string& table : tables.empty() ? RowSetTables() : tables) {
    bool sealed = false;
    CUSTOS_ASSIGN_OR_RETURN(std::optional<Summary> stored, Stored(connection, sealer, table, &sealed));
    if (!stored.has_value()) {
      out.push_back({table, "the table has no sealed summary of its rows (row_sets): it was deleted"});
      continue;
    }
    if (!sealed) {
      out.push_back({table, "the summary of its rows (row_sets) fails its seal: it was changed outside the server"});
      continue;
    }
    CUSTOS_ASSIGN_OR_RETURN(Summary actual, FromKeys(connection, sealer, table));
    if (actual.count != stored->count) {
      const int64_t diff = stored->count - actual.count;
      out.push_back({table, "the table holds " + std::to_string(actual.count) + " rows, its sealed summary says " +
                                std::to_string(stored->count) + " (" + std::to_string(diff > 0 ? diff : -diff) +
                                (diff > 0 ? " deleted" : " added") + " outside the server)"});
    } else if (actual.digest != stored->digest) {
      out.push_back({table, "the table holds " + std::to_string(actual.count) +
                                " rows as its sealed summary says, but not the same keys: rows were deleted and "
                                "others added outside the server"});
    }
  }
  return out;
}

}  // namespace custos::storage
