// The row seal key in a real data directory (storage/keyring.h,
// storage/archive.h): init makes keys/row-seal.key; an archive from before
// row seals gets a key and all its rows sealed at its first open (trust on
// upgrade); a missing key on an archive whose rows are sealed refuses the
// open (row_seal_key_missing) until the key is put back.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <string>

#include "common/config.h"
#include "storage/archive.h"
#include "storage/data_dir.h"
#include "storage/sql_util.h"
#include "tests/testutil/testutil.h"

namespace custos::storage {
namespace {

namespace fs = std::filesystem;

class RowSealKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<DataDir>(tmp_.Sub("data"));
    ASSERT_TRUE(dir_->CreateFresh().ok());
    Status created = ArchiveStorage::Create(*dir_, config_);
    ASSERT_TRUE(created.ok()) << created.ToString();
  }
  std::string KeyPath() const { return dir_->KeysDir() + "/row-seal.key"; }

  // Adds a department through the store (sealed, logged).
  void AddDepartment(ArchiveStorage& archive, const std::string& name) {
    Status s = archive.store().Write([&](Transaction& tx) -> Status {
      domain::Time now = domain::TruncateToMillis(std::chrono::system_clock::now());
      CUSTOS_RETURN_IF_ERROR(tx.departments().Insert({name, now}));
      LogEvent e;
      e.action = "department.create";
      e.actor = "admin";
      e.at = now;
      e.subject = name;
      return tx.log().Append(e).status();
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
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

TEST_F(RowSealKeyTest, InitMakesAPrivateKeyBesideTheKeks) {
  struct stat st {};
  ASSERT_EQ(::stat(KeyPath().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
}

TEST_F(RowSealKeyTest, AnArchiveFromBeforeSealsIsSealedAtItsFirstOpen) {
  {
    auto archive = ArchiveStorage::Open(*dir_, config_);
    ASSERT_TRUE(archive.ok()) << archive.status().ToString();
    AddDepartment(**archive, "法务部");
  }
  // As a version without seals left it: no key, no seals.
  fs::remove(KeyPath());
  Sql("UPDATE departments SET mac = ''; UPDATE users SET mac = ''; UPDATE sessions SET mac = '';"
      "UPDATE documents SET mac = ''");
  auto archive = ArchiveStorage::Open(*dir_, config_);
  ASSERT_TRUE(archive.ok()) << archive.status().ToString();
  EXPECT_TRUE(fs::exists(KeyPath()));
  EXPECT_FALSE(fs::exists(KeyPath() + ".new"));
  Status read = (*archive)->store().Read([](Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(bool exists, tx.departments().Exists("法务部"));
    if (!exists) return NotFound("the department is gone");
    return tx.users().List().status();
  });
  EXPECT_TRUE(read.ok()) << read.ToString();
  auto startup = (*archive)->CheckAtStart();
  ASSERT_TRUE(startup.ok());
  EXPECT_TRUE(startup->empty());
}

TEST_F(RowSealKeyTest, AMissingKeyRefusesTheOpenUntilItIsPutBack) {
  {
    auto archive = ArchiveStorage::Open(*dir_, config_);
    ASSERT_TRUE(archive.ok()) << archive.status().ToString();
    AddDepartment(**archive, "法务部");
  }
  const std::string saved = tmp_.Sub("row-seal.key.saved");
  fs::copy_file(KeyPath(), saved);
  fs::remove(KeyPath());
  auto refused = ArchiveStorage::Open(*dir_, config_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().reason(), "row_seal_key_missing") << refused.status().ToString();
  EXPECT_FALSE(fs::exists(KeyPath() + ".new")) << "the key made for the refused open is gone";
  fs::copy_file(saved, KeyPath());
  auto archive = ArchiveStorage::Open(*dir_, config_);
  ASSERT_TRUE(archive.ok()) << archive.status().ToString();
  EXPECT_TRUE((*archive)->store().Read([](Transaction& tx) { return tx.departments().List().status(); }).ok());
}

}  // namespace
}  // namespace custos::storage
