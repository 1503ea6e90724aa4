#include "server/http/response.h"

#include "common/log.h"

namespace custos::http {

int HttpStatusFor(const Status& status) {
  switch (status.code()) {
    case ErrorCode::kOk: return 200;
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kUnauthenticated: return 401;
    case ErrorCode::kPermissionDenied: return 403;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kGone: return 410;
    case ErrorCode::kTooLarge: return 413;
    case ErrorCode::kUnprocessable: return 422;
    case ErrorCode::kResourceExhausted: return 507;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kDataLoss:
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

std::string ErrorBody(const std::string& code, const std::string& message) {
  std::string out = "{\"error\":{\"code\":";
  AppendJsonString(out, code);
  out += ",\"message\":";
  AppendJsonString(out, message);
  out += "}}";
  return out;
}

Response Response::Error(const Status& status) {
  int http = HttpStatusFor(status);
  // Internal details stay in the server log, not in the answer.
  std::string message = http == 500 ? "internal error" : status.message();
  Response r = Json(http, ErrorBody(status.reason(), message));
  if (http >= 500) r.log_detail = status.ToString();
  return r;
}

Response Response::Error(int http_status, std::string code, std::string message) {
  return Json(http_status, ErrorBody(code, message));
}

}  // namespace custos::http
