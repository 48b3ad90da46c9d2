// A dense layer y = act(x W + b) applied to rows: the model's output head, the
// LSTM projection h = W_hr m (no bias, identity), and the feedback of a Jordan
// RNN. Immutable after Create(); Apply() allocates nothing.
#ifndef RNNSERVE_MODEL_ENGINE_DENSE_HEAD_H_
#define RNNSERVE_MODEL_ENGINE_DENSE_HEAD_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/engine/tensor.h"
#include "model/kernels/packed_matrix.h"

namespace rnnserve::model {

// What the head applies to x W + b. Softmax and log_softmax normalise over
// the outputs (log_softmax as x - max - log(sum(exp(x - max))), torch's
// stable form); the others apply element-wise.
enum class HeadActivation { kIdentity, kSoftmax, kLogSoftmax, kSigmoid, kTanh, kRelu };

// "identity" (alias "linear") | "softmax" | "log_softmax" | "sigmoid" |
// "tanh" | "relu"; INVALID_ARGUMENT names the choices.
absl::StatusOr<HeadActivation> HeadActivationFromName(absl::string_view name);
std::string HeadActivationName(HeadActivation activation);

class DenseHead {
 public:
  // `weight` is [in, out]; `bias` is [out] or empty for none.
  static absl::StatusOr<DenseHead> Create(RowMatrix weight, RowVector bias,
                                          HeadActivation activation);

  // This head with its matrix packed at `precision`, from the values it
  // computes with (the weight itself at fp32, which packs losslessly).
  DenseHead WithWeights(WeightPrecision precision) const;

  int input_size() const { return static_cast<int>(packed_.rows()); }
  int output_size() const { return static_cast<int>(packed_.cols()); }
  HeadActivation activation() const { return activation_; }
  bool has_bias() const { return bias_.size() != 0; }
  WeightPrecision precision() const { return packed_.precision(); }
  // The [in, out] weight, packed (Unpack gives the values it computes with).
  const PackedMatrix& packed() const { return packed_; }
  int64_t packed_bytes() const { return packed_.bytes(); }

  // Row n of `out` = act(row n of `in` * W + b).
  // REQUIRES: in.cols() == input_size(), out is [in.rows(), output_size()].
  void Apply(const ConstRowMatrixMap& in, RowMatrixMap out) const;

 private:
  // Keeps only the packed copy of `weight`: all Apply reads.
  DenseHead(const RowMatrix& weight, RowVector bias, HeadActivation activation,
            WeightPrecision precision = WeightPrecision::kFp32);

  RowVector bias_;
  HeadActivation activation_;
  PackedMatrix packed_;  // the [in, out] weight as the kernel streams it
};

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_ENGINE_DENSE_HEAD_H_
