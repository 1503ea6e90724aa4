// An archive made before three-role administration (三员分立): its one
// administrator has the role "admin" (domain::Role::kLegacyAdmin), which may
// do nothing any more. custosd migrates it to sysadmin at start
// (AuthService::MigrateLegacyAdmins) with one user.role_migrated event; the
// archive stays clean for `custosctl verify`, and a second start changes
// nothing.
//
// The previous release's shape is made by `custosctl init` and then the
// admin's row rewritten with role "admin" through the store (sealed by the
// row sealer, its image logged by a state.rows event), as that release left
// it; AuthService refuses to create such an account.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "admin/init.h"
#include "admin/open_archive.h"
#include "domain/model.h"
#include "server/services/auth_service.h"
#include "server/services/clock.h"
#include "storage/log_leaf.h"
#include "tests/admin/cli_probes.h"
#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"

namespace custos::testing {
namespace {

constexpr char kMigratedAction[] = "user.role_migrated";

// Sets `username`'s role through the store (sealed, image logged).
void SetRoleInStore(const std::string& data, const std::string& username, domain::Role role) {
  auto archive = admin::OpenArchive(data);
  ASSERT_TRUE(archive.ok()) << archive.status().ToString();
  Status s = (*archive)->store().Write([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(auto found, tx.users().Find(domain::Username{username}));
    if (!found) return NotFound("no user " + username);
    domain::User u = *found;
    u.role = role;
    return tx.users().Update(u);
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
}

// `data`, initialised and then given the previous release's shape: the
// first admin has role "admin"; beside it a staff account 张伟 (销售部).
void MakeLegacyArchive(const std::string& data) {
  RunResult init = RunProgram({Ctl(), "init", "--data", data});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  RunResult add = RunProgram({Ctl(), "user", "add", "zhangwei", "--role", "staff", "--department",
                              "销售部", "--data", data});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  SetRoleInStore(data, std::string(admin::kFirstAdminName), domain::Role::kLegacyAdmin);
}

// What the archive says about one account after the programs have exited.
struct Account {
  std::optional<domain::User> user;
  size_t migrated_events = 0;  // user.role_migrated events with this subject
};

Account ReadAccount(const std::string& data, const std::string& username) {
  Account out;
  auto archive = admin::OpenArchive(data);
  EXPECT_TRUE(archive.ok()) << archive.status().ToString();
  if (!archive.ok()) return out;
  Status s = (*archive)->store().Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(out.user, tx.users().Find(domain::Username{username}));
    CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().EntriesForSubject(username, 10000));
    for (const storage::LogEntry& entry : entries) {
      if (entry.redacted()) continue;
      CUSTOS_ASSIGN_OR_RETURN(storage::DecodedLeaf leaf, storage::DecodeLeaf(entry.leaf));
      if (leaf.event.action == kMigratedAction) ++out.migrated_events;
    }
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

::testing::AssertionResult VerifiesClean(const std::string& data) {
  RunResult v = RunProgram({Ctl(), "verify", "--data", data});
  if (v.exit_code == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "verify exit " << v.exit_code << ": " << v.out << v.err;
}

TEST(LegacyAdmin, ThePreparedArchiveHasTheOldShapeAndVerifiesClean) {
  TempDir tmp;
  const std::string data = tmp.Sub("data");
  MakeLegacyArchive(data);
  Account admin = ReadAccount(data, "admin");
  ASSERT_TRUE(admin.user.has_value());
  EXPECT_EQ(admin.user->role, domain::Role::kLegacyAdmin);
  EXPECT_EQ(admin.migrated_events, 0u);
  EXPECT_TRUE(VerifiesClean(data)) << "the legacy row is sealed and its image logged";
}

TEST(LegacyAdmin, MigrationInProcessMakesASysAdminWithOneEventAndIsIdempotent) {
  TempDir tmp;
  const std::string data = tmp.Sub("data");
  MakeLegacyArchive(data);
  {
    auto archive = admin::OpenArchive(data);
    ASSERT_TRUE(archive.ok()) << archive.status().ToString();
    services::SystemClock clock;
    services::AuthService auth((*archive)->store(), clock);
    StatusOr<size_t> first = auth.MigrateLegacyAdmins("system");
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    EXPECT_EQ(*first, 1u);
    StatusOr<size_t> second = auth.MigrateLegacyAdmins("system");
    ASSERT_TRUE(second.ok()) << second.status().ToString();
    EXPECT_EQ(*second, 0u) << "nothing left to migrate";
  }
  Account admin = ReadAccount(data, "admin");
  ASSERT_TRUE(admin.user.has_value());
  EXPECT_EQ(admin.user->role, domain::Role::kSysAdmin);
  EXPECT_EQ(admin.user->department, "administration");
  EXPECT_EQ(admin.migrated_events, 1u);
  // The other accounts keep their roles and get no event.
  Account officer = ReadAccount(data, std::string(admin::kFirstSecurityOfficerName));
  ASSERT_TRUE(officer.user.has_value());
  EXPECT_EQ(officer.user->role, domain::Role::kSecurityOfficer);
  EXPECT_EQ(officer.migrated_events, 0u);
  Account staff = ReadAccount(data, "zhangwei");
  ASSERT_TRUE(staff.user.has_value());
  EXPECT_EQ(staff.user->role, domain::Role::kStaff);
  EXPECT_EQ(staff.user->department, "销售部");
  EXPECT_EQ(staff.migrated_events, 0u);
  EXPECT_TRUE(VerifiesClean(data)) << "the replay accepts the migrated row";
}

TEST(LegacyAdmin, CustosdMigratesAtStartAndASecondStartAddsNoEvent) {
  TempDir tmp;
  const std::string data = tmp.Sub("data");
  MakeLegacyArchive(data);
  {
    ServerProcess server;
    ASSERT_TRUE(server.Start(data)) << server.Log();
    EXPECT_EQ(server.Stop(), 0) << server.Log();
  }
  Account admin = ReadAccount(data, "admin");
  ASSERT_TRUE(admin.user.has_value());
  EXPECT_EQ(admin.user->role, domain::Role::kSysAdmin);
  EXPECT_EQ(admin.migrated_events, 1u);
  EXPECT_TRUE(VerifiesClean(data));

  {
    ServerProcess again;
    ASSERT_TRUE(again.Start(data)) << again.Log();
    EXPECT_EQ(again.Stop(), 0) << again.Log();
  }
  Account after = ReadAccount(data, "admin");
  ASSERT_TRUE(after.user.has_value());
  EXPECT_EQ(after.user->role, domain::Role::kSysAdmin);
  EXPECT_EQ(after.migrated_events, 1u) << "a second start migrates nothing";
  EXPECT_TRUE(VerifiesClean(data));
}

}  // namespace
}  // namespace custos::testing
