#include "admin/user_command.h"

#include "admin/init.h"
#include "admin/open_archive.h"
#include "admin/password_input.h"
#include "server/services/auth_service.h"
#include "server/services/clock.h"
#include "storage/replay.h"

namespace custos::admin {

namespace {

Status UserExists(const std::string& username) {
  return Conflict("user '" + username + "' already exists", "user_exists");
}

// A role a new account may have: every role but the legacy admin.
Status CheckRole(const std::string& name) {
  CUSTOS_ASSIGN_OR_RETURN(domain::Role role, domain::ParseRole(name));
  if (role == domain::Role::kLegacyAdmin) {
    return Unprocessable(
        "role 'admin' is the pre-split administrator and is not given any more; use sysadmin, "
        "security_officer or security_auditor (docs/security.md)",
        "invalid_role");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<AddUserResult> AddUser(const AddUserOptions& options) {
  // Cheap checks first, so a typo costs neither a password hash nor a
  // generated password.
  CUSTOS_RETURN_IF_ERROR(CheckRole(options.role));
  // Adding a user appends to the log: on SQLite only one process may do
  // that, so a running custosd means "use POST /v1/users instead".
  storage::DataDir dir(options.data_dir);
  CUSTOS_ASSIGN_OR_RETURN(Config config, LoadDataDirConfig(dir));
  std::unique_ptr<storage::DataDirLock> lock;
  if (config.storage_backend == "sqlite") {
    auto acquired = storage::DataDirLock::Acquire(dir, storage::DataDirLock::Mode::kExclusive);
    if (!acquired.ok()) {
      return Conflict(acquired.status().message() + "; stop custosd or add the user with POST /v1/users",
                      "data_dir_in_use");
    }
    lock = std::move(acquired).value();
  }
  CUSTOS_ASSIGN_OR_RETURN(auto archive, OpenArchive(options.data_dir));
  services::SystemClock clock;
  // A log written before state images gets its baseline first
  // (storage/replay.h), as at custosd start.
  if (archive->custody().held) {
    CUSTOS_RETURN_IF_ERROR(storage::AppendStateBaseline(archive->store(), clock.Now()).status());
  }
  // Hashed at the archive's configured cost (auth.password_memory_kib), as
  // custosd hashes.
  services::AuthService auth(archive->store(), clock, services::AuthOptionsOf(config));
  if (auth.GetUser(options.username).ok()) return UserExists(options.username);

  services::NewUser user;
  user.username = options.username;
  user.role = options.role;
  user.department = options.department;
  AddUserResult result;
  if (options.password) {
    user.password = *options.password;
    user.must_change_password = options.must_change_password;
  } else {
    CUSTOS_ASSIGN_OR_RETURN(user.password, GeneratePassword());
    user.must_change_password = true;
  }
  StatusOr<domain::User> created = auth.CreateUserUnchecked(std::string(kCustosctlActor), user);
  if (!created.ok()) {
    WipeString(user.password);
    return created.status();
  }
  result.user = std::move(created).value();
  if (options.password) {
    WipeString(user.password);
  } else {
    result.generated_password = std::move(user.password);
  }
  return result;
}

}  // namespace custos::admin
