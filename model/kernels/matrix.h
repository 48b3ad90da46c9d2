// The Eigen matrix types the kernels and the engine compute with.
#ifndef RNNSERVE_MODEL_KERNELS_MATRIX_H_
#define RNNSERVE_MODEL_KERNELS_MATRIX_H_

#include <Eigen/Core>

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

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_KERNELS_MATRIX_H_
