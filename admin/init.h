// `custosctl init`: creates a new data directory (storage/data_dir.h) with a
// commented configuration file, a self-signed TLS certificate, the archive
// (keys, database) and the first administrator.
//
// The first administrator is named kFirstAdminName, has role admin and
// belongs to department kFirstAdminDepartment (created with it). Both are
// audit-log events with actor kCustosctlActor.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/config.h"
#include "common/status.h"

namespace custos::admin {

inline constexpr std::string_view kFirstAdminName = "admin";
inline constexpr std::string_view kFirstAdminRole = "sysadmin";
inline constexpr std::string_view kFirstAdminDepartment = "administration";
// Who custosctl's own changes are attributed to in the audit log.
inline constexpr std::string_view kCustosctlActor = "custosctl";

struct InitOptions {
  std::string data_dir;
  Config config;  // values written to custos.conf
  // The first admin's password (e.g. from --admin-password-file). When set,
  // the admin is not forced to change it. When unset, a password is
  // generated (admin/password_input.h), returned in InitResult, and the admin
  // must change it at first sign-in.
  std::optional<std::string> admin_password;
};

struct InitResult {
  std::string config_file;
  std::string certificate;
  std::string admin_username;
  // The generated admin password, set only when InitOptions::admin_password
  // was unset. The caller shows it once and should wipe it
  // (admin/password_input.h WipeString).
  std::optional<std::string> generated_admin_password;
};

// Refuses (kConflict, "data_dir_exists") when data_dir exists and is not
// empty. An invalid configuration (common/config.h's errors) or a given
// admin password that breaks the password rules (kUnprocessable
// "weak_password", admin/password_input.h PrecheckPassword) is refused
// before anything is created. On any failure after creating the directory,
// the partially written directory is left for inspection and the error
// message says so (code and reason are those of the underlying failure).
StatusOr<InitResult> InitDataDirectory(const InitOptions& options);

}  // namespace custos::admin
