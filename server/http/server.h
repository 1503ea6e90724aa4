// The HTTPS front door: a Poco HTTPServer on a TLS socket, one dispatcher
// that routes every request, enforces request limits, renders errors, writes
// one structured log line per request and updates the HTTP metrics.
//
// Lifetime: construct, Start(), later Stop(); the Router, Logger and
// MetricsRegistry passed in must outlive the server.
// Thread safety: Start() and Stop() are called from one (the main) thread;
// requests are served by the server's own thread pool.
#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include <atomic>
#include <memory>
#include <string>

#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/status.h"
#include "server/http/router.h"

namespace Poco {
class ThreadPool;
}
namespace Poco::Net {
class TCPServer;
}

namespace custos::http {

class ConnectionGuard;

struct TlsFiles {
  std::string certificate;  // PEM chain
  std::string private_key;  // PEM, unencrypted
  // Mutual TLS (config tls.client_ca / tls.client_crl, docs/security.md):
  // CA certificates (PEM) that issue client certificates; "" asks no client
  // for one. When set, every client is asked for a certificate but may
  // connect without one; a certificate it does present must chain to one of
  // these CAs, be within its validity period and (with `client_crl`, a PEM
  // CRL of each CA, read once at start) not be revoked, or the handshake
  // fails: an expired or revoked certificate cannot connect at all, rather
  // than connect as if it had none. A CRL past its nextUpdate makes every
  // certificate fail (OpenSSL's crl_has_expired): renew it before then and
  // restart custosd, which reads it only at start.
  std::string client_ca;
  std::string client_crl;
};

class HttpsServer {
 public:
  HttpsServer(const Config& config, TlsFiles tls, const Router& router, Logger& logger,
              MetricsRegistry& metrics);
  ~HttpsServer();
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  // Loads the certificate, binds the listener and starts serving.
  // Fails with "tls_config" (certificate/key, client CA or CRL unusable, or a
  // CRL without a client CA) or "listen_failed"
  // (address in use, not permitted), each naming the file or address.
  Status Start();

  // The bound port (useful with port 0). Valid after Start().
  uint16_t port() const { return port_; }

  // Stops accepting, lets in-flight requests finish for up to `grace_s`
  // seconds, then closes whatever remains. Idempotent.
  void Stop(int grace_s);

  // True between Stop() being called and the server being gone; /readyz
  // answers 503 while draining.
  bool draining() const { return draining_.load(); }

  // Currently open client connections.
  int OpenConnections() const;

 private:
  class Factory;

  void StopAll(bool abort_current);

  const Config& config_;
  const TlsFiles tls_;
  const Router& router_;
  Logger& logger_;
  MetricsRegistry& metrics_;
  std::unique_ptr<Poco::ThreadPool> pool_;
  std::unique_ptr<ConnectionGuard> guard_;  // outlives server_: connections use it
  Poco::Net::HTTPRequestHandlerFactory::Ptr factory_;
  std::unique_ptr<Poco::Net::TCPServer> server_;
  uint16_t port_ = 0;
  std::atomic<bool> draining_{false};
  bool stopped_ = false;
};

}  // namespace custos::http
