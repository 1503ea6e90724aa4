#include "admin/init.h"

#include <vector>

#include "admin/password_input.h"
#include "crypto/x509.h"
#include "server/services/auth_service.h"
#include "server/services/clock.h"
#include "storage/archive.h"
#include "storage/data_dir.h"

namespace custos::admin {

namespace {

// One account init creates, with its password while init runs.
struct FirstAccount {
  FirstAccount(std::string_view u, std::string_view r) : username(u), role(r) {}
  std::string_view username;
  std::string_view role;
  std::string password;
  bool must_change_password = true;
};

// Writes configuration, TLS material, keys and database into a freshly
// created `dir`.
Status PopulateDirectory(const storage::DataDir& dir, const Config& config) {
  crypto::SelfSignedRequest request;
  CUSTOS_ASSIGN_OR_RETURN(crypto::PemCertificateAndKey tls,
                          crypto::MakeSelfSignedCertificate(request));
  CUSTOS_RETURN_IF_ERROR(storage::WriteNewFile(dir.TlsPrivateKey(), tls.private_key_pem, 0600));
  CUSTOS_RETURN_IF_ERROR(storage::WriteNewFile(dir.TlsCertificate(), tls.certificate_pem, 0644));
  CUSTOS_RETURN_IF_ERROR(storage::WriteNewFile(dir.ConfigFile(), FormatConfigFile(config), 0600));
  return storage::ArchiveStorage::Create(dir, config);
}

// Opens the new archive and creates the first accounts (and their
// department, with the first of them).
Status CreateFirstAccounts(const storage::DataDir& dir, const Config& config,
                           const std::vector<FirstAccount*>& accounts) {
  CUSTOS_ASSIGN_OR_RETURN(auto archive, storage::ArchiveStorage::Open(dir, config));
  services::SystemClock clock;
  // The first accounts are hashed at the cost custosd will use.
  services::AuthService auth(archive->store(), clock, services::AuthOptionsOf(config));
  for (const FirstAccount* account : accounts) {
    services::NewUser user;
    user.username = std::string(account->username);
    user.password = account->password;
    user.role = std::string(account->role);
    user.department = std::string(kFirstAdminDepartment);
    user.must_change_password = account->must_change_password;
    StatusOr<domain::User> created = auth.CreateUserUnchecked(std::string(kCustosctlActor), user);
    WipeString(user.password);
    if (!created.ok()) return created.status().WithContext(std::string(account->username));
  }
  return Status::Ok();
}

// The given password after the rules, or a generated one (then it must be
// changed).
Status ChoosePassword(const std::optional<std::string>& given, std::string_view whose,
                      FirstAccount& account) {
  if (given) {
    CUSTOS_RETURN_IF_ERROR(PrecheckPassword(std::string(account.username), *given)
                               .WithContext(std::string(whose) + " password"));
    account.password = *given;
    account.must_change_password = false;
    return Status::Ok();
  }
  CUSTOS_ASSIGN_OR_RETURN(account.password, GeneratePassword());
  account.must_change_password = true;
  return Status::Ok();
}

Status LeftForInspection(const Status& s, const std::string& root) {
  return Status(s.code(),
                s.message() + " (the partially written directory " + root +
                    " is left for inspection; remove it before running init again)",
                s.reason());
}

}  // namespace

StatusOr<InitResult> InitDataDirectory(const InitOptions& options) {
  CUSTOS_RETURN_IF_ERROR(ValidateConfig(options.config));
  FirstAccount admin(kFirstAdminName, kFirstAdminRole);
  FirstAccount officer(kFirstSecurityOfficerName, kFirstSecurityOfficerRole);
  auto wipe = [&] {
    WipeString(admin.password);
    WipeString(officer.password);
  };
  if (options.admin_password && options.security_officer_password &&
      *options.admin_password == *options.security_officer_password) {
    return Unprocessable(
        "the admin and the security officer need different passwords (two people, two secrets)",
        "same_password");
  }
  Status s = ChoosePassword(options.admin_password, "admin", admin);
  if (s.ok()) s = ChoosePassword(options.security_officer_password, "security officer", officer);
  if (!s.ok()) {
    wipe();
    return s;
  }

  storage::DataDir dir(options.data_dir);
  s = dir.CreateFresh();
  if (!s.ok()) {
    wipe();
    return s;
  }
  s = PopulateDirectory(dir, options.config);
  if (s.ok()) s = CreateFirstAccounts(dir, options.config, {&admin, &officer});
  if (!s.ok()) {
    wipe();
    return LeftForInspection(s, dir.root());
  }
  InitResult result;
  result.config_file = dir.ConfigFile();
  result.certificate = dir.TlsCertificate();
  result.admin_username = std::string(kFirstAdminName);
  result.security_officer_username = std::string(kFirstSecurityOfficerName);
  if (admin.must_change_password) result.generated_admin_password = std::move(admin.password);
  if (officer.must_change_password) {
    result.generated_security_officer_password = std::move(officer.password);
  }
  wipe();  // whatever was not moved out
  return result;
}

}  // namespace custos::admin
