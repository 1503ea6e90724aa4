#include "storage/sql_derived_cache.h"

namespace custos::storage {

namespace {

using sql::P;
using sql::Rows;

class SqlDerivedCache final : public DerivedCacheRepository {
 public:
  SqlDerivedCache(sql::Connection& s, bool writable) : s_(s), writable_(writable) {}

  Status Put(const DerivedEntry& e) override {
    if (!writable_) return Internal("a write in a read-only transaction", "read_only_transaction");
    if (e.file_id.value.empty() || e.purpose.empty() || e.record_id.value.empty() ||
        e.sealed.empty()) {
      return InvalidArgument(
          "a derived entry needs a file id, a purpose, a record id and sealed bytes",
          "bad_derived_entry");
    }
    // One statement, so that two transactions making the same entry at once
    // do not both insert (PostgreSQL) or fail on the key.
    return sql::Exec(s_,
                     "INSERT INTO derived_cache(file_id, purpose, record_id, sealed, created_at) "
                     "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (file_id, purpose) DO UPDATE SET "
                     "record_id = excluded.record_id, sealed = excluded.sealed, created_at = "
                     "excluded.created_at",
                     {P(e.file_id.value), P(e.purpose), P(e.record_id.value), P(e.sealed),
                      P(domain::FormatTime(e.created_at))});
  }

  StatusOr<std::optional<DerivedEntry>> Find(const domain::FileId& file_id,
                                             const std::string& purpose) override {
    CUSTOS_ASSIGN_OR_RETURN(Rows r,
                            sql::Query(s_,
                                       "SELECT record_id, sealed, created_at FROM derived_cache "
                                       "WHERE file_id = $1 AND purpose = $2",
                                       {P(file_id.value), P(purpose)}));
    if (r.empty()) return std::optional<DerivedEntry>();
    DerivedEntry e;
    e.file_id = file_id;
    e.purpose = purpose;
    e.record_id = domain::RecordId{r.Text(0, 0)};
    e.sealed = r.Bytes(0, 1);
    auto at = domain::ParseTime(r.Text(0, 2));
    if (!at.ok())
      return DataLoss("a derived cache row holds a malformed time", "bad_derived_entry");
    e.created_at = *at;
    return std::optional<DerivedEntry>(std::move(e));
  }

  StatusOr<uint64_t> DeleteRecord(const domain::RecordId& record_id) override {
    if (!writable_) return Internal("a write in a read-only transaction", "read_only_transaction");
    CUSTOS_ASSIGN_OR_RETURN(uint64_t n, CountRecord(record_id));
    CUSTOS_RETURN_IF_ERROR(
        sql::Exec(s_, "DELETE FROM derived_cache WHERE record_id = $1", {P(record_id.value)}));
    return n;
  }

  StatusOr<uint64_t> CountRecord(const domain::RecordId& record_id) override {
    CUSTOS_ASSIGN_OR_RETURN(
        Rows n, sql::Query(s_, "SELECT COUNT(*) FROM derived_cache WHERE record_id = $1",
                           {P(record_id.value)}));
    return static_cast<uint64_t>(n.Int(0, 0));
  }

 private:
  sql::Connection& s_;
  const bool writable_;  // false in Read(): every write is refused
};

}  // namespace

std::unique_ptr<DerivedCacheRepository> MakeSqlDerivedCache(sql::Connection& connection,
                                                            bool writable) {
  return std::make_unique<SqlDerivedCache>(connection, writable);
}

}  // namespace custos::storage
