// Shapes in messages: every reader and the engine write them the same way.
#ifndef RNNSERVE_UTIL_SHAPE_H_
#define RNNSERVE_UTIL_SHAPE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rnnserve::util {

// "[4, 8]" for any shape vector; "[]" for a scalar.
inline std::string ShapeToString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

}  // namespace rnnserve::util

#endif  // RNNSERVE_UTIL_SHAPE_H_
