// `custosctl user add NAME --role R --department D [--password-file F]
// [--no-force-change] --data DIR`: creates a user without the HTTP API (first
// set-up, recovery).
//
// This is the machine operator's path, outside the rules of three-role
// administration (docs/security.md): whoever runs custosctl on the server
// holds the keys and the database anyway, so any role may be given here,
// without a set-up code or a second person. It is logged like every change
// (actor kCustosctlActor). The legacy role "admin" (archives made before the
// split) is refused: nobody is created with it.
//
// The user is created through services::AuthService::CreateUserUnchecked
// with actor kCustosctlActor (admin/init.h): the department is created if it
// does not exist, and both are audit-log events in one transaction.
//
// Thread safety: AddUser opens its own archive; concurrent calls on one data
// directory are serialised by the store.
#pragma once

#include <optional>
#include <string>

#include "common/status.h"
#include "domain/model.h"

namespace custos::admin {

struct AddUserOptions {
  std::string data_dir;
  std::string username;
  // domain::Name(Role): sysadmin, security_officer, security_auditor,
  // archivist, approver, legal, staff, auditor (not the legacy "admin").
  std::string role;
  std::string department;  // created if missing
  // The password (e.g. read from --password-file). When unset, one is
  // generated (admin/password_input.h) and returned in AddUserResult; a
  // generated password must always be changed at first sign-in.
  std::optional<std::string> password;
  // Whether the user must set a new password at first sign-in. Ignored (true)
  // when the password is generated.
  bool must_change_password = true;
};

struct AddUserResult {
  domain::User user;  // as stored (password_hash included; do not print it)
  // The generated password, set only when AddUserOptions::password was
  // unset. The caller shows it once and should wipe it (WipeString).
  std::optional<std::string> generated_password;
};

// Opens the archive in options.data_dir (admin/open_archive.h) and creates
// the user. Failures (all Status values, nothing thrown):
//   - the data directory cannot be read or opened (its error);
//   - kUnprocessable "invalid_role" for an unknown role or the legacy
//     "admin" (checked before the data directory is opened);
//   - kUnprocessable "invalid_username", "invalid_department",
//     "weak_password" (AuthService's rules);
//   - kConflict "user_exists" ("user 'NAME' already exists");
//   - storage failures as the store reports them.
StatusOr<AddUserResult> AddUser(const AddUserOptions& options);

}  // namespace custos::admin
