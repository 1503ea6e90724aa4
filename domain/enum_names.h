// EnumNames: the one table behind every Name/Parse pair of the domain's
// enums (record types, classifications, roles, loan and workflow states).
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"

namespace custos::domain {

// The names of the N values of enum E, in the order they are listed.
template <typename E, size_t N>
struct EnumNames {
  std::array<std::pair<E, std::string_view>, N> names;

  // "unknown" for a value outside the table.
  constexpr std::string_view Name(E v) const {
    for (const auto& [value, name] : names) {
      if (value == v) return name;
    }
    return "unknown";
  }
  // kUnprocessable `code`, "unknown <what> '<s>' (expected one of: a, b, …)",
  // for a name outside the table.
  StatusOr<E> Parse(std::string_view s, std::string_view what, const std::string& code) const {
    std::string expected;
    for (const auto& [value, name] : names) {
      if (name == s) return value;
      expected += (expected.empty() ? "" : ", ") + std::string(name);
    }
    return Unprocessable("unknown " + std::string(what) + " '" + std::string(s) +
                             "' (expected one of: " + expected + ")",
                         code);
  }
};

}  // namespace custos::domain
