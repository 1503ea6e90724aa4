#include "admin/init.h"

#include "admin/password_input.h"
#include "crypto/x509.h"
#include "server/services/auth_service.h"
#include "server/services/clock.h"
#include "storage/archive.h"
#include "storage/data_dir.h"

namespace custos::admin {

namespace {

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

// Opens the new archive and creates the first admin (and its department).
Status CreateFirstAdmin(const storage::DataDir& dir, const Config& config,
                        const std::string& password, bool must_change_password) {
  CUSTOS_ASSIGN_OR_RETURN(auto archive, storage::ArchiveStorage::Open(dir, config));
  services::SystemClock clock;
  services::AuthService auth(archive->store(), clock);
  services::NewUser admin;
  admin.username = std::string(kFirstAdminName);
  admin.password = password;
  admin.role = std::string(kFirstAdminRole);
  admin.department = std::string(kFirstAdminDepartment);
  admin.must_change_password = must_change_password;
  StatusOr<domain::User> created = auth.CreateUserUnchecked(std::string(kCustosctlActor), admin);
  WipeString(admin.password);
  return created.status();
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
  InitResult result;
  result.admin_username = std::string(kFirstAdminName);
  std::string password;
  if (options.admin_password) {
    CUSTOS_RETURN_IF_ERROR(PrecheckPassword(result.admin_username, *options.admin_password)
                               .WithContext("admin password"));
    password = *options.admin_password;
  } else {
    CUSTOS_ASSIGN_OR_RETURN(password, GeneratePassword());
  }
  const bool must_change = !options.admin_password.has_value();

  storage::DataDir dir(options.data_dir);
  Status s = dir.CreateFresh();
  if (!s.ok()) {
    WipeString(password);
    return s;
  }
  s = PopulateDirectory(dir, options.config);
  if (s.ok()) s = CreateFirstAdmin(dir, options.config, password, must_change);
  if (!s.ok()) {
    WipeString(password);
    return LeftForInspection(s, dir.root());
  }
  result.config_file = dir.ConfigFile();
  result.certificate = dir.TlsCertificate();
  if (must_change) {
    result.generated_admin_password = std::move(password);
  } else {
    WipeString(password);
  }
  return result;
}

}  // namespace custos::admin
