#include "model/engine/dense_head.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "model/engine/activation.h"
#include "model/engine/gates.h"

namespace rnnserve::model {

absl::StatusOr<HeadActivation> HeadActivationFromName(absl::string_view name) {
  if (name == "identity" || name == "linear") return HeadActivation::kIdentity;
  if (name == "softmax") return HeadActivation::kSoftmax;
  if (name == "log_softmax") return HeadActivation::kLogSoftmax;
  if (name == "sigmoid") return HeadActivation::kSigmoid;
  if (name == "tanh") return HeadActivation::kTanh;
  if (name == "relu") return HeadActivation::kRelu;
  return absl::InvalidArgumentError(
      absl::StrCat("head activation \"", name,
                   "\" is not supported; want identity, softmax, log_softmax, sigmoid, tanh "
                   "or relu"));
}

std::string HeadActivationName(HeadActivation activation) {
  switch (activation) {
    case HeadActivation::kIdentity:
      return "identity";
    case HeadActivation::kSoftmax:
      return "softmax";
    case HeadActivation::kLogSoftmax:
      return "log_softmax";
    case HeadActivation::kSigmoid:
      return "sigmoid";
    case HeadActivation::kTanh:
      return "tanh";
    case HeadActivation::kRelu:
      return "relu";
  }
  return "unknown";
}

DenseHead::DenseHead(const RowMatrix& weight, RowVector bias, HeadActivation activation,
                     WeightPrecision precision)
    : bias_(std::move(bias)),
      activation_(activation),
      packed_(PackedMatrix::Pack(weight, DefaultKernelIsa(), precision)) {}

DenseHead DenseHead::WithWeights(WeightPrecision precision) const {
  return DenseHead(Unpack(packed_), bias_, activation_, precision);
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

// A float sum in an order fixed by the elements' indices alone: element i
// goes to chain i % kLanes, each chain in index order. Eigen's vectorised
// sum() starts at the first aligned element, so its order, and a softmax's
// last bits, would follow the row's address: a session's outputs would
// change with its place in the batch or chunk.
class IndexOrderSum {
 public:
  // Adds x[0..n), the elements first .. first + n - 1 of the whole sequence.
  void Add(const float* x, Eigen::Index n, Eigen::Index first) {
    for (Eigen::Index i = 0; i < n; ++i) lanes_[(first + i) % kLanes] += x[i];
  }
  float Total() const {
    float sum = 0.0f;
    for (float lane : lanes_) sum += lane;
    return sum;
  }

 private:
  static constexpr int kLanes = 8;  // independent chains the compiler may vectorise
  std::array<float, kLanes> lanes_{};
};

void Softmax(float* x, Eigen::Index n) {
  Eigen::Map<Eigen::ArrayXf> row(x, n);
  const float max = row.maxCoeff();  // Shifted: exp never overflows.
  ForEachAlignedBlock(x, n, [max](float* block, int64_t m) {
    Eigen::Map<Eigen::ArrayXf, Eigen::Aligned64> b(block, m);
    b = (b - max).exp();
  });
  IndexOrderSum sum;
  sum.Add(x, n, 0);
  row /= sum.Total();
}

// x - max - log(sum(exp(x - max))), as torch computes it: exact for the
// largest inputs, where exp(x) / sum would round to 0 before the log.
void LogSoftmax(float* x, Eigen::Index n) {
  const float max = Eigen::Map<Eigen::ArrayXf>(x, n).maxCoeff();
  // The exps go to an aligned copy (see ForEachAlignedBlock): x keeps x.
  alignas(64) float block[kAlignedBlock];
  IndexOrderSum sum;
  for (Eigen::Index start = 0; start < n; start += kAlignedBlock) {
    const Eigen::Index m = std::min<Eigen::Index>(kAlignedBlock, n - start);
    std::copy_n(x + start, m, block);
    Eigen::Map<Eigen::ArrayXf, Eigen::Aligned64> b(block, m);
    b = (b - max).exp();
    sum.Add(block, m, start);
  }
  const float log_sum = std::log(sum.Total());
  // Subtractions round alike on every path: no alignment needed.
  for (Eigen::Index i = 0; i < n; ++i) x[i] = (x[i] - max) - log_sum;
}

}  // namespace

void DenseHead::Apply(const ConstRowMatrixMap& in, RowMatrixMap out) const {
  packed_.MultiplyAdd(in.data(), in.cols(), in.rows(), has_bias() ? bias_.data() : nullptr, 0,
                      out.data(), out.cols());
  const Eigen::Index n = out.cols();
  // Row by row: Apply's results follow the index within the array.
  for (Eigen::Index r = 0; r < out.rows(); ++r) {
    float* row = out.row(r).data();
    switch (activation_) {
      case HeadActivation::kIdentity:
        return;
      case HeadActivation::kSoftmax:
        Softmax(row, n);
        break;
      case HeadActivation::kLogSoftmax:
        LogSoftmax(row, n);
        break;
      case HeadActivation::kSigmoid:
        model::Apply(Activation::Sigmoid(), row, n);
        break;
      case HeadActivation::kTanh:
        model::Apply(Activation::Tanh(), row, n);
        break;
      case HeadActivation::kRelu:
        model::Apply(Activation::Relu(), row, n);
        break;
    }
  }
}

}  // namespace rnnserve::model
