#include "model/tensor.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rnnserve::model {

int64_t Tensor::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string Tensor::ShapeString() const { return ShapeToString(shape); }

std::string ShapeToString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

}  // namespace rnnserve::model
