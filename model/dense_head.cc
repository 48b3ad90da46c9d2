#include "model/dense_head.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "model/activation.h"

namespace rnnserve::model {

absl::StatusOr<HeadActivation> HeadActivationFromName(absl::string_view name) {
  if (name == "identity" || name == "linear") return HeadActivation::kIdentity;
  if (name == "softmax") return HeadActivation::kSoftmax;
  if (name == "sigmoid") return HeadActivation::kSigmoid;
  return absl::InvalidArgumentError(absl::StrCat(
      "head activation \"", name, "\" is not supported; want identity, softmax or sigmoid"));
}

std::string HeadActivationName(HeadActivation activation) {
  switch (activation) {
    case HeadActivation::kIdentity:
      return "identity";
    case HeadActivation::kSoftmax:
      return "softmax";
    case HeadActivation::kSigmoid:
      return "sigmoid";
  }
  return "unknown";
}

absl::StatusOr<DenseHead> DenseHead::Create(RowMatrix weight, RowVector bias,
                                            HeadActivation activation) {
  if (weight.rows() == 0 || weight.cols() == 0) {
    return absl::InvalidArgumentError("dense layer weight is empty");
  }
  if (bias.size() != 0 && bias.size() != weight.cols()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dense layer bias has ", bias.size(), " values, want ", weight.cols()));
  }
  return DenseHead(std::move(weight), std::move(bias), activation);
}

namespace {

// The sum of x[0..n) in an order fixed by the indices alone. Eigen's
// vectorised sum() starts at the first aligned element, so its order, and a
// softmax's last bits, would follow the row's address: a session's outputs
// would change with its place in the batch or chunk.
float SumInIndexOrder(const float* x, Eigen::Index n) {
  constexpr int kLanes = 8;  // independent chains the compiler may vectorise
  std::array<float, kLanes> lanes{};
  Eigen::Index i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) lanes[l] += x[i + l];
  }
  for (int l = 0; i < n; ++i, ++l) lanes[l] += x[i];
  float sum = 0.0f;
  for (float lane : lanes) sum += lane;
  return sum;
}

}  // namespace

void DenseHead::Apply(const ConstRowMatrixMap& in, RowMatrixMap out) const {
  packed_.MultiplyAdd(in.data(), in.cols(), in.rows(), has_bias() ? bias_.data() : nullptr,
                      0, out.data(), out.cols());
  const Eigen::Index n = out.cols();
  switch (activation_) {
    case HeadActivation::kIdentity:
      return;
    case HeadActivation::kSigmoid:
      // Row by row: Apply's results follow the index within the array.
      for (Eigen::Index r = 0; r < out.rows(); ++r) {
        model::Apply(Activation::Sigmoid(), out.row(r).data(), n);
      }
      return;
    case HeadActivation::kSoftmax:
      for (Eigen::Index r = 0; r < out.rows(); ++r) {
        Eigen::Map<Eigen::ArrayXf> row(out.row(r).data(), n);
        const float max = row.maxCoeff();  // Shifted: exp never overflows.
        ForEachAlignedBlock(row.data(), n, [max](float* block, int64_t m) {
          Eigen::Map<Eigen::ArrayXf, Eigen::Aligned64> x(block, m);
          x = (x - max).exp();
        });
        row /= SumInIndexOrder(row.data(), n);
      }
      return;
  }
}

}  // namespace rnnserve::model
