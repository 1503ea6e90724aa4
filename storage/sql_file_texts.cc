#include "storage/sql_file_texts.h"

#include <algorithm>
#include <cstdint>

namespace custos::storage {

namespace {

using sql::P;
using sql::Params;
using sql::Rows;

// The columns of a row in FileText order; kWithoutText leaves out the
// sealed text (OfRecord, DueRetries), whose place holds an empty blob.
constexpr char kColumns[] =
    "file_id, record_id, version, state, claimed_type, identified_type, method, pages, text_bytes, "
    "sealed_text, attempts, next_attempt, reason, updated_at";
constexpr char kColumnsWithoutText[] =
    "file_id, record_id, version, state, claimed_type, identified_type, method, pages, text_bytes, "
    "NULL, attempts, next_attempt, reason, updated_at";

Status ReadOnly() { return Internal("a write in a read-only transaction", "read_only_transaction"); }

StatusOr<domain::Time> StoredTime(const Rows& r, size_t row, size_t col) {
  auto t = domain::ParseTime(r.Text(row, col));
  if (!t.ok()) return DataLoss("a file text row holds a malformed time", "bad_file_text");
  return *t;
}

StatusOr<FileText> FromRow(const Rows& r, size_t i) {
  FileText t;
  t.file_id = domain::FileId{r.Text(i, 0)};
  t.record_id = domain::RecordId{r.Text(i, 1)};
  t.version = static_cast<int>(r.Int(i, 2));
  CUSTOS_ASSIGN_OR_RETURN(t.state, ParseTextState(r.Text(i, 3)));
  t.claimed_type = r.Text(i, 4);
  t.identified_type = r.Text(i, 5);
  t.method = r.Text(i, 6);
  t.pages = static_cast<int>(r.Int(i, 7));
  t.text_bytes = static_cast<uint64_t>(r.Int(i, 8));
  t.sealed_text = r.Bytes(i, 9);
  t.attempts = static_cast<int>(r.Int(i, 10));
  CUSTOS_ASSIGN_OR_RETURN(t.next_attempt, StoredTime(r, i, 11));
  t.reason = r.Text(i, 12);
  CUSTOS_ASSIGN_OR_RETURN(t.updated_at, StoredTime(r, i, 13));
  return t;
}

StatusOr<std::vector<FileText>> FromRows(const Rows& r) {
  std::vector<FileText> out;
  out.reserve(r.size());
  for (size_t i = 0; i < r.size(); ++i) {
    CUSTOS_ASSIGN_OR_RETURN(FileText t, FromRow(r, i));
    out.push_back(std::move(t));
  }
  return out;
}

int64_t Limit(size_t limit) { return static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)); }

class SqlFileTexts final : public FileTextRepository {
 public:
  SqlFileTexts(sql::Connection& s, bool writable) : s_(s), writable_(writable) {}

  Status Upsert(const FileText& t) override {
    if (!writable_) return ReadOnly();
    if (t.file_id.value.empty() || t.record_id.value.empty()) {
      return InvalidArgument("a file text needs a file id and a record id", "bad_file_text");
    }
    if (t.version < 0 || t.pages < 0 || t.attempts < 0) {
      return InvalidArgument("a file text's version, pages and attempts are not negative", "bad_file_text");
    }
    CUSTOS_RETURN_IF_ERROR(sql::Exec(s_, "DELETE FROM file_texts WHERE file_id = $1", {P(t.file_id.value)}));
    return sql::Exec(s_,
                     std::string("INSERT INTO file_texts(") + kColumns +
                         ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                     {P(t.file_id.value), P(t.record_id.value), P(t.version), P(std::string(Name(t.state))),
                      P(t.claimed_type), P(t.identified_type), P(t.method), P(t.pages), P(t.text_bytes),
                      P(t.sealed_text), P(t.attempts), P(domain::FormatTime(t.next_attempt)), P(t.reason),
                      P(domain::FormatTime(t.updated_at))});
  }

  StatusOr<std::optional<FileText>> Find(const domain::FileId& file_id) override {
    CUSTOS_ASSIGN_OR_RETURN(
        Rows r, sql::Query(s_, std::string("SELECT ") + kColumns + " FROM file_texts WHERE file_id = $1",
                           {P(file_id.value)}));
    if (r.empty()) return std::optional<FileText>();
    CUSTOS_ASSIGN_OR_RETURN(FileText t, FromRow(r, 0));
    return std::optional<FileText>(std::move(t));
  }

  StatusOr<std::vector<FileText>> OfRecord(const domain::RecordId& record_id) override {
    CUSTOS_ASSIGN_OR_RETURN(Rows r, sql::Query(s_,
                                               std::string("SELECT ") + kColumnsWithoutText +
                                                   " FROM file_texts WHERE record_id = $1 ORDER BY version, file_id",
                                               {P(record_id.value)}));
    return FromRows(r);
  }

  StatusOr<uint64_t> DeleteRecord(const domain::RecordId& record_id) override {
    if (!writable_) return ReadOnly();
    CUSTOS_ASSIGN_OR_RETURN(
        Rows n, sql::Query(s_, "SELECT COUNT(*) FROM file_texts WHERE record_id = $1", {P(record_id.value)}));
    CUSTOS_RETURN_IF_ERROR(sql::Exec(s_, "DELETE FROM file_texts WHERE record_id = $1", {P(record_id.value)}));
    CUSTOS_RETURN_IF_ERROR(sql::Exec(s_, "DELETE FROM search_queue WHERE record_id = $1", {P(record_id.value)}));
    return static_cast<uint64_t>(n.Int(0, 0));
  }

  StatusOr<std::vector<FileText>> DueRetries(domain::Time now, size_t limit) override {
    if (limit == 0) return std::vector<FileText>();
    CUSTOS_ASSIGN_OR_RETURN(
        Rows r, sql::Query(s_,
                           std::string("SELECT ") + kColumnsWithoutText +
                               " FROM file_texts WHERE state = $1 AND next_attempt <= $2 "
                               "ORDER BY next_attempt, file_id LIMIT $3",
                           {P(std::string(Name(TextState::kRetry))), P(domain::FormatTime(now)), P(Limit(limit))}));
    return FromRows(r);
  }

  StatusOr<TextCounts> Counts() override {
    CUSTOS_ASSIGN_OR_RETURN(Rows r, sql::Query(s_, "SELECT state, COUNT(*) FROM file_texts GROUP BY state"));
    TextCounts c;
    for (size_t i = 0; i < r.size(); ++i) {
      CUSTOS_ASSIGN_OR_RETURN(TextState state, ParseTextState(r.Text(i, 0)));
      const auto n = static_cast<uint64_t>(r.Int(i, 1));
      switch (state) {
        case TextState::kPending: c.pending = n; break;
        case TextState::kText: c.text = n; break;
        case TextState::kNoText: c.no_text = n; break;
        case TextState::kRetry: c.retry = n; break;
        case TextState::kFailed: c.failed = n; break;
      }
    }
    CUSTOS_ASSIGN_OR_RETURN(Rows q, sql::Query(s_, "SELECT COUNT(*) FROM search_queue"));
    c.queued_records = static_cast<uint64_t>(q.Int(0, 0));
    return c;
  }

  Status Enqueue(const domain::RecordId& record_id, domain::Time at) override {
    if (!writable_) return ReadOnly();
    if (record_id.value.empty()) return InvalidArgument("a queued record needs an id", "bad_queue_entry");
    const std::string when = domain::FormatTime(at);
    // Each placeholder first appears in its own order (SQLite numbers "$n"
    // by first appearance).
    CUSTOS_RETURN_IF_ERROR(sql::Exec(s_, "UPDATE search_queue SET queued_at = $1 WHERE record_id = $2 AND queued_at > $1",
                                     {P(when), P(record_id.value)}));
    return sql::Exec(s_,
                     "INSERT INTO search_queue(record_id, queued_at) VALUES ($1, $2) ON CONFLICT (record_id) DO NOTHING",
                     {P(record_id.value), P(when)});
  }

  StatusOr<std::vector<domain::RecordId>> Queued(size_t limit) override {
    std::vector<domain::RecordId> out;
    if (limit == 0) return out;
    CUSTOS_ASSIGN_OR_RETURN(
        Rows r, sql::Query(s_, "SELECT record_id FROM search_queue ORDER BY queued_at, record_id LIMIT $1",
                           {P(Limit(limit))}));
    out.reserve(r.size());
    for (size_t i = 0; i < r.size(); ++i) out.push_back(domain::RecordId{r.Text(i, 0)});
    return out;
  }

  Status Dequeue(const domain::RecordId& record_id) override {
    if (!writable_) return ReadOnly();
    return sql::Exec(s_, "DELETE FROM search_queue WHERE record_id = $1", {P(record_id.value)});
  }

 private:
  sql::Connection& s_;
  const bool writable_;  // false in Read(): every write is refused
};

}  // namespace

std::unique_ptr<FileTextRepository> MakeSqlFileTexts(sql::Connection& connection, bool writable) {
  return std::make_unique<SqlFileTexts>(connection, writable);
}

}  // namespace custos::storage
