#include "model/engine/tensor.h"

namespace rnnserve::model {

int64_t Tensor::num_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string Tensor::ShapeString() const { return ShapeToString(shape); }

}  // namespace rnnserve::model
