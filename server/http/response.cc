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

std::string ErrorBody(const std::string& code, const std::string& message,
                      const std::vector<ErrorParam>& params) {
  std::string out = "{\"error\":{\"code\":";
  AppendJsonString(out, code);
  out += ",\"message\":";
  AppendJsonString(out, message);
  if (!params.empty()) {
    out += ",\"params\":{";
    for (size_t i = 0; i < params.size(); ++i) {
      if (i > 0) out += ',';
      AppendJsonString(out, params[i].name);
      out += ':';
      if (const auto* text = std::get_if<std::string>(&params[i].value)) {
        AppendJsonString(out, *text);
      } else {
        out += std::to_string(std::get<int64_t>(params[i].value));
      }
    }
    out += '}';
  }
  out += "}}";
  return out;
}

Response Response::Error(const Status& status) {
  int http = HttpStatusFor(status);
  // Internal details stay in the server log, not in the answer.
  std::string message = http == 500 ? "internal error" : status.message();
  // Parameters explain a refusal; a 500 says nothing more than its code.
  Response r = Json(http, http == 500 ? ErrorBody(status.reason(), message)
                                      : ErrorBody(status.reason(), message, status.params()));
  if (http >= 500) r.log_detail = status.ToString();
  return r;
}

Response Response::Error(int http_status, std::string code, std::string message,
                         const std::vector<ErrorParam>& params) {
  return Json(http_status, ErrorBody(code, message, params));
}

}  // namespace custos::http
