#pragma once
// Reading fields of JSON that came from the Kubernetes API (or anything answering in its place)
// without exceptions: nlohmann's value() and get<>() throw on a parent that is not an object or a
// field of another type, and an answer is input the adapter does not control. Here a missing
// field, a field of another type and a parent that is not an object all read as "absent".
// Pure functions, thread-safe.

#include <string>
#include <string_view>
#include <vector>

#include "nlohmann/json.hpp"

namespace aa::kube {

// The field `key` of `j`, or null when `j` is not an object or has no such field.
inline const nlohmann::json* JsonField(const nlohmann::json& j, std::string_view key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

// The field as a string; "" when absent or not a string.
inline std::string JsonString(const nlohmann::json& j, std::string_view key) {
  const nlohmann::json* v = JsonField(j, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

// The field as a bool; false when absent or not a bool.
inline bool JsonBool(const nlohmann::json& j, std::string_view key) {
  const nlohmann::json* v = JsonField(j, key);
  return v != nullptr && v->is_boolean() && v->get<bool>();
}

// The field when it is an object, else an empty object (so that fields of it read as absent).
inline const nlohmann::json& JsonObject(const nlohmann::json& j, std::string_view key) {
  static const auto* const kEmpty = new nlohmann::json(nlohmann::json::object());
  const nlohmann::json* v = JsonField(j, key);
  return v != nullptr && v->is_object() ? *v : *kEmpty;
}

// The strings of an array (other elements skipped); empty when `j` is not an array.
inline std::vector<std::string> JsonStrings(const nlohmann::json& j) {
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& v : j) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

// metadata.<key> of an object as a string ("" when absent).
inline std::string MetadataString(const nlohmann::json& obj, std::string_view key) {
  return JsonString(JsonObject(obj, "metadata"), key);
}

// `j` as JSON text that never throws: invalid UTF-8 in its strings (from a client or an answer)
// is written as U+FFFD instead of throwing nlohmann's type_error 316.
inline std::string SafeDump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace aa::kube
