// A real RFC 3161 time-stamp authority for tests, made at run time.
//
// Start() writes a throwaway root CA and a TSA certificate (ECDSA P-256,
// critical extended key usage timeStamping) with the `openssl` command line
// into a private temporary directory (0700), and an openssl.cnf with a [tsa]
// section. Replies are made by `openssl ts -reply` itself, so the tokens are
// what a real OpenSSL-based TSA issues. Serve() adds an HTTP server on
// 127.0.0.1 (ephemeral port) that answers POSTed application/timestamp-query
// bodies with application/timestamp-reply, as RFC 3161 §3.4 describes.
//
// Thread safety: the HTTP handler and Reply() serialise on one mutex (the
// openssl serial file); set_mode() may be called while the server runs.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tests/testutil/testutil.h"

namespace Poco::Net {
class HTTPServer;
}

namespace custos::testing {

class TestTsa {
 public:
  // How the TSA answers.
  enum class Mode {
    kGrant,       // a granted reply for the query as sent
    kReject,      // a real `openssl ts -reply` rejection (badAlg)
    kGarbage,     // 200 application/timestamp-reply with bytes that are no DER
    kWrongNonce,  // a granted reply for the query with its nonce changed
    kWrongType,   // a granted reply, but Content-Type text/plain
  };

  TestTsa();
  ~TestTsa();  // stops the server; removes the directory
  TestTsa(const TestTsa&) = delete;
  TestTsa& operator=(const TestTsa&) = delete;

  // Makes the CA, the TSA certificate and the config. `common_name` is the
  // TSA certificate's CN. Fails the current test and returns false on error.
  bool Start(const std::string& common_name = "Custos Test TSA");
  // Starts the HTTP server (after Start). False on error.
  bool Serve();

  // "http://127.0.0.1:<port>/tsa" (Serve() first).
  std::string url() const;
  // The root CA certificate, PEM: the trust anchor for VerifyToken.
  const std::string& ca_pem() const { return ca_pem_; }
  // Path of ca_pem() on disk (for `openssl ts -verify -CAfile`).
  std::string ca_path() const { return dir_.Sub("ca.pem"); }
  // A scratch directory tests may write into (0700, removed with the TSA).
  const TempDir& dir() const { return dir_; }

  void set_mode(Mode mode) { mode_ = mode; }
  // Requests answered by the HTTP server so far.
  int requests() const { return requests_; }

  // The DER TimeStampResp for a DER TimeStampReq under the current mode
  // (no HTTP); empty on failure (the failure is added to the current test).
  std::vector<uint8_t> Reply(const std::vector<uint8_t>& query);

  // Runs `openssl ts -verify -data <file holding data> -in <token file>
  // -token_in -CAfile <ca_path()>` and returns its exit code (0 = the
  // command accepts the token); its output goes to `*output` if given.
  int OpensslVerify(const std::string& data, const std::vector<uint8_t>& token_der,
                    std::string* output = nullptr);

  // The `openssl` program on PATH.
  static std::string OpensslPath();

 private:
  class Handler;
  class Factory;

  TempDir dir_;
  std::string ca_pem_;
  std::atomic<Mode> mode_{Mode::kGrant};
  std::atomic<int> requests_{0};
  std::mutex mu_;       // guards the serial file and the query/reply files
  int sequence_ = 0;    // GUARDED_BY(mu_)
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  int port_ = 0;
};

}  // namespace custos::testing
