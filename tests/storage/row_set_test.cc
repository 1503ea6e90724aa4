// Set seals (storage/row_set.h) in a real data directory: every write
// keeps each authority table's sealed summary of its keys, so that a row
// deleted or inserted with SQL on a stopped copy is named by the start-up
// check (ArchiveStorage::CheckAtStart) and by verify (row_set_mismatch),
// and an archive from before migration 6 gets its summaries at its first
// open.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/config.h"
#include "storage/archive.h"
#include "storage/data_dir.h"
#include "storage/seal_check.h"
#include "storage/sql_util.h"
#include "tests/testutil/testutil.h"

namespace custos::storage {
namespace {

class RowSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<DataDir>(tmp_.Sub("data"));
    ASSERT_TRUE(dir_->CreateFresh().ok());
    Status created = ArchiveStorage::Create(*dir_, config_);
    ASSERT_TRUE(created.ok()) << created.ToString();
    auto archive = ArchiveStorage::Open(*dir_, config_);
    ASSERT_TRUE(archive.ok()) << archive.status().ToString();
    Status s = (*archive)->store().Write([&](Transaction& tx) -> Status {
      const domain::Time now = domain::TruncateToMillis(std::chrono::system_clock::now());
      for (const char* name : {"法务部", "finance", "档案室"}) {
        CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({name, now}));
      }
      domain::User user;
      user.username = domain::Username{"admin"};
      user.password_hash = "$argon2id$test";
      user.department = "法务部";
      user.password_changed_at = now;
      user.created_at = now;
      CUSTOS_RETURN_IF_ERROR(tx.users().Insert(user));
      for (const char* token : {"aa01", "bb02"}) {
        CUSTOS_RETURN_IF_ERROR(tx.sessions().Insert(
            {token, domain::Username{"admin"}, now, now, now + std::chrono::hours(1)}));
      }
      LogEvent e;
      e.action = "department.create";
      e.actor = "admin";
      e.at = now;
      e.subject = "法务部";
      return tx.log().Append(e).status();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // The start-up check's findings after reopening the stopped archive.
  std::vector<Finding> StartupFindings() {
    auto archive = ArchiveStorage::Open(*dir_, config_);
    EXPECT_TRUE(archive.ok()) << archive.status().ToString();
    if (!archive.ok()) return {};
    auto findings = (*archive)->CheckAtStart();
    EXPECT_TRUE(findings.ok()) << findings.status().ToString();
    return findings.ok() ? *findings : std::vector<Finding>{};
  }

  void Sql(const std::string& script) {
    auto c = sql::OpenSqlite(dir_->Database());
    ASSERT_TRUE(c.ok());
    Status s = (*c)->Script(script);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  custos::testing::TempDir tmp_;
  Config config_;
  std::unique_ptr<DataDir> dir_;
};

const Finding* FindingFor(const std::vector<Finding>& findings, const std::string& object) {
  for (const Finding& f : findings) {
    if (f.object == object && f.code == "row_set_mismatch") return &f;
  }
  return nullptr;
}

TEST_F(RowSetTest, WritesThroughTheStoreKeepEverySummaryRight) {
  auto archive = ArchiveStorage::Open(*dir_, config_);
  ASSERT_TRUE(archive.ok());
  Status s = (*archive)->store().Write([](Transaction& tx) -> Status {
    CUSTOS_RETURN_IF_ERROR(tx.sessions().Delete("aa01"));  // as the expiry purge does
    return tx.sessions().DeleteForUser(domain::Username{"admin"});
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto findings = CheckRowSetFindings((*archive)->store());
  ASSERT_TRUE(findings.ok()) << findings.status().ToString();
  EXPECT_TRUE(findings->empty()) << (*findings)[0].object << ": " << (*findings)[0].problem;
}

TEST_F(RowSetTest, ADeletedRowStopsTheStartNamingTableAndCount) {
  Sql("DELETE FROM departments WHERE name = '档案室'");
  const auto findings = StartupFindings();
  const Finding* f = FindingFor(findings, "table departments");
  ASSERT_NE(f, nullptr) << findings.size() << " findings";
  EXPECT_NE(f->problem.find("holds 2 rows, its sealed summary says 3 (1 deleted"), std::string::npos) << f->problem;
}

TEST_F(RowSetTest, ADeletedSessionIsNoticedToo) {
  Sql("DELETE FROM sessions WHERE token_hash = 'bb02'");
  EXPECT_NE(FindingFor(StartupFindings(), "table sessions"), nullptr);
}

TEST_F(RowSetTest, AForgedRowWithACopiedSealIsAnAddedRow) {
  Sql("INSERT INTO departments(name, created_at, mac) SELECT '伪造部', created_at, mac FROM departments "
      "WHERE name = 'finance'");
  const auto findings = StartupFindings();
  const Finding* f = FindingFor(findings, "table departments");
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->problem.find("(1 added"), std::string::npos) << f->problem;
}

TEST_F(RowSetTest, ARowSwappedForAnotherKeepsTheCountButNotTheKeys) {
  Sql("UPDATE departments SET name = '伪造部' WHERE name = 'finance'");
  const auto findings = StartupFindings();
  const Finding* f = FindingFor(findings, "table departments");
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->problem.find("not the same keys"), std::string::npos) << f->problem;
}

TEST_F(RowSetTest, ADeletedOrChangedSummaryIsNamed) {
  Sql("DELETE FROM row_sets WHERE table_name = 'documents'; "
      "UPDATE row_sets SET row_count = row_count - 1 WHERE table_name = 'departments'");
  const auto findings = StartupFindings();
  const Finding* gone = FindingFor(findings, "table documents");
  ASSERT_NE(gone, nullptr);
  EXPECT_NE(gone->problem.find("no sealed summary"), std::string::npos) << gone->problem;
  const Finding* changed = FindingFor(findings, "table departments");
  ASSERT_NE(changed, nullptr);
  EXPECT_NE(changed->problem.find("fails its seal"), std::string::npos) << changed->problem;
}

TEST_F(RowSetTest, VerifyNamesADeletedRow) {
  Sql("DELETE FROM departments WHERE name = '档案室'");
  auto archive = ArchiveStorage::Open(*dir_, config_);
  ASSERT_TRUE(archive.ok());
  auto report = (*archive)->Verify([](const VerifyProgress&) {});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_NE(FindingFor(report->findings, "table departments"), nullptr);
}

TEST_F(RowSetTest, AnArchiveFromBeforeMigrationSixGetsItsSummariesAtItsFirstOpen) {
  // Migrations 7 to 11 came after: undo them too, so that 6 to 11 apply again.
  Sql("DROP TABLE row_sets; ALTER TABLE users DROP COLUMN credentials; "
      "ALTER TABLE users DROP COLUMN provenance; DROP TABLE search_postings; "
      "DROP TABLE file_texts; DROP TABLE search_queue; DROP TABLE derived_cache; DROP TABLE checkpoint_signatures; "
      "DELETE FROM schema_migrations WHERE version >= 6");
  EXPECT_TRUE(StartupFindings().empty());
  // Summaries made then follow later deletions.
  Sql("DELETE FROM departments WHERE name = 'finance'");
  EXPECT_NE(FindingFor(StartupFindings(), "table departments"), nullptr);
}

}  // namespace
}  // namespace custos::storage
