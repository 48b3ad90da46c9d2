// One recurrent layer in one direction: a cell plus what it feeds back to
// itself. The fed-back vector r_t is also the layer's output:
//   plain           r_t = h_t
//   LSTM proj_size  r_t = h_t W_hr          (PyTorch projection)
//   Jordan RNN      r_t = act(h_t W_y + b)  (the model's head)
// A session's state for this layer is [r (recurrent_size)][c (cell_state_size)].
// Immutable; Run() is thread-safe given a Workspace per thread.
#ifndef RNNSERVE_MODEL_ENGINE_RECURRENT_LAYER_H_
#define RNNSERVE_MODEL_ENGINE_RECURRENT_LAYER_H_

#include <optional>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/engine/dense_head.h"
#include "model/engine/gru_cell.h"
#include "model/engine/lstm_cell.h"
#include "model/engine/rnn_cell.h"
#include "model/engine/workspace.h"

namespace rnnserve::model {

class RecurrentLayer {
 public:
  using Cell = std::variant<LstmCell, GruCell, RnnCell>;

  // INVALID_ARGUMENT when the feedback does not fit the cell: its input must
  // be hidden_size and its output the cell's recurrent input size; GRU cells
  // take no feedback (their update mixes in their own h_{t-1}).
  static absl::StatusOr<RecurrentLayer> Create(Cell cell,
                                               std::optional<DenseHead> feedback);

  // This layer with its cell's matrices, its input matrix and its feedback
  // packed at `precision`.
  RecurrentLayer WithWeights(WeightPrecision precision) const;
  // Bytes of every packed matrix of the layer.
  int64_t packed_bytes() const;

  const Cell& cell() const { return cell_; }
  const std::optional<DenseHead>& feedback() const { return feedback_; }
  int input_size() const;
  int hidden_size() const;
  int output_size() const;  // == recurrent input size
  int cell_state_size() const;
  int state_size() const { return output_size() + cell_state_size(); }

  // Runs `steps` time steps for B = states.size() sessions. `input` is
  // [steps * B, input_size] time-major (row t * B + b is session b at step t);
  // `output` gets [steps * B, output_size] the same way. Session b's state is
  // at states[b] + state_offset and is updated in place. Allocates nothing
  // once `workspace` has grown to the shape.
  //
  // With `lengths` (one per session, non-increasing, the first == steps),
  // session b runs lengths[b] steps and the batch shrinks as sessions end:
  // step t holds rows for sessions 0 .. B_t - 1 only, B_t being how many
  // have lengths[b] > t (PyTorch's PackedSequence layout), and the rows are
  // sum(lengths).
  void Run(const ConstRowMatrixMap& input, int steps, absl::Span<float* const> states,
           int64_t state_offset, RowMatrixMap output, Workspace& workspace,
           absl::Span<const int> lengths = {}) const;

 private:
  RecurrentLayer(Cell cell, std::optional<DenseHead> feedback);

  template <typename CellT>
  void RunCell(const CellT& cell, const ConstRowMatrixMap& input, int steps,
               absl::Span<float* const> states, int64_t state_offset, RowMatrixMap output,
               Workspace& workspace, absl::Span<const int> lengths) const;

  Cell cell_;
  std::optional<DenseHead> feedback_;
};

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_ENGINE_RECURRENT_LAYER_H_
