#include "storage/memory_store.h"

#include <wctype.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crypto/merkle.h"

namespace custos::storage {

namespace merkle = crypto::merkle;

namespace memory_store_detail {

// A table shared by the committed state and the copies that write
// transactions work on, until one of them changes it (copy on write). Used
// only under MemoryStore::mu_.
template <typename Map>
class CowTable {
 public:
  CowTable() : map_(std::make_shared<Map>()) {}
  const Map& get() const { return *map_; }
  Map& mutable_map() {
    if (map_.use_count() > 1) map_ = std::make_shared<Map>(*map_);
    return *map_;
  }

 private:
  std::shared_ptr<Map> map_;
};

struct RecordRow {
  domain::Record record;
  // FormatTime(record.created_at): SQLite sorts and filters on this text.
  std::string created_at_text;
  // YYYY-MM-DD from the metadata (see ExpiresOn), "" when none.
  std::string expires_on;
};

struct VersionRow {
  domain::Version version;                    // with no files
  std::vector<std::string> file_ids;  // in insertion (position) order
};

// (record id, number) and (archive-number prefix, year).
using VersionKey = std::pair<std::string, int>;
using SequenceKey = std::pair<std::string, int>;

struct Tables {
  CowTable<std::map<std::string, domain::Department>> departments;
  CowTable<std::map<std::string, domain::User>> users;
  CowTable<std::map<std::string, domain::Session>> sessions;
  CowTable<std::map<SequenceKey, uint64_t>> sequences;
  CowTable<std::map<std::string, RecordRow>> records;
  CowTable<std::map<VersionKey, VersionRow>> versions;
  CowTable<std::map<std::string, domain::StoredFile>> files;
  CowTable<std::map<std::string, std::string>> blob_files;  // blob id -> file id
  CowTable<std::map<std::pair<std::string, std::string>, Document>> documents;  // (kind, id)
  CowTable<std::map<std::string, StoredExport>> exports;  // records sorted by id
};

// The audit log: append-only, so a failed Write() rolls back by truncating.
struct Log {
  std::vector<std::string> leaves;
  std::vector<std::string> subjects;
  std::vector<std::vector<crypto::Digest32>> levels;  // levels[L][i] = NodeId{L, i}
  merkle::CompactRange range;
  std::vector<StoredCheckpoint> checkpoints;  // size ascending

  uint64_t size() const { return range.size(); }

  void Append(std::string leaf, std::string subject, const crypto::Digest32& leaf_hash) {
    leaves.push_back(std::move(leaf));
    subjects.push_back(std::move(subject));
    range.Append(leaf_hash, [this](merkle::NodeId id, const crypto::Digest32& hash) {
      if (levels.size() <= id.level) levels.resize(id.level + 1);
      levels[id.level].push_back(hash);  // nodes complete left to right
    });
  }

  // Forgets every leaf from `size` on; `range_before` is the range of that size.
  void Truncate(uint64_t size, const merkle::CompactRange& range_before) {
    leaves.resize(size);
    subjects.resize(size);
    for (size_t level = 0; level < levels.size(); ++level) {
      uint64_t keep = level < 64 ? (size >> level) : 0;
      if (levels[level].size() > keep) levels[level].resize(keep);
    }
    range = range_before;
  }
};

}  // namespace memory_store_detail

namespace {

using memory_store_detail::Log;
using memory_store_detail::RecordRow;
using memory_store_detail::SequenceKey;
using memory_store_detail::Tables;
using memory_store_detail::VersionKey;
using memory_store_detail::VersionRow;

// Largest page of Search(), as in SqliteStore.
constexpr int kMaxPageSize = 500;
// The locale whose towlower_l stands in for the case folding of SQLite's
// trigram tokenizer (built into glibc since 2.35).
constexpr const char* kTextLocale = "C.UTF-8";

// A time as SQLite gives it back: through its RFC 3339 text.
domain::Time Stored(domain::Time t) {
  auto parsed = domain::ParseTime(domain::FormatTime(t));
  return parsed.ok() ? *parsed : domain::Time{};
}

std::optional<domain::Time> Stored(const std::optional<domain::Time>& t) {
  if (!t) return std::nullopt;
  return Stored(*t);
}

std::string AsciiLower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

Status ReadOnly(const std::string& what) {
  return Internal(what + " in a read-only transaction");
}

// What SQLite reports for a broken UNIQUE or FOREIGN KEY constraint.
Status ConstraintFailed(const std::string& what) {
  return Internal("database error: constraint failed: " + what, "database_error");
}

domain::User StoredUser(domain::User u) {
  u.password_changed_at = Stored(u.password_changed_at);
  u.locked_until = Stored(u.locked_until);
  u.created_at = Stored(u.created_at);
  return u;
}

domain::Session StoredSession(domain::Session s) {
  s.created_at = Stored(s.created_at);
  s.last_seen_at = Stored(s.last_seen_at);
  s.expires_at = Stored(s.expires_at);
  return s;
}

RecordRow MakeRecordRow(domain::Record r) {
  r.created_at = Stored(r.created_at);
  r.updated_at = Stored(r.updated_at);
  RecordRow row;
  row.created_at_text = domain::FormatTime(r.created_at);
  row.expires_on = domain::ExpiresOn(r.metadata_json);
  row.record = std::move(r);
  return row;
}

// What one transaction works on.
struct TxContext {
  Tables& tables;
  Log& log;
  bool writable;
  locale_t locale;  // for Unicode lower case; may be null

  Status CheckWritable(const std::string& what) const {
    return writable ? Status::Ok() : ReadOnly(what);
  }
};

// Visits the values of `map` in key order, looking each next key up again
// after every visit (as the SQL stores page by id), so that `visit` may
// change the table.
template <typename Map, typename Value, typename Fn>
Status ForEachInKeyOrder(const std::function<const Map&()>& map,
                         const std::function<Status(const Value&)>& visit, Fn value_of) {
  std::optional<typename Map::key_type> after;
  for (;;) {
    const Map& m = map();
    auto it = after ? m.upper_bound(*after) : m.begin();
    if (it == m.end()) return Status::Ok();
    after = it->first;
    Value v = value_of(it->second);
    CUSTOS_RETURN_IF_ERROR(visit(v));
  }
}

// ---------------------------------------------------------------- departments
class MemDepartments final : public DepartmentRepository {
 public:
  explicit MemDepartments(TxContext& c) : c_(c) {}
  Status Insert(const domain::Department& d) override {
    CUSTOS_RETURN_IF_ERROR(c_.CheckWritable("department insert"));
    if (c_.tables.departments.get().count(d.name) != 0) {
      return Conflict("department '" + d.name + "' already exists", "department_exists");
    }
    c_.tables.departments.mutable_map()[d.name] = domain::Department{d.name, Stored(d.created_at)};
    return Status::Ok();
  }
  StatusOr<std::vector<domain::Department>> List() override {
    std::vector<domain::Department> out;
    for (const auto& [name, d] : c_.tables.departments.get()) out.push_back(d);
    return out;
  }
  StatusOr<bool> Exists(const std::string& name) override {
    return c_.tables.departments.get().count(name) != 0;
  }

 private:
  TxContext& c_;
};

// ---------------------------------------------------------------------- users
class MemUsers final : public UserRepository {
 public:
  explicit MemUsers(TxContext& c) : c_(c) {}
  Status Insert(const domain::User& u) override {
    CUSTOS_RETURN_IF_ERROR(c_.CheckWritable("user insert"));
    if (c_.tables.users.get().count(u.username.value) != 0) {
      return Conflict("user '" + u.username.value + "' already exists", "user_exists");
    }
    c_.tables.users.mutable_map()[u.username.value] = StoredUser(u);
    return Status::Ok();
  }
  Status Update(const domain::User& u) override {
    CUSTOS_RETURN_IF_ERROR(c_.CheckWritable("user update"));
    auto it = c_.tables.users.get().find(u.username.value);
    if (it == c_.tables.users.get().end()) {
      return NotFound("no user '" + u.username.value + "'", "user_not_found");
    }
    domain::User stored = StoredUser(u);
    stored.created_at = it->second.created_at;  // never changes
    c_.tables.users.mutable_map()[u.username.value] = std::move(stored);
    return Status::Ok();
  }
  StatusOr<std::optional<domain::User>> Find(const domain::Username& name) override {
    auto it = c_.tables.users.get().find(name.value);
    if (it == c_.tables.users.get().end()) return std::optional<domain::User>();
    return std::optional<domain::User>(it->second);
  }
  StatusOr<std::vector<domain::User>> List() override {
    std::vector<domain::User> out;
    for (const auto& [name, u] : c_.tables.users.get()) out.push_back(u);
    return out;
  }

 private:
  TxContext& c_;
};

// ------------------------------------------------------------------- sessions
class MemSessions final : public SessionRepository {
 public:
  explicit MemSessions(TxContext& c) : c_(c) {}
  Status Insert(const domain::Session& s) override {
    CUSTOS_RETURN_IF_ERROR(c_.CheckWritable("session insert"));
    if (c_.tables.sessions.get().count(s.token_hash) != 0) {
      return ConstraintFailed("UNIQUE sessions.token_hash");
    }
    if (c_.tables.users.get().count(s.username.value) == 0) {
      return ConstraintFailed("FOREIGN KEY sessions.username");
    }
    c_.tables.sessions.mutable_map()[s.token_hash] = StoredSession(s);
    return Status::Ok();
  }
  StatusOr<std::optional<domain::Session>> Find(const std::string& token_hash) override {
    auto it = c_.tables.sessions.get().find(token_hash);
    if (it == c_.tables.sessions.get().end()) return std::optional<domain::Session>();
    return std::optional<domain::Session>(it->second);
  }
  Status Touch(const std::string& token_hash, domain::Time last_seen) override {
    CUSTOS_RETURN_IF_ERROR(c_.CheckWritable("session touch"));
    if (c_.tables.sessions.get().count(token_hash) == 0) return Status::Ok();
    c_.tables.sessions.mutable_map()[token_hash].last_seen_at = Stored(last_seen);
    return Status::Ok();
  }
  Status Delete(const std::string& token_hash) override {
    CUSTOS_RETURN_IF_ERROR(c_.CheckWritable("session delete"));
    if (c_.tables.sessions.get().count(token_hash) == 0) return Status::Ok();
    c_.tables.sessions.mutable_map().erase(token_hash);
    return Status::Ok();
  }
  Status DeleteForUser(const domain::Username& name) override {
    CUSTOS_RETURN_IF_ERROR(c_.CheckWritable("session delete"));
    std::vector<std::string> doomed;
    for (const auto& [token, s] : c_.tables.sessions.get()) {
      if (s.username == name) doomed.push_back(token);
    }
    if (doomed.empty()) return Status::Ok();
    auto& sessions = c_.tables.sessions.mutable_map();
    for (const std::string& token : doomed) sessions.erase(token);
    return Status::Ok();
  }

 private:
  TxContext& c_;
};

// -------------------------------------------------------------------- records
// Search texts of at least this many characters go through SqliteStore's
// trigram index; shorter ones through LIKE.
constexpr size_t kMinIndexedTextChars = 3;

size_t CountCodePoints(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;  // not a continuation byte
  }));
}

// Decodes the UTF-8 sequence at s[i]; returns its length, 0 if malformed.
size_t DecodeUtf8(const std::string& s, size_t i, char32_t* out) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  size_t n = 0;
  char32_t cp = 0;
  if (lead < 0x80) {
    *out = lead;
    return 1;
  }
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2;
    cp = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3;
    cp = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
    cp = lead & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  *out = cp;
  return n;
}

void AppendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Lower-case letters that Unicode case folding (CaseFolding.txt, status C)
// maps further, as SQLite's trigram tokenizer does: towlower_l leaves them.
constexpr std::pair<char32_t, char32_t> kFoldsBeyondLowerCase[] = {
    {0x00B5, 0x03BC},  // micro sign -> mu
    {0x017F, 0x0073},  // long s -> s
    {0x03C2, 0x03C3},  // final sigma -> sigma
    {0x03D0, 0x03B2}, {0x03D1, 0x03B8}, {0x03D5, 0x03C6}, {0x03D6, 0x03C0},
    {0x03F0, 0x03BA}, {0x03F1, 0x03C1}, {0x03F5, 0x03B5},  // Greek symbol forms
    {0x1E9B, 0x1E61},  // long s with dot above
    {0x1FBE, 0x03B9},  // Greek prosgegrammeni -> iota
};

char32_t FoldCase(char32_t cp, locale_t locale) {
  cp = static_cast<char32_t>(towlower_l(static_cast<wint_t>(cp), locale));
  for (const auto& [from, to] : kFoldsBeyondLowerCase) {
    if (cp == from) return to;
  }
  return cp;
}

// Case-folds every character (towlower_l through `locale`, then
// kFoldsBeyondLowerCase); malformed bytes are kept as they are. ASCII only
// when `locale` is null.
std::string UnicodeLower(const std::string& s, locale_t locale) {
  if (locale == nullptr) return AsciiLower(s);
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    size_t n = DecodeUtf8(s, i, &cp);
    if (n == 0) {
      out.push_back(s[i++]);
      continue;
    }
    const char32_t lower = FoldCase(cp, locale);
    if (lower == cp) {
      out.append(s, i, n);
    } else {
      AppendUtf8(out, lower);
    }
    i += n;
  }
  return out;
}

// The text part of a search, as SqliteStore matches it: a substring of the
// archive number (SQLite's LIKE: ASCII lower case) or of the title,
// description or metadata — in Unicode lower case for texts the trigram
// index takes, in ASCII lower case for shorter ones (LIKE again).
class TextMatcher {
 public:
  TextMatcher(const std::string& text, locale_t locale)
      : locale_(CountCodePoints(text) >= kMinIndexedTextChars ? locale : nullptr),
        ascii_needle_(AsciiLower(text)),
        needle_(UnicodeLower(text, locale_)) {}
  bool Matches(const domain::Record& r) const {
    if (AsciiLower(r.id.value).find(ascii_needle_) != std::string::npos) return true;
    for (const std::string* field : {&r.title, &r.description, &r.metadata_json}) {
      if (UnicodeLower(*field, locale_).find(needle_) != std::string::npos) return true;
    }
    return false;
  }

 private:
  locale_t locale_;  // null: ASCII only
  std::string ascii_needle_;
  std::string needle_;
};

bool Matches(const RecordRow& row, const domain::RecordQuery& q, const TextMatcher& text) {
  const domain::Record& r = row.record;
  if (!q.text.empty() && !text.Matches(r)) return false;
  if (q.type && r.type != *q.type) return false;
  if (!q.department.empty() && r.department != q.department) return false;
  if (q.classification && r.classification != *q.classification) return false;
  if (q.state && r.state != *q.state) return false;
  if (q.created_from && row.created_at_text < domain::FormatTime(*q.created_from)) return false;
  if (q.created_to && row.created_at_text > domain::FormatTime(*q.created_to)) return false;
  if (!q.expiring_by.empty() && (row.expires_on.empty() || row.expires_on > q.expiring_by)) {
    return false;
  }
  auto in = [&](const std::vector<domain::Classification>& list) {
    return std::find(list.begin(), list.end(), r.classification) != list.end();
  };
  if (!q.allowed_classifications.empty() && !in(q.allowed_classifications) &&
      !(!q.own_department.empty() && r.department == q.own_department &&
        in(q.own_department_classifications))) {
    return false;
  }
  return true;
}

class MemRecords final : public RecordRepository {
 public:
  explicit MemRecords(TxContext& c) : c_(c) {}

  StatusOr<uint64_t> NextSequence(domain::RecordType type, int year) override {
    CUSTOS_RETURN_IF_ERROR(c_.CheckWritable("sequence allocation"));
    uint64_t& last = c_.tables.sequences.mutable_map()[SequenceKey{std::string(domain::Prefix(type)), year}];
    return ++last;
  }

  Status Insert(const domain::Record& r) override {
    CUSTOS_RETURN_IF_ERROR(c_.CheckWritable("record insert"));
    if (c_.tables.records.get().count(r.id.value) != 0) {
      return Conflict("record " + r.id.value + " already exists", "record_exists");
    }
    c_.tables.records.mutable_map()[r.id.value] = MakeRecordRow(r);
    return Status::Ok();
  }

  Status Update(const domain::Record& r) override {
    CUSTOS_RETURN_IF_ERROR(c_.CheckWritable("record update"));
    auto it = c_.tables.records.get().find(r.id.value);
    if (it == c_.tables.records.get().end()) {
      return NotFound("no record " + r.id.value, "record_not_found");
    }
    domain::Record updated = r;
    updated.created_at = it->second.record.created_at;  // never change
    updated.created_by = it->second.record.created_by;
    c_.tables.records.mutable_map()[r.id.value] = MakeRecordRow(std::move(updated));
    return Status::Ok();
  }

  StatusOr<std::optional<domain::Record>> Find(const domain::RecordId& id) override {
    auto it = c_.tables.records.get().find(id.value);
    if (it == c_.tables.records.get().end()) return std::optional<domain::Record>();
    return std::optional<domain::Record>(it->second.record);
  }

  StatusOr<domain::RecordPage> Search(const domain::RecordQuery& q) override {
    const TextMatcher text(q.text, c_.locale);
    std::vector<const RecordRow*> hits;
    for (const auto& [id, row] : c_.tables.records.get()) {
      if (Matches(row, q, text)) hits.push_back(&row);
    }
    // created_at DESC, id DESC.
    std::sort(hits.begin(), hits.end(), [](const RecordRow* a, const RecordRow* b) {
      if (a->created_at_text != b->created_at_text) return a->created_at_text > b->created_at_text;
      return a->record.id.value > b->record.id.value;
    });
    const int page_size = std::clamp(q.page_size, 1, kMaxPageSize);
    const uint64_t offset = static_cast<uint64_t>(std::max(q.page, 1) - 1) * page_size;
    domain::RecordPage page;
    page.total = std::min<uint64_t>(hits.size(), domain::kMaxCountedMatches);
    page.total_exact = hits.size() <= domain::kMaxCountedMatches;
    for (uint64_t i = offset; i < hits.size() && page.records.size() < static_cast<size_t>(page_size);
         ++i) {
      page.records.push_back(hits[i]->record);
    }
    return page;
  }

  Status ForEach(const std::function<Status(const domain::Record&)>& visit) override {
    using Map = std::map<std::string, RecordRow>;
    return ForEachInKeyOrder<Map, domain::Record>([this]() -> const Map& { return c_.tables.records.get(); },
                                          visit, [](const RecordRow& row) { return row.record; });
  }

 private:
  TxContext& c_;
};

// ------------------------------------------------------------ versions, files
class MemVersions final : public VersionRepository {
 public:
  explicit MemVersions(TxContext& c) : c_(c) {}

  // Like the SQL stores, inserts the version row and then each file, and
  // stops at the first file that breaks a constraint (the caller's failing
  // Write() then rolls everything back).
  Status Insert(const domain::Version& v) override {
    CUSTOS_RETURN_IF_ERROR(c_.CheckWritable("version insert"));
    if (c_.tables.records.get().count(v.record_id.value) == 0) {
      return NotFound("no record " + v.record_id.value, "record_not_found");
    }
    const VersionKey key{v.record_id.value, v.number};
    if (c_.tables.versions.get().count(key) != 0) {
      return Conflict("version " + std::to_string(v.number) + " of " + v.record_id.value +
                          " already exists",
                      "version_exists");
    }
    VersionRow row;
    row.version = v;
    row.version.files.clear();
    row.version.created_at = Stored(v.created_at);
    c_.tables.versions.mutable_map()[key] = std::move(row);
    for (const domain::StoredFile& f : v.files) CUSTOS_RETURN_IF_ERROR(InsertFile(key, v, f));
    return Status::Ok();
  }

  StatusOr<std::vector<domain::Version>> List(const domain::RecordId& id) override {
    std::vector<domain::Version> out;
    const auto& versions = c_.tables.versions.get();
    for (auto it = versions.lower_bound(VersionKey{id.value, INT_MIN});
         it != versions.end() && it->first.first == id.value; ++it) {
      out.push_back(WithFiles(it->second));
    }
    return out;
  }

  StatusOr<std::optional<domain::Version>> Find(const domain::RecordId& id, int number) override {
    const auto& versions = c_.tables.versions.get();
    auto it = versions.find(VersionKey{id.value, number});
    if (it == versions.end()) return std::optional<domain::Version>();
    return std::optional<domain::Version>(WithFiles(it->second));
  }

  Status SetFileKey(const domain::FileId& id, const std::string& kek_id,
                    const std::vector<uint8_t>& wrapped_dek) override {
    CUSTOS_RETURN_IF_ERROR(c_.CheckWritable("file key update"));
    if (c_.tables.files.get().count(id.value) == 0) {
      return NotFound("no file " + id.value, "file_not_found");
    }
    domain::StoredFile& f = c_.tables.files.mutable_map()[id.value];
    f.kek_id = kek_id;
    f.wrapped_dek = wrapped_dek;
    return Status::Ok();
  }

  Status ForEachFile(const std::function<Status(const domain::StoredFile&)>& visit) override {
    using Map = std::map<std::string, domain::StoredFile>;
    return ForEachInKeyOrder<Map, domain::StoredFile>(
        [this]() -> const Map& { return c_.tables.files.get(); }, visit,
        [](const domain::StoredFile& f) { return f; });
  }

  StatusOr<bool> BlobReferenced(const domain::BlobId& id) override {
    return c_.tables.blob_files.get().count(id.value) != 0;
  }

 private:
  Status InsertFile(const VersionKey& key, const domain::Version& v, const domain::StoredFile& f) {
    if (c_.tables.files.get().count(f.id.value) != 0) {
      return ConstraintFailed("UNIQUE files.id (" + f.id.value + ")");
    }
    if (c_.tables.blob_files.get().count(f.blob_id.value) != 0) {
      return ConstraintFailed("UNIQUE files.blob_id (" + f.blob_id.value + ")");
    }
    domain::StoredFile stored = f;
    stored.record_id = v.record_id;
    stored.version = v.number;
    stored.signature.signing_time = Stored(f.signature.signing_time);
    c_.tables.files.mutable_map()[f.id.value] = std::move(stored);
    c_.tables.blob_files.mutable_map()[f.blob_id.value] = f.id.value;
    c_.tables.versions.mutable_map()[key].file_ids.push_back(f.id.value);
    return Status::Ok();
  }

  domain::Version WithFiles(const VersionRow& row) const {
    domain::Version v = row.version;
    const auto& files = c_.tables.files.get();
    for (const std::string& id : row.file_ids) {
      auto it = files.find(id);
      if (it != files.end()) v.files.push_back(it->second);
    }
    return v;
  }

  TxContext& c_;
};

// ------------------------------------------------------------------------ log
// Reads the perfect nodes the log keeps; kDataLoss "log_node_missing" (as
// the SQL stores) for any other.
// ------------------------------------------------------------------ documents
class MemDocuments final : public DocumentRepository {
 public:
  explicit MemDocuments(TxContext& c) : c_(c) {}

  Status Insert(const Document& d) override {
    CUSTOS_RETURN_IF_ERROR(c_.CheckWritable("document insert"));
    if (c_.tables.documents.get().count({d.kind, d.id}) != 0) {
      return Conflict(d.kind + " " + d.id + " already exists", "document_exists");
    }
    c_.tables.documents.mutable_map()[{d.kind, d.id}] = StoredDocument(d);
    return Status::Ok();
  }

  Status Update(const Document& d) override {
    CUSTOS_RETURN_IF_ERROR(c_.CheckWritable("document update"));
    auto it = c_.tables.documents.get().find({d.kind, d.id});
    if (it == c_.tables.documents.get().end()) {
      return NotFound("no " + d.kind + " " + d.id, "document_not_found");
    }
    Document stored = StoredDocument(d);
    stored.created_at = it->second.created_at;  // never changes
    c_.tables.documents.mutable_map()[{d.kind, d.id}] = std::move(stored);
    return Status::Ok();
  }

  StatusOr<std::optional<Document>> Find(const std::string& kind, const std::string& id) override {
    auto it = c_.tables.documents.get().find({kind, id});
    if (it == c_.tables.documents.get().end()) return std::optional<Document>();
    return std::optional<Document>(it->second);
  }

  StatusOr<std::vector<Document>> List(const DocumentQuery& q) override {
    std::vector<Document> out;
    const auto& m = c_.tables.documents.get();
    // Times compare as their stored text, as in SQL.
    auto text = [](const std::optional<domain::Time>& t) { return t ? domain::FormatTime(*t) : std::string(); };
    for (auto it = m.upper_bound({q.kind, q.after_id}); it != m.end() && it->first.first == q.kind;
         ++it) {
      if (out.size() >= q.limit) break;
      const Document& d = it->second;
      if (!q.states.empty() &&
          std::find(q.states.begin(), q.states.end(), d.state) == q.states.end()) {
        continue;
      }
      if (!q.subject.empty() && d.subject != q.subject) continue;
      if (!q.owner.empty() && d.owner != q.owner) continue;
      if (q.due_before && (!d.due_at || text(d.due_at) >= text(q.due_before))) continue;
      std::string created = domain::FormatTime(d.created_at);
      if (q.created_from && created < text(q.created_from)) continue;
      if (q.created_to && created > text(q.created_to)) continue;
      out.push_back(d);
    }
    return out;
  }

  StatusOr<uint64_t> NextNumber(const std::string& prefix, int year) override {
    CUSTOS_RETURN_IF_ERROR(c_.CheckWritable("sequence allocation"));
    return ++c_.tables.sequences.mutable_map()[SequenceKey{prefix, year}];
  }

 private:
  static Document StoredDocument(Document d) {
    d.due_at = Stored(d.due_at);
    d.created_at = Stored(d.created_at);
    d.updated_at = Stored(d.updated_at);
    return d;
  }
  TxContext& c_;
};

class LogNodeReader final : public merkle::NodeReader {
 public:
  explicit LogNodeReader(const Log& log) : log_(log) {}
  StatusOr<crypto::Digest32> Node(merkle::NodeId id) override {
    if (id.level < log_.levels.size() && id.index < log_.levels[id.level].size()) {
      return log_.levels[id.level][id.index];
    }
    return DataLoss("log node (" + std::to_string(id.level) + ", " + std::to_string(id.index) +
                        ") is missing",
                    "log_node_missing");
  }

 private:
  const Log& log_;
};

class MemLog final : public LogRepository {
 public:
  explicit MemLog(TxContext& c) : c_(c) {}

  StatusOr<uint64_t> Append(const LogEvent& event) override {
    if (!c_.writable) return ReadOnly("log append");
    Log& log = c_.log;
    const uint64_t seq = log.size();
    std::optional<crypto::Digest32> prev;
    if (seq > 0) prev = log.levels[0][seq - 1];
    CUSTOS_ASSIGN_OR_RETURN(std::string leaf, EncodeLeaf(event, seq, prev));
    const crypto::Digest32 hash = merkle::HashLeaf(leaf);
    log.Append(std::move(leaf), event.subject, hash);
    return seq;
  }

  StatusOr<uint64_t> Size() override { return c_.log.size(); }

  StatusOr<std::vector<LogEntry>> Entries(uint64_t start, uint64_t end, size_t limit) override {
    std::vector<LogEntry> out;
    end = std::min(end, c_.log.size());
    for (uint64_t i = start; i < end && out.size() < limit; ++i) out.push_back(Entry(i));
    return out;
  }

  StatusOr<std::vector<LogEntry>> EntriesForSubject(const std::string& subject,
                                                    size_t limit) override {
    std::vector<LogEntry> out;
    for (uint64_t i = 0; i < c_.log.size() && out.size() < limit; ++i) {
      if (c_.log.subjects[i] == subject) out.push_back(Entry(i));
    }
    return out;
  }

  StatusOr<StoredCheckpoint> LatestCheckpoint() override {
    if (c_.log.checkpoints.empty()) {
      return NotFound("the log has no checkpoint yet", "no_checkpoint");
    }
    return c_.log.checkpoints.back();
  }

  StatusOr<std::vector<StoredCheckpoint>> Checkpoints() override { return c_.log.checkpoints; }

  StatusOr<std::vector<crypto::Digest32>> InclusionProof(uint64_t index, uint64_t size) override {
    CUSTOS_RETURN_IF_ERROR(CheckSize(size));
    LogNodeReader reader(c_.log);
    return merkle::InclusionProof(index, size, reader);
  }

  StatusOr<std::vector<crypto::Digest32>> ConsistencyProof(uint64_t from, uint64_t to) override {
    CUSTOS_RETURN_IF_ERROR(CheckSize(to));
    LogNodeReader reader(c_.log);
    return merkle::ConsistencyProof(from, to, reader);
  }

  StatusOr<crypto::Digest32> RootAt(uint64_t size) override {
    CUSTOS_RETURN_IF_ERROR(CheckSize(size));
    LogNodeReader reader(c_.log);
    return merkle::RootAt(size, reader);
  }

  StatusOr<std::vector<std::pair<uint64_t, crypto::Digest32>>> NodesAtLevel(
      uint32_t level, uint64_t from_index, size_t limit) override {
    std::vector<std::pair<uint64_t, crypto::Digest32>> out;
    if (level >= c_.log.levels.size()) return out;
    const std::vector<crypto::Digest32>& nodes = c_.log.levels[level];
    for (uint64_t i = from_index; i < nodes.size() && out.size() < limit; ++i) {
      out.emplace_back(i, nodes[i]);
    }
    return out;
  }

 private:
  LogEntry Entry(uint64_t i) const {
    return LogEntry{i, c_.log.leaves[i], c_.log.levels[0][i]};
  }

  Status CheckSize(uint64_t size) const {
    if (size > c_.log.size()) {
      return InvalidArgument("tree size " + std::to_string(size) + " exceeds the log size " +
                                 std::to_string(c_.log.size()),
                             "proof_bad_sizes");
    }
    return Status::Ok();
  }

  TxContext& c_;
};

// -------------------------------------------------------------------- exports
class MemExports final : public ExportRepository {
 public:
  explicit MemExports(TxContext& c) : c_(c) {}

  Status Insert(const StoredExport& e) override {
    CUSTOS_RETURN_IF_ERROR(c_.CheckWritable("export insert"));
    const auto& exports = c_.tables.exports.get();
    if (exports.count(e.id) != 0) return Conflict("export " + e.id + " already exists", "export_exists");
    for (const auto& [id, other] : exports) {
      if (other.blob_id == e.blob_id) return ConstraintFailed("UNIQUE exports.blob_id (" + e.blob_id.value + ")");
    }
    StoredExport stored = e;
    stored.created_at = Stored(e.created_at);
    stored.expires_at = Stored(e.expires_at);
    std::sort(stored.records.begin(), stored.records.end(),
              [](const ExportedRecord& a, const ExportedRecord& b) { return a.id.value < b.id.value; });
    for (size_t i = 1; i < stored.records.size(); ++i) {
      if (stored.records[i].id == stored.records[i - 1].id) {
        return ConstraintFailed("UNIQUE export_records (" + e.id + ", " + stored.records[i].id.value + ")");
      }
    }
    c_.tables.exports.mutable_map()[e.id] = std::move(stored);
    return Status::Ok();
  }

  StatusOr<std::optional<StoredExport>> Find(const std::string& id) override {
    auto it = c_.tables.exports.get().find(id);
    if (it == c_.tables.exports.get().end()) return std::optional<StoredExport>();
    return std::optional<StoredExport>(it->second);
  }

  StatusOr<std::vector<StoredExport>> List() override {
    std::vector<StoredExport> out;
    for (const auto& [id, e] : c_.tables.exports.get()) out.push_back(e);
    return out;
  }

  StatusOr<std::vector<StoredExport>> Naming(const domain::RecordId& record) override {
    std::vector<StoredExport> out;
    for (const auto& [id, e] : c_.tables.exports.get()) {
      for (const ExportedRecord& r : e.records) {
        if (r.id == record) {
          out.push_back(e);
          break;
        }
      }
    }
    return out;
  }

  Status Shred(const std::string& id, const std::string& by) override {
    CUSTOS_RETURN_IF_ERROR(c_.CheckWritable("export shred"));
    if (c_.tables.exports.get().count(id) == 0) return NotFound("no export " + id, "export_not_found");
    StoredExport& e = c_.tables.exports.mutable_map()[id];
    e.kek_id.clear();
    e.wrapped_dek.clear();
    e.shredded_by = by;
    e.summary = "{}";
    return Status::Ok();
  }

  Status Delete(const std::string& id) override {
    CUSTOS_RETURN_IF_ERROR(c_.CheckWritable("export delete"));
    if (c_.tables.exports.get().count(id) == 0) return NotFound("no export " + id, "export_not_found");
    c_.tables.exports.mutable_map().erase(id);
    return Status::Ok();
  }

  StatusOr<bool> BlobReferenced(const domain::BlobId& id) override {
    for (const auto& [eid, e] : c_.tables.exports.get()) {
      if (e.blob_id == id) return !e.wrapped_dek.empty();
    }
    return false;
  }

 private:
  TxContext& c_;
};

class MemTransaction final : public Transaction {
 public:
  MemTransaction(Tables& tables, Log& log, bool writable, locale_t locale)
      : context_{tables, log, writable, locale},
        departments_(context_),
        users_(context_),
        sessions_(context_),
        records_(context_),
        versions_(context_),
        documents_(context_),
        exports_(context_),
        log_(context_) {}
  bool writable() const override { return context_.writable; }
  DepartmentRepository& departments() override { return departments_; }
  UserRepository& users() override { return users_; }
  SessionRepository& sessions() override { return sessions_; }
  RecordRepository& records() override { return records_; }
  VersionRepository& versions() override { return versions_; }
  DocumentRepository& documents() override { return documents_; }
  ExportRepository& exports() override { return exports_; }
  LogRepository& log() override { return log_; }

 private:
  TxContext context_;
  MemDepartments departments_;
  MemUsers users_;
  MemSessions sessions_;
  MemRecords records_;
  MemVersions versions_;
  MemDocuments documents_;
  MemExports exports_;
  MemLog log_;
};

// Runs a store function, turning an escaping exception into kInternal.
Status RunGuarded(const MetadataStore::TxFn& fn, Transaction& tx, const char* kind) {
  try {
    return fn(tx);
  } catch (const std::exception& e) {
    return Internal(std::string(kind) + " function threw: " + e.what());
  } catch (...) {
    return Internal(std::string(kind) + " function threw a non-standard exception");
  }
}

// Marks the calling thread as the holder of the store's mutex while alive.
class OwnerMark {
 public:
  explicit OwnerMark(std::atomic<std::thread::id>& owner) : owner_(owner) {
    owner_.store(std::this_thread::get_id());
  }
  ~OwnerMark() { owner_.store(std::thread::id()); }
  OwnerMark(const OwnerMark&) = delete;
  OwnerMark& operator=(const OwnerMark&) = delete;

 private:
  std::atomic<std::thread::id>& owner_;
};

}  // namespace

MemoryStore::MemoryStore(CheckpointSigner* signer)
    : signer_(signer),
      text_locale_(newlocale(LC_CTYPE_MASK, kTextLocale, static_cast<locale_t>(nullptr))),
      tables_(std::make_unique<Tables>()),
      log_(std::make_unique<Log>()) {}

MemoryStore::~MemoryStore() {
  if (text_locale_ != nullptr) freelocale(text_locale_);
}

Status MemoryStore::CheckNotReentered() const {
  if (owner_.load() == std::this_thread::get_id()) {
    return Internal("a store function called Write() or Read() on its own store",
                    "store_reentered");
  }
  return Status::Ok();
}

Status MemoryStore::Write(const TxFn& fn) {
  CUSTOS_RETURN_IF_ERROR(CheckNotReentered());
  std::lock_guard<std::mutex> lock(mu_);
  OwnerMark mark(owner_);
  return CommitLocked(fn);
}

Status MemoryStore::CommitLocked(const TxFn& fn) {
  std::optional<Status> injected = TakeInjectedFailure();
  if (signer_ == nullptr) return Internal("store created without a checkpoint signer");

  Tables work = *tables_;  // shares every table until fn changes it
  const uint64_t size_before = log_->size();
  const merkle::CompactRange range_before = log_->range;
  MemTransaction tx(work, *log_, /*writable=*/true, text_locale_);
  Status st = RunGuarded(fn, tx, "write");
  if (st.ok() && injected) st = *injected;

  std::optional<StoredCheckpoint> checkpoint;
  if (st.ok() && log_->size() != size_before) {
    StoredCheckpoint cp;
    cp.size = log_->size();
    cp.root = log_->range.Root();
    cp.created_at = Stored(std::chrono::system_clock::now());
    auto note = signer_->Sign(cp.size, cp.root);
    if (note.ok()) {
      cp.note = std::move(note).value();
      checkpoint = std::move(cp);
    } else {
      st = note.status();
    }
  }
  if (!st.ok()) {
    log_->Truncate(size_before, range_before);
    return st;
  }
  *tables_ = std::move(work);
  if (checkpoint) log_->checkpoints.push_back(std::move(*checkpoint));
  ++commits_;
  return Status::Ok();
}

Status MemoryStore::Read(const TxFn& fn) {
  CUSTOS_RETURN_IF_ERROR(CheckNotReentered());
  std::lock_guard<std::mutex> lock(mu_);
  OwnerMark mark(owner_);
  MemTransaction tx(*tables_, *log_, /*writable=*/false, text_locale_);
  return RunGuarded(fn, tx, "read");
}

std::optional<Status> MemoryStore::TakeInjectedFailure() {
  std::lock_guard<std::mutex> lock(hook_mu_);
  return std::exchange(fail_next_, std::nullopt);
}

void MemoryStore::FailNextCommit(Status status) {
  if (status.ok()) status = Internal("FailNextCommit was given an OK status");
  std::lock_guard<std::mutex> lock(hook_mu_);
  fail_next_ = std::move(status);
}

uint64_t MemoryStore::commits() const { return commits_.load(); }

}  // namespace custos::storage
