// The account side of AuthService (issue #23, "no single person"), on a real
// SQLite store driven by a ManualClock: accounts made without a password,
// one-time set-up codes from a second person, resets, role grants proposed
// and confirmed by two people, the legacy admin's migration, the cooling
// period and fresh-account rules (account_policy.h), the account state's
// JSON (account_state.h) and the TOTP sign-in rules with a real
// SecondFactor. Expected TOTP codes are computed here with OpenSSL's
// HMAC-SHA1 (RFC 6238), not with the code under test.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "server/services/account_policy.h"
#include "server/services/account_state.h"
#include "server/services/auth_service.h"
#include "server/services/second_factor.h"
#include "tests/storage/store_test_util.h"
#include "tests/testutil/scratch_store.h"

namespace custos::services {
namespace {

using namespace std::chrono_literals;
using domain::Role;
using domain::Time;
using domain::User;
using domain::Username;

constexpr const char* kPassword = "correct horse battery";
constexpr const char* kDept = "销售部";
constexpr auto kDay = std::chrono::hours(24);

// ---- an independent RFC 6238 implementation (HMAC-SHA1, 6 digits, 30 s)

std::vector<uint8_t> FromBase32(const std::string& text) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::vector<uint8_t> out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char ch : text) {
    if (ch == '=' || ch == ' ') continue;
    size_t v = alphabet.find(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
    EXPECT_NE(v, std::string::npos) << "not base32: " << ch;
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<uint8_t>(buffer >> (bits - 8)));
      bits -= 8;
    }
  }
  return out;
}

int64_t StepOf(Time t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count() / 30;
}

std::string TotpAt(const std::vector<uint8_t>& key, int64_t step) {
  uint8_t counter[8];
  for (int i = 7; i >= 0; --i) {
    counter[i] = static_cast<uint8_t>(step & 0xff);
    step >>= 8;
  }
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()), counter, sizeof counter, mac, &mac_len);
  int offset = mac[mac_len - 1] & 0x0f;
  uint32_t bin = ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) |
                 mac[offset + 3];
  char text[8];
  std::snprintf(text, sizeof text, "%06u", bin % 1000000u);
  return text;
}

TEST(IndependentTotp, MatchesRfc6238AppendixB) {
  // RFC 6238 appendix B, SHA-1, T = 59 s → 94287082 (8 digits; the last 6).
  std::vector<uint8_t> key(reinterpret_cast<const uint8_t*>("12345678901234567890"),
                           reinterpret_cast<const uint8_t*>("12345678901234567890") + 20);
  EXPECT_EQ(TotpAt(key, 59 / 30), "287082");
  EXPECT_EQ(TotpAt(key, 1111111109 / 30), "081804");
}

// ---- the fixture: the three administrative roles and a department

class AccountServiceTest : public ::testing::Test {
 protected:
  AccountServiceTest()
      : store_(&signer_.checkpoint),
        clock_(domain::ParseTime("2026-11-25T09:00:00Z").value()),
        factors_(std::vector<uint8_t>(32, 0x42)) {
    AuthOptions o;
    o.argon2_memory_kib = 64;  // cheap hashes for tests
    o.argon2_iterations = 1;
    auth_ = std::make_unique<AuthService>(store_, clock_, o, &factors_);
    for (auto [name, role] : {std::pair{"admin", "sysadmin"}, {"security", "security_officer"},
                              {"sec2", "security_officer"}, {"auditor", "security_auditor"}}) {
      auto u = auth_->CreateUserUnchecked("custosctl", {name, kPassword, role, "administration", false});
      EXPECT_TRUE(u.ok()) << u.status().ToString();
    }
    admin_ = {Username{"admin"}, Role::kSysAdmin, "administration"};
    officer_ = {Username{"security"}, Role::kSecurityOfficer, "administration"};
    officer2_ = {Username{"sec2"}, Role::kSecurityOfficer, "administration"};
    auditor_ = {Username{"auditor"}, Role::kSecurityAuditor, "administration"};
    EXPECT_TRUE(auth_->CreateDepartment(admin_, kDept).ok());
  }

  // A staff account made by the system administrator, set up by its holder
  // with a code from the security officer.
  void SetUpStaff(const std::string& name, const std::string& password = kPassword) {
    auto u = auth_->CreateUser(admin_, {name, "", "", kDept, true});
    ASSERT_TRUE(u.ok()) << u.status().ToString();
    auto code = auth_->IssueSetupCode(officer_, name);
    ASSERT_TRUE(code.ok()) << code.status().ToString();
    ASSERT_TRUE(auth_->CompleteSetup(name, code->code, password).ok());
  }

  Principal As(const std::string& name) {
    User u = auth_->GetUser(name).value();
    return {u.username, u.role, u.department};
  }

  std::string AllLeaves() {
    std::string out;
    EXPECT_TRUE(store_.Read([&](storage::Transaction& tx) -> Status {
      CUSTOS_ASSIGN_OR_RETURN(uint64_t n, tx.log().Size());
      CUSTOS_ASSIGN_OR_RETURN(auto entries, tx.log().Entries(0, n, n + 1));
      for (const auto& e : entries) out += e.leaf + "\n";
      return Status::Ok();
    }).ok());
    return out;
  }

  static size_t Count(const std::string& haystack, const std::string& needle) {
    size_t n = 0;
    for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
    return n;
  }

  Credentials CredentialsOf(const std::string& name) {
    return ParseCredentials(auth_->GetUser(name).value().credentials).value();
  }
  Provenance ProvenanceOf(const std::string& name) {
    return ParseProvenance(auth_->GetUser(name).value().provenance).value();
  }

  storage::testing::TestSigner signer_;
  storage::testing::ScratchStore store_;
  ManualClock clock_;
  SecondFactor factors_;
  std::unique_ptr<AuthService> auth_;
  Principal admin_, officer_, officer2_, auditor_;
};

// ---- accounts and set-up codes

TEST_F(AccountServiceTest, NewAccountIsStaffAwaitingSetUpWithoutPasswordOrCode) {
  auto u = auth_->CreateUser(admin_, {"zhang.san", "", "", kDept, true});
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->role, Role::kStaff);
  EXPECT_EQ(u->password_hash, "");
  Credentials c = ParseCredentials(u->credentials).value();
  EXPECT_TRUE(c.awaiting_setup);
  EXPECT_EQ(c.setup_code_hash, "");
  EXPECT_EQ(ProvenanceOf("zhang.san").created_by, "admin");
  EXPECT_EQ(auth_->GetUser("zhang.san")->password_hash, "");
  // No password works, the empty one included.
  EXPECT_EQ(auth_->SignIn("zhang.san", "").status().reason(), "invalid_credentials");
  EXPECT_EQ(auth_->SignIn("zhang.san", kPassword).status().reason(), "invalid_credentials");
  EXPECT_NE(AllLeaves().find("\"awaiting_setup\""), std::string::npos);
}

TEST_F(AccountServiceTest, CreatorCannotIssueOrLearnTheSetUpCode) {
  auto created = auth_->CreateUser(admin_, {"li.si", "", "", kDept, true});
  ASSERT_TRUE(created.ok());
  // The system administrator issues no codes at all.
  EXPECT_EQ(auth_->IssueSetupCode(admin_, "li.si").status().reason(), "forbidden");
  // Nor when they later become a security officer: they created the account.
  auto g = auth_->ProposeGrant(officer_, "admin", "security_officer");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  ASSERT_TRUE(auth_->ConfirmGrant(officer2_, g->id).ok());
  Principal admin_as_officer = As("admin");
  ASSERT_EQ(admin_as_officer.role, Role::kSecurityOfficer);
  EXPECT_EQ(auth_->IssueSetupCode(admin_as_officer, "li.si").status().reason(), "setup_code_same_person");
  EXPECT_EQ(CredentialsOf("li.si").setup_code_hash, "");
  // An account custosctl made in an officer's name: that officer is its creator.
  ASSERT_TRUE(auth_->CreateUserUnchecked("security", {"wang.wu", kPassword, "staff", kDept, true}).ok());
  EXPECT_EQ(auth_->IssueSetupCode(officer_, "wang.wu").status().reason(), "setup_code_same_person");
  EXPECT_EQ(auth_->IssueSetupCode(officer2_, "wang.wu").status().reason(), "setup_not_pending");
  // The users list, as the security auditor sees it, shows no hash.
  auto users = auth_->ListUsers(auditor_);
  ASSERT_TRUE(users.ok()) << users.status().ToString();
  for (const User& u : *users) {
    EXPECT_EQ(u.password_hash, "") << u.username.value;
    EXPECT_EQ(u.credentials.find("setupCodeHash"), std::string::npos) << u.username.value;
    EXPECT_EQ(u.credentials.find("$argon2"), std::string::npos) << u.username.value;
  }
  // Another officer's code works, and the log never held it.
  auto code = auth_->IssueSetupCode(officer_, "li.si");
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  EXPECT_EQ(code->code.size(), 24u);  // 20 characters in groups of four
  EXPECT_EQ(code->expires_at, clock_.Now() + 72h);
  ASSERT_TRUE(auth_->CompleteSetup("li.si", code->code, "李四的很长的口令 passphrase").ok());
  EXPECT_TRUE(auth_->SignIn("li.si", "李四的很长的口令 passphrase").ok());
  std::string leaves = AllLeaves();
  EXPECT_EQ(leaves.find(code->code), std::string::npos);
  EXPECT_NE(leaves.find("user.setup_code_issued"), std::string::npos);
  EXPECT_NE(leaves.find("user.setup_completed"), std::string::npos);
  Provenance p = ProvenanceOf("li.si");
  EXPECT_EQ(p.setup_code_issued_by, "security");
  EXPECT_EQ(p.setup_at, clock_.Now());
}

TEST_F(AccountServiceTest, OfficerCannotIssueACodeForTheirOwnAccount) {
  UserPatch reset;
  reset.reset = true;
  ASSERT_TRUE(auth_->PatchUser(admin_, "security", reset).ok());
  EXPECT_EQ(auth_->IssueSetupCode(officer_, "security").status().reason(), "setup_code_same_person");
  EXPECT_TRUE(auth_->IssueSetupCode(officer2_, "security").ok());
  EXPECT_EQ(auth_->IssueSetupCode(officer_, "nobody").status().reason(), "user_not_found");
  EXPECT_EQ(auth_->IssueSetupCode(auditor_, "security").status().reason(), "forbidden");
}

TEST_F(AccountServiceTest, SetUpCodeWorksOnceAndNotWithAWeakPassword) {
  ASSERT_TRUE(auth_->CreateUser(admin_, {"zhao.liu", "", "", kDept, true}).ok());
  auto code = auth_->IssueSetupCode(officer_, "zhao.liu");
  ASSERT_TRUE(code.ok());
  // A weak password: refused, and the code is not used up.
  EXPECT_EQ(auth_->CompleteSetup("zhao.liu", code->code, "short").reason(), "weak_password");
  EXPECT_EQ(auth_->CompleteSetup("zhao.liu", code->code, "zhao.liu").reason(), "weak_password");
  EXPECT_TRUE(CredentialsOf("zhao.liu").awaiting_setup);
  // Typed in lower case without dashes: the same code.
  std::string typed;
  for (char c : code->code) {
    if (c != '-') typed.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  ASSERT_TRUE(auth_->CompleteSetup("zhao.liu", typed, kPassword).ok());
  Credentials c = CredentialsOf("zhao.liu");
  EXPECT_FALSE(c.awaiting_setup);
  EXPECT_EQ(c.setup_code_hash, "");
  EXPECT_FALSE(auth_->GetUser("zhao.liu")->must_change_password);
  // Used: a second try with it fails, and the password set stays.
  EXPECT_EQ(auth_->CompleteSetup("zhao.liu", code->code, "another long passphrase").reason(),
            "invalid_setup_code");
  EXPECT_TRUE(auth_->SignIn("zhao.liu", kPassword).ok());
  EXPECT_EQ(auth_->SignIn("zhao.liu", "another long passphrase").status().reason(), "invalid_credentials");
  EXPECT_EQ(auth_->CompleteSetup("nobody", code->code, kPassword).reason(), "invalid_setup_code");
}

TEST_F(AccountServiceTest, SetUpCodeExpiresAndANewOneReplacesTheOld) {
  ASSERT_TRUE(auth_->CreateUser(admin_, {"qian.qi", "", "", kDept, true}).ok());
  auto first = auth_->IssueSetupCode(officer_, "qian.qi");
  ASSERT_TRUE(first.ok());
  auto second = auth_->IssueSetupCode(officer_, "qian.qi");
  ASSERT_TRUE(second.ok());
  EXPECT_NE(first->code, second->code);
  EXPECT_EQ(auth_->CompleteSetup("qian.qi", first->code, kPassword).reason(), "invalid_setup_code");
  clock_.Advance(72h);
  EXPECT_EQ(auth_->CompleteSetup("qian.qi", second->code, kPassword).reason(), "invalid_setup_code");
  EXPECT_TRUE(CredentialsOf("qian.qi").awaiting_setup);
  auto third = auth_->IssueSetupCode(officer2_, "qian.qi");
  ASSERT_TRUE(third.ok());
  clock_.Advance(71h);
  EXPECT_TRUE(auth_->CompleteSetup("qian.qi", third->code, kPassword).ok());
  EXPECT_EQ(ProvenanceOf("qian.qi").setup_code_issued_by, "sec2");
}

TEST_F(AccountServiceTest, WrongSetUpCodesLockTheAccountUntilAnOfficerUnlocksIt) {
  ASSERT_TRUE(auth_->CreateUser(admin_, {"sun.ba", "", "", kDept, true}).ok());
  auto code = auth_->IssueSetupCode(officer_, "sun.ba");
  ASSERT_TRUE(code.ok());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(auth_->CompleteSetup("sun.ba", "AAAA-AAAA-AAAA-AAAA-AAAA", kPassword).reason(),
              "invalid_setup_code");
  }
  EXPECT_TRUE(auth_->GetUser("sun.ba")->locked_until.has_value());
  EXPECT_EQ(auth_->CompleteSetup("sun.ba", code->code, kPassword).reason(), "invalid_setup_code");
  EXPECT_EQ(auth_->Unlock(admin_, "sun.ba").status().reason(), "forbidden");
  EXPECT_EQ(auth_->Unlock(officer_, "security").status().reason(), "cannot_unlock_self");
  auto unlocked = auth_->Unlock(officer_, "sun.ba");
  ASSERT_TRUE(unlocked.ok()) << unlocked.status().ToString();
  EXPECT_FALSE(unlocked->locked_until.has_value());
  EXPECT_TRUE(auth_->CompleteSetup("sun.ba", code->code, kPassword).ok());
  std::string leaves = AllLeaves();
  EXPECT_NE(leaves.find("wrong_code_locked"), std::string::npos);
  EXPECT_NE(leaves.find("user.unlock"), std::string::npos);
}

TEST_F(AccountServiceTest, ResetEndsSessionsAndNeedsANewCodeFromAnotherPerson) {
  SetUpStaff("zhou.jiu");
  auto s = auth_->SignIn("zhou.jiu", kPassword);
  ASSERT_TRUE(s.ok());
  UserPatch reset;
  reset.reset = true;
  EXPECT_EQ(auth_->PatchUser(admin_, "admin", reset).status().reason(), "cannot_reset_self");
  UserPatch factor_only;
  factor_only.reset_second_factor = true;
  EXPECT_EQ(auth_->PatchUser(admin_, "zhou.jiu", factor_only).status().reason(), "reset_required");
  EXPECT_EQ(auth_->PatchUser(officer_, "zhou.jiu", reset).status().reason(), "forbidden");
  clock_.Advance(1h);
  auto after = auth_->PatchUser(admin_, "zhou.jiu", reset);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(auth_->Authenticate(s->token).status().reason(), "session_invalid");
  EXPECT_EQ(auth_->SignIn("zhou.jiu", kPassword).status().reason(), "invalid_credentials");
  Provenance p = ProvenanceOf("zhou.jiu");
  EXPECT_EQ(p.reset_by, "admin");
  EXPECT_EQ(p.reset_at, clock_.Now());
  EXPECT_TRUE(CredentialsOf("zhou.jiu").awaiting_setup);
  auto code = auth_->IssueSetupCode(officer_, "zhou.jiu");
  ASSERT_TRUE(code.ok());
  ASSERT_TRUE(auth_->CompleteSetup("zhou.jiu", code->code, "周九的新口令 passphrase").ok());
  EXPECT_TRUE(auth_->SignIn("zhou.jiu", "周九的新口令 passphrase").ok());
  EXPECT_NE(AllLeaves().find("\"reset\":true"), std::string::npos);
}

TEST_F(AccountServiceTest, TheLastResetterCannotIssueTheCode) {
  // Made by custosctl, reset by the system administrator, who is later
  // made a security officer: they reset it, so the code must come from
  // someone else.
  ASSERT_TRUE(auth_->CreateUserUnchecked("custosctl", {"he.yi", kPassword, "staff", kDept, true}).ok());
  UserPatch reset;
  reset.reset = true;
  ASSERT_TRUE(auth_->PatchUser(admin_, "he.yi", reset).ok());
  auto g = auth_->ProposeGrant(officer_, "admin", "security_officer");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  ASSERT_TRUE(auth_->ConfirmGrant(officer2_, g->id).ok());
  EXPECT_EQ(auth_->IssueSetupCode(As("admin"), "he.yi").status().reason(), "setup_code_same_person");
  EXPECT_EQ(CredentialsOf("he.yi").setup_code_hash, "");
  EXPECT_TRUE(auth_->IssueSetupCode(officer_, "he.yi").ok());
}

TEST_F(AccountServiceTest, ResetOfAnIssuedCodeMakesItUseless) {
  ASSERT_TRUE(auth_->CreateUser(admin_, {"wu.shi", "", "", kDept, true}).ok());
  auto code = auth_->IssueSetupCode(officer_, "wu.shi");
  ASSERT_TRUE(code.ok());
  UserPatch reset;
  reset.reset = true;
  ASSERT_TRUE(auth_->PatchUser(admin_, "wu.shi", reset).ok());
  EXPECT_EQ(auth_->CompleteSetup("wu.shi", code->code, kPassword).reason(), "invalid_setup_code");
}

// ---- role grants

TEST_F(AccountServiceTest, GrantThenConfirmChangesTheRoleAndEndsSessions) {
  SetUpStaff("zheng");
  auto s = auth_->SignIn("zheng", kPassword);
  ASSERT_TRUE(s.ok());
  clock_.Advance(10min);
  auto g = auth_->ProposeGrant(officer_, "zheng", "archivist");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->state, "proposed");
  EXPECT_EQ(g->previous_role, "staff");
  EXPECT_EQ(g->id.substr(0, 8), "GR-2026-");
  EXPECT_EQ(auth_->GetUser("zheng")->role, Role::kStaff);  // nothing yet
  EXPECT_TRUE(auth_->Authenticate(s->token).ok());  // (idle timeout: 30 min)
  clock_.Advance(10min);
  auto confirmed = auth_->ConfirmGrant(admin_, g->id);  // the sysadmin may confirm
  ASSERT_TRUE(confirmed.ok()) << confirmed.status().ToString();
  EXPECT_EQ(confirmed->state, "confirmed");
  EXPECT_EQ(confirmed->decided_by, "admin");
  EXPECT_EQ(auth_->GetUser("zheng")->role, Role::kArchivist);
  EXPECT_EQ(auth_->Authenticate(s->token).status().reason(), "session_invalid");
  Provenance p = ProvenanceOf("zheng");
  EXPECT_EQ(p.role_granted_at, clock_.Now());
  EXPECT_EQ(p.role_granted_by, "security+admin");
  EXPECT_EQ(auth_->ConfirmGrant(officer2_, g->id).status().reason(), "grant_not_pending");
  auto all = auth_->Grants(auditor_, "");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().id, g->id);
  EXPECT_EQ(auth_->Grants(auditor_, "proposed")->size(), 0u);
  EXPECT_EQ(auth_->Grants(auditor_, "maybe").status().reason(), "invalid_state");
  EXPECT_EQ(auth_->Grants(As("zheng"), "").status().reason(), "forbidden");
  std::string leaves = AllLeaves();
  EXPECT_NE(leaves.find("grant.propose"), std::string::npos);
  EXPECT_NE(leaves.find("grant.confirm"), std::string::npos);
}

TEST_F(AccountServiceTest, NoOneGrantsOrConfirmsTheirOwnOrTheirProposal) {
  SetUpStaff("feng");
  EXPECT_EQ(auth_->ProposeGrant(officer_, "security", "approver").status().reason(), "grant_same_person");
  EXPECT_EQ(auth_->ProposeGrant(admin_, "feng", "approver").status().reason(), "forbidden");
  EXPECT_EQ(auth_->ProposeGrant(auditor_, "feng", "approver").status().reason(), "forbidden");
  EXPECT_EQ(auth_->ProposeGrant(officer_, "feng", "admin").status().reason(), "invalid_role");
  EXPECT_EQ(auth_->ProposeGrant(officer_, "feng", "staff").status().reason(), "grant_unchanged");
  EXPECT_EQ(auth_->ProposeGrant(officer_, "nobody", "approver").status().reason(), "user_not_found");
  auto g = auth_->ProposeGrant(officer_, "feng", "approver");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(auth_->ConfirmGrant(officer_, g->id).status().reason(), "grant_same_person");
  EXPECT_EQ(auth_->ConfirmGrant(auditor_, g->id).status().reason(), "forbidden");
  EXPECT_EQ(auth_->ConfirmGrant(As("feng"), g->id).status().reason(), "forbidden");
  EXPECT_EQ(auth_->ConfirmGrant(officer2_, "GR-2026-999999").status().reason(), "grant_not_found");
  // A second open proposal for the account is refused.
  EXPECT_EQ(auth_->ProposeGrant(officer2_, "feng", "legal").status().reason(), "grant_pending");
  EXPECT_EQ(auth_->GetUser("feng")->role, Role::kStaff);
  // The target of a grant cannot confirm it, even as a security officer.
  auto up = auth_->ProposeGrant(officer_, "sec2", "security_auditor");
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  EXPECT_EQ(auth_->ConfirmGrant(officer2_, up->id).status().reason(), "grant_same_person");
  EXPECT_EQ(auth_->RejectGrant(officer2_, up->id, "").status().reason(), "grant_same_person");
  auto rejected = auth_->RejectGrant(admin_, up->id, "离职交接 handover");
  ASSERT_TRUE(rejected.ok()) << rejected.status().ToString();
  EXPECT_EQ(rejected->state, "rejected");
  EXPECT_EQ(rejected->reason, "离职交接 handover");
  EXPECT_EQ(auth_->GetUser("sec2")->role, Role::kSecurityOfficer);
  EXPECT_EQ(auth_->RejectGrant(admin_, g->id, "bad\nreason").status().reason(), "invalid_reason");
  EXPECT_EQ(auth_->Grants(auditor_, "proposed")->size(), 1u);  // nothing of the refusal kept
}

TEST_F(AccountServiceTest, RevocationToStaffIsImmediateAndClosesAStaleProposal) {
  SetUpStaff("chen");
  auto g = auth_->ProposeGrant(officer_, "chen", "legal");
  ASSERT_TRUE(g.ok());
  ASSERT_TRUE(auth_->ConfirmGrant(officer2_, g->id).ok());
  auto s = auth_->SignIn("chen", kPassword);
  ASSERT_TRUE(s.ok());
  auto pending = auth_->ProposeGrant(officer_, "chen", "approver");
  ASSERT_TRUE(pending.ok());
  // The revocation is not held up by the open proposal, and needs no second person.
  auto revoke = auth_->ProposeGrant(officer_, "chen", "staff");
  ASSERT_TRUE(revoke.ok()) << revoke.status().ToString();
  EXPECT_EQ(revoke->state, "confirmed");
  EXPECT_EQ(revoke->decided_by, "security");
  EXPECT_EQ(auth_->GetUser("chen")->role, Role::kStaff);
  EXPECT_EQ(auth_->Authenticate(s->token).status().reason(), "session_invalid");
  // The earlier proposal named "legal" as the role it replaces: stale.
  EXPECT_EQ(auth_->ConfirmGrant(officer2_, pending->id).status().reason(), "grant_stale");
  EXPECT_EQ(auth_->GetUser("chen")->role, Role::kStaff);
  EXPECT_EQ(auth_->Grants(auditor_, "proposed")->size(), 0u);
}

TEST_F(AccountServiceTest, MigrateLegacyAdminsOnceWithOneEvent) {
  ASSERT_TRUE(store_.Write([&](storage::Transaction& tx) -> Status {
    User u;
    u.username = Username{"old.admin"};
    u.password_hash = auth_->GetUser("admin")->password_hash;
    u.role = Role::kLegacyAdmin;
    u.department = "administration";
    u.must_change_password = false;
    u.password_changed_at = clock_.Now();
    u.created_at = clock_.Now();
    return tx.users().Insert(u);
  }).ok());
  auto s = auth_->SignIn("old.admin", kPassword);  // no rights, but an account like any
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  clock_.Advance(1min);
  auto n = auth_->MigrateLegacyAdmins("system:custos");
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1u);
  EXPECT_EQ(auth_->GetUser("old.admin")->role, Role::kSysAdmin);
  EXPECT_EQ(auth_->Authenticate(s->token).status().reason(), "session_invalid");
  EXPECT_EQ(*auth_->MigrateLegacyAdmins("system:custos"), 0u);
  EXPECT_EQ(Count(AllLeaves(), "user.role_migrated"), 1u);
  EXPECT_EQ(ProvenanceOf("old.admin").role_granted_at, clock_.Now());
}

// ---- second factors (TOTP with a manual clock)

class TotpSignInTest : public AccountServiceTest {
 protected:
  // Enrols TOTP for the security officer; returns the decoded secret.
  std::vector<uint8_t> Enrol(std::vector<std::string>* recovery = nullptr) {
    auto s = auth_->SignIn("security", kPassword);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    auto session = auth_->Authenticate(s->token);
    EXPECT_TRUE(session.ok());
    EXPECT_TRUE(session->must_enrol_second_factor);
    auto begun = auth_->BeginTotp(*session);
    EXPECT_TRUE(begun.ok()) << begun.status().ToString();
    std::vector<uint8_t> key = FromBase32(begun->secret_base32);
    EXPECT_EQ(auth_->ConfirmTotp(*session, "000000").status().reason(), "invalid_second_factor");
    auto codes = auth_->ConfirmTotp(*session, TotpAt(key, StepOf(clock_.Now())));
    EXPECT_TRUE(codes.ok()) << codes.status().ToString();
    EXPECT_EQ(codes->size(), 10u);
    if (recovery) *recovery = *codes;
    EXPECT_FALSE(auth_->Authenticate(s->token)->must_enrol_second_factor);
    std::string leaves = AllLeaves();
    EXPECT_EQ(leaves.find(begun->secret_base32), std::string::npos);
    for (const auto& c : *codes) EXPECT_EQ(leaves.find(c), std::string::npos);
    clock_.Advance(5min);
    return key;
  }

  StatusOr<SignInResult> WithTotp(const std::string& code) {
    SignInFactor f;
    f.totp = code;
    return auth_->SignIn("security", kPassword, f);
  }
};

TEST_F(TotpSignInTest, NoFactorYetGivesARestrictedSession) {
  auto s = auth_->SignIn("sec2", kPassword);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto session = auth_->Authenticate(s->token);
  ASSERT_TRUE(session.ok());
  EXPECT_TRUE(session->must_enrol_second_factor);
  // Staff need none.
  SetUpStaff("staff.one");
  auto staff = auth_->SignIn("staff.one", kPassword);
  ASSERT_TRUE(staff.ok());
  EXPECT_FALSE(auth_->Authenticate(staff->token)->must_enrol_second_factor);
}

TEST_F(TotpSignInTest, WithoutSecondFactorsConfiguredPrivilegedRolesCannotSignIn) {
  AuthOptions o;
  o.argon2_memory_kib = 64;
  o.argon2_iterations = 1;
  AuthService bare(store_, clock_, o, nullptr);
  EXPECT_EQ(bare.SignIn("security", kPassword).status().reason(), "second_factor_unavailable");
  SetUpStaff("staff.two");
  EXPECT_TRUE(bare.SignIn("staff.two", kPassword).ok());
}

TEST_F(TotpSignInTest, EmptyFactorIsRequiredButNotAFailure) {
  std::vector<uint8_t> key = Enrol();
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(auth_->SignIn("security", kPassword).status().reason(), "second_factor_required");
  }
  EXPECT_EQ(auth_->GetUser("security")->failed_logins, 0);
  EXPECT_TRUE(WithTotp(TotpAt(key, StepOf(clock_.Now()))).ok());
}

TEST_F(TotpSignInTest, SkewOfOneStepAcceptedTwoRefused) {
  std::vector<uint8_t> key = Enrol();
  int64_t now = StepOf(clock_.Now());
  auto early = WithTotp(TotpAt(key, now - 1));
  EXPECT_TRUE(early.ok()) << early.status().ToString();
  clock_.Advance(5min);
  now = StepOf(clock_.Now());
  EXPECT_TRUE(WithTotp(TotpAt(key, now + 1)).ok());
  clock_.Advance(5min);
  now = StepOf(clock_.Now());
  EXPECT_EQ(WithTotp(TotpAt(key, now + 2)).status().reason(), "invalid_second_factor");
  EXPECT_EQ(WithTotp(TotpAt(key, now - 2)).status().reason(), "invalid_second_factor");
  EXPECT_EQ(auth_->GetUser("security")->failed_logins, 2);
  EXPECT_TRUE(WithTotp(TotpAt(key, now)).ok());
  EXPECT_EQ(auth_->GetUser("security")->failed_logins, 0);
  // A wrong password with a right code is still a wrong password.
  clock_.Advance(5min);
  SignInFactor f;
  f.totp = TotpAt(key, StepOf(clock_.Now()));
  EXPECT_EQ(auth_->SignIn("security", "not the password", f).status().reason(), "invalid_credentials");
}

TEST_F(TotpSignInTest, AReusedCodeIsRefused) {
  std::vector<uint8_t> key = Enrol();
  std::string code = TotpAt(key, StepOf(clock_.Now()));
  ASSERT_TRUE(WithTotp(code).ok());
  EXPECT_EQ(WithTotp(code).status().reason(), "invalid_second_factor");
  // So is the code of the step before, once a later one was used.
  EXPECT_EQ(WithTotp(TotpAt(key, StepOf(clock_.Now()) - 1)).status().reason(), "invalid_second_factor");
  EXPECT_NE(AllLeaves().find("reused_totp"), std::string::npos);
}

TEST_F(TotpSignInTest, RecoveryCodeWorksOnce) {
  std::vector<std::string> recovery;
  Enrol(&recovery);
  ASSERT_FALSE(recovery.empty());
  SignInFactor f;
  f.recovery_code = recovery[3];
  auto s = auth_->SignIn("security", kPassword, f);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(CredentialsOf("security").recovery_code_hashes.size(), 9u);
  EXPECT_EQ(auth_->SignIn("security", kPassword, f).status().reason(), "invalid_second_factor");
  f.recovery_code = "not-a-recovery-code";
  EXPECT_EQ(auth_->SignIn("security", kPassword, f).status().reason(), "invalid_second_factor");
  f.recovery_code = recovery[4];
  EXPECT_TRUE(auth_->SignIn("security", kPassword, f).ok());
  EXPECT_EQ(AllLeaves().find(recovery[3]), std::string::npos);
}

TEST_F(TotpSignInTest, FiveWrongCodesLockTheAccount) {
  std::vector<uint8_t> key = Enrol();
  std::string right = TotpAt(key, StepOf(clock_.Now()));
  std::string wrong = right == "123456" ? "654321" : "123456";
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(WithTotp(wrong).status().reason(), "invalid_second_factor");
  }
  EXPECT_TRUE(auth_->GetUser("security")->locked_until.has_value());
  EXPECT_EQ(WithTotp(right).status().reason(), "invalid_credentials");
  EXPECT_NE(AllLeaves().find("wrong_totp_locked"), std::string::npos);
  clock_.Advance(16min);
  EXPECT_TRUE(WithTotp(TotpAt(key, StepOf(clock_.Now()))).ok());
}

TEST_F(TotpSignInTest, ResetWithSecondFactorRemovesIt) {
  Enrol();
  UserPatch reset;
  reset.reset = true;
  reset.reset_second_factor = true;
  ASSERT_TRUE(auth_->PatchUser(admin_, "security", reset).ok());
  Credentials c = CredentialsOf("security");
  EXPECT_FALSE(c.HasSecondFactor());
  EXPECT_TRUE(c.recovery_code_hashes.empty());
  EXPECT_TRUE(c.awaiting_setup);
}

TEST_F(TotpSignInTest, CertificateFactor) {
  SetUpStaff("cert.user");
  auto s = auth_->SignIn("cert.user", kPassword);
  ASSERT_TRUE(s.ok());
  auto session = auth_->Authenticate(s->token).value();
  EXPECT_EQ(auth_->EnrolCertificate(session, "").reason(), "certificate_required");
  EXPECT_EQ(auth_->EnrolCertificate(session, "xyz").reason(), "invalid_certificate");
  std::string cert(64, 'a');
  ASSERT_TRUE(auth_->EnrolCertificate(session, cert).ok());
  // Staff who opted in now need it.
  EXPECT_EQ(auth_->SignIn("cert.user", kPassword).status().reason(), "second_factor_required");
  SignInFactor f;
  f.certificate_sha256 = std::string(64, 'b');
  EXPECT_EQ(auth_->SignIn("cert.user", kPassword, f).status().reason(), "invalid_second_factor");
  f.certificate_sha256 = std::string(64, 'A');
  EXPECT_TRUE(auth_->SignIn("cert.user", kPassword, f).ok());
}

// ---- account_state.h

TEST(AccountState, DefaultIsEmptyObjectAndFieldsRoundTrip) {
  EXPECT_EQ(Serialize(Credentials{}), "{}");
  EXPECT_EQ(Serialize(Provenance{}), "{}");
  Credentials c;
  c.awaiting_setup = true;
  c.setup_code_hash = std::string(64, 'a');
  c.setup_code_expires_at = domain::ParseTime("2026-11-28T09:00:00Z").value();
  c.setup_code_issued_by = "security";
  c.totp_last_step = 0;
  c.recovery_code_hashes = {"x", "y"};
  std::string text = Serialize(c);
  EXPECT_EQ(text.find(' '), std::string::npos);
  Credentials back = ParseCredentials(text).value();
  EXPECT_EQ(Serialize(back), text);
  EXPECT_EQ(back.totp_last_step, 0);
  EXPECT_EQ(back.recovery_code_hashes.size(), 2u);
  EXPECT_EQ(*back.setup_code_expires_at, *c.setup_code_expires_at);
  Provenance p;
  p.created_by = "admin";
  p.role_granted_at = domain::ParseTime("2026-11-25T09:00:00Z").value();
  p.role_granted_by = "security+sec2";
  EXPECT_EQ(Serialize(p),
            "{\"createdBy\":\"admin\",\"roleGrantedAt\":\"2026-11-25T09:00:00.000Z\","
            "\"roleGrantedBy\":\"security+sec2\"}");
  EXPECT_EQ(Serialize(ParseProvenance(Serialize(p)).value()), Serialize(p));
}

TEST(AccountState, DamagedTextIsDataLoss) {
  for (const char* bad : {"[]", "{", "{\"awaitingSetup\":\"yes\"}", "{\"resetAt\":\"yesterday\"}",
                          "{\"recoveryCodeHashes\":[1]}", "{\"totpLastStep\":\"1\"}"}) {
    auto c = ParseCredentials(bad);
    auto p = ParseProvenance(bad);
    EXPECT_FALSE(c.ok() && p.ok()) << bad;
    if (!c.ok()) {
      EXPECT_EQ(c.status().reason(), "account_state_invalid") << bad;
    }
    if (!p.ok()) {
      EXPECT_EQ(p.status().reason(), "account_state_invalid") << bad;
    }
  }
}

TEST(AccountState, LastHandoverIsTheNewest) {
  User u;
  u.created_at = domain::ParseTime("2026-01-01T00:00:00Z").value();
  Provenance p;
  EXPECT_EQ(LastHandover(u, p), u.created_at);
  p.role_granted_at = domain::ParseTime("2026-03-01T00:00:00Z").value();
  p.reset_at = domain::ParseTime("2026-02-01T00:00:00Z").value();
  EXPECT_EQ(LastHandover(u, p), *p.role_granted_at);
}

// ---- account_policy.h

TEST(AccountPolicy, CoolingPeriodNamesActionEventAndDate) {
  User u;
  u.username = Username{"approver1"};
  u.created_at = domain::ParseTime("2026-01-01T00:00:00Z").value();
  AccountPolicyOptions o;
  Time now = u.created_at + 10 * kDay;
  Status s = CheckCoolingPeriod(u, now, o, "approve a destruction");
  EXPECT_EQ(s.reason(), "approver_cooling_period");
  EXPECT_NE(s.message().find("approve a destruction"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("created"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("2026-01-31"), std::string::npos) << s.message();
  EXPECT_TRUE(CheckCoolingPeriod(u, u.created_at + 30 * kDay, o, "approve a destruction").ok());

  Provenance p;
  p.reset_at = u.created_at + 40 * kDay;
  u.provenance = Serialize(p);
  s = CheckCoolingPeriod(u, u.created_at + 45 * kDay, o, "shorten a retention period");
  EXPECT_EQ(s.reason(), "approver_cooling_period");
  EXPECT_NE(s.message().find("reset"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("shorten a retention period"), std::string::npos);
  EXPECT_NE(s.ToString().find("2026-03-12"), std::string::npos) << s.ToString();

  p.role_granted_at = u.created_at + 50 * kDay;
  u.provenance = Serialize(p);
  s = CheckCoolingPeriod(u, u.created_at + 79 * kDay, o, "approve a destruction");
  EXPECT_EQ(s.reason(), "approver_cooling_period");
  EXPECT_NE(s.message().find("granted"), std::string::npos) << s.message();
  EXPECT_TRUE(CheckCoolingPeriod(u, u.created_at + 80 * kDay, o, "approve a destruction").ok());
  o.cooling = std::chrono::hours(0);
  EXPECT_TRUE(CheckCoolingPeriod(u, u.created_at + 51 * kDay, o, "approve a destruction").ok());
}

TEST(AccountPolicy, FreshAccountCountsSetUpResetAndGrant) {
  User u;
  u.created_at = domain::ParseTime("2026-01-01T00:00:00Z").value();
  AccountPolicyOptions o;
  EXPECT_TRUE(IsFreshAccount(u, u.created_at + 6 * kDay, o));
  EXPECT_FALSE(IsFreshAccount(u, u.created_at + 7 * kDay, o));
  Provenance p;
  p.setup_at = u.created_at + 20 * kDay;
  u.provenance = Serialize(p);
  EXPECT_TRUE(IsFreshAccount(u, u.created_at + 26 * kDay, o));
  EXPECT_FALSE(IsFreshAccount(u, u.created_at + 27 * kDay, o));
  p.role_granted_at = u.created_at + 100 * kDay;
  u.provenance = Serialize(p);
  EXPECT_TRUE(IsFreshAccount(u, u.created_at + 101 * kDay, o));
  o.fresh = std::chrono::hours(0);
  EXPECT_FALSE(IsFreshAccount(u, u.created_at + 101 * kDay, o));
}

}  // namespace
}  // namespace custos::services
