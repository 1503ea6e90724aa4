// AuthService rules that depend on time, driven by a ManualClock over a real
// SQLite store: lockout and its expiry, idle and absolute session expiry,
// password age, and that no event ever carries a secret.
#include "server/services/auth_service.h"

#include <gtest/gtest.h>

#include "crypto/signature.h"
#include "storage/keyring.h"
#include "storage/sqlite_store.h"
#include "tests/testutil/testutil.h"

namespace custos::services {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPassword = "correct horse battery";

class AuthServiceTest : public ::testing::Test {
 protected:
  AuthServiceTest()
      : signer_(crypto::note::KeySigner::Create(
                    "test/auth", crypto::KeyPair::Generate(crypto::SignatureAlgorithm::kEd25519).value())
                    .value()),
        checkpoints_("test/auth", {&signer_}),
        clock_(domain::ParseTime("2026-11-25T09:00:00Z").value()) {
    store_ = storage::SqliteStore::Open({tmp_.Sub("db")}, &checkpoints_).value();
    AuthOptions o;
    o.argon2_memory_kib = 64;  // cheap hashes for tests
    o.argon2_iterations = 1;
    o.second_factor_roles = {};  // second factors: account_service_test.cc
    auth_ = std::make_unique<AuthService>(*store_, clock_, o);
    auto admin = auth_->CreateUserUnchecked("test", {"admin", kPassword, "sysadmin", "it", false});
    EXPECT_TRUE(admin.ok()) << admin.status().ToString();
    admin_ = Principal{domain::Username{"admin"}, domain::Role::kSysAdmin, "it"};
    auto u = auth_->CreateUserUnchecked("test", {"alice", kPassword, "archivist", "it", false});
    EXPECT_TRUE(u.ok()) << u.status().ToString();
  }

  std::string AllLeaves() {
    std::string out;
    EXPECT_TRUE(store_->Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(uint64_t n, tx.log().Size());
      CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(0, n, n + 1));
      for (const auto& e : entries) out += e.leaf + "\n";
      return Status::Ok();
    }).ok());
    return out;
  }

  custos::testing::TempDir tmp_;
  crypto::note::KeySigner signer_;
  storage::NoteCheckpointSigner checkpoints_;
  ManualClock clock_;
  std::unique_ptr<storage::SqliteStore> store_;
  std::unique_ptr<AuthService> auth_;
  Principal admin_;
};

TEST_F(AuthServiceTest, FiveFailuresLockForFifteenMinutes) {
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(auth_->SignIn("alice", "wrong password!!").status().reason(), "invalid_credentials");
  }
  // Locked: even the right password fails, with the same answer.
  EXPECT_EQ(auth_->SignIn("alice", kPassword).status().reason(), "invalid_credentials");
  clock_.Advance(14min);
  EXPECT_FALSE(auth_->SignIn("alice", kPassword).ok());
  clock_.Advance(2min);
  EXPECT_TRUE(auth_->SignIn("alice", kPassword).ok());
  EXPECT_NE(AllLeaves().find("wrong_password_locked"), std::string::npos);
}

TEST_F(AuthServiceTest, SessionsEndWhenIdleAndAfterTheAbsoluteLimit) {
  auto s = auth_->SignIn("alice", kPassword);
  ASSERT_TRUE(s.ok());
  clock_.Advance(29min);
  ASSERT_TRUE(auth_->Authenticate(s->token).ok());  // also extends the idle timer
  clock_.Advance(29min);
  ASSERT_TRUE(auth_->Authenticate(s->token).ok());
  clock_.Advance(31min);
  EXPECT_EQ(auth_->Authenticate(s->token).status().reason(), "session_invalid");

  auto t = auth_->SignIn("alice", kPassword);
  ASSERT_TRUE(t.ok());
  for (int i = 0; i < 24; ++i) {  // busy for 12 hours, never idle
    clock_.Advance(29min);
    (void)auth_->Authenticate(t->token);
  }
  clock_.Advance(30min);
  EXPECT_EQ(auth_->Authenticate(t->token).status().reason(), "session_invalid");
}

TEST_F(AuthServiceTest, OldPasswordMustBeChangedBeforeAnythingElse) {
  clock_.Advance(24h * 91);
  auto s = auth_->SignIn("alice", kPassword);
  ASSERT_TRUE(s.ok());
  auto session = auth_->Authenticate(s->token);
  ASSERT_TRUE(session.ok());
  EXPECT_TRUE(session->must_change_password);
  EXPECT_EQ(auth_->ChangePassword(*session, "not it at all", "another long passphrase")
                .reason(),
            "wrong_password");
  EXPECT_EQ(auth_->ChangePassword(*session, kPassword, "short").reason(), "weak_password");
  ASSERT_TRUE(auth_->ChangePassword(*session, kPassword, "another long passphrase").ok());
  session = auth_->Authenticate(s->token);
  ASSERT_TRUE(session.ok());
  EXPECT_FALSE(session->must_change_password);
}

TEST_F(AuthServiceTest, PasswordChangeLeftOtherSessionsAlive) {
  auto phone = auth_->SignIn("alice", kPassword);
  auto laptop = auth_->SignIn("alice", kPassword);
  ASSERT_TRUE(phone.ok() && laptop.ok());
  auto in_use = auth_->Authenticate(laptop->token);
  ASSERT_TRUE(in_use.ok());
  ASSERT_TRUE(auth_->ChangePassword(*in_use, kPassword, "另一个很长的口令 passphrase").ok());
  EXPECT_EQ(auth_->Authenticate(phone->token).status().reason(), "session_invalid");
  EXPECT_TRUE(auth_->Authenticate(laptop->token).ok());
  EXPECT_TRUE(auth_->SignIn("alice", "另一个很长的口令 passphrase").ok());
}

TEST_F(AuthServiceTest, SignOutEndsTheSessionAndTokensAreStoredHashed) {
  auto s = auth_->SignIn("alice", kPassword);
  ASSERT_TRUE(s.ok());
  auto session = auth_->Authenticate(s->token);
  ASSERT_TRUE(session.ok());
  ASSERT_TRUE(auth_->SignOut(*session).ok());
  EXPECT_FALSE(auth_->Authenticate(s->token).ok());
  std::string db = custos::testing::ReadFileOrDie(tmp_.Sub("db"));
  std::string wal = custos::testing::ReadFileOrDie(tmp_.Sub("db-wal"));
  EXPECT_EQ((db + wal).find(s->token), std::string::npos);
  std::string leaves = AllLeaves();
  EXPECT_EQ(leaves.find(s->token), std::string::npos);
  EXPECT_EQ(leaves.find(kPassword), std::string::npos);
}

TEST_F(AuthServiceTest, AdminRulesAndSeparationOfDuties) {
  Principal alice{domain::Username{"alice"}, domain::Role::kArchivist, "it"};
  EXPECT_EQ(auth_->CreateUser(alice, {"bob", "", "staff", "it", true}).status().reason(), "forbidden");
  EXPECT_EQ(auth_->CreateUser(admin_, {"bob", "", "staff", "nowhere", true}).status().reason(),
            "unknown_department");
  EXPECT_EQ(auth_->CreateUser(admin_, {"Bob!", "", "staff", "it", true}).status().reason(),
            "invalid_username");
  EXPECT_EQ(auth_->CreateUser(admin_, {"bob", kPassword, "staff", "it", true}).status().reason(),
            "password_not_accepted");
  EXPECT_EQ(auth_->CreateUser(admin_, {"bob", "", "wizard", "it", true}).status().reason(),
            "invalid_role");
  EXPECT_EQ(auth_->CreateUser(admin_, {"bob", "", "archivist", "it", true}).status().reason(),
            "grant_required");
  EXPECT_EQ(auth_->CreateUserUnchecked("custosctl", {"bob", "bob", "staff", "it", true}).status().reason(),
            "weak_password");
  EXPECT_EQ(auth_->CreateUserUnchecked("custosctl", {"bob", kPassword, "admin", "it", true}).status().reason(),
            "invalid_role");
  EXPECT_FALSE(auth_->GetUser("bob").ok());  // nothing of the refused calls was kept
  UserPatch disable;
  disable.disabled = true;
  EXPECT_EQ(auth_->PatchUser(admin_, "admin", disable).status().reason(), "cannot_disable_self");
  // Disabling a user ends their sessions at once.
  auto s = auth_->SignIn("alice", kPassword);
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(auth_->PatchUser(admin_, "alice", disable).ok());
  EXPECT_FALSE(auth_->Authenticate(s->token).ok());
  EXPECT_FALSE(auth_->SignIn("alice", kPassword).ok());
}

TEST_F(AuthServiceTest, CachedSessionsFollowEveryChangeOnTheNextRequest) {
  // Authenticate() keeps sessions in a StoreCache on this SQLite store: each
  // change below must show on the very next call, the cache warm before it.
  auto warm = [&](const std::string& token) {
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(auth_->Authenticate(token).ok());
  };
  auto s = auth_->SignIn("alice", kPassword);
  ASSERT_TRUE(s.ok());
  warm(s->token);
  UserPatch move;
  move.department = "sales";
  ASSERT_TRUE(auth_->CreateUserUnchecked("test", {"carol", kPassword, "staff", "sales", false}).ok());
  ASSERT_TRUE(auth_->PatchUser(admin_, "alice", move).ok());
  auto moved = auth_->Authenticate(s->token);
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved->principal.department, "sales");

  // A role revoked (granted staff: at once) ends the session.
  ASSERT_TRUE(auth_->CreateUserUnchecked("test", {"olga", kPassword, "security_officer", "it", false}).ok());
  Principal officer{domain::Username{"olga"}, domain::Role::kSecurityOfficer, "it"};
  warm(s->token);
  ASSERT_TRUE(auth_->ProposeGrant(officer, "alice", "staff").ok());
  EXPECT_EQ(auth_->Authenticate(s->token).status().reason(), "session_invalid");

  // A sign-out through another service object on the same store counts too.
  auto t = auth_->SignIn("alice", kPassword);
  ASSERT_TRUE(t.ok());
  warm(t->token);
  auto now_staff = auth_->Authenticate(t->token);
  ASSERT_TRUE(now_staff.ok());
  EXPECT_EQ(now_staff->principal.role, domain::Role::kStaff);
  AuthOptions o;
  o.argon2_memory_kib = 64;
  o.argon2_iterations = 1;
  o.second_factor_roles = {};
  AuthService other(*store_, clock_, o);
  ASSERT_TRUE(other.SignOut(*now_staff).ok());
  EXPECT_EQ(auth_->Authenticate(t->token).status().reason(), "session_invalid");
}

}  // namespace
}  // namespace custos::services
