// RFC 3161 HTTP client: see server/services/tsa_client.h.
#include "server/services/tsa_client.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/URI.h>

#include <cstring>
#include <istream>
#include <memory>

#include "server/services/outbound_http.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "crypto/timestamp.h"

namespace custos::services {
namespace {

constexpr std::string_view kQueryType = "application/timestamp-query";
constexpr std::string_view kReplyType = "application/timestamp-reply";
constexpr int kHttpOk = 200;
constexpr int kFirstServerError = 500;

Status BadReply(const TsaEndpoint& tsa, const std::string& what) {
  return InvalidArgument("time-stamp authority " + tsa.name + ": " + what, "tsa_bad_reply");
}

// The media type without parameters, lower case.
std::string MediaType(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  for (char& c : t) c = char(std::tolower(static_cast<unsigned char>(c)));
  return t;
}

// One POST; the reply body (at most kMaxTsaReplySize bytes) or an error.
StatusOr<std::string> Post(const TsaEndpoint& tsa, const std::vector<uint8_t>& query,
                           std::chrono::milliseconds timeout) {
  try {
    Poco::URI uri(tsa.url);
    if (uri.getScheme() != "http" && uri.getScheme() != "https") {
      return InvalidArgument("time-stamp authority " + tsa.name + ": URL is not http or https",
                             "tsa_url_invalid");
    }
    std::string path = uri.getPathEtc();
    if (path.empty()) path = "/";
    auto session = OpenOutboundSession(uri, tsa.ca_file);
    session->setTimeout(
        Poco::Timespan(std::chrono::duration_cast<std::chrono::microseconds>(timeout).count()));
    Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_POST, path,
                               Poco::Net::HTTPMessage::HTTP_1_1);
    req.setContentType(std::string(kQueryType));
    req.setContentLength64(static_cast<Poco::Int64>(query.size()));
    session->sendRequest(req).write(reinterpret_cast<const char*>(query.data()),
                                    static_cast<std::streamsize>(query.size()));
    Poco::Net::HTTPResponse resp;
    std::istream& in = session->receiveResponse(resp);
    std::string body(kMaxTsaReplySize + 1, '\0');
    in.read(body.data(), static_cast<std::streamsize>(body.size()));
    body.resize(static_cast<size_t>(in.gcount()));
    const int status = static_cast<int>(resp.getStatus());
    if (status >= kFirstServerError) {
      return Unavailable("time-stamp authority " + tsa.name + ": HTTP " + std::to_string(status),
                         "tsa_unreachable");
    }
    if (status != kHttpOk) return BadReply(tsa, "HTTP " + std::to_string(status));
    if (MediaType(resp.getContentType()) != kReplyType) {
      return BadReply(tsa, "reply Content-Type is not application/timestamp-reply");
    }
    if (body.size() > kMaxTsaReplySize) return BadReply(tsa, "reply larger than 64 KiB");
    return body;
  } catch (const Poco::Exception& e) {
    return Unavailable("time-stamp authority " + tsa.name + ": " + e.displayText(),
                       "tsa_unreachable");
  } catch (const std::exception& e) {
    return Unavailable("time-stamp authority " + tsa.name + ": " + e.what(), "tsa_unreachable");
  }
}

}  // namespace

StatusOr<std::vector<uint8_t>> RequestTimestamp(const TsaEndpoint& endpoint,
                                                std::string_view note_text,
                                                std::chrono::milliseconds timeout) {
  const crypto::Digest32 digest = crypto::Sha256Of(note_text);
  uint64_t nonce = 0;
  CUSTOS_RETURN_IF_ERROR(crypto::RandomFill(reinterpret_cast<uint8_t*>(&nonce), sizeof(nonce)));
  std::vector<uint8_t> query = crypto::tsa::MakeRequest(digest, nonce);
  if (query.empty()) return Internal("could not build a time-stamp request", "openssl_failure");
  CUSTOS_ASSIGN_OR_RETURN(std::string body, Post(endpoint, query, timeout));
  std::span<const uint8_t> reply(reinterpret_cast<const uint8_t*>(body.data()), body.size());
  StatusOr<std::vector<uint8_t>> token = crypto::tsa::TokenFromResponse(reply, digest, nonce);
  if (!token.ok()) return token.status().WithContext("time-stamp authority " + endpoint.name);
  return token;
}

}  // namespace custos::services
