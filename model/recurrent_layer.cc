#include "model/recurrent_layer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace rnnserve::model {
namespace {

enum class Copy { kFromSessions, kToSessions };

// Moves each session's [r][c] between its own buffer (at `offset`) and row b
// of the batch matrices the cells work on.
void CopyStates(absl::Span<float* const> states, int64_t offset, RowMatrixMap& recurrent,
                RowMatrixMap& cell, Copy direction) {
  const int64_t r = recurrent.cols(), c = cell.cols();
  for (size_t b = 0; b < states.size(); ++b) {
    float* state = states[b] + offset;
    if (direction == Copy::kFromSessions) {
      std::copy_n(state, r, recurrent.row(b).data());
      std::copy_n(state + r, c, cell.row(b).data());
    } else {
      std::copy_n(recurrent.row(b).data(), r, state);
      std::copy_n(cell.row(b).data(), c, state + r);
    }
  }
}

const GateWeights& WeightsOf(const RecurrentLayer::Cell& cell) {
  return std::visit([](const auto& c) -> const GateWeights& { return c.weights(); },
                    cell);
}

}  // namespace

absl::StatusOr<RecurrentLayer> RecurrentLayer::Create(
    Cell cell, std::optional<DenseHead> feedback) {
  const GateWeights& weights = WeightsOf(cell);
  int fed_back = weights.hidden_size;
  if (feedback.has_value()) {
    if (std::holds_alternative<GruCell>(cell)) {
      return absl::InvalidArgumentError(
          "a GRU layer cannot feed back a projection or head output");
    }
    if (feedback->input_size() != weights.hidden_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "feedback weight takes ", feedback->input_size(),
          " inputs, want hidden_size ", weights.hidden_size));
    }
    fed_back = feedback->output_size();
  }
  if (weights.recurrent_size() != fed_back) {
    return absl::InvalidArgumentError(
        absl::StrCat("recurrent weight has ", weights.recurrent_size(),
                     " rows, want the fed-back size ", fed_back));
  }
  return RecurrentLayer(std::move(cell), std::move(feedback));
}

int RecurrentLayer::input_size() const { return WeightsOf(cell_).input_size(); }

int RecurrentLayer::hidden_size() const { return WeightsOf(cell_).hidden_size; }

int RecurrentLayer::output_size() const {
  return feedback_.has_value() ? feedback_->output_size() : hidden_size();
}

int RecurrentLayer::cell_state_size() const {
  return std::visit([](const auto& c) { return c.cell_state_size(); }, cell_);
}

void RecurrentLayer::Run(const ConstRowMatrixMap& input, int steps,
                         absl::Span<float* const> states, int64_t state_offset,
                         RowMatrixMap output, Workspace& workspace) const {
  std::visit(
      [&](const auto& cell) {
        RunCell(cell, input, steps, states, state_offset, output, workspace);
      },
      cell_);
}

template <typename CellT>
void RecurrentLayer::RunCell(const CellT& cell, const ConstRowMatrixMap& input,
                             int steps, absl::Span<float* const> states,
                             int64_t state_offset, RowMatrixMap output,
                             Workspace& workspace) const {
  const GateWeights& weights = cell.weights();
  // 64-bit sizes: batch * width must not wrap for wide layers or heads.
  const int64_t batch = static_cast<int64_t>(states.size());
  const int64_t hidden = weights.hidden_size;
  const int64_t width = weights.width();
  const int64_t fed_back = output_size();
  const int64_t cell_size = cell.cell_state_size();
  const int64_t rows = steps * batch;

  // The input projection of every step at once: one matrix product per chunk.
  RowMatrixMap projected(workspace.Get(Workspace::kProjected, rows * width), rows, width);
  projected.noalias() = input * weights.input;
  projected.rowwise() += weights.input_bias;

  RowMatrixMap recurrent(workspace.Get(Workspace::kRecurrent, batch * fed_back),
                         batch, fed_back);
  RowMatrixMap cell_state(workspace.Get(Workspace::kCell, batch * cell_size),
                          batch, cell_size);
  CopyStates(states, state_offset, recurrent, cell_state, Copy::kFromSessions);

  RowMatrixMap cell_output(workspace.Get(Workspace::kCellOutput, batch * hidden),
                           batch, hidden);
  RowMatrixMap scratch(workspace.Get(Workspace::kScratch, batch * width), batch, width);
  RowMatrixMap scratch2(workspace.Get(Workspace::kScratch2, batch * hidden), batch,
                        hidden);
  for (int t = 0; t < steps; ++t) {
    CellStep step{
        .projected_input = ConstRowMatrixMap(
            projected.data() + t * batch * width, batch, width),
        .recurrent_input = ConstRowMatrixMap(recurrent.data(), batch, fed_back),
        .cell = cell_state,
        .output = cell_output,
        .scratch = scratch,
        .scratch2 = scratch2,
    };
    cell.Step(step);
    RowMatrixMap out_t(output.data() + t * batch * fed_back, batch, fed_back);
    if (feedback_.has_value()) {
      feedback_->Apply(ConstRowMatrixMap(cell_output.data(), batch, hidden), out_t);
    } else {
      out_t = cell_output;
    }
    recurrent = out_t;
  }

  CopyStates(states, state_offset, recurrent, cell_state, Copy::kToSessions);
}

}  // namespace rnnserve::model
