// A plain float tensor, as weight files hold them. The Eigen matrix types
// the engine computes with are model/kernels/matrix.h's.
#ifndef RNNSERVE_MODEL_ENGINE_TENSOR_H_
#define RNNSERVE_MODEL_ENGINE_TENSOR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "model/kernels/matrix.h"
#include "util/shape.h"

namespace rnnserve::model {

// A dense float32 tensor as it comes out of a weight file, C order.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> values;

  int64_t num_elements() const;
  // "[4, 8]", for messages.
  std::string ShapeString() const;
};

// The engine's messages name shapes as util/ does.
using util::ShapeToString;

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_ENGINE_TENSOR_H_
