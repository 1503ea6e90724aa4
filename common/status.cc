#include "common/status.h"

namespace custos {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "ok";
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kUnauthenticated: return "unauthenticated";
    case ErrorCode::kPermissionDenied: return "permission_denied";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kGone: return "gone";
    case ErrorCode::kTooLarge: return "too_large";
    case ErrorCode::kUnprocessable: return "unprocessable";
    case ErrorCode::kDataLoss: return "data_loss";
    case ErrorCode::kResourceExhausted: return "storage_full";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

std::string Status::reason() const {
  return reason_.empty() ? std::string(ErrorCodeName(code_)) : reason_;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return reason() + ": " + message_;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  Status out(code_, std::string(context) + ": " + message_, reason_);
  out.params_ = params_;
  return out;
}

Status Status::WithValue(std::string_view name, std::variant<std::string, int64_t> value) const {
  Status out = *this;
  if (ok()) return out;
  for (ErrorParam& p : out.params_) {
    if (p.name == name) {
      p.value = std::move(value);
      return out;
    }
  }
  out.params_.push_back(ErrorParam{std::string(name), std::move(value)});
  return out;
}

Status Status::WithParam(std::string_view name, std::string value) const {
  return WithValue(name, std::move(value));
}

const ErrorParam* Status::param(std::string_view name) const {
  for (const ErrorParam& p : params_) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

}  // namespace custos
