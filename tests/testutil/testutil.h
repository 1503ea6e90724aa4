// Helpers shared by every test suite: where the conformance vectors and the
// built programs are, and scratch directories that clean up after themselves.
#pragma once

#include <string>

namespace custos::testing {

// The shared/testdata folder (DESIGN §5), e.g. ".../shared/testdata".
std::string TestdataDir();
// The folder holding custosd and custosctl.
std::string BinDir();
// The project's source folder.
std::string SourceDir();

// Reads a whole file; fails the current test (and returns "") if unreadable.
std::string ReadFileOrDie(const std::string& path);
// Writes a whole file (mode 0600).
void WriteFile(const std::string& path, const std::string& content);

// A fresh directory under $TMPDIR (or /tmp), removed with its contents when
// the object is destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string Sub(const std::string& name) const;

 private:
  std::string path_;
};

// The throwaway PostgreSQL server make test starts (the ctest fixture
// `postgres`, scripts/test-postgres.sh): its connection string, or "" when
// the tests run outside ctest without one (CUSTOS_TEST_PG_STATE unset).
// Fails the current test if the variable is set but the server is not
// reachable.
std::string PostgresDsn();

// A new, empty database on that server for one test: its connection
// string, or "" as PostgresDsn(). Databases are left for the fixture's
// cleanup, which removes the whole cluster.
std::string NewPostgresDatabase();

// A new, empty schema in the server's default database, and a connection
// string whose search_path is that schema (cheaper than a database).
std::string NewPostgresSchema();

// GTEST_SKIP for a PostgreSQL test run without the server (a bare run of
// the test binary); under make test the server is always there.
#define CUSTOS_REQUIRE_POSTGRES(dsn)                                              \
  if ((dsn).empty()) {                                                          \
    if (::custos::testing::PostgresExpected()) FAIL() << "no PostgreSQL server"; \
    GTEST_SKIP() << "no PostgreSQL server (run through ctest / make test)";       \
  }
bool PostgresExpected();

}  // namespace custos::testing
