// C2SP tlog-witness add-checkpoint client: see server/services/witness_client.h.
#include "server/services/witness_client.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/URI.h>

#include <charconv>
#include <istream>
#include <memory>
#include <optional>

#include "server/services/outbound_http.h"
#include "crypto/signed_note.h"

namespace custos::services {
namespace {

// The protocol allows at most 63 consistency proof lines.
constexpr size_t kMaxProofLines = 63;
// Largest reply body read; a witness replies with a few signature lines.
constexpr size_t kMaxReplySize = 64 * 1024;
// How much of a refusal's body goes into `detail`.
constexpr size_t kDetailBodyChars = 200;
constexpr std::string_view kSizeContentType = "text/x.tlog.size";

WitnessResult Result(WitnessResult::Kind kind, std::string detail) {
  WitnessResult r;
  r.kind = kind;
  r.detail = std::move(detail);
  return r;
}

// Printable start of a reply body for `detail`.
std::string BodyExcerpt(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, kDetailBodyChars)) {
    out += (c >= 0x20 && c < 0x7f) ? c : ' ';
  }
  return out;
}

// The signed text of a note: everything up to and including the '\n' before
// the last blank line.
std::optional<std::string_view> NoteText(std::string_view signed_note) {
  size_t blank = signed_note.rfind("\n\n");
  if (blank == std::string_view::npos) return std::nullopt;
  return signed_note.substr(0, blank + 1);
}

// "<decimal>\n" (no leading zeros); nullopt otherwise.
std::optional<uint64_t> ParseSizeBody(std::string_view body) {
  if (body.empty() || body.back() != '\n') return std::nullopt;
  body.remove_suffix(1);
  if (body.empty() || (body.size() > 1 && body[0] == '0')) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), v);
  if (ec != std::errc() || end != body.data() + body.size()) return std::nullopt;
  return v;
}

// Keeps the reply's lines by `key`, each verified; kRefused when none is
// there or one of them does not verify.
WitnessResult CosignedReply(const crypto::cosig::WitnessKey& key, std::string_view note_text,
                            std::string_view body) {
  WitnessResult r = Result(WitnessResult::kCosigned, "cosigned");
  const std::string prefix = std::string(crypto::note::kSignatureLinePrefix) + key.name + " ";
  while (!body.empty()) {
    size_t nl = body.find('\n');
    if (nl == std::string_view::npos) {
      return Result(WitnessResult::kRefused, "reply line without a final newline");
    }
    std::string_view line = body.substr(0, nl + 1);
    body.remove_prefix(nl + 1);
    if (line.substr(0, prefix.size()) != prefix) continue;  // another witness's key
    auto ts = crypto::cosig::VerifyCosignatureLine(key, note_text, line);
    if (!ts.ok()) {
      if (ts.status().reason() == "cosignature_wrong_key") continue;  // same name, other key
      return Result(WitnessResult::kRefused, "witness " + key.name +
                                                 " returned a bad cosignature: " +
                                                 ts.status().ToString());
    }
    r.lines.emplace_back(line);
  }
  if (r.lines.empty()) {
    return Result(WitnessResult::kRefused,
                  "witness " + key.name + " replied 200 without a cosignature by its key");
  }
  return r;
}

}  // namespace

std::string AddCheckpointBody(uint64_t old_size, const std::vector<crypto::Digest32>& proof,
                              std::string_view signed_note) {
  std::string body = "old " + std::to_string(old_size) + "\n";
  for (const crypto::Digest32& h : proof) body += crypto::Base64Encode(h) + "\n";
  body += "\n";
  body += signed_note;
  return body;
}

WitnessResult SubmitCheckpoint(const WitnessEndpoint& endpoint, uint64_t old_size,
                               const std::vector<crypto::Digest32>& proof,
                               std::string_view signed_note, std::chrono::milliseconds timeout) {
  std::optional<std::string_view> text = NoteText(signed_note);
  if (!text) return Result(WitnessResult::kRefused, "not a signed note");
  if (proof.size() > kMaxProofLines) {
    return Result(WitnessResult::kRefused, "consistency proof longer than 63 hashes");
  }
  const std::string body = AddCheckpointBody(old_size, proof, signed_note);
  try {
    Poco::URI uri(endpoint.url);
    if (uri.getScheme() != "http" && uri.getScheme() != "https") {
      return Result(WitnessResult::kRefused, "witness URL is not http or https");
    }
    std::string path = uri.getPathEtc();
    while (!path.empty() && path.back() == '/') path.pop_back();
    path += "/add-checkpoint";
    auto session = OpenOutboundSession(uri, endpoint.ca_file);
    session->setTimeout(Poco::Timespan(std::chrono::duration_cast<std::chrono::microseconds>(timeout).count()));
    Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_POST, path,
                               Poco::Net::HTTPMessage::HTTP_1_1);
    req.setContentType("text/plain; charset=utf-8");
    req.setContentLength64(static_cast<Poco::Int64>(body.size()));
    session->sendRequest(req).write(body.data(), static_cast<std::streamsize>(body.size()));
    Poco::Net::HTTPResponse resp;
    std::istream& in = session->receiveResponse(resp);
    std::string reply(kMaxReplySize + 1, '\0');
    in.read(reply.data(), static_cast<std::streamsize>(reply.size()));
    reply.resize(static_cast<size_t>(in.gcount()));
    if (reply.size() > kMaxReplySize) {
      return Result(WitnessResult::kRefused, "witness reply larger than 64 KiB");
    }
    const int status = static_cast<int>(resp.getStatus());
    const std::string status_text = "HTTP " + std::to_string(status);
    if (status == 200) return CosignedReply(endpoint.key, *text, reply);
    if (status == 409) {
      WitnessResult r = Result(WitnessResult::kConflict, status_text + ": " + BodyExcerpt(reply));
      std::optional<uint64_t> size = ParseSizeBody(reply);
      if (size && resp.getContentType().substr(0, kSizeContentType.size()) == kSizeContentType) {
        r.witness_size = *size;
      } else {
        r.detail += " (no text/x.tlog.size body)";
      }
      return r;
    }
    if (status >= 500) return Result(WitnessResult::kUnreachable, status_text + ": " + BodyExcerpt(reply));
    return Result(WitnessResult::kRefused, status_text + ": " + BodyExcerpt(reply));
  } catch (const Poco::Exception& e) {
    return Result(WitnessResult::kUnreachable, "witness " + endpoint.url + ": " + e.displayText());
  } catch (const std::exception& e) {
    return Result(WitnessResult::kUnreachable, "witness " + endpoint.url + ": " + e.what());
  }
}

}  // namespace custos::services
