// `custosctl init`: creates a new data directory (storage/data_dir.h) with a
// commented configuration file, a self-signed TLS certificate, the archive
// (keys, database) and the first two administrative accounts of 三员分立
// (docs/security.md "Three administrative roles"):
//
//   * kFirstAdminName "admin", role sysadmin (系统管理员): creates and
//     resets accounts and departments;
//   * kFirstSecurityOfficerName "security", role security_officer
//     (安全保密员): issues set-up codes, proposes and confirms grants.
//
// Both belong to department kFirstAdminDepartment (created with them). The
// department and each account are audit-log events with actor
// kCustosctlActor. A security auditor (安全审计员) is made afterwards, through
// the two-person grant (or `custosctl user add --role security_auditor`).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/config.h"
#include "common/status.h"

namespace custos::admin {

inline constexpr std::string_view kFirstAdminName = "admin";
inline constexpr std::string_view kFirstAdminRole = "sysadmin";
inline constexpr std::string_view kFirstSecurityOfficerName = "security";
inline constexpr std::string_view kFirstSecurityOfficerRole = "security_officer";
inline constexpr std::string_view kFirstAdminDepartment = "administration";
// Who custosctl's own changes are attributed to in the audit log.
inline constexpr std::string_view kCustosctlActor = "custosctl";

struct InitOptions {
  std::string data_dir;
  Config config;  // values written to custos.conf
  // The first system administrator's password (e.g. from
  // --admin-password-file). When set, the account is not forced to change
  // it. When unset, a password is generated (admin/password_input.h),
  // returned in InitResult, and must be changed at first sign-in.
  std::optional<std::string> admin_password;
  // The same for the first security officer
  // (--security-officer-password-file).
  std::optional<std::string> security_officer_password;
};

struct InitResult {
  std::string config_file;
  std::string certificate;
  std::string admin_username;
  std::string security_officer_username;
  // The generated passwords, each set only when the matching InitOptions
  // password was unset. The caller shows them once and should wipe them
  // (admin/password_input.h WipeString).
  std::optional<std::string> generated_admin_password;
  std::optional<std::string> generated_security_officer_password;
};

// Refuses (kConflict, "data_dir_exists") when data_dir exists and is not
// empty. An invalid configuration (common/config.h's errors), a given
// password that breaks the password rules (kUnprocessable "weak_password",
// admin/password_input.h PrecheckPassword; the message says whose), or the
// same given password for both accounts (kUnprocessable "same_password": two
// people, two secrets) is refused before anything is created. On any failure
// after creating the directory, the partially written directory is left for
// inspection and the error message says so (code and reason are those of
// the underlying failure).
StatusOr<InitResult> InitDataDirectory(const InitOptions& options);

}  // namespace custos::admin
