// JSON access for the workload model and its users (the crash harness, the
// multi-node tests). Nothing here throws: malformed input gives null
// pointers, "" or -1.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace custos::workload {

// The object `text` holds, or a null pointer.
inline Poco::JSON::Object::Ptr JsonObject(const std::string& text) {
  try {
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var v = parser.parse(text);
    if (v.type() != typeid(Poco::JSON::Object::Ptr)) return {};
    return v.extract<Poco::JSON::Object::Ptr>();
  } catch (const Poco::Exception&) {
    return {};
  }
}

inline std::string Stringify(const Poco::Dynamic::Var& v) {
  std::ostringstream out;
  Poco::JSON::Stringifier::stringify(v, out);
  return out.str();
}

// Member `key` as a string ("" when absent, null or `o` is null).
inline std::string Str(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  if (!o || !o->has(key) || o->isNull(key)) return "";
  try {
    return o->get(key).convert<std::string>();
  } catch (const Poco::Exception&) {
    return "";
  }
}

// Member `key` as an integer (-1 when absent, null or not a number).
inline int64_t Int(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  if (!o || !o->has(key) || o->isNull(key)) return -1;
  try {
    return o->get(key).convert<int64_t>();
  } catch (const Poco::Exception&) {
    return -1;
  }
}

// Member `key` as a bool (false when absent).
inline bool Bool(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  if (!o || !o->has(key) || o->isNull(key)) return false;
  try {
    return o->get(key).convert<bool>();
  } catch (const Poco::Exception&) {
    return false;
  }
}

// The objects of array member `key` (empty when absent).
inline std::vector<Poco::JSON::Object::Ptr> Objects(const Poco::JSON::Object::Ptr& o,
                                                    const std::string& key) {
  std::vector<Poco::JSON::Object::Ptr> out;
  if (!o || !o->has(key) || o->isNull(key)) return out;
  Poco::JSON::Array::Ptr arr = o->getArray(key);
  for (size_t i = 0; arr && i < arr->size(); ++i) {
    Poco::JSON::Object::Ptr item = arr->getObject(static_cast<unsigned>(i));
    if (item) out.push_back(item);
  }
  return out;
}

// The strings of array member `key` (empty when absent).
inline std::vector<std::string> Strings(const Poco::JSON::Object::Ptr& o, const std::string& key) {
  std::vector<std::string> out;
  if (!o || !o->has(key) || o->isNull(key)) return out;
  Poco::JSON::Array::Ptr arr = o->getArray(key);
  for (size_t i = 0; arr && i < arr->size(); ++i) {
    out.push_back(arr->get(static_cast<unsigned>(i)).convert<std::string>());
  }
  return out;
}

}  // namespace custos::workload
