#include "tests/testutil/testutil.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace custos::testing {

std::string TestdataDir() {
  if (const char* env = std::getenv("CUSTOS_TESTDATA_DIR")) return env;
  return std::string(CUSTOS_SHARED_DIR) + "/testdata";
}

std::string BinDir() { return CUSTOS_BIN_DIR; }
std::string SourceDir() { return CUSTOS_SOURCE_DIR; }

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return {};
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0) << "cannot create " << path;
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    ASSERT_GT(n, 0);
    done += static_cast<size_t>(n);
  }
  ::close(fd);
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/custos-test-XXXXXX";
  char* made = ::mkdtemp(tmpl.data());
  if (made == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::Sub(const std::string& name) const { return path_ + "/" + name; }

namespace {

std::string RunOnPostgres(const std::string& dsn, const std::string& statement) {
  PGconn* conn = PQconnectdb(dsn.c_str());
  std::string error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = PQerrorMessage(conn);
  } else {
    PGresult* r = PQexec(conn, statement.c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK) error = PQresultErrorMessage(r);
    PQclear(r);
  }
  PQfinish(conn);
  return error;
}

std::string UniqueName(const char* prefix) {
  static std::atomic<int> counter{0};
  return std::string(prefix) + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000);
}

}  // namespace

bool PostgresExpected() { return std::getenv("CUSTOS_TEST_PG_STATE") != nullptr; }

std::string PostgresDsn() {
  const char* state = std::getenv("CUSTOS_TEST_PG_STATE");
  if (state == nullptr) return "";
  std::ifstream in(std::string(state) + "/dsn");
  std::string dsn;
  std::getline(in, dsn);
  EXPECT_FALSE(dsn.empty()) << "no PostgreSQL connection string in " << state
                            << "/dsn: did the postgres.start fixture run?";
  return dsn;
}

std::string NewPostgresDatabase() {
  std::string dsn = PostgresDsn();
  if (dsn.empty()) return "";
  std::string name = UniqueName("t");
  std::string error = RunOnPostgres(dsn, "CREATE DATABASE " + name);
  EXPECT_EQ(error, "") << "CREATE DATABASE " << name;
  std::string out = dsn;
  size_t at = out.find("dbname=");
  if (at == std::string::npos) return out + " dbname=" + name;
  size_t end = out.find(' ', at);
  out.replace(at, (end == std::string::npos ? out.size() : end) - at, "dbname=" + name);
  return out;
}

std::string NewPostgresSchema() {
  std::string dsn = PostgresDsn();
  if (dsn.empty()) return "";
  std::string name = UniqueName("s");
  std::string error = RunOnPostgres(dsn, "CREATE SCHEMA " + name);
  EXPECT_EQ(error, "") << "CREATE SCHEMA " << name;
  return dsn + " options=-csearch_path=" + name;
}

}  // namespace custos::testing
