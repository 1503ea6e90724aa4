#include "server/http/request_context.h"

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/SecureStreamSocketImpl.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/X509Certificate.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <algorithm>
#include <streambuf>

#include "server/http/connection_guard.h"

namespace custos::http {

// A streambuf over the request stream that stops after `limit` bytes and
// remembers whether the underlying stream reached its end.
class LimitedBuf : public std::streambuf {
 public:
  LimitedBuf(std::istream& in, int64_t limit) : in_(in), limit_(limit) {}
  bool over_limit() const { return over_limit_; }
  int64_t total() const { return total_; }
  bool at_end() const { return at_end_; }

 protected:
  int_type underflow() override {
    if (gptr() < egptr()) return traits_type::to_int_type(*gptr());
    if (at_end_ || over_limit_) return traits_type::eof();
    // What one read from the connection brought, not a full buffer: the
    // connection guard sees the body's progress as it arrives.
    std::streambuf* src = in_.rdbuf();
    std::streamsize n = 0;
    if (src != nullptr && !traits_type::eq_int_type(src->sgetc(), traits_type::eof())) {
      n = src->sgetn(buf_, std::clamp<std::streamsize>(src->in_avail(), 1, sizeof buf_));
    }
    if (n <= 0) {
      at_end_ = true;
      ConnectionGuard::BodyDone();
      return traits_type::eof();
    }
    total_ += n;
    ConnectionGuard::BodyRead(n);
    if (total_ > limit_) {
      over_limit_ = true;
      return traits_type::eof();
    }
    setg(buf_, buf_, buf_ + n);
    return traits_type::to_int_type(*gptr());
  }

 private:
  std::istream& in_;
  const int64_t limit_;
  int64_t total_ = 0;
  bool over_limit_ = false;
  bool at_end_ = false;
  char buf_[16384];
};

struct RequestContext::BodyState {
  BodyState(std::istream& in, int64_t limit) : buf(in, limit), stream(&buf) {}
  LimitedBuf buf;
  std::istream stream;
};

RequestContext::RequestContext(Poco::Net::HTTPServerRequest& req,
                               std::map<std::string, std::string> path_params,
                               RequestLimits lim)
    : request(req), params(std::move(path_params)), limits(lim) {}

RequestContext::~RequestContext() = default;

std::optional<std::string> RequestContext::Query(const std::string& name) const {
  if (!query_) {
    query_.emplace();
    try {
      Poco::URI uri(request.getURI());
      for (const auto& [k, v] : uri.getQueryParameters()) query_->emplace(k, v);
    } catch (const Poco::Exception&) {
      // An undecodable query string reads as no parameters.
    }
  }
  auto it = query_->find(name);
  if (it == query_->end()) return std::nullopt;
  return it->second;
}

bool RequestContext::HasBody() const {
  return request.getChunkedTransferEncoding() ||
         (request.hasContentLength() && request.getContentLength64() > 0);
}

std::istream& RequestContext::BodyStream() {
  if (!body_) body_ = std::make_unique<BodyState>(request.stream(), limits.max_body_bytes);
  return body_->stream;
}

bool RequestContext::BodyConsumed() const {
  if (!HasBody()) return true;
  return body_ && body_->buf.at_end() && !body_->buf.over_limit();
}

bool RequestContext::DrainBody(int64_t max_bytes, std::chrono::milliseconds max_time) {
  if (BodyConsumed()) return true;
  if (BodyOverLimit()) return false;
  int64_t read = BodyBytesRead();
  if (request.hasContentLength() && request.getContentLength64() - read > max_bytes) return false;
  auto deadline = std::chrono::steady_clock::now() + max_time;
  std::istream& in = request.stream();
  char buf[16384];
  int64_t drained = 0;
  try {
    while (drained <= max_bytes && std::chrono::steady_clock::now() < deadline) {
      in.read(buf, sizeof buf);
      std::streamsize n = in.gcount();
      if (n <= 0) return in.eof();
      drained += n;
      ConnectionGuard::BodyRead(n);
    }
  } catch (const Poco::Exception&) {
    // The client went away: nothing left to drain for.
  }
  return false;
}

int64_t RequestContext::BodyBytesRead() const { return body_ ? body_->buf.total() : 0; }
bool RequestContext::BodyOverLimit() const { return body_ && body_->buf.over_limit(); }

StatusOr<std::string> RequestContext::ReadSmallBody() {
  if (request.hasContentLength() && request.getContentLength64() > limits.max_json_bytes) {
    return TooLarge("request body exceeds " + std::to_string(limits.max_json_bytes) + " bytes",
                    "body_too_large")
        .WithParam("maxBytes", limits.max_json_bytes);
  }
  // No Content-Length and no chunked transfer: the request has no body
  // (RFC 9112 §6.3); reading would wait for the client to close.
  if (!request.hasContentLength() && !request.getChunkedTransferEncoding()) return std::string();
  if (!body_) body_ = std::make_unique<BodyState>(request.stream(), limits.max_json_bytes);
  std::string out;
  char buf[8192];
  while (body_->stream.read(buf, sizeof buf) || body_->stream.gcount() > 0) {
    out.append(buf, static_cast<size_t>(body_->stream.gcount()));
  }
  if (body_->buf.over_limit()) {
    return TooLarge("request body exceeds " + std::to_string(limits.max_json_bytes) + " bytes",
                    "body_too_large")
        .WithParam("maxBytes", limits.max_json_bytes);
  }
  if (request.hasContentLength() &&
      static_cast<int64_t>(out.size()) != request.getContentLength64()) {
    return InvalidArgument("request body shorter than its Content-Length", "body_truncated");
  }
  return out;
}

std::string RequestContext::ClientCertificateSha256() const {
  auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&request);
  if (impl == nullptr) return "";
  try {
    auto* secure = dynamic_cast<Poco::Net::SecureStreamSocketImpl*>(impl->socket().impl());
    if (secure == nullptr || !secure->havePeerCertificate()) return "";
    Poco::Net::X509Certificate cert = secure->peerCertificate();
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (X509_digest(cert.certificate(), EVP_sha256(), digest, &length) != 1 || length != 32) return "";
    static const char kHex[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(2 * length);
    for (unsigned int i = 0; i < length; ++i) {
      hex.push_back(kHex[digest[i] >> 4]);
      hex.push_back(kHex[digest[i] & 15]);
    }
    return hex;
  } catch (const Poco::Exception&) {
    return "";
  }
}

}  // namespace custos::http
