#include "server/http/server.h"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerConnection.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/RejectCertificateHandler.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/Net/TCPServerParams.h>
#include <Poco/ThreadPool.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <sys/stat.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "server/http/connection_guard.h"
#include "server/http/request_context.h"

namespace custos::http {

namespace {

// AEAD suites only, forward secret only. TLS 1.3 suites are all AEAD.
constexpr const char* kCipherList =
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256";
constexpr const char* kGroups = "X25519:P-256:P-384";

// On every response (docs/security.md). The API answers JSON and files, never
// pages: its policy forbids every fetch, frame and form; no answer may be
// cached, since every content read is logged and authorized.
const std::pair<const char*, const char*> kSecurityHeaders[] = {
    {"Strict-Transport-Security", "max-age=63072000"},
    {"X-Content-Type-Options", "nosniff"},
    {"Cache-Control", "no-store"},
    {"Content-Security-Policy",
     "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"},
    {"Referrer-Policy", "no-referrer"},
    {"X-Frame-Options", "DENY"},
    {"Cross-Origin-Resource-Policy", "same-origin"},
};

// After an early answer, at most this much of the unread body is read and
// discarded, for at most this long, before the connection is closed.
constexpr int64_t kLingerBytes = 64 << 20;
constexpr std::chrono::milliseconds kLingerTime{10000};

const std::vector<double> kLatencyBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                             0.25,  0.5,    1,     2.5,  5,     10,   30};

// Counts the bytes written through it.
class CountingBuf : public std::streambuf {
 public:
  explicit CountingBuf(std::ostream& out) : out_(out) {}
  uint64_t count() const { return count_; }

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_.write(s, n);
    if (!out_) return 0;
    count_ += static_cast<uint64_t>(n);
    return n;
  }
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    char ch = traits_type::to_char_type(c);
    return xsputn(&ch, 1) == 1 ? c : traits_type::eof();
  }
  int sync() override {
    out_.flush();
    return out_ ? 0 : -1;
  }

 private:
  std::ostream& out_;
  uint64_t count_ = 0;
};

// Writes a response body straight to the connection's socket in 64 KiB
// pieces. Poco's body stream passes everything through a 4 KiB buffer,
// which makes every 4 KiB its own TLS record and write(2); a 64 KiB file
// then cost sixteen of each.
class SocketBuf : public std::streambuf {
 public:
  explicit SocketBuf(Poco::Net::StreamSocket& socket) : socket_(socket), buf_(64 * 1024) {
    setp(buf_.data(), buf_.data() + buf_.size());
  }
  ~SocketBuf() override { (void)Flush(); }
  uint64_t count() const { return count_ + static_cast<uint64_t>(pptr() - pbase()); }

 protected:
  int_type overflow(int_type c) override {
    if (!Flush()) return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    std::streamsize done = 0;
    while (done < n) {
      if (pptr() == epptr() && !Flush()) return done;
      std::streamsize k = std::min<std::streamsize>(n - done, epptr() - pptr());
      std::memcpy(pptr(), s + done, static_cast<size_t>(k));
      pbump(static_cast<int>(k));
      done += k;
    }
    return done;
  }
  int sync() override { return Flush() ? 0 : -1; }

 private:
  // Never throws (the destructor calls it): a lost connection makes it
  // false, and every later call false at once.
  bool Flush() {
    if (broken_) return false;
    const char* p = pbase();
    size_t n = static_cast<size_t>(pptr() - pbase());
    try {
      while (n > 0) {
        int sent = socket_.sendBytes(p, static_cast<int>(n));
        if (sent <= 0) {
          broken_ = true;
          return false;
        }
        p += sent;
        n -= static_cast<size_t>(sent);
        count_ += static_cast<uint64_t>(sent);
      }
    } catch (const Poco::Exception&) {
      broken_ = true;  // the client closed or reset the connection
      return false;
    }
    setp(buf_.data(), buf_.data() + buf_.size());
    return true;
  }

  Poco::Net::StreamSocket& socket_;
  std::vector<char> buf_;
  uint64_t count_ = 0;
  bool broken_ = false;
};

int64_t HeaderBytes(const Poco::Net::HTTPServerRequest& req) {
  int64_t n = static_cast<int64_t>(req.getMethod().size() + req.getURI().size() +
                                   req.getVersion().size() + 4);
  for (const auto& [name, value] : req) n += static_cast<int64_t>(name.size() + value.size() + 4);
  return n;
}

std::string PathOf(const std::string& uri) {
  size_t q = uri.find('?');
  return q == std::string::npos ? uri : uri.substr(0, q);
}

}  // namespace

// Shared by every request: the metrics families and the collaborators.
struct Instruments {
  Instruments(MetricsRegistry& m)
      : requests(m.AddCounter("custos_http_requests_total", "HTTP requests served",
                              {"route", "method", "status"})),
        latency(m.AddHistogram("custos_http_request_duration_seconds",
                               "Time from request headers read to response sent", {"route"},
                               kLatencyBuckets)),
        in_flight(m.AddGauge("custos_http_requests_in_flight", "Requests being served now")),
        aborted(m.AddCounter("custos_http_responses_aborted_total",
                             "Responses cut short because the client closed or reset its connection",
                             {"route"})) {}
  Counter& requests;
  Histogram& latency;
  Gauge& in_flight;
  Counter& aborted;
};

class Dispatcher : public Poco::Net::HTTPRequestHandler {
 public:
  Dispatcher(const Config& config, const Router& router, Logger& logger, Instruments& inst)
      : config_(config), router_(router), logger_(logger), inst_(inst) {}

  // Never throws: whatever happens to one request (a client that closed
  // mid-body, a failing handler) ends that request and nothing else.
  void handleRequest(Poco::Net::HTTPServerRequest& req,
                     Poco::Net::HTTPServerResponse& resp) override {
    auto start = std::chrono::steady_clock::now();
    std::string path = PathOf(req.getURI());
    std::string route = "unmatched";
    int status = 0;
    uint64_t bytes = 0;
    bool aborted = false;
    std::string principal;
    inst_.in_flight.Add(1);
    try {
      Router::Match match = router_.Find(req.getMethod(), path);
      if (match.kind != Router::Match::kNotFound) route = match.pattern;
      RequestContext ctx(req, std::move(match.params),
                         RequestLimits{config_.max_body_bytes, config_.max_json_bytes});
      ConnectionGuard::RequestStarted(ctx.HasBody());
      Response response = Route(req, match, ctx, path);
      status = response.status;
      principal = ctx.principal;
      if (!response.log_detail.empty()) {
        logger_.Error("request failed", {{"route", route}, {"error", response.log_detail}});
      }
      bool unread_body = !ctx.BodyConsumed();
      if (unread_body) response.close = true;
      aborted = !Send(req, resp, response, bytes);
      // Answered before the body was read (an error): read the rest so the
      // client, still sending, sees the answer (nginx's lingering close).
      if (unread_body && !aborted) (void)ctx.DrainBody(kLingerBytes, kLingerTime);
    } catch (const std::exception& e) {
      // Reading the request failed under the handler's feet (the client
      // went away); nothing can be answered.
      logger_.Warn("request abandoned", {{"route", route}, {"error", e.what()}});
      aborted = true;
    } catch (...) {
      logger_.Warn("request abandoned", {{"route", route}});
      aborted = true;
    }
    if (aborted) {
      resp.setKeepAlive(false);  // the connection is no good for another request
      inst_.aborted.Inc({route});
    }
    ConnectionGuard::RequestFinished();

    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    inst_.in_flight.Add(-1);
    inst_.requests.Inc({route, req.getMethod(), std::to_string(status)});
    inst_.latency.Observe(seconds, {route});
    logger_.Info("request", {{"method", req.getMethod()},
                             {"path", path},
                             {"route", route},
                             {"status", status},
                             {"bytes", bytes},
                             {"aborted", aborted},
                             {"durationMs", seconds * 1000.0},
                             {"principal", principal},
                             {"remote", req.clientAddress().host().toString()}});
  }

 private:
  Response Route(Poco::Net::HTTPServerRequest& req, const Router::Match& match,
                 RequestContext& ctx, const std::string& path) {
    if (HeaderBytes(req) > config_.max_header_bytes) {
      Response r = Response::Error(431, "header_too_large",
                                   "request header exceeds " +
                                       std::to_string(config_.max_header_bytes) + " bytes");
      r.close = true;
      return r;
    }
    if (req.hasContentLength() && req.getContentLength64() > config_.max_body_bytes) {
      Response r = Response::Error(413, "body_too_large",
                                   "request body exceeds " +
                                       std::to_string(config_.max_body_bytes) + " bytes",
                                   {{"maxBytes", static_cast<int64_t>(config_.max_body_bytes)}});
      r.close = true;
      return r;
    }
    if (match.kind == Router::Match::kNotFound) {
      return Response::Error(404, "route_not_found",
                             "no route for " + req.getMethod() + " " + path);
    }
    if (match.kind == Router::Match::kMethodNotAllowed) {
      Response r = Response::Error(405, "method_not_allowed",
                                   req.getMethod() + " is not allowed on " + path);
      r.headers.emplace_back("Allow", match.allow);
      return r;
    }
    try {
      return (*match.handler)(ctx);
    } catch (const Poco::Exception& e) {
      logger_.Error("handler failed", {{"route", match.pattern}, {"error", e.displayText()}});
    } catch (const std::exception& e) {
      logger_.Error("handler failed", {{"route", match.pattern}, {"error", e.what()}});
    }
    return Response::Error(Internal("unexpected failure"));
  }

  // Sends `r`; false if the client was gone before all of it was written
  // (`bytes` says how much was). Never throws.
  bool Send(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp,
            const Response& r, uint64_t& bytes) {
    resp.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(r.status));
    resp.setContentType(r.content_type);
    for (const auto& [name, value] : kSecurityHeaders) resp.set(name, value);
    for (const auto& [name, value] : r.headers) resp.set(name, value);
    if (r.close) resp.setKeepAlive(false);
    try {
      if (r.stream) {
        if (r.stream_length) {
          resp.setContentLength64(static_cast<Poco::Int64>(*r.stream_length));
        } else {
          resp.setChunkedTransferEncoding(true);
        }
        std::ostream& raw = resp.send();  // the header, still in the stream's buffer
        // With a known length the body goes to the socket directly (the
        // server's requests are always HTTPServerRequestImpl).
        auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&req);
        std::optional<SocketBuf> direct;
        std::optional<CountingBuf> counted;
        std::streambuf* buf;
        if (r.stream_length && impl != nullptr) {
          raw.flush();
          if (!raw) return false;
          buf = &direct.emplace(impl->socket());
        } else {
          buf = &counted.emplace(raw);
        }
        std::ostream out(buf);
        Status s = r.stream(out);
        out.flush();
        bytes = direct ? direct->count() : counted->count();
        if (!out) return false;  // the client went away
        if (!s.ok()) {
          // Headers are gone; the only honest signal left is to cut the
          // connection before the terminating chunk or the promised length.
          logger_.Warn("stream failed", {{"error", s.ToString()}});
          resp.setKeepAlive(false);
          if (impl != nullptr) impl->socket().shutdown();
          return true;
        }
        return true;
      }
      resp.setContentLength64(static_cast<Poco::Int64>(r.body.size()));
      std::ostream& out = resp.send();
      out.write(r.body.data(), static_cast<std::streamsize>(r.body.size()));
      out.flush();  // on the wire now, not when the connection ends
      if (!out) return false;
      bytes = r.body.size();
      return true;
    } catch (const Poco::Exception& e) {
      logger_.Warn("response not delivered", {{"error", e.displayText()}});
    } catch (const std::exception& e) {
      logger_.Warn("response not delivered", {{"error", e.what()}});
    }
    return false;
  }

  const Config& config_;
  const Router& router_;
  Logger& logger_;
  Instruments& inst_;
};

namespace {

// Poco's HTTP connection, registered with the connection guard for its
// life; closed at once, before the TLS handshake, when its address already
// holds its share of the connections.
class GuardedConnection : public Poco::Net::HTTPServerConnection {
 public:
  GuardedConnection(const Poco::Net::StreamSocket& socket,
                    Poco::Net::HTTPServerParams::Ptr params,
                    Poco::Net::HTTPRequestHandlerFactory::Ptr factory, ConnectionGuard& guard)
      : HTTPServerConnection(socket, std::move(params), std::move(factory)), guard_(guard) {}

  void run() override {
    std::string address;
    try {
      address = ConnectionGuard::AddressKey(socket().peerAddress().host().toString());
    } catch (const Poco::Exception&) {
      return;  // already gone
    }
    ConnectionGuard::Scope scope(guard_, socket().impl()->sockfd(), std::move(address));
    if (!scope.admitted()) return;
    HTTPServerConnection::run();
  }

 private:
  ConnectionGuard& guard_;
};

// Refuses, at accept time, connections from an address that holds its share.
class PerAddressFilter : public Poco::Net::TCPServerConnectionFilter {
 public:
  explicit PerAddressFilter(ConnectionGuard& guard) : guard_(guard) {}
  bool accept(const Poco::Net::StreamSocket& socket) override {
    try {
      return guard_.MayAccept(ConnectionGuard::AddressKey(socket.peerAddress().host().toString()));
    } catch (const Poco::Exception&) {
      return false;
    }
  }

 private:
  ConnectionGuard& guard_;
};

class GuardedConnectionFactory : public Poco::Net::TCPServerConnectionFactory {
 public:
  GuardedConnectionFactory(Poco::Net::HTTPServerParams::Ptr params,
                           Poco::Net::HTTPRequestHandlerFactory::Ptr factory,
                           ConnectionGuard& guard)
      : params_(std::move(params)), factory_(std::move(factory)), guard_(guard) {}

  Poco::Net::TCPServerConnection* createConnection(
      const Poco::Net::StreamSocket& socket) override {
    return new GuardedConnection(socket, params_, factory_, guard_);
  }

 private:
  Poco::Net::HTTPServerParams::Ptr params_;
  Poco::Net::HTTPRequestHandlerFactory::Ptr factory_;
  ConnectionGuard& guard_;
};

// The OpenSSL side of mutual TLS that Poco's Context does not cover: the CA
// names sent in the certificate request (so that browsers offer matching
// certificates), the CRL, and a handler that refuses every certificate
// failing verification whatever the process-wide SSLManager says.
Status ConfigureClientCertificates(Poco::Net::Context& context, const TlsFiles& tls) {
  if (tls.client_ca.empty()) {
    if (!tls.client_crl.empty()) {
      return InvalidArgument("tls.client_crl " + tls.client_crl + " is set without tls.client_ca",
                             "tls_config");
    }
    return Status::Ok();
  }
  context.setInvalidCertificateHandler(new Poco::Net::RejectCertificateHandler(/*server=*/true));
  SSL_CTX* ssl = context.sslContext();
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca.c_str());
  if (names == nullptr) {
    return InvalidArgument("the client CA file " + tls.client_ca + " holds no PEM certificate",
                           "tls_config");
  }
  SSL_CTX_set_client_CA_list(ssl, names);  // takes ownership
  if (tls.client_crl.empty()) return Status::Ok();

  X509_STORE* store = SSL_CTX_get_cert_store(ssl);
  X509_LOOKUP* lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
  if (lookup == nullptr || X509_load_crl_file(lookup, tls.client_crl.c_str(), X509_FILETYPE_PEM) <= 0) {
    return InvalidArgument("cannot load the client certificate CRL " + tls.client_crl + " (PEM expected)",
                           "tls_config");
  }
  // The leaf's CRL only: client certificates are issued directly by the CA.
  X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
  return Status::Ok();
}

}  // namespace

class HttpsServer::Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Factory(const Config& config, const Router& router, Logger& logger, MetricsRegistry& metrics)
      : config_(config), router_(router), logger_(logger), inst_(metrics) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Dispatcher(config_, router_, logger_, inst_);
  }
  // Every open connection listens to this event (Poco's HTTPServerConnection).
  void NotifyStopped(const void* sender, bool abort_current) {
    serverStopped(sender, abort_current);
  }

 private:
  const Config& config_;
  const Router& router_;
  Logger& logger_;
  Instruments inst_;
};

HttpsServer::HttpsServer(const Config& config, TlsFiles tls, const Router& router,
                         Logger& logger, MetricsRegistry& metrics)
    : config_(config), tls_(std::move(tls)), router_(router), logger_(logger), metrics_(metrics) {}

HttpsServer::~HttpsServer() { Stop(0); }

int HttpsServer::OpenConnections() const {
  return server_ ? server_->currentConnections() : 0;
}

Status HttpsServer::Start() {
  struct stat st {};
  if (::stat(tls_.private_key.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    logger_.Warn("TLS private key is readable by other users; chmod 600 it",
                 {{"file", tls_.private_key}});
  }
  Poco::Net::Context::Ptr context;
  try {
    Poco::Net::Context::Params params;
    params.privateKeyFile = tls_.private_key;
    params.certificateFile = tls_.certificate;
    // Without a client CA no client is asked for a certificate. With one,
    // every client is asked, may send none, and one it sends must verify
    // (see TlsFiles).
    params.verificationMode = tls_.client_ca.empty() ? Poco::Net::Context::VERIFY_NONE
                                                     : Poco::Net::Context::VERIFY_RELAXED;
    params.caLocation = tls_.client_ca;
    params.loadDefaultCAs = false;
    params.cipherList = kCipherList;
    params.ecdhCurve = kGroups;
    context = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, params);
    context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    context->enableSessionCache(true, "custos");
  } catch (const Poco::Exception& e) {
    return InvalidArgument("cannot load TLS certificate " + tls_.certificate + " and key " +
                               tls_.private_key +
                               (tls_.client_ca.empty() ? "" : " with client CA " + tls_.client_ca) + ": " +
                               e.displayText(),
                           "tls_config");
  }
  CUSTOS_RETURN_IF_ERROR(ConfigureClientCertificates(*context, tls_));

  // Reference counted: released on every path, also when listening fails.
  Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(config_.threads);
  params->setMaxQueued(config_.max_queued);
  params->setKeepAlive(config_.keep_alive);
  params->setKeepAliveTimeout(Poco::Timespan(config_.keep_alive_timeout_s, 0));
  params->setMaxKeepAliveRequests(config_.max_keep_alive_requests);
  params->setTimeout(Poco::Timespan(config_.read_timeout_s, 0));
  params->setServerName("custos");
  params->setSoftwareVersion("custos");

  try {
    Poco::Net::SocketAddress address(config_.listen.host, config_.listen.port);
    Poco::Net::SecureServerSocket socket(context);
    socket.bind(address, /*reuseAddress=*/true, /*ipV6Only=*/address.family() ==
                                                    Poco::Net::SocketAddress::IPv6);
    socket.listen(config_.max_queued);
    port_ = socket.address().port();
    pool_ = std::make_unique<Poco::ThreadPool>(2, config_.threads + 2);
    GuardLimits limits;
    limits.header_timeout = std::chrono::seconds(config_.header_timeout_s);
    limits.keep_alive_timeout = std::chrono::seconds(config_.keep_alive_timeout_s);
    limits.body_min_rate = config_.body_min_rate_bytes_s;
    limits.body_timeout = std::chrono::seconds(config_.body_timeout_s);
    limits.max_per_address = ConnectionsPerAddress(config_);
    guard_ = std::make_unique<ConnectionGuard>(limits);
    factory_ = new Factory(config_, router_, logger_, metrics_);
    server_ = std::make_unique<Poco::Net::TCPServer>(
        new GuardedConnectionFactory(params, factory_, *guard_), *pool_, socket, params);
    server_->setConnectionFilter(new PerAddressFilter(*guard_));
  } catch (const Poco::Exception& e) {
    return InvalidArgument("cannot listen on " + config_.listen.ToString() + ": " +
                               e.displayText(),
                           "listen_failed");
  }
  metrics_.AddCallbackGauge("custos_http_open_connections", "Client connections open now",
                            [this] { return static_cast<double>(OpenConnections()); });
  metrics_.AddCallbackGauge("custos_http_header_timeouts", "Connections closed for not sending a request header in time",
                            [this] { return guard_ ? static_cast<double>(guard_->closed()) : 0.0; });
  metrics_.AddCallbackGauge("custos_http_body_timeouts",
                            "Connections closed for a request body slower than server.body_min_rate_bytes_s or longer than server.body_timeout_s",
                            [this] { return guard_ ? static_cast<double>(guard_->body_timeouts()) : 0.0; });
  metrics_.AddCallbackGauge("custos_http_connections_busiest_address",
                            "The most connections one client address holds now",
                            [this] { return guard_ ? static_cast<double>(guard_->busiest_address()) : 0.0; });
  metrics_.AddCallbackGauge("custos_http_connections_refused_per_address",
                            "Connections refused because their client address held server.max_connections_per_address",
                            [this] { return guard_ ? static_cast<double>(guard_->refused()) : 0.0; });
  server_->start();
  return Status::Ok();
}

// What Poco's HTTPServer::stopAll does: stop accepting, then tell every
// connection (they listen to the handler factory) to end.
void HttpsServer::StopAll(bool abort_current) {
  server_->stop();
  static_cast<Factory*>(factory_.get())->NotifyStopped(this, abort_current);
}

void HttpsServer::Stop(int grace_s) {
  if (stopped_ || !server_) return;
  stopped_ = true;
  draining_ = true;
  StopAll(false);  // stop accepting; idle keep-alive connections close
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(grace_s);
  while (server_->currentConnections() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (server_->currentConnections() > 0) {
    logger_.Warn("closing connections still open after the grace period",
                 {{"connections", server_->currentConnections()}});
    StopAll(true);
  }
  pool_->joinAll();
  server_.reset();
  guard_.reset();
}

}  // namespace custos::http
