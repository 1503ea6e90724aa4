// custosctl init's first admin and security officer and custosctl user add: the accounts they
// create (read back from the archive after the command exits), the password
// printed once, and the one-line refusals with exit code 2.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "admin/init.h"
#include "admin/open_archive.h"
#include "admin/password_input.h"
#include "crypto/password.h"
#include "storage/data_dir.h"
#include "domain/model.h"
#include "tests/admin/cli_probes.h"
#include "tests/testutil/process.h"
#include "tests/testutil/testutil.h"

namespace custos::testing {
namespace {

// Reads a user and whether a department exists, with the archive opened in
// this process (the command has exited).
struct Stored {
  std::optional<domain::User> user;
  bool department_exists = false;
};

Stored ReadBack(const std::string& data, const std::string& username,
                const std::string& department) {
  Stored out;
  auto archive = admin::OpenArchive(data);
  EXPECT_TRUE(archive.ok()) << archive.status().ToString();
  if (!archive.ok()) return out;
  Status s = (*archive)->store().Read([&](storage::Transaction& tx) -> Status {
    CUSTOS_ASSIGN_OR_RETURN(out.user, tx.users().Find(domain::Username{username}));
    CUSTOS_ASSIGN_OR_RETURN(out.department_exists, tx.departments().Exists(department));
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

void ExpectLogVerifies(const std::string& data) {
  RunResult v = RunProgram({Ctl(), "verify", "--data", data});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

// custosctl init on `data` with an admin password file (in `tmp`) that
// holds `content`.
RunResult InitWithPasswordFile(const TempDir& tmp, const std::string& data,
                               const std::string& content) {
  const std::string file = tmp.Sub("admin-password");
  WriteFile(file, content);
  return RunProgram({Ctl(), "init", "--data", data, "--admin-password-file", file});
}

// Runs init with the given password; fails the test if init fails.
void InitWithPassword(const TempDir& tmp, const std::string& data, const std::string& password) {
  RunResult r = InitWithPasswordFile(tmp, data, password + "\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

constexpr char kAdminPassword[] = "correct horse battery staple";

// ---------------------------------------------------------------- init

TEST(CustosctlInitAdmin, GeneratedPasswordIsPrintedOnceAndMustBeChanged) {
  TempDir tmp;
  std::string data = tmp.Sub("data");
  RunResult r = RunProgram({Ctl(), "init", "--data", data});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::optional<std::string> password = LineValue(r.out, "admin password: ");
  ASSERT_TRUE(password.has_value()) << r.out;
  EXPECT_EQ(password->size(), admin::kGeneratedPasswordLength);
  for (char c : *password) {
    EXPECT_NE(admin::kGeneratedPasswordAlphabet.find(c), std::string::npos) << c;
  }
  EXPECT_EQ(CountOf(r.out, *password), 1u) << "printed exactly once";
  EXPECT_EQ(r.err.find(*password), std::string::npos);

  Stored stored = ReadBack(data, "admin", "administration");
  ASSERT_TRUE(stored.user.has_value());
  EXPECT_EQ(stored.user->role, domain::Role::kSysAdmin);
  EXPECT_EQ(stored.user->department, "administration");
  EXPECT_TRUE(stored.department_exists);
  EXPECT_TRUE(stored.user->must_change_password);
  EXPECT_FALSE(stored.user->disabled);
  EXPECT_TRUE(crypto::VerifyPassword(*password, stored.user->password_hash));
  EXPECT_FALSE(crypto::VerifyPassword(*password + "x", stored.user->password_hash));
  EXPECT_EQ(stored.user->password_hash.find(*password), std::string::npos);
  ExpectLogVerifies(data);
}

// --password-memory-kib sets auth.password_memory_kib in the written
// configuration, and the first accounts are hashed at it, as custosctl
// user add then hashes at the archive's setting; a value below the floor
// is refused and creates nothing.
TEST(CustosctlInitAdmin, PasswordMemoryIsWrittenAndEveryAccountIsHashedAtIt) {
  TempDir tmp;
  const std::string data = tmp.Sub("data");
  RunResult r = RunProgram({Ctl(), "init", "--data", data, "--password-memory-kib", "20480"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto config = ParseConfig(ReadFileOrDie(data + "/custos.conf"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->password_memory_kib, 20480u);
  for (std::string_view name : {admin::kFirstAdminName, admin::kFirstSecurityOfficerName}) {
    Stored stored = ReadBack(data, std::string(name), std::string(admin::kFirstAdminDepartment));
    ASSERT_TRUE(stored.user.has_value()) << name;
    EXPECT_EQ(crypto::PasswordParamsOf(stored.user->password_hash), (crypto::PasswordParams{3, 20480, 1}))
        << stored.user->password_hash;
  }
  RunResult add = RunProgram({Ctl(), "user", "add", "alice", "--role", "archivist", "--department", "sales",
                              "--data", data});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  std::optional<std::string> password = LineValue(add.out, "password for alice: ");
  ASSERT_TRUE(password.has_value()) << add.out;
  Stored alice = ReadBack(data, "alice", "sales");
  ASSERT_TRUE(alice.user.has_value());
  EXPECT_EQ(crypto::PasswordParamsOf(alice.user->password_hash), (crypto::PasswordParams{3, 20480, 1}));
  EXPECT_TRUE(crypto::VerifyPassword(*password, alice.user->password_hash));

  RunResult low = RunProgram({Ctl(), "init", "--data", tmp.Sub("low"), "--password-memory-kib", "19455"});
  EXPECT_EQ(low.exit_code, 2);
  EXPECT_NE(low.err.find("auth.password_memory_kib"), std::string::npos) << low.err;
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub("low")));
}

TEST(CustosctlInitAdmin, TwoInitsGenerateDifferentPasswords) {
  TempDir tmp;
  RunResult a = RunProgram({Ctl(), "init", "--data", tmp.Sub("a")});
  RunResult b = RunProgram({Ctl(), "init", "--data", tmp.Sub("b")});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_NE(LineValue(a.out, "admin password: "), LineValue(b.out, "admin password: "));
}

TEST(CustosctlInitAdmin, PasswordFileSetsExactlyThatPasswordWithoutForcedChange) {
  TempDir tmp;
  std::string data = tmp.Sub("data");
  RunResult r = InitWithPasswordFile(tmp, data, std::string(kAdminPassword) + "\nsecond line is ignored\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(LineValue(r.out, "admin password: ").has_value()) << r.out;
  EXPECT_EQ(r.out.find(kAdminPassword), std::string::npos) << "the given password is not echoed";

  Stored stored = ReadBack(data, "admin", "administration");
  ASSERT_TRUE(stored.user.has_value());
  EXPECT_EQ(stored.user->role, domain::Role::kSysAdmin);
  EXPECT_FALSE(stored.user->must_change_password);
  EXPECT_TRUE(crypto::VerifyPassword(kAdminPassword, stored.user->password_hash));
  // The line ending is not part of the password, and neither is line two.
  EXPECT_FALSE(crypto::VerifyPassword(std::string(kAdminPassword) + "\n",
                                      stored.user->password_hash));
  ExpectLogVerifies(data);
}

TEST(CustosctlInitAdmin, CrLfLineEndingIsStripped) {
  TempDir tmp;
  std::string data = tmp.Sub("data");
  ASSERT_EQ(InitWithPasswordFile(tmp, data, std::string(kAdminPassword) + "\r\n").exit_code, 0);
  Stored stored = ReadBack(data, "admin", "administration");
  ASSERT_TRUE(stored.user.has_value());
  EXPECT_TRUE(crypto::VerifyPassword(kAdminPassword, stored.user->password_hash));
}

TEST(CustosctlInitAdmin, TooShortPasswordFileIsRefusedBeforeAnythingIsCreated) {
  TempDir tmp;
  std::string data = tmp.Sub("data");
  RunResult r = InitWithPasswordFile(tmp, data, "short-pw\n");
  EXPECT_TRUE(Refused(r, "at least 12 characters"));
  EXPECT_EQ(r.err.find("short-pw"), std::string::npos) << "no password in messages";
  EXPECT_FALSE(std::filesystem::exists(data));
}

TEST(CustosctlInitAdmin, EmptyOrMissingPasswordFileIsRefused) {
  TempDir tmp;
  std::string data = tmp.Sub("data");
  RunResult r = InitWithPasswordFile(tmp, data, "\nthe password is the first line\n");
  EXPECT_TRUE(Refused(r, "is empty"));

  r = RunProgram({Ctl(), "init", "--data", data, "--admin-password-file", tmp.Sub("missing")});
  EXPECT_TRUE(Refused(r, "cannot read password file"));
  EXPECT_FALSE(std::filesystem::exists(data));
}

TEST(CustosctlInitAdmin, CreatesTheSecurityOfficerBesideTheAdmin) {
  TempDir tmp;
  std::string data = tmp.Sub("data");
  RunResult r = RunProgram({Ctl(), "init", "--data", data});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(HasLineStartingWith(r.out, "  first admin: admin (role sysadmin, department administration)"))
      << r.out;
  EXPECT_TRUE(HasLineStartingWith(
      r.out, "  first security officer: security (role security_officer, department administration)"))
      << r.out;
  std::optional<std::string> admin_pw = LineValue(r.out, "admin password: ");
  std::optional<std::string> officer_pw = LineValue(r.out, "security officer password: ");
  ASSERT_TRUE(admin_pw.has_value()) << r.out;
  ASSERT_TRUE(officer_pw.has_value()) << r.out;
  EXPECT_NE(*admin_pw, *officer_pw) << "two people, two passwords";
  EXPECT_EQ(officer_pw->size(), admin::kGeneratedPasswordLength);
  EXPECT_EQ(CountOf(r.out, *officer_pw), 1u) << "printed exactly once";
  EXPECT_EQ(r.err.find(*officer_pw), std::string::npos);

  Stored officer = ReadBack(data, "security", "administration");
  ASSERT_TRUE(officer.user.has_value());
  EXPECT_EQ(officer.user->role, domain::Role::kSecurityOfficer);
  EXPECT_EQ(officer.user->department, "administration");
  EXPECT_TRUE(officer.user->must_change_password);
  EXPECT_FALSE(officer.user->disabled);
  EXPECT_TRUE(crypto::VerifyPassword(*officer_pw, officer.user->password_hash));
  EXPECT_FALSE(crypto::VerifyPassword(*admin_pw, officer.user->password_hash));
  ExpectLogVerifies(data);
}

TEST(CustosctlInitAdmin, SecurityOfficerPasswordFileSetsThatPasswordWithoutForcedChange) {
  TempDir tmp;
  std::string data = tmp.Sub("data");
  const std::string file = tmp.Sub("officer-password");
  WriteFile(file, "安全保密员的口令 officer passphrase\n");
  RunResult r = RunProgram({Ctl(), "init", "--data", data, "--security-officer-password-file", file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(LineValue(r.out, "security officer password: ").has_value()) << r.out;
  EXPECT_EQ(r.out.find("officer passphrase"), std::string::npos) << "the given password is not echoed";
  EXPECT_NE(r.out.find("the security officer signs in with the password from " + file),
            std::string::npos)
      << r.out;
  // The admin's password, not given, is still generated.
  ASSERT_TRUE(LineValue(r.out, "admin password: ").has_value()) << r.out;

  Stored officer = ReadBack(data, "security", "administration");
  ASSERT_TRUE(officer.user.has_value());
  EXPECT_EQ(officer.user->role, domain::Role::kSecurityOfficer);
  EXPECT_FALSE(officer.user->must_change_password);
  EXPECT_TRUE(crypto::VerifyPassword("安全保密员的口令 officer passphrase", officer.user->password_hash));
  Stored admin = ReadBack(data, "admin", "administration");
  ASSERT_TRUE(admin.user.has_value());
  EXPECT_TRUE(admin.user->must_change_password);
}

TEST(CustosctlInitAdmin, WeakSecurityOfficerPasswordIsRefusedBeforeAnythingIsCreated) {
  TempDir tmp;
  std::string data = tmp.Sub("data");
  const std::string file = tmp.Sub("officer-password");
  WriteFile(file, "security\n");  // short, and the username itself
  RunResult r = RunProgram({Ctl(), "init", "--data", data, "--security-officer-password-file", file});
  EXPECT_TRUE(Refused(r, "security officer password"));
  EXPECT_FALSE(std::filesystem::exists(data));

  WriteFile(file, "\n");
  r = RunProgram({Ctl(), "init", "--data", data, "--security-officer-password-file", file});
  EXPECT_TRUE(Refused(r, "--security-officer-password-file"));
  EXPECT_TRUE(Refused(r, "is empty"));
  EXPECT_FALSE(std::filesystem::exists(data));
}

TEST(CustosctlInitAdmin, TheSamePasswordForBothAccountsIsRefused) {
  TempDir tmp;
  std::string data = tmp.Sub("data");
  const std::string admin_file = tmp.Sub("admin-password");
  const std::string officer_file = tmp.Sub("officer-password");
  WriteFile(admin_file, std::string(kAdminPassword) + "\n");
  WriteFile(officer_file, std::string(kAdminPassword) + "\r\n");
  RunResult r = RunProgram({Ctl(), "init", "--data", data, "--admin-password-file", admin_file,
                            "--security-officer-password-file", officer_file});
  EXPECT_TRUE(Refused(r, "different passwords"));
  EXPECT_EQ(r.err.find(kAdminPassword), std::string::npos) << "no password in messages";
  EXPECT_FALSE(std::filesystem::exists(data));
}

TEST(CustosctlInitAdmin, HelpNamesTheRolesAndTheSecurityOfficerOption) {
  RunResult r = RunProgram({Ctl(), "help"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* word :
       {"--security-officer-password-file", "security officer password: ", "sysadmin",
        "security_officer", "security_auditor", "archivist", "approver", "legal", "staff",
        "auditor", "'admin' is refused"}) {
    EXPECT_NE(r.out.find(word), std::string::npos) << word;
  }
}

// ---------------------------------------------------------------- user add

// Each test's scratch folder `tmp`, and an archive there when it needs one.
class CustosctlUser : public ::testing::Test {
 protected:
  // The data directory of an archive made by custosctl init (admin
  // password kAdminPassword), made on first use.
  const std::string& Archive() {
    if (data_.empty()) {
      data_ = tmp.Sub("data");
      InitWithPassword(tmp, data_, kAdminPassword);
    }
    return data_;
  }

  TempDir tmp;

 private:
  std::string data_;
};

TEST_F(CustosctlUser, AddWithGeneratedPasswordPrintsItOnceAndForcesChange) {
  const std::string data = Archive();
  RunResult r = RunProgram({Ctl(), "user", "add", "alice", "--role", "archivist", "--department",
                            "records office", "--data", data});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::optional<std::string> password = LineValue(r.out, "password for alice: ");
  ASSERT_TRUE(password.has_value()) << r.out;
  EXPECT_EQ(password->size(), admin::kGeneratedPasswordLength);
  EXPECT_EQ(CountOf(r.out, *password), 1u);

  Stored stored = ReadBack(data, "alice", "records office");
  ASSERT_TRUE(stored.user.has_value());
  EXPECT_EQ(stored.user->role, domain::Role::kArchivist);
  EXPECT_EQ(stored.user->department, "records office");
  EXPECT_TRUE(stored.department_exists) << "the department is created with the user";
  EXPECT_TRUE(stored.user->must_change_password);
  EXPECT_TRUE(crypto::VerifyPassword(*password, stored.user->password_hash));
  ExpectLogVerifies(data);
}

TEST_F(CustosctlUser, PasswordFileStillForcesChangeUnlessNoForceChange) {
  const std::string data = Archive();
  std::string file = tmp.Sub("bob-pw");
  WriteFile(file, "bobs own passphrase\n");

  RunResult forced = RunProgram({Ctl(), "user", "add", "bob", "--role", "staff", "--department",
                                 "sales", "--password-file", file, "--data", data});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_FALSE(LineValue(forced.out, "password for bob: ").has_value()) << forced.out;
  EXPECT_EQ(forced.out.find("bobs own passphrase"), std::string::npos);
  // Options before the name work too, and an existing department is reused.
  RunResult free = RunProgram({Ctl(), "user", "add", "--role", "approver", "--department",
                               "sales", "--password-file", file, "--no-force-change", "carol",
                               "--data", data});
  ASSERT_EQ(free.exit_code, 0) << free.err;

  Stored bob = ReadBack(data, "bob", "sales");
  ASSERT_TRUE(bob.user.has_value());
  EXPECT_EQ(bob.user->role, domain::Role::kStaff);
  EXPECT_TRUE(bob.user->must_change_password);
  EXPECT_TRUE(crypto::VerifyPassword("bobs own passphrase", bob.user->password_hash));
  Stored carol = ReadBack(data, "carol", "sales");
  ASSERT_TRUE(carol.user.has_value());
  EXPECT_EQ(carol.user->role, domain::Role::kApprover);
  EXPECT_FALSE(carol.user->must_change_password);
  EXPECT_TRUE(crypto::VerifyPassword("bobs own passphrase", carol.user->password_hash));
  ExpectLogVerifies(data);
}

TEST_F(CustosctlUser, DuplicateUserIsRefused) {
  const std::string data = Archive();
  std::vector<std::string> add = {Ctl(), "user", "add", "dave", "--role", "legal",
                                  "--department", "legal", "--data", data};
  RunResult first = RunProgram(add);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  std::optional<std::string> password = LineValue(first.out, "password for dave: ");
  ASSERT_TRUE(password.has_value());

  RunResult again = RunProgram(add);
  EXPECT_TRUE(Refused(again, "already exists"));
  EXPECT_FALSE(LineValue(again.out, "password for dave: ").has_value());
  // The first account is untouched.
  Stored stored = ReadBack(data, "dave", "legal");
  ASSERT_TRUE(stored.user.has_value());
  EXPECT_TRUE(crypto::VerifyPassword(*password, stored.user->password_hash));

  // The init admin is a user like any other.
  RunResult admin = RunProgram({Ctl(), "user", "add", "admin", "--role", "sysadmin", "--department",
                                "administration", "--data", data});
  EXPECT_EQ(admin.exit_code, 2);
  EXPECT_NE(admin.err.find("already exists"), std::string::npos) << admin.err;
  ExpectLogVerifies(data);
}

// On SQLite only one process may append to the log: while another holds
// the data directory (a running custosd), user add refuses and changes
// nothing; once it is free, the same command works.
TEST_F(CustosctlUser, RefusedWhileTheDataDirectoryIsInUse) {
  const std::string data = Archive();
  std::vector<std::string> add = {Ctl(), "user", "add", "erin", "--role", "staff",
                                  "--department", "sales", "--data", data};
  {
    auto lock = storage::DataDirLock::Acquire(storage::DataDir(data),
                                              storage::DataDirLock::Mode::kShared);
    ASSERT_TRUE(lock.ok()) << lock.status().ToString();
    RunResult busy = RunProgram(add);
    EXPECT_EQ(busy.exit_code, 2);
    EXPECT_NE(busy.err.find("in use"), std::string::npos) << busy.err;
    EXPECT_NE(busy.err.find("POST /v1/users"), std::string::npos) << busy.err;
    EXPECT_FALSE(ReadBack(data, "erin", "sales").user.has_value());
  }
  RunResult free = RunProgram(add);
  EXPECT_EQ(free.exit_code, 0) << free.err;
  EXPECT_TRUE(ReadBack(data, "erin", "sales").user.has_value());
}

TEST_F(CustosctlUser, UnknownRoleIsRefused) {
  const std::string data = Archive();
  RunResult r = RunProgram({Ctl(), "user", "add", "erin", "--role", "superuser", "--department",
                            "sales", "--data", data});
  EXPECT_TRUE(Refused(r, "unknown role 'superuser'"));
  EXPECT_TRUE(r.out.empty()) << r.out;
  Stored stored = ReadBack(data, "erin", "sales");
  EXPECT_FALSE(stored.user.has_value());
  EXPECT_FALSE(stored.department_exists);
}

TEST_F(CustosctlUser, LegacyAdminRoleIsRefused) {
  const std::string data = Archive();
  RunResult r = RunProgram({Ctl(), "user", "add", "liming", "--role", "admin", "--department",
                            "信息部", "--data", data});
  EXPECT_TRUE(Refused(r, "role 'admin' is the pre-split administrator"));
  EXPECT_NE(r.err.find("sysadmin, security_officer or security_auditor"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << "no password printed for a refused user: " << r.out;
  Stored stored = ReadBack(data, "liming", "信息部");
  EXPECT_FALSE(stored.user.has_value());
  EXPECT_FALSE(stored.department_exists);
  ExpectLogVerifies(data);
}

// The operator's path gives every role, administrative ones included.
TEST_F(CustosctlUser, EveryCurrentRoleCanBeGiven) {
  const std::string data = Archive();
  const std::vector<std::pair<std::string, domain::Role>> roles = {
      {"sysadmin", domain::Role::kSysAdmin},
      {"security_officer", domain::Role::kSecurityOfficer},
      {"security_auditor", domain::Role::kSecurityAuditor},
      {"archivist", domain::Role::kArchivist},
      {"approver", domain::Role::kApprover},
      {"legal", domain::Role::kLegal},
      {"staff", domain::Role::kStaff},
      {"auditor", domain::Role::kAuditor},
  };
  int n = 0;
  for (const auto& [name, role] : roles) {
    const std::string username = "user" + std::to_string(++n);
    RunResult r = RunProgram({Ctl(), "user", "add", username, "--role", name, "--department",
                              "内审部", "--data", data});
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_NE(r.out.find("(role " + name + ", department 内审部)"), std::string::npos) << r.out;
    Stored stored = ReadBack(data, username, "内审部");
    ASSERT_TRUE(stored.user.has_value()) << name;
    EXPECT_EQ(stored.user->role, role) << name;
  }
  ExpectLogVerifies(data);
}

TEST_F(CustosctlUser, MissingRequiredArgumentsAreRefused) {
  const std::string data = Archive();
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"user", "add", "frank", "--role", "staff", "--data", data}, "--department is required"},
      {{"user", "add", "frank", "--department", "sales", "--data", data}, "--role is required"},
      {{"user", "add", "frank", "--role", "staff", "--department", "sales"}, "--data is required"},
      {{"user", "add", "--role", "staff", "--department", "sales", "--data", data},
       "exactly one user NAME"},
      {{"user", "add", "frank", "grace", "--role", "staff", "--department", "sales", "--data",
        data},
       "exactly one user NAME"},
      {{"user", "add", "frank", "--role", "staff", "--department", "sales", "--data", data,
        "--no-force-change"},
       "--no-force-change needs --password-file"},
      {{"user", "add", "frank", "--role", "staff", "--department", "sales", "--data", data,
        "--colour", "red"},
       "unknown argument '--colour'"},
      {{"user", "add", "frank", "--role"}, "--role needs a value"},
      {{"user", "remove", "frank"}, "unknown subcommand 'remove'"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {Ctl()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    RunResult r = RunProgram(argv);
    EXPECT_TRUE(Refused(r, c.message)) << c.message;
  }
  EXPECT_FALSE(ReadBack(data, "frank", "sales").user.has_value());
}

TEST_F(CustosctlUser, WeakPasswordFileIsRefused) {
  const std::string data = Archive();
  std::string short_file = tmp.Sub("short");
  WriteFile(short_file, "tooshort\n");
  RunResult r = RunProgram({Ctl(), "user", "add", "heidi", "--role", "auditor", "--department",
                            "audit", "--password-file", short_file, "--data", data});
  EXPECT_TRUE(Refused(r, "at least 12 characters"));

  std::string same_file = tmp.Sub("same");
  WriteFile(same_file, "heidi.auditor\n");
  r = RunProgram({Ctl(), "user", "add", "heidi.auditor", "--role", "auditor", "--department",
                  "audit", "--password-file", same_file, "--data", data});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("differ from the username"), std::string::npos) << r.err;

  EXPECT_FALSE(ReadBack(data, "heidi", "audit").user.has_value());
  EXPECT_FALSE(ReadBack(data, "heidi.auditor", "audit").user.has_value());
  ExpectLogVerifies(data);
}

TEST_F(CustosctlUser, InvalidUsernameIsRefused) {
  const std::string data = Archive();
  RunResult r = RunProgram({Ctl(), "user", "add", "Ivan Smith", "--role", "staff", "--department",
                            "sales", "--data", data});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("username may contain only"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << "no password printed for a refused user: " << r.out;
}

TEST_F(CustosctlUser, MissingDataDirectoryIsRefused) {
  RunResult r = RunProgram({Ctl(), "user", "add", "judy", "--role", "staff", "--department",
                            "sales", "--data", tmp.Sub("nowhere")});
  EXPECT_TRUE(Refused(r, "nowhere"));
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub("nowhere")));
}

}  // namespace
}  // namespace custos::testing
