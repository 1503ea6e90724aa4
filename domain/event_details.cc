#include "domain/event_details.h"

#include <algorithm>

namespace custos::domain {

DetailValue::DetailValue(const std::vector<std::string>& strings) {
  Array values;
  values.reserve(strings.size());
  for (const std::string& s : strings) values.emplace_back(s);
  v_ = std::move(values);
}

DetailValue::DetailValue(const EventDetails& object)
    : v_(std::make_shared<const EventDetails>(object)) {}

DetailValue::DetailValue(EventDetails&& object)
    : v_(std::make_shared<const EventDetails>(std::move(object))) {}

std::optional<bool> DetailValue::AsBool() const {
  if (const bool* b = std::get_if<bool>(&v_)) return *b;
  return std::nullopt;
}

std::optional<int64_t> DetailValue::AsInt() const {
  if (const int64_t* i = std::get_if<int64_t>(&v_)) return *i;
  return std::nullopt;
}

const EventDetails* DetailValue::AsObject() const {
  const auto* object = std::get_if<std::shared_ptr<const EventDetails>>(&v_);
  return object ? object->get() : nullptr;
}

bool operator==(const DetailValue& a, const DetailValue& b) {
  if (a.v_.index() != b.v_.index()) return false;
  if (const EventDetails* object = a.AsObject()) return *object == *b.AsObject();
  return a.v_ == b.v_;
}

EventDetails& EventDetails::Set(std::string_view key, DetailValue value) {
  auto it = std::find_if(members_.begin(), members_.end(),
                         [key](const Member& m) { return m.first == key; });
  if (it != members_.end()) {
    it->second = std::move(value);
  } else {
    members_.emplace_back(std::string(key), std::move(value));
  }
  return *this;
}

const DetailValue* EventDetails::Find(std::string_view key) const {
  for (const Member& m : members_) {
    if (m.first == key) return &m.second;
  }
  return nullptr;
}

std::optional<std::string> EventDetails::String(std::string_view key) const {
  const DetailValue* v = Find(key);
  const std::string* s = v ? v->AsString() : nullptr;
  return s ? std::optional<std::string>(*s) : std::nullopt;
}

std::optional<int64_t> EventDetails::Int(std::string_view key) const {
  const DetailValue* v = Find(key);
  return v ? v->AsInt() : std::nullopt;
}

std::optional<bool> EventDetails::Bool(std::string_view key) const {
  const DetailValue* v = Find(key);
  return v ? v->AsBool() : std::nullopt;
}

const DetailValue::Array* EventDetails::Array(std::string_view key) const {
  const DetailValue* v = Find(key);
  return v ? v->AsArray() : nullptr;
}

const EventDetails* EventDetails::Object(std::string_view key) const {
  const DetailValue* v = Find(key);
  return v ? v->AsObject() : nullptr;
}

bool operator==(const EventDetails& a, const EventDetails& b) {
  if (a.size() != b.size()) return false;
  for (const EventDetails::Member& m : a.members_) {
    const DetailValue* other = b.Find(m.first);
    if (!other || !(*other == m.second)) return false;
  }
  return true;
}

}  // namespace custos::domain
