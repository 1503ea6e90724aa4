#include "tests/testutil/https_client.h"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/StreamCopier.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <mutex>
#include <sstream>

namespace custos::testing {

void EnsureSslInitialized() {
  static std::once_flag once;
  std::call_once(once, [] { Poco::Net::initializeSSL(); });
}

struct HttpsClient::Impl {
  Poco::Net::Context::Ptr context;
  std::unique_ptr<Poco::Net::HTTPSClientSession> session;
};

HttpsClient::HttpsClient(int port, const std::string& ca_file) : impl_(new Impl) {
  EnsureSslInitialized();
  impl_->context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", ca_file,
                                          Poco::Net::Context::VERIFY_RELAXED, 9, false);
  impl_->session = std::make_unique<Poco::Net::HTTPSClientSession>(
      "127.0.0.1", static_cast<Poco::UInt16>(port), impl_->context);
  impl_->session->setKeepAlive(true);
  impl_->session->setTimeout(Poco::Timespan(30, 0));
}

HttpsClient::~HttpsClient() = default;

HttpResult HttpsClient::Request(const std::string& method, const std::string& path,
                                const std::string& body, const std::string& content_type,
                                const std::map<std::string, std::string>& headers) {
  HttpResult result;
  try {
    Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [k, v] : headers) req.set(k, v);
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      req.setContentLength64(static_cast<Poco::Int64>(body.size()));
      if (!content_type.empty()) req.setContentType(content_type);
    }
    std::ostream& out = impl_->session->sendRequest(req);
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
    Poco::Net::HTTPResponse resp;
    std::istream& in = impl_->session->receiveResponse(resp);
    std::ostringstream text;
    Poco::StreamCopier::copyStream(in, text);
    // A server that dies mid-response leaves a body shorter than its
    // Content-Length; the stream just ends, so the cut is found here and
    // reported as the transport failure it is.
    const bool has_body = method != "HEAD" && resp.getStatus() != 204 && resp.getStatus() != 304;
    if (has_body && resp.hasContentLength() &&
        static_cast<Poco::Int64>(text.str().size()) < resp.getContentLength64()) {
      result.transport_error = "response body cut short: " + std::to_string(text.str().size()) +
                               " of " + std::to_string(resp.getContentLength64()) + " bytes";
      impl_->session->reset();
      return result;
    }
    result.status = static_cast<int>(resp.getStatus());
    result.body = text.str();
    for (const auto& [k, v] : resp) result.headers[k] = v;
  } catch (const Poco::Exception& e) {
    result.transport_error = e.displayText();
    impl_->session->reset();
  }
  return result;
}

namespace {

int ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

std::string ReadUntilClose(int fd, int timeout_ms, SSL* ssl) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    if (ssl == nullptr || SSL_pending(ssl) == 0) {
      pollfd p{fd, POLLIN, 0};
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - std::chrono::steady_clock::now())
                                      .count());
      if (::poll(&p, 1, left > 0 ? left : 0) <= 0) break;
    }
    int n = ssl ? SSL_read(ssl, buf, sizeof buf) : static_cast<int>(::read(fd, buf, sizeof buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace

bool TlsHandshakeSucceeds(int port, int min_version, int max_version,
                          const std::string& cipher_list) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_security_level(ctx, 0);  // let the client genuinely offer old versions
  SSL_CTX_set_min_proto_version(ctx, min_version);
  SSL_CTX_set_max_proto_version(ctx, max_version);
  if (!cipher_list.empty()) SSL_CTX_set_cipher_list(ctx, cipher_list.c_str());
  int fd = ConnectLoopback(port);
  bool ok = false;
  if (fd >= 0) {
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    ok = SSL_connect(ssl) == 1;
    if (ok) SSL_shutdown(ssl);
    SSL_free(ssl);
    ::close(fd);
  }
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return ok;
}

std::string RawTcpExchange(int port, const std::string& bytes, int timeout_ms) {
  int fd = ConnectLoopback(port);
  if (fd < 0) return "<connect failed>";
  ssize_t ignored = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  (void)ignored;
  std::string out = ReadUntilClose(fd, timeout_ms, nullptr);
  ::close(fd);
  return out;
}

std::string RawTlsExchange(int port, const std::string& bytes, int timeout_ms) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  int fd = ConnectLoopback(port);
  std::string out = "<handshake failed>";
  if (fd >= 0) {
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
      SSL_write(ssl, bytes.data(), static_cast<int>(bytes.size()));
      out = ReadUntilClose(fd, timeout_ms, ssl);
    }
    SSL_free(ssl);
    ::close(fd);
  }
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return out;
}

}  // namespace custos::testing
