// Small pieces the service tests share: a StatusOr that must succeed, a
// principal, and a key provider with a fresh random KEK.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "common/status.h"
#include "crypto/key_provider.h"
#include "crypto/random.h"
#include "server/services/principal.h"

namespace custos::services::test_util {

// The value of `s`, or a test failure naming `what` and a default value.
template <typename T>
T Must(StatusOr<T> s, const char* what = "") {
  if (!s.ok()) {
    ADD_FAILURE() << what << ": " << s.status().ToString();
    return T{};
  }
  return std::move(s).value();
}

inline Principal User(const std::string& name, domain::Role role, const std::string& department) {
  return Principal{domain::Username{name}, role, department};
}

inline std::unique_ptr<crypto::LocalKeyProvider> NewKeyProvider() {
  auto key = crypto::RandomBytes(crypto::kKekSize);
  auto kek = crypto::MakeKek(crypto::SecretBytes(std::move(*key)));
  return std::move(crypto::LocalKeyProvider::Create(std::move(*kek)).value());
}

}  // namespace custos::services::test_util
