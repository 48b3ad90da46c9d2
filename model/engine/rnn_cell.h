// One plain recurrent layer's cell, h_t = act(W_x x_t + W_r r_{t-1} + b),
// stepped once for a batch of sessions. Elman when r is the layer's own h,
// Jordan when the layer feeds back its head output instead (RecurrentLayer
// decides what r is). Immutable after Create().
#ifndef RNNSERVE_MODEL_ENGINE_RNN_CELL_H_
#define RNNSERVE_MODEL_ENGINE_RNN_CELL_H_

#include "absl/status/statusor.h"
#include "model/engine/activation.h"
#include "model/engine/gates.h"
#include "model/kernels/packed_matrix.h"

namespace rnnserve::model {

struct RnnOptions {
  Activation activation = Activation::Tanh();
  float clip = 0.0f;
};

class RnnCell {
 public:
  static constexpr int kGates = 1;

  static absl::StatusOr<RnnCell> Create(GateWeights weights,
                                        const RnnOptions& options);

  // This cell with its matrices packed at `precision` (as LstmCell's).
  RnnCell WithWeights(WeightPrecision precision) const;

  // Sizes and biases; the matrices are released (see GateWeights).
  const GateWeights& weights() const { return weights_; }
  const PackedMatrix& packed_input() const { return input_; }
  const RnnOptions& options() const { return options_; }
  int hidden_size() const { return weights_.hidden_size; }
  int cell_state_size() const { return 0; }

  // Advances every row of `step` by one time step. Allocates nothing.
  void Step(CellStep& step) const;
  int64_t packed_bytes() const { return input_.bytes() + recurrent_.bytes(); }

 private:
  RnnCell(GateWeights weights, const RnnOptions& options);

  GateWeights weights_;
  RnnOptions options_;
  PackedMatrix input_;      // weights_.input as the kernel streams it
  PackedMatrix recurrent_;  // weights_.recurrent as the kernel streams it
};

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_ENGINE_RNN_CELL_H_
