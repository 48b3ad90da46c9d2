// One GRU layer's cell, stepped once for a batch of sessions (DESIGN.md
// section 2): reset applied before or after the recurrent product. The update
// is always h = (1 - z) * n + z * h_prev; loaders convert the "swapped"
// convention by negating z's weights, so the kernel never branches on it.
// Immutable after Create(); thread-compatible like every cell.
#ifndef RNNSERVE_MODEL_ENGINE_GRU_CELL_H_
#define RNNSERVE_MODEL_ENGINE_GRU_CELL_H_

#include "absl/status/statusor.h"
#include "model/engine/activation.h"
#include "model/engine/gates.h"
#include "model/kernels/packed_matrix.h"

namespace rnnserve::model {

enum class GruReset {
  // n = act(W_nx x + b_nx + r * (W_nh h + b_nh)): PyTorch, cuDNN, ONNX
  // linear_before_reset=1, Keras reset_after=True.
  kAfterProduct,
  // n = act(W_nx x + b_nx + W_nh (r * h) + b_nh): Cho et al., ONNX default,
  // Keras reset_after=False.
  kBeforeProduct,
};

struct GruOptions {
  Activation gate = Activation::Sigmoid();       // z, r (ONNX f)
  Activation candidate = Activation::Tanh();     // n (ONNX g)
  float clip = 0.0f;
  GruReset reset = GruReset::kAfterProduct;
};

class GruCell {
 public:
  static constexpr int kGates = 3;

  // INVALID_ARGUMENT unless `weights` has 3 gates fused in r, z, n order and a
  // recurrent matrix of [hidden, 3 * hidden].
  static absl::StatusOr<GruCell> Create(GateWeights weights,
                                        const GruOptions& options);

  // This cell with its matrices packed at `precision` (as LstmCell's).
  GruCell WithWeights(WeightPrecision precision) const;

  // Sizes and biases; the matrices are released (see GateWeights).
  const GateWeights& weights() const { return weights_; }
  const PackedMatrix& packed_input() const { return input_; }
  const GruOptions& options() const { return options_; }
  int hidden_size() const { return weights_.hidden_size; }
  int cell_state_size() const { return 0; }

  // Advances every row of `step` by one time step. Allocates nothing.
  void Step(CellStep& step) const;
  // Bytes of the packed input and recurrent matrices.
  int64_t packed_bytes() const {
    return input_.bytes() + recurrent_.bytes() + recurrent_n_.bytes();
  }

 private:
  GruCell(GateWeights weights, const GruOptions& options);

  GateWeights weights_;
  GruOptions options_;
  PackedMatrix input_;  // weights_.input as the kernel streams it
  // weights_.recurrent as the kernel streams it: whole when the reset comes
  // after the product; else r, z columns and n columns apart, since the n
  // product needs r first.
  PackedMatrix recurrent_;
  PackedMatrix recurrent_n_;
  bool fused_ = false;  // the gate math runs as fused_gates.h
};

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_ENGINE_GRU_CELL_H_
