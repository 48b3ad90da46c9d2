// Reading members of JSON that came from a file, without nlohmann::json's
// throwing accessors: value() throws on a non-object or a member of another
// type, and const operator[] on a missing key is undefined behaviour. Our
// code throws nothing (STYLE.md), so the Keras and TF.js readers look members
// up through these.
#ifndef RNNSERVE_MODEL_IMPORTERS_JSON_FIELDS_H_
#define RNNSERVE_MODEL_IMPORTERS_JSON_FIELDS_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/string_view.h"

namespace rnnserve::model {

// The member `key` of `object`, or a null JSON when `object` is no object or
// has no such member.
inline const nlohmann::json& JsonMember(const nlohmann::json& object, absl::string_view key) {
  static const nlohmann::json* const kNull = new nlohmann::json();
  if (!object.is_object()) return *kNull;
  const auto it = object.find(key);
  return it == object.end() ? *kNull : *it;
}

// The string member `key`, or `fallback` when it is absent or not a string.
inline std::string JsonString(const nlohmann::json& object, absl::string_view key,
                              absl::string_view fallback) {
  const nlohmann::json& member = JsonMember(object, key);
  return member.is_string() ? member.get<std::string>() : std::string(fallback);
}

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_JSON_FIELDS_H_
