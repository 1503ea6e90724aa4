// Clients for talking to a real custosd from tests: a Poco HTTPS client that
// verifies the server against the data directory's certificate, plus raw
// probes (TLS handshakes with chosen versions and ciphers, plain TCP bytes).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace custos::testing {

struct HttpResult {
  int status = 0;  // 0 when the request failed at the transport level
  std::string body;
  std::map<std::string, std::string> headers;
  std::string transport_error;
};

// Calls Poco::Net::initializeSSL() once for the test process.
void EnsureSslInitialized();

class HttpsClient {
 public:
  // Trusts only `ca_file` (the server's self-signed certificate).
  HttpsClient(int port, const std::string& ca_file);
  ~HttpsClient();

  HttpResult Request(const std::string& method, const std::string& path,
                     const std::string& body = "", const std::string& content_type = "",
                     const std::map<std::string, std::string>& headers = {});
  HttpResult Get(const std::string& path) { return Request("GET", path); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Tries a TLS handshake with the given protocol range (OpenSSL version
// constants such as TLS1_1_VERSION) and TLS 1.2 cipher list; returns true if
// it completes.
bool TlsHandshakeSucceeds(int port, int min_version, int max_version,
                          const std::string& cipher_list);

// Connects over plain TCP, sends `bytes`, and returns what the server sent
// back until it closed the connection or `timeout_ms` passed.
std::string RawTcpExchange(int port, const std::string& bytes, int timeout_ms = 3000);

// Completes a TLS handshake, sends `bytes` inside it, and returns the reply
// (until close or time-out).
std::string RawTlsExchange(int port, const std::string& bytes, int timeout_ms = 3000);

}  // namespace custos::testing
