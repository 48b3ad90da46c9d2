#include "model/engine/rnn_cell.h"

#include "absl/strings/str_cat.h"

namespace rnnserve::model {

absl::StatusOr<RnnCell> RnnCell::Create(GateWeights weights,
                                        const RnnOptions& options) {
  if (weights.gates != kGates) {
    return absl::InvalidArgumentError(
        absl::StrCat("RNN needs 1 gate, got ", weights.gates));
  }
  absl::Status status = weights.Validate();
  if (!status.ok()) return status;
  weights.input_bias += weights.recurrent_bias;  // Folded once: one add per step.
  weights.recurrent_bias.setZero();
  return RnnCell(std::move(weights), options);
}

RnnCell::RnnCell(GateWeights weights, const RnnOptions& options)
    : weights_(std::move(weights)),
      options_(options),
      input_(PackedMatrix::Pack(weights_.input, DefaultKernelIsa(), weights_.precision)),
      recurrent_(PackedMatrix::Pack(weights_.recurrent, DefaultKernelIsa(), weights_.precision)) {
  weights_.ReleaseMatrices();  // the packed copies are all Step reads
}

RnnCell RnnCell::WithWeights(WeightPrecision precision) const {
  GateWeights weights = WithMatrices(weights_, input_, {&recurrent_});
  weights.precision = precision;
  return RnnCell(std::move(weights), options_);
}

void RnnCell::Step(CellStep& step) const {
  const int h = weights_.hidden_size;
  recurrent_.MultiplyAdd(step.recurrent_input.data(), step.recurrent_input.cols(),
                         step.output.rows(), step.projected_input.data(), h, step.output.data(), h,
                         step.order);
  for (Eigen::Index b = 0; b < step.output.rows(); ++b) {
    ArrayMap a(step.output.row(b).data(), h);
    if (options_.clip > 0.0f) Clip(options_.clip, a.data(), h);
    Apply(options_.activation, a.data(), h);
  }
}

}  // namespace rnnserve::model
