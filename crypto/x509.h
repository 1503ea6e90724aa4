// Self-signed TLS certificates for trying Custos out (`custosctl init`).
// Operators replace them with their own certificate and key files.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace custos::crypto {

struct SelfSignedRequest {
  std::string common_name = "localhost";
  // Subject alternative names: DNS names and IP address literals.
  std::vector<std::string> dns_names = {"localhost"};
  std::vector<std::string> ip_addresses = {"127.0.0.1", "::1"};
  int valid_days = 825;
};

struct PemCertificateAndKey {
  std::string certificate_pem;
  std::string private_key_pem;  // PKCS#8, unencrypted: store it 0600
};

// Generates an ECDSA P-256 key and a self-signed X.509 v3 certificate for it
// (SHA-256 signature, serverAuth, the requested SANs, random 128-bit serial).
StatusOr<PemCertificateAndKey> MakeSelfSignedCertificate(const SelfSignedRequest& request);

}  // namespace custos::crypto
