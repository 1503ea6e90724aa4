// Small helpers for the crypto library's own use of the OpenSSL C API:
// deleters for std::unique_ptr and a scope that keeps one call's errors out
// of the next. Internal to crypto/ (its .cc files), never in its interface.
#pragma once

#include <openssl/err.h>

namespace custos::crypto {

// std::unique_ptr<T, OpenSslFree<T_free>>: frees with OpenSSL's own function.
template <auto kFree>
struct OpenSslFree {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};

// Empties this thread's OpenSSL error queue on construction and destruction,
// so that one call's errors never leak into the next.
class ErrorQueueScope {
 public:
  ErrorQueueScope() { ERR_clear_error(); }
  ~ErrorQueueScope() { ERR_clear_error(); }
  ErrorQueueScope(const ErrorQueueScope&) = delete;
  ErrorQueueScope& operator=(const ErrorQueueScope&) = delete;
};

}  // namespace custos::crypto
