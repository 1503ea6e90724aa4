// The derived-data cache (storage/derived_cache.h, schema migration 10) on
// SQLite and PostgreSQL alike: a stored entry comes back byte for byte, a
// second Put of the same file and purpose replaces the first (two readers
// making the same preview at once), bad entries and writes in a read
// transaction change nothing, DeleteRecord removes exactly the record's
// rows, and custosctl migrate copies the table.
#include "storage/derived_cache.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "storage/postgres_store.h"
#include "storage/sqlite_store.h"
#include "storage/store_copy.h"
#include "tests/storage/backend_store.h"
#include "tests/storage/store_test_util.h"
#include "tests/testutil/testutil.h"

namespace custos::storage {
namespace {

using testing::Backend;
using testing::TestSigner;

domain::Time At(int64_t ms) {
  return domain::Time(std::chrono::milliseconds(1795356000000LL + ms));
}

DerivedEntry Entry(const std::string& file, const std::string& purpose, const std::string& record,
                   std::vector<uint8_t> sealed) {
  DerivedEntry e;
  e.file_id = domain::FileId{file};
  e.purpose = purpose;
  e.record_id = domain::RecordId{record};
  e.sealed = std::move(sealed);
  e.created_at = At(0);
  return e;
}

class DerivedCacheStore : public testing::BackendStoreTest {
 protected:
  Status Put(const DerivedEntry& e) {
    return store_->Write([&](Transaction& tx) { return tx.derived().Put(e); });
  }
  std::optional<DerivedEntry> Find(const std::string& file, const std::string& purpose) {
    std::optional<DerivedEntry> out;
    Status s = store_->Read([&](Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(out, tx.derived().Find(domain::FileId{file}, purpose));
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  uint64_t Count(const std::string& record) {
    uint64_t n = 0;
    Status s = store_->Read([&](Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(n, tx.derived().CountRecord(domain::RecordId{record}));
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return n;
  }
};

TEST_P(DerivedCacheStore, StoredEntryComesBackByFileAndPurpose) {
  ASSERT_TRUE(Put(Entry("f1", "preview:1:thumb", "合同-1", {0x00, 0xff, 'P', 'N', 'G'})).ok());
  ASSERT_TRUE(Put(Entry("f1", "preview:2:thumb", "合同-1", {0x01})).ok());
  std::optional<DerivedEntry> got = Find("f1", "preview:1:thumb");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->sealed, (std::vector<uint8_t>{0x00, 0xff, 'P', 'N', 'G'}));
  EXPECT_EQ(got->record_id.value, "合同-1");
  EXPECT_EQ(got->created_at, At(0));
  EXPECT_FALSE(Find("f1", "preview:1:page").has_value());
  EXPECT_FALSE(Find("f2", "preview:1:thumb").has_value());
}

TEST_P(DerivedCacheStore, SecondPutOfTheSameKeyReplacesTheFirst) {
  ASSERT_TRUE(Put(Entry("f1", "preview:1:page", "CT-1", {1, 2, 3})).ok());
  DerivedEntry later = Entry("f1", "preview:1:page", "CT-1", {4, 5});
  later.created_at = At(5000);
  Status s = Put(later);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::optional<DerivedEntry> got = Find("f1", "preview:1:page");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->sealed, (std::vector<uint8_t>{4, 5}));
  EXPECT_EQ(got->created_at, At(5000));
  EXPECT_EQ(Count("CT-1"), 1u);
}

TEST_P(DerivedCacheStore, ConcurrentPutsOfTheSameKeyBothSucceed) {
  // Two first views of the same page at once.
  Status a, b;
  std::thread one([&] { a = Put(Entry("f1", "preview:1:page", "CT-1", {1})); });
  std::thread two([&] { b = Put(Entry("f1", "preview:1:page", "CT-1", {2})); });
  one.join();
  two.join();
  EXPECT_TRUE(a.ok()) << a.ToString();
  EXPECT_TRUE(b.ok()) << b.ToString();
  EXPECT_EQ(Count("CT-1"), 1u);
}

TEST_P(DerivedCacheStore, BadEntryIsRefusedAndNothingWritten) {
  for (const DerivedEntry& bad :
       {Entry("", "preview:1:page", "CT-1", {1}), Entry("f1", "", "CT-1", {1}),
        Entry("f1", "preview:1:page", "", {1}), Entry("f1", "preview:1:page", "CT-1", {})}) {
    Status s = Put(bad);
    EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(s.reason(), "bad_derived_entry");
  }
  EXPECT_EQ(Count("CT-1"), 0u);
}

TEST_P(DerivedCacheStore, WriteInAReadTransactionIsRefused) {
  Status s = store_->Read(
      [&](Transaction& tx) { return tx.derived().Put(Entry("f1", "p", "CT-1", {1})); });
  EXPECT_EQ(s.reason(), "read_only_transaction");
  s = store_->Read([&](Transaction& tx) {
    return tx.derived().DeleteRecord(domain::RecordId{"CT-1"}).status();
  });
  EXPECT_EQ(s.reason(), "read_only_transaction");
  EXPECT_EQ(Count("CT-1"), 0u);
}

TEST_P(DerivedCacheStore, DeleteRecordRemovesOnlyThatRecordsRows) {
  ASSERT_TRUE(Put(Entry("f1", "preview:1:page", "合同-1", {1})).ok());
  ASSERT_TRUE(Put(Entry("f2", "preview:1:thumb", "合同-1", {2})).ok());
  ASSERT_TRUE(Put(Entry("f3", "preview:1:page", "CT-2", {3})).ok());
  uint64_t deleted = 0;
  Status s = store_->Write([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(deleted, tx.derived().DeleteRecord(domain::RecordId{"合同-1"}));
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(deleted, 2u);
  EXPECT_EQ(Count("合同-1"), 0u);
  EXPECT_FALSE(Find("f1", "preview:1:page").has_value());
  EXPECT_TRUE(Find("f3", "preview:1:page").has_value());
}

INSTANTIATE_TEST_SUITE_P(Stores, DerivedCacheStore,
                         testing::kBothBackends,
                         testing::BackendName);

TEST(DerivedCacheCopy, CustosctlMigrateCopiesTheCache) {
  CUSTOS_REQUIRE_POSTGRES(custos::testing::PostgresDsn());
  custos::testing::TempDir tmp;
  TestSigner signer;
  const DerivedEntry entry = Entry("f1", "preview:1:thumb", "合同-1", {0x00, 0x01, 0xfe, 0xff});
  {
    SqliteOptions options;
    options.path = tmp.Sub("custos.db");
    options.durable = false;
    auto store = SqliteStore::Open(options, &signer.checkpoint);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    Status s = (*store)->Write([&](Transaction& tx) { return tx.derived().Put(entry); });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  const std::string dsn = custos::testing::NewPostgresSchema();
  auto counts = CopySqliteToPostgres(tmp.Sub("custos.db"), dsn, nullptr);
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->at("derived_cache"), 1u);
  PostgresOptions options;
  options.dsn = dsn;
  auto pg = PostgresStore::Open(options, &signer.checkpoint);
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  std::optional<DerivedEntry> got;
  Status s = (*pg)->Read([&](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(got, tx.derived().Find(domain::FileId{"f1"}, "preview:1:thumb"));
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->sealed, entry.sealed);
  EXPECT_EQ(got->record_id.value, "合同-1");
}

}  // namespace
}  // namespace custos::storage
