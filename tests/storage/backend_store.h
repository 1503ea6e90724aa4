// The two stores the storage tests run their repository tests on: SQLite
// (a file in a temporary directory, not durable) and PostgreSQL (a new
// schema of the suite's throwaway server, skipped without one outside
// ctest). A test suite derives from BackendStoreTest and is instantiated
// with kBothBackends and BackendName.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>

#include "storage/postgres_store.h"
#include "storage/sqlite_store.h"
#include "tests/storage/store_test_util.h"
#include "tests/testutil/testutil.h"

namespace custos::storage::testing {

struct Backend {
  const char* name;
  bool postgres;
};
inline void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

inline const auto kBothBackends = ::testing::Values(Backend{"Sqlite", false}, Backend{"Postgres", true});
inline std::string BackendName(const ::testing::TestParamInfo<Backend>& info) { return info.param.name; }

// Opens store_ on the parameter's backend, signed by signer_.
class BackendStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam().postgres) {
      CUSTOS_REQUIRE_POSTGRES(custos::testing::PostgresDsn());
      PostgresOptions options;
      options.dsn = custos::testing::NewPostgresSchema();
      ASSERT_FALSE(options.dsn.empty());
      auto s = PostgresStore::Open(options, &signer_.checkpoint);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      store_ = std::move(s).value();
    } else {
      SqliteOptions options;
      options.path = tmp_.Sub("custos.db");
      options.durable = false;
      auto s = SqliteStore::Open(options, &signer_.checkpoint);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      store_ = std::move(s).value();
    }
  }

  custos::testing::TempDir tmp_;
  TestSigner signer_;
  std::unique_ptr<MetadataStore> store_;
};

}  // namespace custos::storage::testing
