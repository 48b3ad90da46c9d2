#include "model/engine/lstm_cell.h"

#include "absl/strings/str_cat.h"
#include "model/kernels/fused_gates.h"

namespace rnnserve::model {

absl::StatusOr<LstmCell> LstmCell::Create(GateWeights weights,
                                          const LstmOptions& options) {
  if (weights.gates != kGates) {
    return absl::InvalidArgumentError(
        absl::StrCat("LSTM needs 4 gates, got ", weights.gates));
  }
  absl::Status status = weights.Validate();
  if (!status.ok()) return status;
  // Both biases sit outside every product: fold them once, add one per step.
  weights.input_bias += weights.recurrent_bias;
  weights.recurrent_bias.setZero();
  return LstmCell(std::move(weights), options);
}

LstmCell::LstmCell(GateWeights weights, const LstmOptions& options)
    : weights_(std::move(weights)),
      options_(options),
      input_(PackedMatrix::Pack(weights_.input, DefaultKernelIsa(), weights_.precision)),
      recurrent_(PackedMatrix::Pack(weights_.recurrent, DefaultKernelIsa(), weights_.precision)) {
  weights_.ReleaseMatrices();  // the packed copies are all Step reads
  fused_ = HasFusedGates(recurrent_.isa()) && options_.gate == Activation::Sigmoid() &&
           options_.cell == Activation::Tanh() && options_.output == Activation::Tanh() &&
           options_.clip <= 0.0f && !options_.input_forget && weights_.peephole.size() == 0;
}

LstmCell LstmCell::WithWeights(WeightPrecision precision) const {
  GateWeights weights = WithMatrices(weights_, input_, {&recurrent_});
  weights.precision = precision;
  return LstmCell(std::move(weights), options_);
}

void LstmCell::Step(CellStep& step) const {
  const int h = weights_.hidden_size;
  const int width = weights_.width();
  const bool peephole = weights_.peephole.size() != 0;
  const float clip = options_.clip;
  // The projected input starts the accumulation: no separate pass adds it.
  recurrent_.MultiplyAdd(step.recurrent_input.data(), step.recurrent_input.cols(),
                         step.scratch.rows(), step.projected_input.data(), width,
                         step.scratch.data(), width, step.order);
  if (fused_) {
    FusedLstmGates(recurrent_.isa(), {.gates = step.scratch.data(),
                                      .cell = step.cell.data(),
                                      .out = step.output.data(),
                                      .batch = step.scratch.rows(),
                                      .hidden = h});
    return;
  }
  for (Eigen::Index b = 0; b < step.scratch.rows(); ++b) {
    float* gates = step.scratch.row(b).data();
    ArrayMap i(gates, h), f(gates + h, h), g(gates + 2 * h, h), o(gates + 3 * h, h);
    ArrayMap c(step.cell.row(b).data(), h);
    if (peephole) {
      // Peepholes: i and f see c_{t-1}; o sees c_t, below.
      i += ConstArrayMap(weights_.peephole.data(), h) * c;
      f += ConstArrayMap(weights_.peephole.data() + h, h) * c;
    }
    if (clip > 0.0f) Clip(clip, gates, 3 * h);
    Apply(options_.gate, i.data(), h);
    if (options_.input_forget) {
      f = 1.0f - i;
    } else {
      Apply(options_.gate, f.data(), h);
    }
    Apply(options_.cell, g.data(), h);
    c = f * c + i * g;
    if (peephole) o += ConstArrayMap(weights_.peephole.data() + 2 * h, h) * c;
    if (clip > 0.0f) Clip(clip, o.data(), h);
    Apply(options_.gate, o.data(), h);
    ArrayMap out(step.output.row(b).data(), h);
    out = c;
    Apply(options_.output, out.data(), h);
    out *= o;
  }
}

}  // namespace rnnserve::model
