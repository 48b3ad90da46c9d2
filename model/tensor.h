// Plain float tensors and the Eigen matrix types the engine computes with.
#ifndef RNNSERVE_MODEL_TENSOR_H_
#define RNNSERVE_MODEL_TENSOR_H_

#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

#include "util/shape.h"

namespace rnnserve::model {

// Row-major because a batch of sessions is a stack of rows: row b is session b,
// and each row's gates are contiguous for the element-wise work.
using RowMatrix =
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMatrixMap = Eigen::Map<RowMatrix>;
using ConstRowMatrixMap = Eigen::Map<const RowMatrix>;
using RowVector = Eigen::RowVectorXf;
// Element-wise views over a row, for the cells' and activations' inner loops.
using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

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

#endif  // RNNSERVE_MODEL_TENSOR_H_
