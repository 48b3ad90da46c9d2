// What every cell type shares: fused gate weights and the views of one time
// step of a batch (DESIGN.md sections 2 and 6).
#ifndef RNNSERVE_MODEL_ENGINE_GATES_H_
#define RNNSERVE_MODEL_ENGINE_GATES_H_

#include "absl/status/status.h"
#include "model/engine/tensor.h"
#include "model/kernels/gemm_kernels.h"
#include "model/kernels/weight_precision.h"

namespace rnnserve::model {

// The weights of one recurrent layer with its G gates fused side by side, in
// the order the cell's kernel wants (LSTM i,f,g,o; GRU r,z,n; RNN one block),
// whatever order the file had. Stored transposed ([in, G*H]) so a batch of
// session rows times the matrix gives each session's gates as one row.
struct GateWeights {
  int gates = 1;
  int hidden_size = 0;
  RowMatrix input;           // [input_size, G*H]
  RowMatrix recurrent;       // [recurrent_size, G*H]
  RowVector input_bias;      // [G*H]; zeros when the model has no bias
  RowVector recurrent_bias;  // [G*H]; cells fold what they can into input_bias
  RowVector peephole;        // LSTM only: [3*H] as p_i, p_f, p_o; or empty
  // How the cell and its layer pack `input` and `recurrent` for the kernels;
  // the matrices above stay float32 as loaded.
  WeightPrecision precision = WeightPrecision::kFp32;

  int input_size() const { return static_cast<int>(input.rows()); }
  int recurrent_size() const { return static_cast<int>(recurrent.rows()); }
  int width() const { return gates * hidden_size; }

  // INVALID_ARGUMENT unless every matrix agrees with gates * hidden_size.
  absl::Status Validate() const;
};

// One time step of a batch of B sessions, as views into the caller's
// workspace. Row b of every view belongs to the same session.
struct CellStep {
  ConstRowMatrixMap projected_input;  // [B, G*H]: x_t W_x + b_x
  ConstRowMatrixMap recurrent_input;  // [B, R]: what the layer fed back at t-1
  RowMatrixMap cell;                  // [B, H] LSTM cell state, in and out
  RowMatrixMap output;                // [B, H]: the cell's h_t, written
  RowMatrixMap scratch;               // [B, G*H]
  RowMatrixMap scratch2;              // [B, H]
  // The recurrent product's panel order: alternated step by step within a
  // chunk, so each step starts on the weights the previous one read last.
  internal::PanelOrder order = internal::PanelOrder::kForward;
};

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_ENGINE_GATES_H_
