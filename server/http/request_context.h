// Everything a handler may know about the request it serves. Handlers read
// from here and return a Response; they never touch the socket.
#pragma once

#include <chrono>
#include <istream>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"

namespace Poco::Net {
class HTTPServerRequest;
}

namespace custos::http {

struct RequestLimits {
  int64_t max_body_bytes = 0;
  int64_t max_json_bytes = 0;
};

struct RequestContext {
  RequestContext(Poco::Net::HTTPServerRequest& req, std::map<std::string, std::string> path_params,
                 RequestLimits limits);
  ~RequestContext();

  Poco::Net::HTTPServerRequest& request;
  const std::map<std::string, std::string> params;  // path captures
  const RequestLimits limits;
  // Who is asking, once authentication has run; empty for anonymous requests.
  // Written to the request log line.
  std::string principal;

  // The client certificate of this request's TLS connection (mutual TLS,
  // config tls.client_ca): lower-case hex SHA-256 of its DER encoding, 64
  // characters; "" when the client presented none (or no client CA is
  // configured, so none was asked for). A certificate seen here has been
  // verified in the handshake: it chains to a configured client CA, is
  // within its validity period and is not on the configured CRL (a
  // connection presenting any other fails its handshake and never becomes
  // a request). It proves possession of the certificate's key, nothing
  // about who holds it: compare it with the account's enrolled
  // Credentials::certificate_sha256. Never throws.
  std::string ClientCertificateSha256() const;

  // A query parameter (percent-decoded), or nullopt.
  std::optional<std::string> Query(const std::string& name) const;

  // Reads the whole body as JSON text, up to limits.max_json_bytes:
  // kTooLarge ("body_too_large") beyond it, kInvalidArgument if the client
  // sent fewer bytes than its Content-Length.
  StatusOr<std::string> ReadSmallBody();

  // The body as a stream that fails (badbit) after limits.max_body_bytes.
  std::istream& BodyStream();

  // True once the body has been read to its end (or there is none); the
  // server closes the connection after a response when this is false,
  // because unread body bytes would be taken for the next request.
  bool BodyConsumed() const;
  bool HasBody() const;
  // Reads and discards what is left of an unread body, so that a client
  // that is still sending when it is answered early (a 507, a 403) gets to
  // read the answer instead of a broken pipe. Gives up, leaving the rest,
  // when more than `max_bytes` remain (declared or read) or after
  // `max_time`. True if the body was read to its end.
  bool DrainBody(int64_t max_bytes, std::chrono::milliseconds max_time);
  // Bytes read from the body so far, and whether the limit cut it short.
  int64_t BodyBytesRead() const;
  bool BodyOverLimit() const;

 private:
  mutable std::optional<std::map<std::string, std::string>> query_;
  struct BodyState;
  std::unique_ptr<BodyState> body_;
};

}  // namespace custos::http
