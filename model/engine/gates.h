// What every cell type shares: fused gate weights and the views of one time
// step of a batch (DESIGN.md sections 2 and 6).
#ifndef RNNSERVE_MODEL_ENGINE_GATES_H_
#define RNNSERVE_MODEL_ENGINE_GATES_H_

#include <initializer_list>

#include "absl/status/status.h"
#include "model/engine/tensor.h"
#include "model/kernels/gemm_kernels.h"
#include "model/kernels/packed_matrix.h"
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
  // How the cell packs `input` and `recurrent` for the kernels. The cell
  // then frees them (ReleaseMatrices) at every precision: the packed copies
  // are all it reads (fp32 packs losslessly, so an fp32 model holds its
  // weights once, and a bf16 model half of that).
  WeightPrecision precision = WeightPrecision::kFp32;
  // The row counts of `input` and `recurrent` once released; -1 before.
  int released_input_size = -1;
  int released_recurrent_size = -1;

  int input_size() const {
    return released_input_size >= 0 ? released_input_size : static_cast<int>(input.rows());
  }
  int recurrent_size() const {
    return released_recurrent_size >= 0 ? released_recurrent_size
                                        : static_cast<int>(recurrent.rows());
  }
  int width() const { return gates * hidden_size; }
  bool released() const { return released_input_size >= 0; }

  // INVALID_ARGUMENT unless every matrix agrees with gates * hidden_size.
  // REQUIRES: !released().
  absl::Status Validate() const;
  // Frees `input` and `recurrent`; their sizes still answer.
  void ReleaseMatrices();
};

// The float32 values `packed` multiplies by, as a [rows, cols] matrix: the
// weights themselves when packed at fp32, their bf16 / int8 values below.
RowMatrix Unpack(const PackedMatrix& packed);

// `weights` with its matrices, to pack again (a cell's WithWeights): as they
// are unless released, else unpacked from the cell's `input` and from its
// `recurrent` column blocks side by side (empty blocks skipped).
GateWeights WithMatrices(GateWeights weights, const PackedMatrix& input,
                         std::initializer_list<const PackedMatrix*> recurrent);

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
