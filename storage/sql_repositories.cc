#include "storage/sql_repositories.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <tuple>

#include "storage/replay.h"
#include "storage/row_seal.h"
#include "storage/row_set.h"
#include "storage/sql_derived_cache.h"
#include "storage/sql_file_texts.h"
#include "storage/sql_search_match.h"
#include "storage/sql_util.h"

namespace custos::storage {

using sql::P;
using sql::Params;
using sql::Rows;

namespace {

// The most rows one call returns (callers page).
constexpr size_t kMaxRows = 1000000;

domain::Time T(const std::string& s) {
  auto t = domain::ParseTime(s);
  return t.ok() ? *t : domain::Time{};
}

// Visits every row of `table` in id order, 1,000 rows per query (keyset
// paging, so memory stays bounded). `columns` must start with the id.
template <typename T>
Status ForEachById(sql::Connection& s, const char* columns, const char* table,
                   const std::function<StatusOr<T>(const Rows&, size_t)>& from_row,
                   const std::function<Status(const T&)>& visit) {
  std::string after;
  for (;;) {
    CUSTOS_ASSIGN_OR_RETURN(Rows r, sql::Query(s,
                                               std::string("SELECT ") + columns + " FROM " + table +
                                                   " WHERE id > $1 ORDER BY id LIMIT 1000",
                                               {P(after)}));
    if (r.empty()) return Status::Ok();
    for (size_t i = 0; i < r.size(); ++i) {
      CUSTOS_ASSIGN_OR_RETURN(T row, from_row(r, i));
      CUSTOS_RETURN_IF_ERROR(visit(row));
    }
    after = r.Text(r.size() - 1, 0);
  }
}

// The seal of `row` as stored, or "" for a store without a sealer.
template <typename Row>
std::string SealOf(const RowSealer* sealer, const Row& row) {
  return sealer == nullptr ? std::string() : sealer->Seal(ImageOf(row, ImageUse::kSeal));
}

// `row` as read, if `mac` is its seal (or the store has no sealer); else
// the integrity error (reported to the observer). No row that fails is
// ever returned.
template <typename Row>
StatusOr<Row> Sealed(const RowSealer* sealer, Row row, const std::string& mac) {
  if (sealer != nullptr) {
    const RowImage image = ImageOf(row, ImageUse::kSeal);
    if (!sealer->Check(image, mac)) return RowIntegrityError(image.table, image.key);
  }
  return row;
}

// What a write through a Read() transaction gets, whatever the engine
// would have done with it.
Status ReadOnly(const std::string& what) {
  return Internal(what + " in a read-only transaction", "read_only_transaction");
}

// sql::Exec for repositories: refuses every statement in a read-only
// transaction (Exec only ever runs statements that change rows).
Status Exec(sql::Connection& s, bool writable, const std::string& statement,
            const Params& params = {}) {
  if (!writable) return ReadOnly("a write");
  return sql::Exec(s, statement, params);
}

// Rows of (seq, leaf, hash, subject) as log entries.
// The entries with index in [$1, $2), with their level-0 hashes. Indexes
// are dense, so the range bounds the page; both sides get the bounds (see
// SqlLog::Entries).
constexpr const char* kEntriesInRange =
    "SELECT l.seq, l.leaf, n.hash, l.subject FROM log_leaves l JOIN log_nodes n ON "
    "n.level = 0 AND n.idx = l.seq AND n.idx >= $1 AND n.idx < $2 "
    "WHERE l.seq >= $1 AND l.seq < $2 ORDER BY l.seq";

std::string NodesAtLevelStatement(size_t limit) {
  return "SELECT idx, hash FROM log_nodes WHERE level = $1 AND idx >= $2 ORDER BY idx LIMIT " +
         std::to_string(limit);
}

// A stored 32-byte hash column (kDataLoss "stored_hash_malformed" as
// sql::ToDigest).
StatusOr<crypto::Digest32> DigestOf(std::string_view bytes) {
  if (bytes.size() != crypto::Digest32().size()) {
    return sql::ToDigest(crypto::Bytes(bytes.begin(), bytes.end()));
  }
  crypto::Digest32 d;
  std::memcpy(d.data(), bytes.data(), d.size());
  return d;
}

StatusOr<std::vector<LogEntry>> EntriesFromRows(const Rows& r) {
  std::vector<LogEntry> out;
  out.reserve(r.size());
  for (size_t i = 0; i < r.size(); ++i) {
    LogEntry e;
    e.index = static_cast<uint64_t>(r.Int(i, 0));
    e.leaf = r.Text(i, 1);
    CUSTOS_ASSIGN_OR_RETURN(e.leaf_hash, sql::ToDigest(r.Bytes(i, 2)));
    e.subject = r.Text(i, 3);
    out.push_back(std::move(e));
  }
  return out;
}

// ---------------------------------------------------------------- departments
class SqlDepartments final : public DepartmentRepository {
 public:
  SqlDepartments(sql::Connection& s, bool writable, RowChanges& changes, const RowSealer* sealer)
      : s_(s), writable_(writable), changes_(changes), sealer_(sealer) {}
  Status Insert(const domain::Department& d) override {
    CUSTOS_ASSIGN_OR_RETURN(bool exists, Exists(d.name));
    if (exists) return Conflict("department '" + d.name + "' already exists", "department_exists");
    CUSTOS_RETURN_IF_ERROR(Exec(s_, writable_, "INSERT INTO departments(name, created_at, mac) VALUES ($1, $2, $3)",
                                {P(d.name), P(domain::FormatTime(d.created_at)), P(SealOf(sealer_, d))}));
    changes_.AddInserted(ImageOf(d, ImageUse::kLog));
    return Status::Ok();
  }
  StatusOr<std::vector<domain::Department>> List() override {
    return Load(" ORDER BY name", {});
  }
  StatusOr<bool> Exists(const std::string& name) override {
    CUSTOS_ASSIGN_OR_RETURN(auto found, Load(" WHERE name = $1", {P(name)}));
    return !found.empty();
  }

 private:
  sql::Connection& s_;
  const bool writable_;  // false in Read(): every write is refused
  RowChanges& changes_;  // the transaction's; kLog images of the rows written
  const RowSealer* const sealer_;  // null: rows are neither sealed nor checked

  StatusOr<std::vector<domain::Department>> Load(const std::string& rest, const Params& params) {
    CUSTOS_ASSIGN_OR_RETURN(Rows rows, sql::Query(s_, "SELECT name, created_at, mac FROM departments" + rest, params));
    std::vector<domain::Department> out;
    for (size_t i = 0; i < rows.size(); ++i) {
      CUSTOS_ASSIGN_OR_RETURN(auto d, Sealed(sealer_, domain::Department{rows.Text(i, 0), T(rows.Text(i, 1))},
                                             rows.Text(i, 2)));
      out.push_back(std::move(d));
    }
    return out;
  }
};

// ---------------------------------------------------------------------- users
constexpr const char* kUserColumns =
    "username, password_hash, role, department, must_change_password, password_changed_at, "
    "failed_logins, locked_until, disabled, created_at, credentials, provenance, mac";
constexpr size_t kUserMac = 12;  // the index of mac in kUserColumns

domain::User UserFromRow(const Rows& r, size_t i) {
  domain::User u;
  u.username = domain::Username{r.Text(i, 0)};
  u.password_hash = r.Text(i, 1);
  auto role = domain::ParseRole(r.Text(i, 2));
  u.role = role.ok() ? *role : domain::Role::kStaff;
  u.department = r.Text(i, 3);
  u.must_change_password = r.Int(i, 4) != 0;
  u.password_changed_at = T(r.Text(i, 5));
  u.failed_logins = static_cast<int>(r.Int(i, 6));
  std::string locked = r.Text(i, 7);
  if (!locked.empty()) u.locked_until = T(locked);
  u.disabled = r.Int(i, 8) != 0;
  u.created_at = T(r.Text(i, 9));
  u.credentials = r.Text(i, 10);
  u.provenance = r.Text(i, 11);
  return u;
}

Params UserParams(const domain::User& u) {
  return {P(u.username.value),
          P(u.password_hash),
          P(std::string(domain::Name(u.role))),
          P(u.department),
          P(u.must_change_password),
          P(domain::FormatTime(u.password_changed_at)),
          P(u.failed_logins),
          P(u.locked_until ? domain::FormatTime(*u.locked_until) : std::string()),
          P(u.disabled),
          P(domain::FormatTime(u.created_at)),
          P(u.credentials),
          P(u.provenance)};
}

// A users row read with kUserColumns, its seal checked.
StatusOr<domain::User> SealedUser(const RowSealer* sealer, const Rows& r, size_t i) {
  return Sealed(sealer, UserFromRow(r, i), r.Text(i, kUserMac));
}

class SqlUsers final : public UserRepository {
 public:
  SqlUsers(sql::Connection& s, bool writable, RowChanges& changes, const RowSealer* sealer)
      : s_(s), writable_(writable), changes_(changes), sealer_(sealer) {}
  Status Insert(const domain::User& u) override {
    CUSTOS_ASSIGN_OR_RETURN(auto existing, Find(u.username));
    if (existing) return Conflict("user '" + u.username.value + "' already exists", "user_exists");
    Params p = UserParams(u);
    p.push_back(P(SealOf(sealer_, u)));
    CUSTOS_RETURN_IF_ERROR(Exec(s_, writable_,
                                std::string("INSERT INTO users(") + kUserColumns +
                                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                                p));
    changes_.AddInserted(ImageOf(u, ImageUse::kLog));
    return Status::Ok();
  }
  Status Update(const domain::User& u) override {
    CUSTOS_ASSIGN_OR_RETURN(auto existing, Find(u.username));
    if (!existing) return NotFound("no user '" + u.username.value + "'", "user_not_found");
    domain::User stored = u;
    stored.created_at = existing->created_at;  // never changes
    Params p = UserParams(stored);  // 0 username … 9 created_at, 10 credentials, 11 provenance
    CUSTOS_RETURN_IF_ERROR(Exec(s_, writable_,
                                "UPDATE users SET password_hash = $1, role = $2, department = $3, "
                                "must_change_password = $4, password_changed_at = $5, failed_logins = $6, "
                                "locked_until = $7, disabled = $8, credentials = $9, provenance = $10, "
                                "mac = $11 WHERE username = $12",
                                {p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[10], p[11],
                                 P(SealOf(sealer_, stored)), p[0]}));
    changes_.Add(ImageOf(stored, ImageUse::kLog));
    return Status::Ok();
  }
  StatusOr<std::optional<domain::User>> Find(const domain::Username& name) override {
    CUSTOS_ASSIGN_OR_RETURN(
        Rows rows, sql::Query(s_, std::string("SELECT ") + kUserColumns +
                                      " FROM users WHERE username = $1",
                              {P(name.value)}));
    if (rows.empty()) return std::optional<domain::User>();
    CUSTOS_ASSIGN_OR_RETURN(domain::User u, SealedUser(sealer_, rows, 0));
    return std::optional<domain::User>(std::move(u));
  }
  StatusOr<std::vector<domain::User>> List() override {
    CUSTOS_ASSIGN_OR_RETURN(
        Rows rows,
        sql::Query(s_, std::string("SELECT ") + kUserColumns + " FROM users ORDER BY username"));
    std::vector<domain::User> out;
    for (size_t i = 0; i < rows.size(); ++i) {
      CUSTOS_ASSIGN_OR_RETURN(domain::User u, SealedUser(sealer_, rows, i));
      out.push_back(std::move(u));
    }
    return out;
  }

 private:
  sql::Connection& s_;
  const bool writable_;  // false in Read(): every write is refused
  RowChanges& changes_;  // the transaction's; kLog images of the rows written
  const RowSealer* const sealer_;  // null: rows are neither sealed nor checked
};

// ------------------------------------------------------------------- sessions
class SqlSessions final : public SessionRepository {
 public:
  SqlSessions(sql::Connection& s, bool writable, RowChanges& changes, const RowSealer* sealer)
      : s_(s), writable_(writable), changes_(changes), sealer_(sealer) {}
  Status Insert(const domain::Session& x) override {
    CUSTOS_RETURN_IF_ERROR(Exec(s_, writable_,
                                "INSERT INTO sessions(token_hash, username, created_at, last_seen_at, "
                                "expires_at, mac) VALUES ($1, $2, $3, $4, $5, $6)",
                                {P(x.token_hash), P(x.username.value), P(domain::FormatTime(x.created_at)),
                                 P(domain::FormatTime(x.last_seen_at)), P(domain::FormatTime(x.expires_at)),
                                 P(SealOf(sealer_, x))}));
    changes_.AddInserted(ImageOf(x, ImageUse::kLog));
    return Status::Ok();
  }
  StatusOr<std::optional<domain::Session>> Find(const std::string& token_hash) override {
    CUSTOS_ASSIGN_OR_RETURN(
        Rows r, sql::Query(s_,
                           "SELECT token_hash, username, created_at, last_seen_at, expires_at, mac "
                           "FROM sessions WHERE token_hash = $1",
                           {P(token_hash)}));
    if (r.empty()) return std::optional<domain::Session>();
    CUSTOS_ASSIGN_OR_RETURN(
        domain::Session x,
        Sealed(sealer_,
               domain::Session{r.Text(0, 0), domain::Username{r.Text(0, 1)}, T(r.Text(0, 2)), T(r.Text(0, 3)),
                               T(r.Text(0, 4))},
               r.Text(0, 5)));
    return std::optional<domain::Session>(std::move(x));
  }
  Status Touch(const std::string& token_hash, domain::Time last_seen) override {
    if (!writable_) return ReadOnly("a write");
    CUSTOS_ASSIGN_OR_RETURN(auto x, Find(token_hash));  // checked: the new seal vouches for it all
    if (!x) return Status::Ok();
    x->last_seen_at = last_seen;
    return Exec(s_, writable_, "UPDATE sessions SET last_seen_at = $1, mac = $2 WHERE token_hash = $3",
                {P(domain::FormatTime(last_seen)), P(SealOf(sealer_, *x)), P(token_hash)});
  }
  Status Delete(const std::string& token_hash) override {
    return DeleteWhere("token_hash", token_hash);
  }
  Status DeleteForUser(const domain::Username& name) override {
    return DeleteWhere("username", name.value);
  }

 private:
  sql::Connection& s_;
  const bool writable_;  // false in Read(): every write is refused
  RowChanges& changes_;  // the transaction's; kLog images of the rows written
  const RowSealer* const sealer_;  // null: rows are neither sealed nor checked

  // Deletes the sessions whose `column` is `value`, one DeletedImage each.
  Status DeleteWhere(const char* column, const std::string& value) {
    if (!writable_) return ReadOnly("a write");
    const std::string where = std::string(" FROM sessions WHERE ") + column + " = $1";
    CUSTOS_ASSIGN_OR_RETURN(Rows r, sql::Query(s_, "SELECT token_hash" + where, {P(value)}));
    CUSTOS_RETURN_IF_ERROR(Exec(s_, writable_, "DELETE" + where, {P(value)}));
    for (size_t i = 0; i < r.size(); ++i) changes_.Add(DeletedImage("sessions", r.Text(i, 0)));
    return Status::Ok();
  }
};

// Takes the next number of a (prefix, year) counter.
StatusOr<uint64_t> NextCounter(sql::Connection& s, bool writable, const std::string& prefix,
                               int year) {
  if (!writable) return ReadOnly("sequence allocation");
  CUSTOS_ASSIGN_OR_RETURN(
      Rows r, sql::Query(s, "SELECT last FROM archive_sequences WHERE prefix = $1 AND year = $2",
                         {P(prefix), P(year)}));
  uint64_t next = r.empty() ? 1 : static_cast<uint64_t>(r.Int(0, 0)) + 1;
  if (r.empty()) {
    CUSTOS_RETURN_IF_ERROR(sql::Exec(
        s, "INSERT INTO archive_sequences(prefix, year, last) VALUES ($1, $2, $3)",
        {P(prefix), P(year), P(next)}));
  } else {
    CUSTOS_RETURN_IF_ERROR(sql::Exec(
        s, "UPDATE archive_sequences SET last = $1 WHERE prefix = $2 AND year = $3",
        {P(next), P(prefix), P(year)}));
  }
  return next;
}

// -------------------------------------------------------------------- records
constexpr const char* kRecordColumns =
    "id, type, title, description, department, classification, custodian, location, "
    "metadata_json, retention_class, state, created_at, created_by, updated_at, expires_on, salt, mac";
constexpr size_t kRecordMac = 16;  // the index of mac in kRecordColumns



// kRecordColumns, each prefixed with "records." (for queries that join).
const std::string& QualifiedRecordColumns() {
  static const std::string columns = [] {
    std::string out;
    std::string all = kRecordColumns;
    for (size_t start = 0; start < all.size();) {
      size_t comma = all.find(',', start);
      if (comma == std::string::npos) comma = all.size();
      std::string name = all.substr(start, comma - start);
      name.erase(0, name.find_first_not_of(' '));
      out += (out.empty() ? "records." : ", records.") + name;
      start = comma + 1;
    }
    return out;
  }();
  return columns;
}

// Whether a search text could be part of an archive number
// ("CT-2026-000001"): letters, digits and dashes with at least one digit or
// dash.
bool MayBeArchiveNumber(const std::string& text) {
  bool digit_or_dash = false;
  for (char c : text) {
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '-') {
      digit_or_dash = true;
    } else if (!std::isalpha(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return digit_or_dash;
}

domain::Record RecordFromRow(const Rows& r, size_t i) {
  domain::Record x;
  x.id = domain::RecordId{r.Text(i, 0)};
  if (auto t = domain::ParseRecordType(r.Text(i, 1)); t.ok()) x.type = *t;
  x.title = r.Text(i, 2);
  x.description = r.Text(i, 3);
  x.department = r.Text(i, 4);
  if (auto c = domain::ParseClassification(r.Text(i, 5)); c.ok()) x.classification = *c;
  x.custodian = r.Text(i, 6);
  x.location = r.Text(i, 7);
  x.metadata_json = r.Text(i, 8);
  x.retention_class = r.Text(i, 9);
  if (auto s = domain::ParseRecordState(r.Text(i, 10)); s.ok()) x.state = *s;
  x.created_at = T(r.Text(i, 11));
  x.created_by = r.Text(i, 12);
  x.updated_at = T(r.Text(i, 13));
  x.salt = r.Text(i, 15);
  return x;
}

// A records row read with kRecordColumns, its seal checked.
StatusOr<domain::Record> SealedRecord(const RowSealer* sealer, const Rows& r, size_t i) {
  return Sealed(sealer, RecordFromRow(r, i), r.Text(i, kRecordMac));
}

Params RecordParams(const domain::Record& x) {
  return {P(x.id.value),
          P(std::string(domain::Name(x.type))),
          P(x.title),
          P(x.description),
          P(x.department),
          P(std::string(domain::Name(x.classification))),
          P(x.custodian),
          P(x.location),
          P(x.metadata_json),
          P(x.retention_class),
          P(std::string(domain::Name(x.state))),
          P(domain::FormatTime(x.created_at)),
          P(x.created_by),
          P(domain::FormatTime(x.updated_at)),
          P(domain::ExpiresOn(x.metadata_json)),
          P(x.salt)};
}

}  // namespace

std::string EscapeLike(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '%' || c == '_' || c == '!') out.push_back('!');
    out.push_back(c);
  }
  return out;
}

namespace {

// The records a write transaction inserted, and the (record, field, file)
// postings written for them since. Such a record had no postings before its
// row (postings are only written for a stored record, and records rows are
// never deleted), so SqlSearchIndex::Replace needs no DELETE for a field's
// first postings. Cleared when a write function is rolled back (which only
// makes Replace delete again).
struct NewRecords {
  std::set<std::string> ids;
  std::set<std::tuple<std::string, std::string, std::string>> indexed;
  void Clear() {
    ids.clear();
    indexed.clear();
  }
};

class SqlRecords final : public RecordRepository {
 public:
  SqlRecords(sql::Connection& s, const SqlDialect& d, bool writable, RowChanges& changes,
             const RowSealer* sealer)
      : s_(s), dialect_(d), writable_(writable), changes_(changes), sealer_(sealer) {}

  void set_new_records(NewRecords* n) { new_records_ = n; }

  StatusOr<uint64_t> NextSequence(domain::RecordType type, int year) override {
    return NextCounter(s_, writable_, std::string(domain::Prefix(type)), year);
  }

  Status Insert(const domain::Record& x) override {
    CUSTOS_ASSIGN_OR_RETURN(auto existing, Find(x.id));
    if (existing) return Conflict("record " + x.id.value + " already exists", "record_exists");
    Params p = RecordParams(x);
    p.push_back(P(SealOf(sealer_, x)));
    CUSTOS_RETURN_IF_ERROR(Exec(s_, writable_,
                                std::string("INSERT INTO records(") + kRecordColumns +
                                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, "
                                    "$16, $17)",
                                p));
    changes_.AddInserted(ImageOf(x, ImageUse::kLog));
    if (new_records_ != nullptr) new_records_->ids.insert(x.id.value);
    return Status::Ok();
  }

  Status Update(const domain::Record& x) override {
    CUSTOS_ASSIGN_OR_RETURN(auto existing, Find(x.id));
    if (!existing) return NotFound("no record " + x.id.value, "record_not_found");
    Params p = RecordParams(x);
    domain::Record stored = x;  // created_at and created_by never change
    stored.created_at = existing->created_at;
    stored.created_by = existing->created_by;
    CUSTOS_RETURN_IF_ERROR(Exec(s_, writable_,
                                "UPDATE records SET type = $1, title = $2, description = $3, department = $4, "
                                "classification = $5, custodian = $6, location = $7, metadata_json = $8, "
                                "retention_class = $9, state = $10, updated_at = $11, expires_on = $12, "
                                "salt = $13, mac = $14 WHERE id = $15",
                                {p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[13], p[14], p[15],
                                 P(SealOf(sealer_, stored)), p[0]}));
    changes_.Add(ImageOf(stored, ImageUse::kLog));
    return Status::Ok();
  }

  StatusOr<std::optional<domain::Record>> Find(const domain::RecordId& id) override {
    CUSTOS_ASSIGN_OR_RETURN(
        Rows r, sql::Query(s_, std::string("SELECT ") + kRecordColumns + " FROM records WHERE id = $1",
                           {P(id.value)}));
    if (r.empty()) return std::optional<domain::Record>();
    CUSTOS_ASSIGN_OR_RETURN(domain::Record x, SealedRecord(sealer_, r, 0));
    return std::optional<domain::Record>(std::move(x));
  }

  StatusOr<domain::RecordPage> Search(const domain::RecordQuery& q) override {
    std::string from = " FROM records";
    std::string where = " WHERE 1 = 1";
    std::string order = "records.created_at DESC, records.id DESC";
    Params params;
    auto add = [&](const std::string& clause, sql::Param p) {
      params.push_back(std::move(p));
      std::string n = "$" + std::to_string(params.size());
      std::string c = clause;
      for (size_t at; (at = c.find("$?")) != std::string::npos;) c.replace(at, 2, n);
      where += " AND " + c;
    };
    bool ids_only = false;  // the match is bounded by q.text_matched_ids alone
    size_t characters = 0;
    for (unsigned char c : q.text) characters += (c & 0xC0) != 0x80;  // UTF-8 code points
    const bool engine_match = !dialect_.text_match_where.empty() && characters >= dialect_.min_text_match_chars;
    if (!q.text.empty() && (!q.text_scan || !q.text_matched_ids.empty())) {
      // The content index has spoken (RecordQuery::text_matched_ids): its
      // records, OR the archive number, OR (while text_scan) the catalogue
      // match below, each as an alternative that keeps the default order.
      std::vector<std::string> alternatives;
      auto param = [&](sql::Param p) {
        params.push_back(std::move(p));
        return "$" + std::to_string(params.size());
      };
      auto bind = [](std::string clause, const std::string& n) {
        for (size_t at; (at = clause.find("$?")) != std::string::npos;) clause.replace(at, 2, n);
        return clause;
      };
      if (q.text_scan && !engine_match) {
        alternatives.push_back(bind(
            "lower(records.id) LIKE $? ESCAPE '!' OR lower(records.title) LIKE $? ESCAPE '!' OR "
            "lower(records.description) LIKE $? ESCAPE '!' OR lower(records.metadata_json) LIKE $? ESCAPE '!'",
            param(P("%" + EscapeLike(Lower(q.text)) + "%"))));
      } else if (MayBeArchiveNumber(q.text)) {
        alternatives.push_back("lower(records.id) LIKE " + param(P("%" + EscapeLike(Lower(q.text)) + "%")) +
                               " ESCAPE '!'");
      }
      if (q.text_scan && engine_match) {
        std::string match = bind(dialect_.text_match_where, param(P(dialect_.text_match_param(q.text))));
        alternatives.push_back(dialect_.text_match_join.empty()
                                   ? match
                                   : "records.rowid IN (SELECT records.rowid FROM records " +
                                         dialect_.text_match_join + " WHERE " + match + ")");
      }
      if (!q.text_matched_ids.empty()) {
        std::string in;
        for (const domain::RecordId& id : q.text_matched_ids) in += (in.empty() ? "" : ", ") + param(P(id.value));
        alternatives.push_back("records.id IN (" + in + ")");
      }
      // The index's ids alone: at most that many rows can match.
      ids_only = alternatives.size() == 1 && !q.text_matched_ids.empty();
      std::string any;
      for (const std::string& a : alternatives) any += (any.empty() ? "(" : " OR (") + a + ")";
      where += " AND (" + (any.empty() ? std::string("1 = 0") : any) + ")";
    } else if (!q.text.empty() && engine_match) {
      if (MayBeArchiveNumber(q.text)) {
        // Archive numbers are not in the full-text index: match them
        // directly too (this reads every id, so only for texts that could
        // be part of one).
        params.push_back(P("%" + EscapeLike(Lower(q.text)) + "%"));
        std::string id_param = "$" + std::to_string(params.size());
        params.push_back(P(dialect_.text_match_param(q.text)));
        std::string match = dialect_.text_match_where;
        for (size_t at; (at = match.find("$?")) != std::string::npos;) {
          match.replace(at, 2, "$" + std::to_string(params.size()));
        }
        if (dialect_.text_match_join.empty()) {
          where += " AND (lower(records.id) LIKE " + id_param + " ESCAPE '!' OR " + match + ")";
        } else {
          where += " AND (lower(records.id) LIKE " + id_param + " ESCAPE '!' OR records.rowid IN (SELECT records.rowid FROM records " +
                   dialect_.text_match_join + " WHERE " + match + "))";
        }
      } else {
        if (!dialect_.text_match_join.empty()) from += " " + dialect_.text_match_join;
        add(dialect_.text_match_where, P(dialect_.text_match_param(q.text)));
        order = dialect_.text_match_order;
      }
    } else if (!q.text.empty()) {
      add("(lower(records.id) LIKE $? ESCAPE '!' OR lower(records.title) LIKE $? ESCAPE '!' OR "
          "lower(records.description) LIKE $? ESCAPE '!' OR lower(records.metadata_json) LIKE $? ESCAPE '!')",
          P("%" + EscapeLike(Lower(q.text)) + "%"));
    }
    if (q.type) add("records.type = $?", P(std::string(domain::Name(*q.type))));
    if (!q.department.empty()) add("records.department = $?", P(q.department));
    if (q.classification) add("records.classification = $?", P(std::string(domain::Name(*q.classification))));
    if (q.state) add("records.state = $?", P(std::string(domain::Name(*q.state))));
    if (q.created_from) add("records.created_at >= $?", P(domain::FormatTime(*q.created_from)));
    if (q.created_to) add("records.created_at <= $?", P(domain::FormatTime(*q.created_to)));
    if (!q.expiring_by.empty()) {
      add("(records.expires_on <> '' AND records.expires_on <= $?)", P(q.expiring_by));
    }
    if (!q.allowed_classifications.empty()) {
      std::string in;
      for (domain::Classification c : q.allowed_classifications) {
        params.push_back(P(std::string(domain::Name(c))));
        in += (in.empty() ? "" : ", ") + std::string("$") + std::to_string(params.size());
      }
      if (q.own_department.empty() || q.own_department_classifications.empty()) {
        where += " AND records.classification IN (" + in + ")";
      } else {
        params.push_back(P(q.own_department));
        std::string own = "records.department = $" + std::to_string(params.size()) +
                          " AND records.classification IN (";
        for (size_t i = 0; i < q.own_department_classifications.size(); ++i) {
          params.push_back(P(std::string(domain::Name(q.own_department_classifications[i]))));
          own += (i ? ", $" : "$") + std::to_string(params.size());
        }
        where += " AND (records.classification IN (" + in + ") OR (" + own + ")))";
      }
    }
    if (!q.sort.empty()) {
      if (!domain::IsRecordSortKey(q.sort)) {
        return InvalidArgument("cannot sort the catalogue by " + q.sort, "invalid_sort");
      }
      order = SortOrder(q.sort, q.descending);
    }
    int page_size = std::clamp(q.page_size, 1, 500);
    int64_t offset = static_cast<int64_t>(std::max(q.page, 1) - 1) * page_size;
    // Matches bounded by the index's ids are counted with the page
    // (COUNT(*) OVER (), one pass over the rows the page sorts); other
    // counts stop past kMaxCountedMatches, since an exact count of a common
    // word's matches in a large catalogue would read all of them.
    const std::string limit = " LIMIT " + std::to_string(page_size) + " OFFSET " + std::to_string(offset);
    std::string statement = "SELECT " + QualifiedRecordColumns() + from + where + " ORDER BY " + order + limit;
    if (ids_only) {
      // The page's ids and the count from narrow rows, then the page's
      // rows by id: the window keeps no more than an id and the sort keys
      // of each match (with every column it was slower than two
      // statements; docs/benchmarks.md).
      statement = "SELECT " + QualifiedRecordColumns() + ", m.total FROM (SELECT records.id AS page_id, " +
                  "COUNT(*) OVER () AS total" + from + where + " ORDER BY " + order + limit +
                  ") AS m JOIN records ON records.id = m.page_id ORDER BY " + order;
    }
    CUSTOS_ASSIGN_OR_RETURN(Rows r, sql::Query(s_, statement, params));
    uint64_t counted = 0;
    if (ids_only && !r.empty()) {
      counted = static_cast<uint64_t>(r.Int(0, kRecordMac + 1));
    } else if (!ids_only || offset > 0) {  // no row of the page to carry the count
      CUSTOS_ASSIGN_OR_RETURN(
          Rows count, sql::Query(s_, "SELECT COUNT(*) FROM (SELECT 1" + from + where + " LIMIT " +
                                         std::to_string(domain::kMaxCountedMatches + 1) + ") AS matches",
                                 params));
      counted = static_cast<uint64_t>(count.Int(0, 0));
    }
    domain::RecordPage page;
    page.total = std::min<uint64_t>(counted, domain::kMaxCountedMatches);
    page.total_exact = counted <= domain::kMaxCountedMatches;
    for (size_t i = 0; i < r.size(); ++i) {
      CUSTOS_ASSIGN_OR_RETURN(domain::Record x, SealedRecord(sealer_, r, i));
      page.records.push_back(std::move(x));
    }
    return page;
  }

  // ORDER BY for RecordQuery::sort: records without a value last in both
  // directions, ties by archive number in the same direction.
  std::string SortOrder(const std::string& key, bool descending) const {
    static const std::map<std::string, std::string> kColumns = {
        {"id", "records.id"},
        {"title", "records.title"},
        {"type", "records.type"},
        {"classification", "records.classification"},
        {"department", "records.department"},
        {"state", "records.state"},
        {"createdAt", "records.created_at"},
        {"updatedAt", "records.updated_at"}};
    const std::string direction = descending ? " DESC" : " ASC";
    const std::string tie = "records.id" + direction;
    auto column = kColumns.find(key);
    if (column != kColumns.end()) {
      return key == "id" ? tie : column->second + direction + ", " + tie;
    }
    const std::string value = dialect_.metadata_value(key);
    const std::string missing = "CASE WHEN " + value + " IS NULL OR " + value + " = '' THEN 1 ELSE 0 END";
    // Amounts are validated decimals (record_service.cc): their numeric value.
    const std::string ordered = key == "amount" ? "CAST(NULLIF(" + value + ", '') AS NUMERIC)" : value;
    return missing + " ASC, " + ordered + direction + ", " + tie;
  }

  Status ForEach(const std::function<Status(const domain::Record&)>& visit) override {
    return ForEachById<domain::Record>(
        s_, kRecordColumns, "records", [this](const Rows& r, size_t i) { return SealedRecord(sealer_, r, i); },
        visit);
  }

  Status AddChange(const domain::RecordId& id, const RecordChange& change) override {
    CUSTOS_ASSIGN_OR_RETURN(Rows r, sql::Query(s_, "SELECT 1 FROM record_changes WHERE log_index = $1",
                                               {P(change.log_index)}));
    if (!r.empty()) {
      return Conflict("log entry " + std::to_string(change.log_index) + " already has its change",
                      "record_change_exists");
    }
    return Exec(s_, writable_,
                "INSERT INTO record_changes(record_id, log_index, before_json, after_json) "
                "VALUES ($1, $2, $3, $4)",
                {P(id.value), P(change.log_index), P(change.before_json), P(change.after_json)});
  }

  StatusOr<std::vector<RecordChange>> Changes(const domain::RecordId& id) override {
    CUSTOS_ASSIGN_OR_RETURN(
        Rows r, sql::Query(s_, "SELECT log_index, before_json, after_json FROM record_changes "
                               "WHERE record_id = $1 ORDER BY log_index",
                           {P(id.value)}));
    std::vector<RecordChange> out;
    for (size_t i = 0; i < r.size(); ++i) {
      out.push_back({static_cast<uint64_t>(r.Int(i, 0)), r.Text(i, 1), r.Text(i, 2)});
    }
    return out;
  }

  StatusOr<std::vector<domain::RecordId>> Unsalted() override {
    CUSTOS_ASSIGN_OR_RETURN(Rows r, sql::Query(s_, "SELECT id FROM records WHERE salt = '' AND state <> $1 ORDER BY id",
                                               {P(std::string(domain::Name(domain::RecordState::kDestroyed)))}));
    std::vector<domain::RecordId> out;
    for (size_t i = 0; i < r.size(); ++i) out.push_back(domain::RecordId{r.Text(i, 0)});
    return out;
  }

  StatusOr<uint64_t> DeleteChanges(const domain::RecordId& id) override {
    CUSTOS_ASSIGN_OR_RETURN(
        Rows r, sql::Query(s_, "SELECT COUNT(*) FROM record_changes WHERE record_id = $1", {P(id.value)}));
    CUSTOS_RETURN_IF_ERROR(
        Exec(s_, writable_, "DELETE FROM record_changes WHERE record_id = $1", {P(id.value)}));
    return static_cast<uint64_t>(r.Int(0, 0));
  }

 private:
  static std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  sql::Connection& s_;
  const SqlDialect& dialect_;
  const bool writable_;  // false in Read(): every write is refused
  RowChanges& changes_;  // the transaction's; kLog images of the rows written
  const RowSealer* const sealer_;  // null: rows are neither sealed nor checked
  NewRecords* new_records_ = nullptr;  // the write transaction's
};

// ------------------------------------------------------------ versions, files
constexpr const char* kFileColumns =
    "id, record_id, version, name, media_type, size, sha256, sm3, blob_id, kek_id, wrapped_dek, "
    "sig_status, sig_signer, sig_time, sig_reason, mac";
constexpr size_t kFileMac = 15;  // the index of mac in kFileColumns

domain::StoredFile FileFromRow(const Rows& r, size_t i) {
  domain::StoredFile f;
  f.id = domain::FileId{r.Text(i, 0)};
  f.record_id = domain::RecordId{r.Text(i, 1)};
  f.version = static_cast<int>(r.Int(i, 2));
  f.name = r.Text(i, 3);
  f.media_type = r.Text(i, 4);
  f.size = static_cast<uint64_t>(r.Int(i, 5));
  f.sha256 = r.Text(i, 6);
  f.sm3 = r.Text(i, 7);
  f.blob_id = domain::BlobId{r.Text(i, 8)};
  f.kek_id = r.Text(i, 9);
  f.wrapped_dek = r.Bytes(i, 10);
  f.signature.status = r.Text(i, 11);
  f.signature.signer = r.Text(i, 12);
  std::string t = r.Text(i, 13);
  if (!t.empty()) f.signature.signing_time = T(t);
  f.signature.reason = r.Text(i, 14);
  return f;
}

// A files row read with kFileColumns, its seal checked.
StatusOr<domain::StoredFile> SealedFile(const RowSealer* sealer, const Rows& r, size_t i) {
  return Sealed(sealer, FileFromRow(r, i), r.Text(i, kFileMac));
}

// The columns record_id … log_index of a versions row (in that order).
domain::Version VersionFromRow(const Rows& r, size_t i);

class SqlVersions final : public VersionRepository {
 public:
  SqlVersions(sql::Connection& s, bool writable, RowChanges& changes, const RowSealer* sealer)
      : s_(s), writable_(writable), changes_(changes), sealer_(sealer) {}

  Status Insert(const domain::Version& v) override {
    CUSTOS_ASSIGN_OR_RETURN(Rows rec, sql::Query(s_, "SELECT 1 FROM records WHERE id = $1",
                                                 {P(v.record_id.value)}));
    if (rec.empty()) return NotFound("no record " + v.record_id.value, "record_not_found");
    CUSTOS_ASSIGN_OR_RETURN(auto existing, Find(v.record_id, v.number));
    if (existing) {
      return Conflict("version " + std::to_string(v.number) + " of " + v.record_id.value +
                          " already exists",
                      "version_exists");
    }
    CUSTOS_RETURN_IF_ERROR(Exec(
        s_, writable_,
        "INSERT INTO versions(record_id, number, kind, note, created_at, created_by, "
        "manifest_hash, prev_manifest_hash, log_index, mac) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        {P(v.record_id.value), P(v.number), P(std::string(domain::Name(v.kind))), P(v.note),
         P(domain::FormatTime(v.created_at)), P(v.created_by), P(v.manifest_hash), P(v.prev_manifest_hash),
         P(v.log_index), P(SealOf(sealer_, v))}));
    changes_.AddInserted(ImageOf(v, ImageUse::kLog));
    int position = 0;
    for (const domain::StoredFile& f : v.files) {
      domain::StoredFile stored = f;
      stored.record_id = v.record_id;
      stored.version = v.number;
      CUSTOS_RETURN_IF_ERROR(Exec(
          s_, writable_,
          std::string("INSERT INTO files(") + kFileColumns +
              ", position) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
              "$15, $16, $17)",
          {P(f.id.value), P(v.record_id.value), P(v.number), P(f.name), P(f.media_type),
           P(f.size), P(f.sha256), P(f.sm3), P(f.blob_id.value), P(f.kek_id), P(f.wrapped_dek),
           P(f.signature.status), P(f.signature.signer),
           P(f.signature.signing_time ? domain::FormatTime(*f.signature.signing_time) : std::string()),
           P(f.signature.reason), P(SealOf(sealer_, stored)), P(position++)}));
      changes_.AddInserted(ImageOf(stored, ImageUse::kLog));
    }
    return Status::Ok();
  }

  StatusOr<std::vector<domain::Version>> List(const domain::RecordId& id) override {
    return Load(id, std::nullopt);
  }

  StatusOr<std::optional<domain::Version>> Find(const domain::RecordId& id, int number) override {
    CUSTOS_ASSIGN_OR_RETURN(std::vector<domain::Version> v, Load(id, number));
    if (v.empty()) return std::optional<domain::Version>();
    return std::optional<domain::Version>(std::move(v.front()));
  }

  Status SetFileKey(const domain::FileId& id, const std::string& kek_id,
                    const std::vector<uint8_t>& wrapped_dek) override {
    CUSTOS_ASSIGN_OR_RETURN(Rows r, sql::Query(s_,
                                               std::string("SELECT ") + kFileColumns + " FROM files WHERE id = $1",
                                               {P(id.value)}));
    if (r.empty()) return NotFound("no file " + id.value, "file_not_found");
    CUSTOS_ASSIGN_OR_RETURN(domain::StoredFile stored, SealedFile(sealer_, r, 0));
    const bool had_key = !stored.wrapped_dek.empty();
    stored.kek_id = kek_id;
    stored.wrapped_dek = wrapped_dek;
    CUSTOS_RETURN_IF_ERROR(Exec(s_, writable_, "UPDATE files SET kek_id = $1, wrapped_dek = $2, mac = $3 WHERE id = $4",
                                {P(kek_id), P(wrapped_dek), P(SealOf(sealer_, stored)), P(id.value)}));
    // The kLog image names only the key's presence: a rewrap changes nothing.
    if (had_key != !wrapped_dek.empty()) changes_.Add(ImageOf(stored, ImageUse::kLog));
    return Status::Ok();
  }

  Status ForEachFile(const std::function<Status(const domain::StoredFile&)>& visit) override {
    return ForEachById<domain::StoredFile>(
        s_, kFileColumns, "files", [this](const Rows& r, size_t i) { return SealedFile(sealer_, r, i); }, visit);
  }

  StatusOr<bool> BlobReferenced(const domain::BlobId& id) override {
    CUSTOS_ASSIGN_OR_RETURN(Rows r, sql::Query(s_, "SELECT 1 FROM files WHERE blob_id = $1",
                                               {P(id.value)}));
    return !r.empty();
  }

 private:
  StatusOr<std::vector<domain::Version>> Load(const domain::RecordId& id, std::optional<int> number) {
    Params p = {P(id.value)};
    std::string filter;
    if (number) {
      p.push_back(P(*number));
      filter = " AND number = $2";
    }
    CUSTOS_ASSIGN_OR_RETURN(
        Rows r, sql::Query(s_,
                           "SELECT record_id, number, kind, note, created_at, created_by, "
                           "manifest_hash, prev_manifest_hash, log_index, mac FROM versions "
                           "WHERE record_id = $1" + filter + " ORDER BY number",
                           p));
    std::vector<domain::Version> out;
    for (size_t i = 0; i < r.size(); ++i) {
      domain::Version v = VersionFromRow(r, i);
      CUSTOS_ASSIGN_OR_RETURN(v, Sealed(sealer_, std::move(v), r.Text(i, 9)));
      out.push_back(std::move(v));
    }
    if (out.empty()) return out;
    CUSTOS_ASSIGN_OR_RETURN(
        Rows f, sql::Query(s_,
                           std::string("SELECT ") + kFileColumns +
                               " FROM files WHERE record_id = $1" +
                               (number ? " AND version = $2" : "") + " ORDER BY version, position",
                           p));
    for (size_t i = 0; i < f.size(); ++i) {
      CUSTOS_ASSIGN_OR_RETURN(domain::StoredFile file, SealedFile(sealer_, f, i));
      for (domain::Version& v : out) {
        if (v.number == file.version) v.files.push_back(file);
      }
    }
    return out;
  }

  sql::Connection& s_;
  const bool writable_;  // false in Read(): every write is refused
  RowChanges& changes_;  // the transaction's; kLog images of the rows written
  const RowSealer* const sealer_;  // null: rows are neither sealed nor checked
};

// ------------------------------------------------------------------------ log
// ------------------------------------------------------------------ documents
constexpr const char* kDocumentColumns =
    "kind, id, subject, owner, state, due_at, created_at, updated_at, body, mac";
constexpr size_t kDocumentMac = 9;  // the index of mac in kDocumentColumns

Document DocumentFromRow(const Rows& r, size_t i) {
  Document d;
  d.kind = r.Text(i, 0);
  d.id = r.Text(i, 1);
  d.subject = r.Text(i, 2);
  d.owner = r.Text(i, 3);
  d.state = r.Text(i, 4);
  if (std::string due = r.Text(i, 5); !due.empty()) d.due_at = T(due);
  d.created_at = T(r.Text(i, 6));
  d.updated_at = T(r.Text(i, 7));
  d.body = r.Text(i, 8);
  return d;
}

// A documents row read with kDocumentColumns, its seal checked.
StatusOr<Document> SealedDocument(const RowSealer* sealer, const Rows& r, size_t i) {
  return Sealed(sealer, DocumentFromRow(r, i), r.Text(i, kDocumentMac));
}

class SqlDocuments final : public DocumentRepository {
 public:
  SqlDocuments(sql::Connection& s, bool writable, RowChanges& changes, const RowSealer* sealer)
      : s_(s), writable_(writable), changes_(changes), sealer_(sealer) {}

  Status Insert(const Document& d) override {
    CUSTOS_ASSIGN_OR_RETURN(auto existing, Find(d.kind, d.id));
    if (existing) return Conflict(d.kind + " " + d.id + " already exists", "document_exists");
    CUSTOS_RETURN_IF_ERROR(Exec(s_, writable_,
                                std::string("INSERT INTO documents(") + kDocumentColumns +
                                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                                {P(d.kind), P(d.id), P(d.subject), P(d.owner), P(d.state),
                                 P(d.due_at ? domain::FormatTime(*d.due_at) : std::string()),
                                 P(domain::FormatTime(d.created_at)), P(domain::FormatTime(d.updated_at)), P(d.body),
                                 P(SealOf(sealer_, d))}));
    changes_.AddInserted(ImageOf(d, ImageUse::kLog));
    return Status::Ok();
  }

  Status Update(const Document& d) override {
    CUSTOS_ASSIGN_OR_RETURN(auto existing, Find(d.kind, d.id));
    if (!existing) return NotFound("no " + d.kind + " " + d.id, "document_not_found");
    Document stored = d;
    stored.created_at = existing->created_at;  // never changes
    CUSTOS_RETURN_IF_ERROR(Exec(s_, writable_,
                                "UPDATE documents SET subject = $1, owner = $2, state = $3, due_at = $4, "
                                "updated_at = $5, body = $6, mac = $7 WHERE kind = $8 AND id = $9",
                                {P(d.subject), P(d.owner), P(d.state),
                                 P(d.due_at ? domain::FormatTime(*d.due_at) : std::string()),
                                 P(domain::FormatTime(d.updated_at)), P(d.body), P(SealOf(sealer_, stored)),
                                 P(d.kind), P(d.id)}));
    changes_.Add(ImageOf(stored, ImageUse::kLog));
    return Status::Ok();
  }

  StatusOr<std::optional<Document>> Find(const std::string& kind, const std::string& id) override {
    CUSTOS_ASSIGN_OR_RETURN(
        Rows r, sql::Query(s_,
                           std::string("SELECT ") + kDocumentColumns +
                               " FROM documents WHERE kind = $1 AND id = $2",
                           {P(kind), P(id)}));
    if (r.empty()) return std::optional<Document>();
    CUSTOS_ASSIGN_OR_RETURN(Document d, SealedDocument(sealer_, r, 0));
    return std::optional<Document>(std::move(d));
  }

  StatusOr<std::vector<Document>> List(const DocumentQuery& q) override {
    Params params{P(q.kind), P(q.after_id)};
    std::string where = " WHERE kind = $1 AND id > $2";
    auto add = [&](const std::string& column_op, sql::Param p) {
      params.push_back(std::move(p));
      where += " AND " + column_op + " $" + std::to_string(params.size());
    };
    if (!q.states.empty()) {
      where += " AND state IN (";
      for (size_t i = 0; i < q.states.size(); ++i) {
        params.push_back(P(q.states[i]));
        where += (i ? ", $" : "$") + std::to_string(params.size());
      }
      where += ")";
    }
    if (!q.subject.empty()) add("subject =", P(q.subject));
    if (!q.owner.empty()) add("owner =", P(q.owner));
    if (q.due_before) {
      where += " AND due_at <> ''";
      add("due_at <", P(domain::FormatTime(*q.due_before)));
    }
    if (q.created_from) add("created_at >=", P(domain::FormatTime(*q.created_from)));
    if (q.created_to) add("created_at <=", P(domain::FormatTime(*q.created_to)));
    size_t limit = std::min(q.limit, kMaxRows);
    CUSTOS_ASSIGN_OR_RETURN(Rows r, sql::Query(s_,
                                               std::string("SELECT ") + kDocumentColumns +
                                                   " FROM documents" + where + " ORDER BY id LIMIT " +
                                                   std::to_string(limit),
                                               params));
    std::vector<Document> out;
    out.reserve(r.size());
    for (size_t i = 0; i < r.size(); ++i) {
      CUSTOS_ASSIGN_OR_RETURN(Document d, SealedDocument(sealer_, r, i));
      out.push_back(std::move(d));
    }
    return out;
  }

  StatusOr<uint64_t> NextNumber(const std::string& prefix, int year) override {
    return NextCounter(s_, writable_, prefix, year);
  }

 private:
  sql::Connection& s_;
  const bool writable_;  // false in Read(): every write is refused
  RowChanges& changes_;  // the transaction's; kLog images of the rows written
  const RowSealer* const sealer_;  // null: rows are neither sealed nor checked
};

// -------------------------------------------------------------------- exports
constexpr const char* kExportColumns =
    "id, owner, format, created_at, expires_at, blob_id, file_id, size, sha256, kek_id, "
    "wrapped_dek, shredded_by, summary, mac";
constexpr size_t kExportMac = 13;  // the index of mac in kExportColumns

StoredExport ExportFromRow(const Rows& r, size_t i) {
  StoredExport e;
  e.id = r.Text(i, 0);
  e.owner = r.Text(i, 1);
  e.format = r.Text(i, 2);
  e.created_at = T(r.Text(i, 3));
  e.expires_at = T(r.Text(i, 4));
  e.blob_id = domain::BlobId{r.Text(i, 5)};
  e.file_id = domain::FileId{r.Text(i, 6)};
  e.size = static_cast<uint64_t>(r.Int(i, 7));
  e.sha256 = r.Text(i, 8);
  e.kek_id = r.Text(i, 9);
  e.wrapped_dek = r.Bytes(i, 10);
  e.shredded_by = r.Text(i, 11);
  e.summary = r.Text(i, 12);
  return e;
}

// The export's records in the order of their ids' bytes (whatever the
// engine's collation), the order its image lists them in.
void SortExportRecords(StoredExport& e) {
  std::sort(e.records.begin(), e.records.end(),
            [](const ExportedRecord& a, const ExportedRecord& b) { return a.id.value < b.id.value; });
}

// Reads the export's records (export_records) into `e`.
Status LoadExportRecords(sql::Connection& s, StoredExport& e) {
  CUSTOS_ASSIGN_OR_RETURN(Rows rec, sql::Query(s, "SELECT record_id, content FROM export_records WHERE export_id = $1",
                                               {P(e.id)}));
  for (size_t k = 0; k < rec.size(); ++k) {
    e.records.push_back({domain::RecordId{rec.Text(k, 0)}, rec.Int(k, 1) != 0});
  }
  SortExportRecords(e);
  return Status::Ok();
}

class SqlExports final : public ExportRepository {
 public:
  SqlExports(sql::Connection& s, bool writable, RowChanges& changes, const RowSealer* sealer)
      : s_(s), writable_(writable), changes_(changes), sealer_(sealer) {}

  Status Insert(const StoredExport& e) override {
    CUSTOS_ASSIGN_OR_RETURN(auto existing, Find(e.id));
    if (existing) return Conflict("export " + e.id + " already exists", "export_exists");
    StoredExport stored = e;  // as Load returns it: records in id order
    SortExportRecords(stored);
    CUSTOS_RETURN_IF_ERROR(Exec(
        s_, writable_,
        std::string("INSERT INTO exports(") + kExportColumns +
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        {P(e.id), P(e.owner), P(e.format), P(domain::FormatTime(e.created_at)), P(domain::FormatTime(e.expires_at)),
         P(e.blob_id.value), P(e.file_id.value), P(e.size), P(e.sha256), P(e.kek_id), P(e.wrapped_dek),
         P(e.shredded_by), P(e.summary), P(SealOf(sealer_, stored))}));
    for (const ExportedRecord& r : e.records) {
      CUSTOS_RETURN_IF_ERROR(Exec(s_, writable_,
                                  "INSERT INTO export_records(export_id, record_id, content) "
                                  "VALUES ($1, $2, $3)",
                                  {P(e.id), P(r.id.value), P(static_cast<int64_t>(r.content ? 1 : 0))}));
    }
    changes_.AddInserted(ImageOf(stored, ImageUse::kLog));
    return Status::Ok();
  }

  StatusOr<std::optional<StoredExport>> Find(const std::string& id) override {
    CUSTOS_ASSIGN_OR_RETURN(std::vector<StoredExport> v, Load(" WHERE id = $1", {P(id)}));
    if (v.empty()) return std::optional<StoredExport>();
    return std::optional<StoredExport>(std::move(v.front()));
  }

  StatusOr<std::vector<StoredExport>> List() override { return Load("", {}); }

  StatusOr<std::vector<StoredExport>> Naming(const domain::RecordId& record) override {
    return Load(" WHERE id IN (SELECT export_id FROM export_records WHERE record_id = $1)",
                {P(record.value)});
  }

  Status Shred(const std::string& id, const std::string& by) override {
    if (!writable_) return ReadOnly("a write");
    CUSTOS_ASSIGN_OR_RETURN(auto stored, Find(id));  // checked: the new seal vouches for it all
    if (!stored) return NotFound("no export " + id, "export_not_found");
    stored->kek_id.clear();
    stored->wrapped_dek.clear();
    stored->shredded_by = by;
    stored->summary = "{}";
    CUSTOS_RETURN_IF_ERROR(Exec(s_, writable_,
                                "UPDATE exports SET kek_id = '', wrapped_dek = $1, shredded_by = $2, summary = '{}', "
                                "mac = $3 WHERE id = $4",
                                {P(std::vector<uint8_t>()), P(by), P(SealOf(sealer_, *stored)), P(id)}));
    changes_.Add(ImageOf(*stored, ImageUse::kLog));
    return Status::Ok();
  }

  Status Delete(const std::string& id) override {
    CUSTOS_RETURN_IF_ERROR(MustExist(id));
    CUSTOS_RETURN_IF_ERROR(Exec(s_, writable_, "DELETE FROM export_records WHERE export_id = $1", {P(id)}));
    CUSTOS_RETURN_IF_ERROR(Exec(s_, writable_, "DELETE FROM exports WHERE id = $1", {P(id)}));
    changes_.Add(DeletedImage("exports", id));
    return Status::Ok();
  }

  StatusOr<bool> BlobReferenced(const domain::BlobId& id) override {
    CUSTOS_ASSIGN_OR_RETURN(Rows r, sql::Query(s_, "SELECT wrapped_dek FROM exports WHERE blob_id = $1",
                                               {P(id.value)}));
    return !r.empty() && !r.Bytes(0, 0).empty();
  }

 private:
  Status MustExist(const std::string& id) {
    CUSTOS_ASSIGN_OR_RETURN(Rows r, sql::Query(s_, "SELECT 1 FROM exports WHERE id = $1", {P(id)}));
    if (r.empty()) return NotFound("no export " + id, "export_not_found");
    return Status::Ok();
  }

  StatusOr<std::vector<StoredExport>> Load(const std::string& where, const Params& params) {
    CUSTOS_ASSIGN_OR_RETURN(Rows r, sql::Query(s_,
                                               std::string("SELECT ") + kExportColumns + " FROM exports" +
                                                   where + " ORDER BY id",
                                               params));
    std::vector<StoredExport> out;
    out.reserve(r.size());
    for (size_t i = 0; i < r.size(); ++i) {
      StoredExport e = ExportFromRow(r, i);
      CUSTOS_RETURN_IF_ERROR(LoadExportRecords(s_, e));
      CUSTOS_ASSIGN_OR_RETURN(e, Sealed(sealer_, std::move(e), r.Text(i, kExportMac)));
      out.push_back(std::move(e));
    }
    return out;
  }

  sql::Connection& s_;
  const bool writable_;  // false in Read(): every write is refused
  RowChanges& changes_;  // the transaction's; kLog images of the rows written
  const RowSealer* const sealer_;  // null: rows are neither sealed nor checked
};

class SqlNodeReader final : public crypto::merkle::NodeReader {
 public:
  // `cache`, if set, serves the nodes it holds and keeps those read that it
  // may hold (read-only transactions only: LogNodeCache).
  explicit SqlNodeReader(sql::Connection& s, LogNodeCache* cache = nullptr) : s_(s), cache_(cache) {}
  StatusOr<crypto::Digest32> Node(crypto::merkle::NodeId id) override {
    CUSTOS_ASSIGN_OR_RETURN(auto v, Nodes({id}));
    return v.front();
  }
  StatusOr<std::vector<crypto::Digest32>> Nodes(
      const std::vector<crypto::merkle::NodeId>& ids) override {
    std::vector<crypto::Digest32> out(ids.size());
    if (ids.empty()) return out;
    std::vector<bool> found(ids.size(), false);
    if (cache_ != nullptr) cache_->Get(ids, out, found);
    std::string where;
    Params p;
    for (size_t k = 0; k < ids.size(); ++k) {
      if (found[k]) continue;
      const auto& id = ids[k];
      p.push_back(P(static_cast<int64_t>(id.level)));
      p.push_back(P(id.index));
      where += (where.empty() ? "" : " OR ") + std::string("(level = $") +
               std::to_string(p.size() - 1) + " AND idx = $" + std::to_string(p.size()) + ")";
    }
    if (where.empty()) return out;  // all from the cache
    CUSTOS_ASSIGN_OR_RETURN(Rows r, sql::Query(s_, "SELECT level, idx, hash FROM log_nodes WHERE " + where, p));
    std::vector<std::pair<crypto::merkle::NodeId, crypto::Digest32>> keep;
    for (size_t i = 0; i < r.size(); ++i) {
      uint32_t level = static_cast<uint32_t>(r.Int(i, 0));
      uint64_t index = static_cast<uint64_t>(r.Int(i, 1));
      CUSTOS_ASSIGN_OR_RETURN(crypto::Digest32 h, sql::ToDigest(r.Bytes(i, 2)));
      for (size_t k = 0; k < ids.size(); ++k) {
        if (!found[k] && ids[k].level == level && ids[k].index == index) {
          out[k] = h;
          found[k] = true;
          if (cache_ != nullptr && LogNodeCache::Holds(ids[k])) keep.emplace_back(ids[k], h);
        }
      }
    }
    for (size_t k = 0; k < ids.size(); ++k) {
      if (!found[k]) {
        return DataLoss("log node (" + std::to_string(ids[k].level) + ", " +
                            std::to_string(ids[k].index) + ") is missing",
                        "log_node_missing");
      }
    }
    if (!keep.empty()) cache_->Put(keep);
    return out;
  }

 private:
  sql::Connection& s_;
  LogNodeCache* const cache_;
};

StatusOr<uint64_t> StoredLogSize(sql::Connection& s) {
  CUSTOS_ASSIGN_OR_RETURN(Rows r, sql::Query(s, "SELECT COALESCE(MAX(seq) + 1, 0) FROM log_leaves"));
  return static_cast<uint64_t>(r.Int(0, 0));
}

// A signature line naming `name`: "— <name> <base64>\n", nothing more.
bool IsSignatureLineOf(const std::string& line, const std::string& name) {
  const std::string head = "\xe2\x80\x94 " + name + " ";
  if (name.empty() || line.size() <= head.size() + 1 || line.compare(0, head.size(), head) != 0 ||
      line.back() != '\n') {
    return false;
  }
  for (size_t i = head.size(); i + 1 < line.size(); ++i) {
    const char c = line[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=')) return false;
  }
  return true;
}

}  // namespace

std::string AttestedNote(const StoredCheckpoint& checkpoint, std::vector<CheckpointSignature> signatures) {
  std::stable_sort(signatures.begin(), signatures.end(), [](const auto& a, const auto& b) {
    const bool ac = a.kind == kCosignatureKind, bc = b.kind == kCosignatureKind;
    if (ac != bc) return ac;
    return a.name < b.name;
  });
  std::string out = checkpoint.note;
  for (const CheckpointSignature& s : signatures) {
    if (s.size == checkpoint.size) out += s.line;
  }
  return out;
}

namespace {

class SqlLog final : public LogRepository {
 public:
  SqlLog(sql::Connection& s, LogTail* tail, RowChanges& changes, bool rowid_order, LogNodeCache* node_cache)
      : s_(s),
        tail_(tail),
        changes_(changes),
        rowid_order_(rowid_order),
        node_cache_(tail == nullptr ? node_cache : nullptr) {}

  // The event stays open (not yet encoded) until the next Append, a read
  // of the log or the end of the write function: the row images the
  // function adds meanwhile ride on it (CloseOpen). Its index is known now.
  StatusOr<uint64_t> Append(const LogEvent& event) override {
    if (tail_ == nullptr) return Internal("log append in a read-only transaction");
    CUSTOS_RETURN_IF_ERROR(CloseOpen());
    open_ = event;
    last_at_ = event.at;
    return tail_->range.size();
  }

  // The end of a write function: the open event takes the images left;
  // images without an event go on state.rows events; then Flush.
  Status Finish() {
    if (tail_ == nullptr) return Status::Ok();
    Status s = CloseOpen();
    if (s.ok() && !changes_.empty()) {
      const domain::Time at =
          last_at_ ? *last_at_ : domain::TruncateToMillis(std::chrono::system_clock::now());
      for (const std::vector<RowImage>& chunk : ChunkImages(changes_.Take())) {
        s = Emit(StateRowsEvent(chunk, at));
        if (!s.ok()) break;
      }
    }
    last_at_.reset();
    if (!s.ok()) {
      Discard();
      return s;
    }
    return Flush();
  }

  // Writes the buffered leaves and nodes, closing the open event first
  // (with the images added so far).
  Status Flush() {
    if (Status closed = CloseOpen(); !closed.ok()) {
      Discard();
      return closed;
    }
    return FlushRowsOnly();
  }

  // Writes the buffered leaves and nodes.
  Status FlushRowsOnly() {
    Status s = FlushRows(pending_leaves_, "INSERT INTO log_leaves(seq, leaf, subject) VALUES ",
                         [](const PendingLeaf& l, Params& p) {
                           p.push_back(P(l.seq));
                           p.push_back(P(l.leaf));
                           p.push_back(P(l.subject));
                         });
    if (s.ok()) {
      s = FlushRows(pending_nodes_, "INSERT INTO log_nodes(level, idx, hash) VALUES ",
                    [](const PendingNode& n, Params& p) {
                      p.push_back(P(static_cast<int64_t>(n.level)));
                      p.push_back(P(n.index));
                      p.push_back(P(n.hash));
                    });
    }
    if (!s.ok()) Discard();
    return s;
  }

  void Discard() {
    open_.reset();
    last_at_.reset();
    pending_leaves_.clear();
    pending_nodes_.clear();
  }

  StatusOr<uint64_t> Size() override {
    if (tail_ != nullptr) return tail_->range.size() + (open_ ? 1 : 0);
    // A read transaction reads one snapshot (REPEATABLE READ on PostgreSQL,
    // one read transaction on SQLite): its log size is read once.
    if (!read_size_) {
      CUSTOS_ASSIGN_OR_RETURN(uint64_t size, StoredLogSize(s_));
      read_size_ = size;
    }
    return *read_size_;
  }

  StatusOr<std::vector<LogEntry>> Entries(uint64_t start, uint64_t end, size_t limit) override {
    CUSTOS_RETURN_IF_ERROR(Flush());
    CUSTOS_ASSIGN_OR_RETURN(uint64_t size, Size());
    end = std::min(end, size);
    limit = std::min<size_t>(limit, kMaxRows);
    if (start >= end || limit == 0) return std::vector<LogEntry>();
    // Indexes are dense, so [start, start + limit) holds the page. Bounding
    // the range (not just LIMIT) matters: the engine may walk the level-0
    // nodes of the whole range before sorting, which made each page of a
    // 10-million-entry log cost the rest of the log. Both sides get the
    // bounds: PostgreSQL's generic plan for this prepared statement hashed
    // every level-0 node otherwise.
    end = std::min<uint64_t>(end, start + limit);
    CUSTOS_ASSIGN_OR_RETURN(Rows r, sql::Query(s_, kEntriesInRange, {P(start), P(end)}));
    return EntriesFromRows(r);
  }

  Status ScanEntries(uint64_t start, uint64_t end, size_t limit,
                     const std::function<Status(const LogEntryView&)>& visit) override {
    CUSTOS_RETURN_IF_ERROR(Flush());
    CUSTOS_ASSIGN_OR_RETURN(uint64_t size, Size());
    end = std::min(end, size);
    limit = std::min<size_t>(limit, kMaxRows);
    if (start >= end || limit == 0) return Status::Ok();
    end = std::min<uint64_t>(end, start + limit);  // as in Entries
    if (rowid_order_) {
      CUSTOS_ASSIGN_OR_RETURN(uint64_t visited, ScanEntriesInRowidOrder(start, end, visit));
      start += visited;
      if (start >= end) return Status::Ok();
    }
    return s_.Scan(kEntriesInRange, {P(start), P(end)}, [&](const sql::RowView& row) -> Status {
      LogEntryView e;
      e.index = static_cast<uint64_t>(row.Int(0));
      e.leaf = row.Bytes(1);
      CUSTOS_ASSIGN_OR_RETURN(e.leaf_hash, DigestOf(row.Bytes(2)));
      e.subject = row.Bytes(3);
      return visit(e);
    });
  }

  // SQLite (SqlDialect::log_rowid_order): ScanEntries' rows read in rowid
  // order, without a seek through each table's key per row. The level-0
  // nodes of [start, end) are read first, in a window of log_nodes that
  // also holds the interior nodes their appends completed (kept for
  // ScanNodesAtLevel: KeepInterior); unless the level-0 ones are exactly
  // the nodes start, start+1, … (integer indexes, 32-byte hashes), nothing
  // is visited. Then the leaves are visited while they come as entries
  // start, start+1, …; the first row out of that order ends it. Returns
  // how many entries it visited; ScanEntries reads the rest through the
  // indexed join. An entry visited here is the one row with its seq and
  // has its level-0 node, so the whole walk visits what the join alone
  // would; a log whose rows were deleted, moved or altered only costs the
  // join more of the walk. (NOT INDEXED: otherwise SQLite walks log_nodes'
  // key for level 0 and sorts the whole level by rowid for every page.)
  StatusOr<uint64_t> ScanEntriesInRowidOrder(uint64_t start, uint64_t end,
                                             const std::function<Status(const LogEntryView&)>& visit) {
    const uint64_t n = end - start;
    CUSTOS_ASSIGN_OR_RETURN(Rows first_node,
                            sql::Query(s_, "SELECT rowid FROM log_nodes WHERE level = 0 AND idx = $1", {P(start)}));
    if (first_node.size() != 1) return uint64_t{0};
    // The window ends before the next page's first level-0 node, so it
    // holds the interior nodes this page's appends completed as well.
    CUSTOS_ASSIGN_OR_RETURN(Rows next_node,
                            sql::Query(s_, "SELECT rowid FROM log_nodes WHERE level = 0 AND idx = $1", {P(end)}));
    const int64_t window_end = next_node.size() == 1 ? next_node.Int(0, 0) : INT64_MAX;
    const bool keep_interior = tail_ == nullptr;  // a read snapshot: they are still there when asked for
    level0_.clear();
    bool in_order = true;
    CUSTOS_RETURN_IF_ERROR(s_.Scan(
        "SELECT level, idx, hash, typeof(level) = 'integer' AND typeof(idx) = 'integer' FROM log_nodes NOT INDEXED "
        "WHERE rowid >= $1 AND rowid < $2 ORDER BY rowid LIMIT $3",
        {P(first_node.Int(0, 0)), P(window_end), P(4 * n)}, [&](const sql::RowView& row) -> Status {
          const int64_t level = row.Int(0);
          const uint64_t idx = static_cast<uint64_t>(row.Int(1));
          const std::string_view hash = row.Bytes(2);
          const bool well_formed = row.Int(3) == 1 && hash.size() == crypto::Digest32().size();
          if (level != 0) {
            if (keep_interior && well_formed && level > 0 && level <= kMaxInteriorLevel) KeepInterior(level, idx, hash);
            return Status::Ok();
          }
          if (!in_order || !well_formed || idx != start + level0_.size()) {
            in_order = false;
            return Status::Ok();
          }
          level0_.emplace_back();
          std::memcpy(level0_.back().data(), hash.data(), hash.size());
          return Status::Ok();
        }));
    if (!in_order || level0_.size() != n) return uint64_t{0};
    CUSTOS_ASSIGN_OR_RETURN(Rows first_leaf, sql::Query(s_, "SELECT rowid FROM log_leaves WHERE seq = $1", {P(start)}));
    if (first_leaf.size() != 1) return uint64_t{0};
    uint64_t visited = 0;
    in_order = true;
    CUSTOS_RETURN_IF_ERROR(s_.Scan(
        "SELECT seq, leaf, subject, typeof(seq) = 'integer' FROM log_leaves NOT INDEXED WHERE rowid >= $1 "
        "ORDER BY rowid LIMIT $2",
        {P(first_leaf.Int(0, 0)), P(n)}, [&](const sql::RowView& row) -> Status {
          if (!in_order || row.Int(3) != 1 || static_cast<uint64_t>(row.Int(0)) != start + visited) {
            in_order = false;
            return Status::Ok();
          }
          LogEntryView e;
          e.index = start + visited;
          e.leaf = row.Bytes(1);
          e.leaf_hash = level0_[visited];
          e.subject = row.Bytes(2);
          ++visited;
          return visit(e);
        }));
    return visited;
  }

  // Appends an interior node met in a window of ScanEntriesInRowidOrder to
  // its level's run of consecutive indexes (a node out of sequence starts
  // the run anew).
  void KeepInterior(int64_t level, uint64_t idx, std::string_view hash) {
    if (runs_.size() <= static_cast<size_t>(level)) runs_.resize(static_cast<size_t>(level) + 1);
    NodeRun& run = runs_[static_cast<size_t>(level)];
    if (run.hashes.empty() || idx != run.first + run.hashes.size()) {
      run.first = idx;
      run.hashes.clear();
    }
    if (run.hashes.size() >= kMaxRunNodes) return;
    run.hashes.emplace_back();
    std::memcpy(run.hashes.back().data(), hash.data(), hash.size());
  }

  Status ScanNodesAtLevel(uint32_t level, uint64_t from_index, size_t limit,
                          const std::function<Status(uint64_t, const crypto::Digest32&)>& visit) override {
    CUSTOS_RETURN_IF_ERROR(Flush());
    limit = std::min<size_t>(limit, kMaxRows);
    if (from_index > static_cast<uint64_t>(INT64_MAX)) return Status::Ok();
    // Nodes [from_index, from_index + limit) all met in the walk's windows
    // (the same snapshot) are exactly what the query returns: one row per
    // (level, idx), and LIMIT stops at the last of them.
    if (tail_ == nullptr && limit > 0 && level < runs_.size()) {
      NodeRun& run = runs_[level];
      if (from_index >= run.first && from_index - run.first + limit <= run.hashes.size()) {
        const size_t skip = static_cast<size_t>(from_index - run.first);
        for (size_t i = 0; i < limit; ++i) CUSTOS_RETURN_IF_ERROR(visit(from_index + i, run.hashes[skip + i]));
        run.hashes.erase(run.hashes.begin(), run.hashes.begin() + static_cast<std::ptrdiff_t>(skip + limit));
        run.first = from_index + limit;
        return Status::Ok();
      }
    }
    return s_.Scan(NodesAtLevelStatement(limit), {P(static_cast<int64_t>(level)), P(from_index)},
                   [&](const sql::RowView& row) -> Status {
                     CUSTOS_ASSIGN_OR_RETURN(crypto::Digest32 h, DigestOf(row.Bytes(1)));
                     return visit(static_cast<uint64_t>(row.Int(0)), h);
                   });
  }

  StatusOr<std::vector<LogEntry>> EntriesForSubject(const std::string& subject,
                                                    size_t limit) override {
    CUSTOS_RETURN_IF_ERROR(Flush());
    limit = std::min<size_t>(limit, kMaxRows);
    CUSTOS_ASSIGN_OR_RETURN(
        Rows r, sql::Query(s_,
                           "SELECT l.seq, l.leaf, n.hash, l.subject FROM log_leaves l JOIN log_nodes n ON "
                           "n.level = 0 AND n.idx = l.seq WHERE l.subject = $1 "
                           "ORDER BY l.seq LIMIT " + std::to_string(limit),
                           {P(subject)}));
    return EntriesFromRows(r);
  }

  Status Redact(uint64_t index) override {
    if (tail_ == nullptr) return ReadOnly("a log redaction");
    CUSTOS_RETURN_IF_ERROR(Flush());
    CUSTOS_ASSIGN_OR_RETURN(Rows r, sql::Query(s_, "SELECT 1 FROM log_leaves WHERE seq = $1", {P(index)}));
    if (r.empty()) return NotFound("no log entry " + std::to_string(index), "log_entry_missing");
    return sql::Exec(s_, "UPDATE log_leaves SET leaf = '' WHERE seq = $1", {P(index)});
  }

  StatusOr<StoredCheckpoint> LatestCheckpoint() override {
    CUSTOS_ASSIGN_OR_RETURN(
        Rows r, sql::Query(s_, "SELECT size, root, note, created_at FROM log_checkpoints "
                               "ORDER BY size DESC LIMIT 1"));
    if (r.empty()) return NotFound("the log has no checkpoint yet", "no_checkpoint");
    return FromRow(r, 0);
  }

  StatusOr<std::vector<StoredCheckpoint>> Checkpoints() override {
    CUSTOS_ASSIGN_OR_RETURN(
        Rows r, sql::Query(s_, "SELECT size, root, note, created_at FROM log_checkpoints ORDER BY size"));
    std::vector<StoredCheckpoint> out;
    for (size_t i = 0; i < r.size(); ++i) {
      CUSTOS_ASSIGN_OR_RETURN(StoredCheckpoint cp, FromRow(r, i));
      out.push_back(std::move(cp));
    }
    return out;
  }

  Status AddCheckpointSignature(const CheckpointSignature& sig) override {
    if (tail_ == nullptr) return ReadOnly("a checkpoint signature");
    if ((sig.kind != kCosignatureKind && sig.kind != kTimestampKind) ||
        !IsSignatureLineOf(sig.line, sig.name)) {
      return InvalidArgument("not one " + (sig.kind.empty() ? std::string("signature") : sig.kind) +
                                 " line of " + sig.name,
                             "checkpoint_signature_malformed");
    }
    CUSTOS_ASSIGN_OR_RETURN(Rows cp, sql::Query(s_, "SELECT 1 FROM log_checkpoints WHERE size = $1",
                                                {P(sig.size)}));
    if (cp.empty()) return NotFound("no checkpoint of size " + std::to_string(sig.size), "no_checkpoint");
    CUSTOS_ASSIGN_OR_RETURN(Rows dup, sql::Query(s_, "SELECT 1 FROM checkpoint_signatures "
                                                     "WHERE size = $1 AND name = $2",
                                                 {P(sig.size), P(sig.name)}));
    if (!dup.empty()) {
      return Conflict(sig.name + " already signed the checkpoint of size " + std::to_string(sig.size),
                      "checkpoint_signature_exists");
    }
    return sql::Exec(s_,
                     "INSERT INTO checkpoint_signatures(size, name, kind, line, created_at) "
                     "VALUES ($1, $2, $3, $4, $5)",
                     {P(sig.size), P(sig.name), P(sig.kind), P(sig.line), P(domain::FormatTime(sig.created_at))});
  }

  StatusOr<std::vector<CheckpointSignature>> CheckpointSignatures(uint64_t size) override {
    CUSTOS_ASSIGN_OR_RETURN(
        Rows r, sql::Query(s_, "SELECT size, name, kind, line, created_at FROM checkpoint_signatures "
                               "WHERE size = $1 ORDER BY kind, name",
                           {P(size)}));
    std::vector<CheckpointSignature> out;
    for (size_t i = 0; i < r.size(); ++i) {
      CheckpointSignature sig;
      sig.size = static_cast<uint64_t>(r.Int(i, 0));
      sig.name = r.Text(i, 1);
      sig.kind = r.Text(i, 2);
      sig.line = r.Text(i, 3);
      sig.created_at = T(r.Text(i, 4));
      out.push_back(std::move(sig));
    }
    return out;
  }

  StatusOr<std::optional<uint64_t>> LastSignedSize(const std::string& name) override {
    CUSTOS_ASSIGN_OR_RETURN(
        Rows r, sql::Query(s_, "SELECT MAX(size) FROM checkpoint_signatures WHERE name = $1", {P(name)}));
    if (r.empty() || r.IsNull(0, 0)) return std::optional<uint64_t>();
    return std::optional<uint64_t>(static_cast<uint64_t>(r.Int(0, 0)));
  }

  StatusOr<std::optional<StoredCheckpoint>> LatestAttestedCheckpoint(const std::string& kind) override {
    CUSTOS_ASSIGN_OR_RETURN(
        Rows r, sql::Query(s_,
                           "SELECT c.size, c.root, c.note, c.created_at FROM log_checkpoints c WHERE c.size = "
                           "(SELECT MAX(size) FROM checkpoint_signatures WHERE $1 = '' OR kind = $1)",
                           {P(kind)}));
    if (r.empty()) return std::optional<StoredCheckpoint>();
    CUSTOS_ASSIGN_OR_RETURN(StoredCheckpoint cp, FromRow(r, 0));
    return std::optional<StoredCheckpoint>(std::move(cp));
  }

  StatusOr<std::vector<crypto::Digest32>> InclusionProof(uint64_t index, uint64_t size) override {
    CUSTOS_RETURN_IF_ERROR(Flush());
    CUSTOS_RETURN_IF_ERROR(CheckSize(size));
    SqlNodeReader reader(s_, node_cache_);
    return crypto::merkle::InclusionProof(index, size, reader);
  }

  StatusOr<std::vector<crypto::Digest32>> ConsistencyProof(uint64_t from, uint64_t to) override {
    CUSTOS_RETURN_IF_ERROR(Flush());
    CUSTOS_RETURN_IF_ERROR(CheckSize(to));
    SqlNodeReader reader(s_, node_cache_);
    return crypto::merkle::ConsistencyProof(from, to, reader);
  }

  StatusOr<crypto::Digest32> RootAt(uint64_t size) override {
    CUSTOS_RETURN_IF_ERROR(Flush());
    CUSTOS_RETURN_IF_ERROR(CheckSize(size));
    SqlNodeReader reader(s_);
    return crypto::merkle::RootAt(size, reader);
  }

  StatusOr<std::vector<std::pair<uint64_t, crypto::Digest32>>> NodesAtLevel(
      uint32_t level, uint64_t from_index, size_t limit) override {
    CUSTOS_RETURN_IF_ERROR(Flush());
    limit = std::min<size_t>(limit, kMaxRows);
    if (from_index > static_cast<uint64_t>(INT64_MAX)) {
      return std::vector<std::pair<uint64_t, crypto::Digest32>>();
    }
    CUSTOS_ASSIGN_OR_RETURN(
        Rows r, sql::Query(s_, NodesAtLevelStatement(limit), {P(static_cast<int64_t>(level)), P(from_index)}));
    std::vector<std::pair<uint64_t, crypto::Digest32>> out;
    out.reserve(r.size());
    for (size_t i = 0; i < r.size(); ++i) {
      CUSTOS_ASSIGN_OR_RETURN(crypto::Digest32 h, sql::ToDigest(r.Bytes(i, 1)));
      out.emplace_back(static_cast<uint64_t>(r.Int(i, 0)), h);
    }
    return out;
  }

 private:
  Status CheckSize(uint64_t size) {
    CUSTOS_ASSIGN_OR_RETURN(uint64_t have, Size());
    if (size > have) {
      return InvalidArgument("tree size " + std::to_string(size) + " exceeds the log size " +
                                 std::to_string(have),
                             "proof_bad_sizes");
    }
    return Status::Ok();
  }

  static StatusOr<StoredCheckpoint> FromRow(const Rows& r, size_t i) {
    StoredCheckpoint cp;
    cp.size = static_cast<uint64_t>(r.Int(i, 0));
    CUSTOS_ASSIGN_OR_RETURN(cp.root, sql::ToDigest(r.Bytes(i, 1)));
    cp.note = r.Text(i, 2);
    cp.created_at = T(r.Text(i, 3));
    return cp;
  }

  struct PendingLeaf {
    uint64_t seq;
    std::string leaf;
    std::string subject;
  };
  struct PendingNode {
    uint32_t level;
    uint64_t index;
    crypto::Digest32 hash;
  };
  // Rows per multi-row INSERT. SQLite looks "$n" parameters up in a list,
  // so preparing costs grows with the square of the parameter count: 32
  // rows (96 parameters) was fastest, 27k appends/s batched against 18k at
  // 256 rows and 12k for one statement per row (bench/log_bench).
  static constexpr size_t kRowsPerInsert = 32;

  template <typename Row, typename Bind>
  Status FlushRows(std::vector<Row>& rows, const char* insert, Bind bind) {
    for (size_t start = 0; start < rows.size(); start += kRowsPerInsert) {
      size_t end = std::min(rows.size(), start + kRowsPerInsert);
      std::string sql = insert;
      Params p;
      p.reserve((end - start) * 3);
      for (size_t i = start; i < end; ++i) {
        sql += i == start ? "(" : ", (";
        for (int k = 0; k < 3; ++k) {
          sql += (k == 0 ? "$" : ", $") + std::to_string(p.size() + 1 + k);
        }
        sql += ")";
        bind(rows[i], p);
      }
      CUSTOS_RETURN_IF_ERROR(Exec(s_, tail_ != nullptr, sql, p));
    }
    rows.clear();
    return Status::Ok();
  }

  // Encodes `event` as the next entry: its leaf and the tree nodes it
  // completes are buffered, the tail moves on.
  // Appends `event`'s leaf; kInvalidArgument "leaf_too_large" (nothing
  // appended) when it exceeds `max_bytes` or kMaxLeafBytes.
  Status Emit(const LogEvent& event, size_t max_bytes = kMaxLeafBytes) {
    const uint64_t seq = tail_->range.size();
    CUSTOS_ASSIGN_OR_RETURN(std::string leaf, EncodeLeaf(event, seq, tail_->last_leaf_hash));
    if (leaf.size() > max_bytes) {
      return InvalidArgument("the leaf would be " + std::to_string(leaf.size()) + " bytes, over " +
                                 std::to_string(max_bytes),
                             "leaf_too_large");
    }
    crypto::Digest32 hash = crypto::merkle::HashLeaf(leaf);
    pending_leaves_.push_back({seq, std::move(leaf), event.subject});
    tail_->range.Append(hash, [&](crypto::merkle::NodeId id, const crypto::Digest32& h) {
      pending_nodes_.push_back({id.level, id.index, h});
    });
    tail_->last_leaf_hash = hash;
    if (pending_leaves_.size() >= kRowsPerInsert) return FlushRowsOnly();
    return Status::Ok();
  }

  // Emits the open event with the row images added since the last one
  // closed (details.rows, after any the event carries itself). Images
  // beyond one chunk (storage/replay.h), or all of them when the event
  // would then exceed what an entry bundle of the tiles read API carries
  // (kBundleLeafBytes), follow it on state.rows events.
  Status CloseOpen() {
    if (!open_) return Status::Ok();
    LogEvent event = std::move(*open_);
    open_.reset();
    if (changes_.empty()) return Emit(event);
    std::vector<std::vector<RowImage>> chunks = ChunkImages(changes_.Take());
    LogEvent with = event;
    domain::DetailValue::Array rows;
    if (const domain::DetailValue::Array* own = event.details.Array(kDetailRows)) rows = *own;
    for (const RowImage& image : chunks.front()) rows.push_back(ImageDetail(image));
    with.details.Set(kDetailRows, std::move(rows));
    size_t first_state_chunk = 1;
    if (Status s = Emit(with, kBundleLeafBytes); !s.ok()) {
      if (s.reason() != "leaf_too_large") return s;
      CUSTOS_RETURN_IF_ERROR(Emit(event));
      first_state_chunk = 0;
    }
    for (size_t i = first_state_chunk; i < chunks.size(); ++i) {
      CUSTOS_RETURN_IF_ERROR(Emit(StateRowsEvent(chunks[i], event.at)));
    }
    return Status::Ok();
  }

  sql::Connection& s_;
  LogTail* tail_;
  RowChanges& changes_;  // the transaction's row changes (row_changes())
  const bool rowid_order_;  // SqlDialect::log_rowid_order
  // The proofs' upper nodes; null in write transactions (LogNodeCache).
  LogNodeCache* const node_cache_;
  std::optional<uint64_t> read_size_;  // Size() in a read transaction
  std::vector<crypto::Digest32> level0_;  // ScanEntriesInRowidOrder's level-0 hashes
  // Interior nodes met in ScanEntriesInRowidOrder's windows (read
  // transactions only), by level, until ScanNodesAtLevel asks for them: a
  // run of consecutive indexes each. The verifier asks for a level's page
  // once the pages below it are walked, so a run stays within about two
  // pages; kMaxRunNodes bounds it whatever the caller does.
  struct NodeRun {
    uint64_t first = 0;
    std::vector<crypto::Digest32> hashes;
  };
  static constexpr int64_t kMaxInteriorLevel = 63;
  static constexpr size_t kMaxRunNodes = 1 << 16;
  std::vector<NodeRun> runs_;
  // The newest appended event, not yet encoded (Append); its index is
  // tail_->range.size().
  std::optional<LogEvent> open_;
  std::optional<domain::Time> last_at_;  // time of the write function's last event
  std::vector<PendingLeaf> pending_leaves_;
  std::vector<PendingNode> pending_nodes_;
};

// ---------------------------------------------------------- stored row images
// Visits the rows `select` ("SELECT … FROM t") returns in `order`, 1,000
// per query (keyset paging): after the first page, `after_where` with the
// parameters `after` takes from the page's last row.
Status ScanPaged(sql::Connection& s, const std::string& select, const std::string& after_where,
                 const std::string& order, const std::function<Params(const Rows&, size_t)>& after,
                 const std::function<Status(const Rows&, size_t)>& visit) {
  Params params;
  for (bool first = true;; first = false) {
    CUSTOS_ASSIGN_OR_RETURN(Rows r, sql::Query(s,
                                               select + (first ? "" : " WHERE " + after_where) +
                                                   " ORDER BY " + order + " LIMIT 1000",
                                               params));
    for (size_t i = 0; i < r.size(); ++i) CUSTOS_RETURN_IF_ERROR(visit(r, i));
    if (r.size() < 1000) return Status::Ok();
    params = after(r, r.size() - 1);
  }
}

Params AfterText(const Rows& r, size_t i) { return {P(r.Text(i, 0))}; }

domain::Version VersionFromRow(const Rows& r, size_t i) {
  domain::Version v;
  v.record_id = domain::RecordId{r.Text(i, 0)};
  v.number = static_cast<int>(r.Int(i, 1));
  if (auto k = domain::ParseVersionKind(r.Text(i, 2)); k.ok()) v.kind = *k;
  v.note = r.Text(i, 3);
  v.created_at = T(r.Text(i, 4));
  v.created_by = r.Text(i, 5);
  v.manifest_hash = r.Text(i, 6);
  v.prev_manifest_hash = r.Text(i, 7);
  v.log_index = static_cast<uint64_t>(r.Int(i, 8));
  return v;
}

// Every stored row of the authority tables (of `tables` only, unless it is
// empty) as its `use` image, with its stored mac, table by table in key
// order; seals unchecked.
Status ForEachStoredImage(sql::Connection& s, ImageUse use, const std::vector<std::string>& tables,
                          const std::function<Status(const RowImage&, const std::string& mac)>& visit) {
  auto image = [&](const auto& row, const std::string& mac) { return visit(ImageOf(row, use), mac); };
  auto wanted = [&](const char* table) {
    return tables.empty() || std::find(tables.begin(), tables.end(), table) != tables.end();
  };
  if (wanted("departments")) {
    CUSTOS_RETURN_IF_ERROR(ScanPaged(s, "SELECT name, created_at, mac FROM departments", "name > $1", "name",
                                     AfterText, [&](const Rows& r, size_t i) {
                                       return image(domain::Department{r.Text(i, 0), T(r.Text(i, 1))}, r.Text(i, 2));
                                     }));
  }
  if (wanted("users")) {
    CUSTOS_RETURN_IF_ERROR(ScanPaged(s, std::string("SELECT ") + kUserColumns + " FROM users", "username > $1",
                                     "username", AfterText, [&](const Rows& r, size_t i) {
                                       return image(UserFromRow(r, i), r.Text(i, kUserMac));
                                     }));
  }
  if (wanted("sessions")) {
    CUSTOS_RETURN_IF_ERROR(ScanPaged(
        s, "SELECT token_hash, username, created_at, last_seen_at, expires_at, mac FROM sessions",
        "token_hash > $1", "token_hash", AfterText, [&](const Rows& r, size_t i) {
          return image(domain::Session{r.Text(i, 0), domain::Username{r.Text(i, 1)}, T(r.Text(i, 2)),
                                       T(r.Text(i, 3)), T(r.Text(i, 4))},
                       r.Text(i, 5));
        }));
  }
  if (wanted("records")) {
    CUSTOS_RETURN_IF_ERROR(ScanPaged(s, std::string("SELECT ") + kRecordColumns + " FROM records", "id > $1", "id",
                                     AfterText, [&](const Rows& r, size_t i) {
                                       return image(RecordFromRow(r, i), r.Text(i, kRecordMac));
                                     }));
  }
  if (wanted("versions")) {
    CUSTOS_RETURN_IF_ERROR(ScanPaged(
        s,
        "SELECT record_id, number, kind, note, created_at, created_by, manifest_hash, prev_manifest_hash, "
        "log_index, mac FROM versions",
        "(record_id > $1 OR (record_id = $1 AND number > $2))", "record_id, number",
        [](const Rows& r, size_t i) { return Params{P(r.Text(i, 0)), P(r.Int(i, 1))}; },
        [&](const Rows& r, size_t i) { return image(VersionFromRow(r, i), r.Text(i, 9)); }));
  }
  if (wanted("files")) {
    CUSTOS_RETURN_IF_ERROR(ScanPaged(s, std::string("SELECT ") + kFileColumns + " FROM files", "id > $1", "id",
                                     AfterText, [&](const Rows& r, size_t i) {
                                       return image(FileFromRow(r, i), r.Text(i, kFileMac));
                                     }));
  }
  if (wanted("documents")) {
    CUSTOS_RETURN_IF_ERROR(ScanPaged(
        s, std::string("SELECT ") + kDocumentColumns + " FROM documents", "(kind > $1 OR (kind = $1 AND id > $2))",
        "kind, id", [](const Rows& r, size_t i) { return Params{P(r.Text(i, 0)), P(r.Text(i, 1))}; },
        [&](const Rows& r, size_t i) { return image(DocumentFromRow(r, i), r.Text(i, kDocumentMac)); }));
  }
  if (!wanted("exports")) return Status::Ok();
  return ScanPaged(s, std::string("SELECT ") + kExportColumns + " FROM exports", "id > $1", "id", AfterText,
                   [&](const Rows& r, size_t i) -> Status {
                     StoredExport e = ExportFromRow(r, i);
                     CUSTOS_RETURN_IF_ERROR(LoadExportRecords(s, e));
                     return image(e, r.Text(i, kExportMac));
                   });
}

// Transaction::ForEachLogImage over SQL: the rows as stored, seals unchecked.
Status ForEachStoredLogImage(sql::Connection& s, const std::function<Status(const RowImage&)>& visit) {
  return ForEachStoredImage(s, ImageUse::kLog, {},
                            [&](const RowImage& image, const std::string&) { return visit(image); });
}

}  // namespace

StatusOr<uint64_t> CheckStoredSeals(sql::Connection& connection, const RowSealer& sealer,
                                    const std::vector<std::string>& tables,
                                    const std::function<void(const RowImage&)>& bad) {
  uint64_t checked = 0;
  CUSTOS_RETURN_IF_ERROR(ForEachStoredImage(connection, ImageUse::kSeal, tables,
                                            [&](const RowImage& image, const std::string& mac) {
                                              ++checked;
                                              if (!sealer.Check(image, mac)) bad(image);
                                              return Status::Ok();
                                            }));
  return checked;
}

namespace {

// The WHERE clause and parameters naming the row of `image` by its key.
std::pair<std::string, Params> RowKey(const RowImage& image) {
  auto text = [&](const char* column) { return P(*image.Find(column)); };
  if (image.table == "departments") return {"name = $2", {text("name")}};
  if (image.table == "users") return {"username = $2", {text("username")}};
  if (image.table == "sessions") return {"token_hash = $2", {text("token_hash")}};
  if (image.table == "versions") {
    return {"record_id = $2 AND number = $3",
            {text("record_id"), P(static_cast<int64_t>(std::stoll(*image.Find("number"))))}};
  }
  if (image.table == "documents") return {"kind = $2 AND id = $3", {text("kind"), text("id")}};
  return {"id = $2", {text("id")}};  // records, files, exports
}

}  // namespace

Status SealExistingRows(sql::Connection& connection, const RowSealer& sealer, const char* begin) {
  CUSTOS_RETURN_IF_ERROR(sql::Exec(connection, begin));
  Status st = ForEachStoredImage(connection, ImageUse::kSeal, {},
                            [&](const RowImage& image, const std::string& mac) -> Status {
                              if (!mac.empty() && !sealer.Check(image, mac)) {
                                return DataLoss("row " + image.key + " of table " + image.table +
                                                    " carries a seal made under another key: the row seal "
                                                    "key keys/row-seal.key is missing; restore it",
                                                "row_seal_key_missing");
                              }
                              auto [where, params] = RowKey(image);
                              params.insert(params.begin(), P(sealer.Seal(image)));
                              return sql::Exec(connection, "UPDATE " + image.table + " SET mac = $1 WHERE " + where,
                                               params);
                            });
  if (st.ok()) st = SealRowSets(connection, sealer);
  if (st.ok()) st = sql::Exec(connection, "COMMIT");
  if (!st.ok()) (void)sql::Exec(connection, "ROLLBACK");
  return st;
}

namespace {

// ------------------------------------------------------------- search index

// The table stores each keyed token as its kKeyedTokenBytes raw bytes; the
// repository speaks hex (docs/formats/search-index.md). Upper-case hex
// names the same bytes.
std::optional<crypto::Bytes> TokenBytes(const std::string& keyed_token) {
  std::optional<crypto::Bytes> raw = crypto::HexDecode(keyed_token);
  if (!raw || raw->size() != kKeyedTokenBytes) return std::nullopt;
  return raw;
}

// The postings of storage/search_index.h. Not sealed, not logged (derived
// data; see the header).
class SqlSearchIndex final : public SearchIndexRepository {
 public:
  SqlSearchIndex(sql::Connection& s, bool writable, MatchPlace place)
      : s_(s), writable_(writable), place_(place) {}

  Status Replace(const domain::RecordId& record_id, const std::string& field, const domain::FileId& file_id,
                 const std::map<std::string, uint32_t>& keyed_tf) override {
    if (!writable_) return ReadOnly("a write");
    if (record_id.value.empty() || field.empty()) {
      return InvalidArgument("a posting needs a record id and a field", "bad_posting");
    }
    std::vector<crypto::Bytes> raw;
    raw.reserve(keyed_tf.size());
    for (const auto& [token, tf] : keyed_tf) {
      std::optional<crypto::Bytes> bytes = TokenBytes(token);
      if (tf == 0 || !bytes) {
        return InvalidArgument("a posting needs a keyed token (32 hex digits) and a tf above 0", "bad_posting");
      }
      raw.push_back(std::move(*bytes));
    }
    // A record inserted in this transaction has only the postings written
    // here since (NewRecords).
    const bool first = new_records_ != nullptr && new_records_->ids.count(record_id.value) != 0 &&
                       new_records_->indexed.emplace(record_id.value, field, file_id.value).second;
    if (!first) {
      // Re-indexing mostly writes what is there (the content pipeline
      // re-indexes a record's catalogue when it finishes it): one read then,
      // instead of a DELETE and the INSERTs; no DELETE when there is none.
      CUSTOS_ASSIGN_OR_RETURN(
          Rows old, sql::Query(s_, "SELECT token, tf FROM search_postings WHERE record_id = $1 AND field = $2 AND file_id = $3",
                               {P(record_id.value), P(field), P(file_id.value)}));
      if (old.size() == keyed_tf.size()) {
        std::map<crypto::Bytes, int64_t> want;
        auto tf = keyed_tf.begin();
        for (const crypto::Bytes& b : raw) want.emplace(b, static_cast<int64_t>((tf++)->second));
        bool same = want.size() == keyed_tf.size();
        for (size_t i = 0; same && i < old.size(); ++i) {
          auto w = want.find(old.Bytes(i, 0));
          same = w != want.end() && w->second == old.Int(i, 1);
        }
        if (same) return Status::Ok();
      }
      if (!old.empty()) {
        CUSTOS_RETURN_IF_ERROR(Exec(s_, writable_,
                                    "DELETE FROM search_postings WHERE record_id = $1 AND field = $2 AND file_id = $3",
                                    {P(record_id.value), P(field), P(file_id.value)}));
      }
    }
    // Multi-row INSERTs of 64, 32, …, 1 rows: few statements per field and
    // only seven statement texts in the connection's cache.
    auto it = keyed_tf.begin();
    auto token = raw.begin();
    size_t left = keyed_tf.size();
    for (size_t chunk = kInsertChunk; chunk > 0; chunk /= 2) {
      while (left >= chunk) {
        Params params;
        for (size_t i = 0; i < chunk; ++i, ++it, ++token) {
          params.push_back(P(*token));
          params.push_back(P(record_id.value));
          params.push_back(P(field));
          params.push_back(P(file_id.value));
          params.push_back(P(static_cast<int64_t>(it->second)));
        }
        CUSTOS_RETURN_IF_ERROR(Exec(s_, writable_, InsertStatement(chunk), params));
        left -= chunk;
      }
    }
    return Status::Ok();
  }

  StatusOr<uint64_t> DeleteRecord(const domain::RecordId& record_id) override {
    if (!writable_) return ReadOnly("a write");
    CUSTOS_ASSIGN_OR_RETURN(Rows n, sql::Query(s_, "SELECT COUNT(*) FROM search_postings WHERE record_id = $1",
                                               {P(record_id.value)}));
    CUSTOS_RETURN_IF_ERROR(Exec(s_, writable_, "DELETE FROM search_postings WHERE record_id = $1",
                                {P(record_id.value)}));
    return static_cast<uint64_t>(n.Int(0, 0));
  }

  StatusOr<PostingMatches> Match(const std::vector<std::string>& keyed_tokens, size_t limit,
                                 const std::string& rights_field) override {
    std::vector<crypto::Bytes> tokens;
    tokens.reserve(keyed_tokens.size());
    for (const std::string& keyed : keyed_tokens) {
      std::optional<crypto::Bytes> bytes = TokenBytes(keyed);
      if (!bytes) return InvalidArgument("a keyed token is 32 hex digits", "bad_token");
      tokens.push_back(std::move(*bytes));
    }
    std::sort(tokens.begin(), tokens.end());
    tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());
    if (tokens.size() > kMaxMatchTokens) {
      return InvalidArgument("a search may hold at most " + std::to_string(kMaxMatchTokens) + " tokens",
                             "too_many_tokens");
    }
    return MatchPostings(s_, tokens, limit, place_, rights_field);
  }

  StatusOr<SearchIndexStats> Stats() override {
    CUSTOS_ASSIGN_OR_RETURN(Rows r, sql::Query(s_, "SELECT COUNT(*), COUNT(DISTINCT token) FROM search_postings"));
    return SearchIndexStats{static_cast<uint64_t>(r.Int(0, 0)), static_cast<uint64_t>(r.Int(0, 1))};
  }

  void set_new_records(NewRecords* n) { new_records_ = n; }

 private:
  static constexpr size_t kInsertChunk = 64;

  // INSERT of `rows` postings, five parameters each. (Each parameter
  // appears once and in order: SQLite numbers "$n" by first appearance.)
  static std::string InsertStatement(size_t rows) {
    std::string sql = "INSERT INTO search_postings(token, record_id, field, file_id, tf) VALUES ";
    size_t n = 0;
    for (size_t i = 0; i < rows; ++i) {
      sql += i == 0 ? "(" : ", (";
      for (size_t column = 0; column < 5; ++column) sql += (column == 0 ? "$" : ", $") + std::to_string(++n);
      sql += ")";
    }
    return sql;
  }

  sql::Connection& s_;
  const bool writable_;  // false in Read(): every write is refused
  const MatchPlace place_;
  NewRecords* new_records_ = nullptr;  // the write transaction's
};

class SqlTransactionImpl final : public SqlTransaction {
 public:
  SqlTransactionImpl(sql::Connection& s, LogTail* tail, const SqlDialect& d, const RowSealer* sealer,
                     LogNodeCache* node_cache)
      : s_(s),
        tail_(tail),
        sealer_(sealer),
        departments_(s, tail != nullptr, changes_, sealer),
        users_(s, tail != nullptr, changes_, sealer),
        sessions_(s, tail != nullptr, changes_, sealer),
        records_(s, d, tail != nullptr, changes_, sealer),
        versions_(s, tail != nullptr, changes_, sealer),
        documents_(s, tail != nullptr, changes_, sealer),
        exports_(s, tail != nullptr, changes_, sealer),
        log_(s, tail, changes_, d.log_rowid_order, node_cache),
        search_(s, tail != nullptr,
                d.match_postings_in_client ? MatchPlace::kInClient : MatchPlace::kInServer),
        texts_(MakeSqlFileTexts(s, tail != nullptr)),
        derived_(MakeSqlDerivedCache(s, tail != nullptr)) {
    if (tail != nullptr) {
      records_.set_new_records(&new_records_);
      search_.set_new_records(&new_records_);
    }
  }
  bool writable() const override { return tail_ != nullptr; }
  DepartmentRepository& departments() override { return departments_; }
  UserRepository& users() override { return users_; }
  SessionRepository& sessions() override { return sessions_; }
  RecordRepository& records() override { return records_; }
  VersionRepository& versions() override { return versions_; }
  DocumentRepository& documents() override { return documents_; }
  ExportRepository& exports() override { return exports_; }
  LogRepository& log() override { return log_; }
  SearchIndexRepository& search() override { return search_; }
  FileTextRepository& texts() override { return *texts_; }
  DerivedCacheRepository& derived() override { return *derived_; }
  Status Flush() override {
    // The set seals follow the keys this write function inserted and
    // deleted (storage/row_set.h), in its own transaction.
    std::vector<RowChanges::Member> members = changes_.TakeMembers();
    if (sealer_ != nullptr && !members.empty()) CUSTOS_RETURN_IF_ERROR(ApplyRowSetChanges(s_, *sealer_, members));
    return log_.Finish();
  }
  void Discard() override {
    log_.Discard();
    changes_.Clear();
    new_records_.Clear();
  }
  RowChanges& row_changes() override { return changes_; }
  Status ForEachLogImage(const std::function<Status(const RowImage&)>& visit) override {
    return ForEachStoredLogImage(s_, visit);
  }
  StatusOr<uint64_t> CheckRowSeals(const std::vector<std::string>& tables,
                                   const std::function<void(const RowImage&)>& bad) override {
    if (sealer_ == nullptr) return Internal("the store was opened without the row seal key", "no_row_sealer");
    return CheckStoredSeals(s_, *sealer_, tables, bad);
  }
  Status CheckRowSets(const std::vector<std::string>& tables,
                      const std::function<void(const std::string& table, const std::string& what)>& bad) override {
    if (sealer_ == nullptr) return Internal("the store was opened without the row seal key", "no_row_sealer");
    CUSTOS_ASSIGN_OR_RETURN(std::vector<RowSetDifference> differences,
                            storage::CheckRowSets(s_, *sealer_, tables));
    for (const RowSetDifference& d : differences) bad(d.table, d.what);
    return Status::Ok();
  }

 private:
  sql::Connection& s_;
  LogTail* tail_;
  const RowSealer* const sealer_;
  RowChanges changes_;  // declared before the repositories, which hold it
  NewRecords new_records_;  // write transactions only
  SqlDepartments departments_;
  SqlUsers users_;
  SqlSessions sessions_;
  SqlRecords records_;
  SqlVersions versions_;
  SqlDocuments documents_;
  SqlExports exports_;
  SqlLog log_;
  SqlSearchIndex search_;
  std::unique_ptr<FileTextRepository> texts_;
  std::unique_ptr<DerivedCacheRepository> derived_;
};

}  // namespace

StatusOr<LogTail> LoadLogTail(sql::Connection& connection) {
  CUSTOS_ASSIGN_OR_RETURN(uint64_t size, StoredLogSize(connection));
  LogTail tail;
  if (size == 0) return tail;
  SqlNodeReader reader(connection);
  auto ids = crypto::merkle::CompactRange::FrontierIds(size);
  CUSTOS_ASSIGN_OR_RETURN(std::vector<crypto::Digest32> hashes, reader.Nodes(ids));
  CUSTOS_ASSIGN_OR_RETURN(tail.range, crypto::merkle::CompactRange::FromFrontier(size, hashes));
  CUSTOS_ASSIGN_OR_RETURN(tail.last_leaf_hash, reader.Node({0, size - 1}));
  return tail;
}

std::unique_ptr<SqlTransaction> MakeSqlTransaction(sql::Connection& connection, LogTail* tail,
                                                   const SqlDialect& dialect, const RowSealer* sealer,
                                                   LogNodeCache* node_cache) {
  return std::make_unique<SqlTransactionImpl>(connection, tail, dialect, sealer, node_cache);
}

void LogNodeCache::Get(const std::vector<crypto::merkle::NodeId>& ids, std::vector<crypto::Digest32>& out,
                       std::vector<bool>& found) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  for (size_t k = 0; k < ids.size(); ++k) {
    if (!Holds(ids[k])) continue;
    const size_t l = ids[k].level - kMinLevel;
    if (l >= levels_.size()) continue;
    const Level& level = levels_[l];
    if (ids[k].index < level.held.size() && level.held[ids[k].index]) {
      out[k] = level.hash[ids[k].index];
      found[k] = true;
    }
  }
}

void LogNodeCache::Put(const std::vector<std::pair<crypto::merkle::NodeId, crypto::Digest32>>& nodes) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  for (const auto& [id, hash] : nodes) {
    if (!Holds(id)) continue;
    const size_t l = id.level - kMinLevel;
    if (l >= levels_.size()) levels_.resize(l + 1);
    Level& level = levels_[l];
    if (id.index >= level.held.size()) {
      // Grows by doubling, never past the level's slots.
      const uint64_t want = std::min<uint64_t>(SlotsAt(id.level),
                                               std::max<uint64_t>(id.index + 1, 2 * level.held.size()));
      level.hash.reserve(want);
      level.hash.resize(want);
      level.held.resize(want, false);
    }
    if (!level.held[id.index]) {
      level.hash[id.index] = hash;
      level.held[id.index] = true;
      ++count_;
    }
  }
}

size_t LogNodeCache::size() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return count_;
}

Status InsertCheckpoint(sql::Connection& connection, const StoredCheckpoint& cp) {
  return sql::Exec(connection,
                   "INSERT INTO log_checkpoints(size, root, note, created_at) VALUES ($1, $2, $3, $4)",
                   {P(cp.size), P(cp.root), P(cp.note), P(domain::FormatTime(cp.created_at))});
}

Status RunReadFunction(sql::Connection& s, const SqlDialect& dialect, const RowSealer* sealer,
                       const MetadataStore::TxFn& fn, LogNodeCache* node_cache) {
  auto tx = MakeSqlTransaction(s, nullptr, dialect, sealer, node_cache);
  Status st;
  try {
    st = fn(*tx);
  } catch (const std::exception& e) {
    st = Internal(std::string("read function threw: ") + e.what());
  }
  (void)sql::Exec(s, "ROLLBACK");
  return st;
}

ConnectionPool::~ConnectionPool() = default;

void ConnectionPool::Add(std::unique_ptr<sql::Connection> connection) {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back(std::move(connection));
  cv_.notify_one();
}

Status ConnectionPool::With(const std::function<Status(sql::Connection&)>& fn) {
  std::unique_ptr<sql::Connection> connection;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty(); });
    connection = std::move(idle_.back());
    idle_.pop_back();
  }
  Status st = fn(*connection);
  Add(std::move(connection));
  return st;
}

Status RunWriteBatch(sql::Connection& s, LogTail& tail, const SqlDialect& dialect, const RowSealer* sealer,
                     CheckpointSigner& signer, const std::vector<GroupCommitQueue::Item*>& batch) {
  const uint64_t size_before = tail.range.size();
  auto tx = MakeSqlTransaction(s, &tail, dialect, sealer);
  for (GroupCommitQueue::Item* x : batch) {
    LogTail saved = tail;
    Status st = sql::Exec(s, "SAVEPOINT w");
    if (st.ok()) {
      try {
        st = (*x->fn)(*tx);
      } catch (const std::exception& e) {
        st = Internal(std::string("write function threw: ") + e.what());
      }
    }
    if (st.ok()) st = tx->Flush();
    if (st.ok()) st = sql::Exec(s, "RELEASE SAVEPOINT w");
    // Writes the connection deferred (sql::Connection::SetDeferred) count
    // for the function only once they are known to have run.
    if (st.ok()) st = s.Sync();
    if (!st.ok()) {
      tx->Discard();
      Status undo = sql::Exec(s, "ROLLBACK TO SAVEPOINT w");
      if (undo.ok()) undo = sql::Exec(s, "RELEASE SAVEPOINT w");
      if (undo.ok()) undo = s.Sync();
      tail = std::move(saved);
      // Without the savepoint the transaction holds the failed work.
      if (!undo.ok()) return undo;
    }
    x->status = st;
  }
  if (tail.range.size() == size_before) return Status::Ok();
  StoredCheckpoint cp;
  cp.size = tail.range.size();
  cp.root = tail.range.Root();
  cp.created_at = domain::TruncateToMillis(std::chrono::system_clock::now());
  CUSTOS_ASSIGN_OR_RETURN(cp.note, signer.Sign(cp.size, cp.root));
  return InsertCheckpoint(s, cp);
}

}  // namespace custos::storage
