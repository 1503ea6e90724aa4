#include "admin/init.h"

#include "crypto/x509.h"
#include "storage/archive.h"
#include "storage/data_dir.h"

namespace custos::admin {

StatusOr<InitResult> InitDataDirectory(const InitOptions& options) {
  CUSTOS_RETURN_IF_ERROR(ValidateConfig(options.config));
  storage::DataDir dir(options.data_dir);
  CUSTOS_RETURN_IF_ERROR(dir.CreateFresh());

  crypto::SelfSignedRequest request;
  CUSTOS_ASSIGN_OR_RETURN(crypto::PemCertificateAndKey tls,
                          crypto::MakeSelfSignedCertificate(request));
  CUSTOS_RETURN_IF_ERROR(storage::WriteNewFile(dir.TlsPrivateKey(), tls.private_key_pem, 0600));
  CUSTOS_RETURN_IF_ERROR(storage::WriteNewFile(dir.TlsCertificate(), tls.certificate_pem, 0644));
  CUSTOS_RETURN_IF_ERROR(
      storage::WriteNewFile(dir.ConfigFile(), FormatConfigFile(options.config), 0600));
  CUSTOS_RETURN_IF_ERROR(storage::ArchiveStorage::Create(dir, options.config));
  return InitResult{dir.ConfigFile(), dir.TlsCertificate()};
}

}  // namespace custos::admin
