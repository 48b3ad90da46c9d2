#include "model/engine/gru_cell.h"

#include "absl/strings/str_cat.h"
#include "model/kernels/fused_gates.h"

namespace rnnserve::model {

absl::StatusOr<GruCell> GruCell::Create(GateWeights weights,
                                        const GruOptions& options) {
  if (weights.gates != kGates) {
    return absl::InvalidArgumentError(
        absl::StrCat("GRU needs 3 gates, got ", weights.gates));
  }
  absl::Status status = weights.Validate();
  if (!status.ok()) return status;
  if (weights.recurrent_size() != weights.hidden_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "GRU recurrent weight has ", weights.recurrent_size(),
        " rows, want hidden_size ", weights.hidden_size));
  }
  // r and z add both biases outside any product: fold them once. n keeps
  // b_hn apart (inside r * (...) when the reset comes after the product).
  const int h = weights.hidden_size;
  weights.input_bias.head(2 * h) += weights.recurrent_bias.head(2 * h);
  weights.recurrent_bias.head(2 * h).setZero();
  return GruCell(std::move(weights), options);
}

GruCell::GruCell(GateWeights weights, const GruOptions& options)
    : weights_(std::move(weights)), options_(options) {
  const RowMatrix& w = weights_.recurrent;
  const int64_t h = weights_.hidden_size;
  const KernelIsa isa = DefaultKernelIsa();
  const WeightPrecision precision = weights_.precision;
  input_ = PackedMatrix::Pack(weights_.input, isa, precision);
  if (options_.reset == GruReset::kAfterProduct) {
    recurrent_ = PackedMatrix::Pack(w, isa, precision);
    fused_ = HasFusedGates(recurrent_.isa()) && options_.gate == Activation::Sigmoid() &&
             options_.candidate == Activation::Tanh() && options_.clip <= 0.0f;
  } else {
    recurrent_ = PackedMatrix::Pack(w.data(), w.rows(), 2 * h, w.cols(), isa, precision);
    recurrent_n_ = PackedMatrix::Pack(w.data() + 2 * h, w.rows(), h, w.cols(), isa, precision);
  }
  weights_.ReleaseMatrices();  // the packed copies are all Step reads
}

GruCell GruCell::WithWeights(WeightPrecision precision) const {
  // Reset before the product packs r, z and n apart: side by side again.
  GateWeights weights = WithMatrices(weights_, input_, {&recurrent_, &recurrent_n_});
  weights.precision = precision;
  return GruCell(std::move(weights), options_);
}

void GruCell::Step(CellStep& step) const {
  const int h = weights_.hidden_size;
  const float clip = options_.clip;
  const Eigen::Index batch = step.scratch.rows();
  const bool reset_after = options_.reset == GruReset::kAfterProduct;
  const int64_t width = 3 * h;
  const ConstArrayMap bias(weights_.recurrent_bias.data(), width);
  const float* prev = step.recurrent_input.data();
  if (reset_after) {
    // r and z biases are folded (zero here); b_hn rides along with W_hn h.
    recurrent_.MultiplyAdd(prev, h, batch, weights_.recurrent_bias.data(), 0, step.scratch.data(),
                           width, step.order);
  } else {
    recurrent_.MultiplyAdd(prev, h, batch, nullptr, 0, step.scratch.data(), width, step.order);
  }
  if (fused_) {
    FusedGruGates(recurrent_.isa(), {.recurrent = step.scratch.data(),
                                     .projected = step.projected_input.data(),
                                     .h_prev = prev,
                                     .out = step.output.data(),
                                     .batch = batch,
                                     .hidden = h});
    return;
  }
  // r and z for every row first: reset-before needs r before its product.
  for (Eigen::Index b = 0; b < batch; ++b) {
    ArrayMap rz(step.scratch.row(b).data(), 2 * h);
    rz += ConstArrayMap(step.projected_input.row(b).data(), 2 * h);
    if (clip > 0.0f) Clip(clip, rz.data(), 2 * h);
    Apply(options_.gate, rz.data(), 2 * h);
  }
  if (!reset_after) {
    for (Eigen::Index b = 0; b < batch; ++b) {
      ArrayMap(step.scratch2.row(b).data(), h) =
          ConstArrayMap(step.scratch.row(b).data(), h) *
          ConstArrayMap(step.recurrent_input.row(b).data(), h);
    }
    // n = W_nx x + b_nx (the projection) + W_nh (r * h) + b_nh (below).
    recurrent_n_.MultiplyAdd(step.scratch2.data(), h, batch,
                             step.projected_input.data() + 2 * h, width,
                             step.scratch.data() + 2 * h, width);
  }
  for (Eigen::Index b = 0; b < batch; ++b) {
    float* gates = step.scratch.row(b).data();
    ConstArrayMap r(gates, h), z(gates + h, h);
    ArrayMap n(gates + 2 * h, h);
    const ConstArrayMap x_n(step.projected_input.row(b).data() + 2 * h, h);
    if (reset_after) {
      // PyTorch keeps b_hn inside r * (W_hn h + b_hn); moving it out breaks parity.
      n = x_n + r * n;
    } else {
      n += bias.tail(h);
    }
    if (clip > 0.0f) Clip(clip, n.data(), h);
    Apply(options_.candidate, n.data(), h);
    const ConstArrayMap h_prev(step.recurrent_input.row(b).data(), h);
    ArrayMap(step.output.row(b).data(), h) = (1.0f - z) * n + z * h_prev;
  }
}

}  // namespace rnnserve::model
