// One LSTM layer's cell, stepped once for a batch of sessions (DESIGN.md
// section 2), with every option the exporters use: separate biases, gate /
// cell / output activations, peepholes, clip, coupled input-forget.
// Immutable after Create(), so one instance serves every thread without locks;
// the recurrent state lives in buffers the caller owns.
#ifndef RNNSERVE_MODEL_ENGINE_LSTM_CELL_H_
#define RNNSERVE_MODEL_ENGINE_LSTM_CELL_H_

#include "absl/status/statusor.h"
#include "model/engine/activation.h"
#include "model/engine/gates.h"
#include "model/kernels/packed_matrix.h"

namespace rnnserve::model {

struct LstmOptions {
  Activation gate = Activation::Sigmoid();  // i, f, o (ONNX f)
  Activation cell = Activation::Tanh();     // candidate c~ (ONNX g)
  Activation output = Activation::Tanh();   // applied to c_t for h_t (ONNX h)
  float clip = 0.0f;           // > 0: pre-activations clamped to [-clip, clip]
  bool input_forget = false;   // f = 1 - i (ONNX input_forget)
};

class LstmCell {
 public:
  static constexpr int kGates = 4;

  // INVALID_ARGUMENT unless `weights` has 4 gates fused in i, f, g, o order
  // and consistent shapes.
  static absl::StatusOr<LstmCell> Create(GateWeights weights,
                                         const LstmOptions& options);

  // This cell with its matrices packed at `precision`, from the values it
  // computes with (unpacked: the weights themselves when packed at fp32).
  LstmCell WithWeights(WeightPrecision precision) const;

  // Sizes, biases and peepholes; the matrices are released (see GateWeights).
  const GateWeights& weights() const { return weights_; }
  const PackedMatrix& packed_input() const { return input_; }
  const LstmOptions& options() const { return options_; }
  int hidden_size() const { return weights_.hidden_size; }
  int cell_state_size() const { return weights_.hidden_size; }

  // Advances every row of `step` by one time step. Allocates nothing.
  void Step(CellStep& step) const;
  // Bytes of the packed input and recurrent matrices.
  int64_t packed_bytes() const { return input_.bytes() + recurrent_.bytes(); }

 private:
  LstmCell(GateWeights weights, const LstmOptions& options);

  GateWeights weights_;
  LstmOptions options_;
  PackedMatrix input_;      // weights_.input as the kernel streams it
  PackedMatrix recurrent_;  // weights_.recurrent as the kernel streams it
  bool fused_ = false;      // the gate math runs as fused_gates.h
};

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_ENGINE_LSTM_CELL_H_
