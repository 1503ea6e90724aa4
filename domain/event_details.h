// Event details: the `details` member of an audit event (storage/log_leaf.h,
// docs/formats/audit-log.md "Leaf") as a typed value. The services fill it
// with Set and the readers (verifier, package check, history filter) use
// the typed getters; only storage/log_leaf.cc turns it into JSON and back.
//
// A detail value is one JSON value of the kinds a leaf may hold: null, a
// bool, an integer (int64; a leaf accepts only [-(2^53-1), 2^53-1], which
// EncodeLeaf checks), a string (UTF-8, checked by EncodeLeaf), an array of
// values or a nested EventDetails object. Decimals have no form: events
// carry them as strings (domain/canonical_json.h).
//
// EventDetails keeps its members in the order they were first set; Set on a
// name already present replaces its value in place. The order does not
// reach the leaf, whose canonical JSON sorts member names.
//
// Thread safety: plain values; a const object may be read from any thread.
#pragma once

#include <cstdint>
#include <concepts>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace custos::domain {

class EventDetails;

// One value inside event details.
class DetailValue {
 public:
  using Array = std::vector<DetailValue>;

  // null.
  DetailValue() = default;
  DetailValue(std::nullptr_t) {}
  DetailValue(bool b) : v_(b) {}
  DetailValue(std::string s) : v_(std::move(s)) {}
  DetailValue(std::string_view s) : v_(std::string(s)) {}
  DetailValue(const char* s) : v_(std::string(s)) {}
  // Any integer but bool. Unsigned values above INT64_MAX are kept as
  // INT64_MAX, which a leaf refuses like the value itself (json_integer_range).
  template <std::integral T>
    requires(!std::same_as<T, bool> && !std::same_as<T, char>)
  DetailValue(T i) : v_(Clamp(i)) {}
  DetailValue(Array a) : v_(std::move(a)) {}
  // A list of strings (ids, names).
  DetailValue(const std::vector<std::string>& strings);
  DetailValue(const EventDetails& object);
  DetailValue(EventDetails&& object);

  [[nodiscard]] bool IsNull() const { return std::holds_alternative<std::monostate>(v_); }
  // The value if it is of that kind, else null (nullptr / nullopt).
  [[nodiscard]] std::optional<bool> AsBool() const;
  [[nodiscard]] std::optional<int64_t> AsInt() const;
  [[nodiscard]] const std::string* AsString() const { return std::get_if<std::string>(&v_); }
  [[nodiscard]] const Array* AsArray() const { return std::get_if<Array>(&v_); }
  [[nodiscard]] const EventDetails* AsObject() const;

  friend bool operator==(const DetailValue& a, const DetailValue& b);

 private:
  template <std::integral T>
  static int64_t Clamp(T i) {
    if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(int64_t)) {
      if (i > static_cast<T>(std::numeric_limits<int64_t>::max())) {
        return std::numeric_limits<int64_t>::max();
      }
    }
    return static_cast<int64_t>(i);
  }

  // Nested objects are shared and never changed after construction, so
  // copies are cheap and still behave as values.
  std::variant<std::monostate, bool, int64_t, std::string, Array, std::shared_ptr<const EventDetails>> v_;
};

// The details object of an audit event: named values, in the order set.
class EventDetails {
 public:
  using Member = std::pair<std::string, DetailValue>;

  EventDetails() = default;

  // Sets member `key` to `value`, replacing an earlier value of that name.
  EventDetails& Set(std::string_view key, DetailValue value);

  [[nodiscard]] bool Has(std::string_view key) const { return Find(key) != nullptr; }
  // The member's value, or nullptr if there is no such member.
  [[nodiscard]] const DetailValue* Find(std::string_view key) const;
  // The member's value if it exists and is of that kind, else nullopt /
  // nullptr.
  [[nodiscard]] std::optional<std::string> String(std::string_view key) const;
  [[nodiscard]] std::optional<int64_t> Int(std::string_view key) const;
  [[nodiscard]] std::optional<bool> Bool(std::string_view key) const;
  [[nodiscard]] const DetailValue::Array* Array(std::string_view key) const;
  [[nodiscard]] const EventDetails* Object(std::string_view key) const;

  [[nodiscard]] const std::vector<Member>& members() const { return members_; }
  [[nodiscard]] size_t size() const { return members_.size(); }
  [[nodiscard]] bool empty() const { return members_.empty(); }

  // Equal when they have the same members with equal values, in any order.
  friend bool operator==(const EventDetails& a, const EventDetails& b);

 private:
  std::vector<Member> members_;
};

}  // namespace custos::domain
