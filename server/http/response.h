// What a handler returns, and the single place where a Status becomes an
// HTTP status and a JSON error body (DESIGN §4):
//   {"error": {"code": "<stable reason>", "message": "<human text>",
//              "params": {"<name>": "<string>" or <number>, …}}}
// "params" is present only when the Status carries parameters
// (Status::WithParam); clients render code + params in their own language.
#pragma once

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace custos::http {

inline constexpr const char* kJsonType = "application/json; charset=utf-8";
inline constexpr const char* kTextType = "text/plain; charset=utf-8";

struct Response {
  int status = 200;
  std::string content_type = kJsonType;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is produced by this writer (chunked transfer) and
  // `body` is ignored. Used for large content that must stream.
  std::function<Status(std::ostream&)> stream;
  // With `stream`: the exact length, sent as Content-Length instead of
  // chunked transfer encoding.
  std::optional<uint64_t> stream_length;
  // Close the connection after this response (e.g. an unread request body).
  bool close = false;
  // For 5xx answers: the underlying failure, written to the server log (the
  // client only sees "internal error").
  std::string log_detail;

  static Response Json(int status, std::string json_text) {
    Response r;
    r.status = status;
    r.body = std::move(json_text);
    return r;
  }
  static Response Text(int status, std::string text, std::string type = kTextType) {
    Response r;
    r.status = status;
    r.content_type = std::move(type);
    r.body = std::move(text);
    return r;
  }
  // An error response for a non-OK status.
  static Response Error(const Status& status);
  // An error response with an explicit HTTP status (for protocol-level errors
  // such as 404 route_not_found, 405, 413, 431 that have no service Status).
  static Response Error(int http_status, std::string code, std::string message,
                        const std::vector<ErrorParam>& params = {});
};

// Maps a Status code to its HTTP status (400, 401, 403, 404, 409, 413, 422,
// 500, 503, 507).
int HttpStatusFor(const Status& status);

// {"error":{"code":…,"message":…}}, plus "params":{…} when there are any.
std::string ErrorBody(const std::string& code, const std::string& message,
                      const std::vector<ErrorParam>& params = {});

}  // namespace custos::http
