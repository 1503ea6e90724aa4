// Status and StatusOr<T>: how every module boundary in Custos reports failure.
//
// A Status is either OK or carries a stable machine-readable code (one of
// ErrorCode) plus a human-readable message. The code decides the HTTP status
// in exactly one place (HttpStatusFor, server/http/response.h); the message
// is for people and never contains a secret (no passwords, keys, tokens or
// plaintext).
//
// Thread safety: Status and StatusOr are values; distinct objects may be used
// from distinct threads freely, a single object needs external sync.
#pragma once

#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace custos {

// Categories of failure. Keep the list short: the fine-grained reason goes in
// Status::reason() (a stable snake_case string such as "loan_not_approved").
enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,    // malformed input (HTTP 400)
  kUnauthenticated,    // no or bad credentials (401)
  kPermissionDenied,   // authenticated but not allowed (403)
  kNotFound,           // unknown id (404)
  kConflict,           // illegal state transition, duplicate (409)
  kGone,               // existed once and was destroyed on purpose (410)
  kTooLarge,           // over a configured limit (413)
  kUnprocessable,      // well-formed but invalid values (422)
  kDataLoss,           // integrity failure: tag, hash or signature mismatch
  kResourceExhausted,  // disk full, file size limit (507)
  kUnavailable,        // transient; retry may succeed (503)
  kInternal,           // a bug or an unexpected library failure (500)
};

// Stable lower-case name of a code, e.g. "invalid_argument".
std::string_view ErrorCodeName(ErrorCode code);

// One named value that explains an error to a client in its own language
// (sent as error.params, e.g. {"field":"amount"} or {"maxDays":90}): a
// string or a whole number, never a secret.
struct ErrorParam {
  std::string name;
  std::variant<std::string, int64_t> value;
};

class [[nodiscard]] Status {
 public:
  // OK.
  Status() = default;
  // A failure. `reason` is a stable snake_case identifier that clients may
  // match on; when empty, ErrorCodeName(code) is used.
  Status(ErrorCode code, std::string message, std::string reason = {})
      : code_(code), message_(std::move(message)), reason_(std::move(reason)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // The stable error identifier sent to clients as error.code.
  std::string reason() const;
  // "reason: message", for logs and test failures.
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context` + ": " (the
  // params are kept).
  Status WithContext(std::string_view context) const;

  // Returns a copy that also carries the parameter `name` (replacing one of
  // the same name): `return Unprocessable("…", "loan_too_long").WithParam("maxDays", 90);`
  // Parameters of an OK status are dropped.
  Status WithParam(std::string_view name, std::string value) const;
  Status WithParam(std::string_view name, const char* value) const {
    return WithParam(name, std::string(value));
  }
  template <typename I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>, int> = 0>
  Status WithParam(std::string_view name, I value) const {
    return WithValue(name, static_cast<int64_t>(value));
  }
  // In the order they were added.
  const std::vector<ErrorParam>& params() const { return params_; }
  // The string or number of parameter `name`, if present.
  const ErrorParam* param(std::string_view name) const;

 private:
  Status WithValue(std::string_view name, std::variant<std::string, int64_t> value) const;

  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
  std::string reason_;
  std::vector<ErrorParam> params_;
};

// Convenience constructors.
inline Status InvalidArgument(std::string m, std::string r = {}) {
  return Status(ErrorCode::kInvalidArgument, std::move(m), std::move(r));
}
inline Status NotFound(std::string m, std::string r = {}) {
  return Status(ErrorCode::kNotFound, std::move(m), std::move(r));
}
inline Status Conflict(std::string m, std::string r = {}) {
  return Status(ErrorCode::kConflict, std::move(m), std::move(r));
}
inline Status Gone(std::string m, std::string r = {}) {
  return Status(ErrorCode::kGone, std::move(m), std::move(r));
}
inline Status PermissionDenied(std::string m, std::string r = {}) {
  return Status(ErrorCode::kPermissionDenied, std::move(m), std::move(r));
}
inline Status Unauthenticated(std::string m, std::string r = {}) {
  return Status(ErrorCode::kUnauthenticated, std::move(m), std::move(r));
}
inline Status DataLoss(std::string m, std::string r = {}) {
  return Status(ErrorCode::kDataLoss, std::move(m), std::move(r));
}
inline Status Internal(std::string m, std::string r = {}) {
  return Status(ErrorCode::kInternal, std::move(m), std::move(r));
}
inline Status Unprocessable(std::string m, std::string r = {}) {
  return Status(ErrorCode::kUnprocessable, std::move(m), std::move(r));
}
inline Status TooLarge(std::string m, std::string r = {}) {
  return Status(ErrorCode::kTooLarge, std::move(m), std::move(r));
}
inline Status ResourceExhausted(std::string m, std::string r = {}) {
  return Status(ErrorCode::kResourceExhausted, std::move(m), std::move(r));
}
inline Status Unavailable(std::string m, std::string r = {}) {
  return Status(ErrorCode::kUnavailable, std::move(m), std::move(r));
}

// Either a value of type T or a non-OK Status.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "StatusOr built from an OK Status");
    if (status_.ok()) status_ = Internal("StatusOr built from an OK Status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // Precondition: ok().
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace custos

// Returns early from the enclosing function if `expr` (a Status) is not OK.
#define CUSTOS_RETURN_IF_ERROR(expr)              \
  do {                                            \
    ::custos::Status custos_status_ = (expr);     \
    if (!custos_status_.ok()) return custos_status_; \
  } while (0)

#define CUSTOS_CONCAT_INNER(a, b) a##b
#define CUSTOS_CONCAT(a, b) CUSTOS_CONCAT_INNER(a, b)

// `CUSTOS_ASSIGN_OR_RETURN(auto x, Foo());` assigns the value of a StatusOr or
// returns its Status from the enclosing function.
#define CUSTOS_ASSIGN_OR_RETURN(lhs, expr) \
  CUSTOS_ASSIGN_OR_RETURN_IMPL(CUSTOS_CONCAT(custos_statusor_, __LINE__), lhs, expr)
#define CUSTOS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
