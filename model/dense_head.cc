#include "model/dense_head.h"

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

void DenseHead::Apply(const ConstRowMatrixMap& in, RowMatrixMap out) const {
  packed_.MultiplyAdd(in.data(), in.cols(), in.rows(), has_bias() ? bias_.data() : nullptr,
                      0, out.data(), out.cols());
  const Eigen::Index n = out.cols();
  switch (activation_) {
    case HeadActivation::kIdentity:
      return;
    case HeadActivation::kSigmoid:
      model::Apply(Activation::Sigmoid(), out.data(), out.size());
      return;
    case HeadActivation::kSoftmax:
      for (Eigen::Index r = 0; r < out.rows(); ++r) {
        Eigen::Map<Eigen::ArrayXf> row(out.row(r).data(), n);
        row = (row - row.maxCoeff()).exp();  // Shifted: exp never overflows.
        row /= row.sum();
      }
      return;
  }
}

}  // namespace rnnserve::model
