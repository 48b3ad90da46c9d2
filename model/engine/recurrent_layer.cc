#include "model/engine/recurrent_layer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace rnnserve::model {
namespace {

// Gathers each session's [r][c] (at `offset` in its own buffer) into row b
// of the batch matrices the cells work on.
void GatherStates(absl::Span<float* const> states, int64_t offset, float* recurrent,
                  int64_t r, float* cell, int64_t c) {
  for (size_t b = 0; b < states.size(); ++b) {
    const float* state = states[b] + offset;
    std::copy_n(state, r, recurrent + b * r);
    std::copy_n(state + r, c, cell + b * c);
  }
}

// The inverse of GatherStates.
void ScatterStates(const float* recurrent, int64_t r, const float* cell, int64_t c,
                   absl::Span<float* const> states, int64_t offset) {
  for (size_t b = 0; b < states.size(); ++b) {
    float* state = states[b] + offset;
    std::copy_n(recurrent + b * r, r, state);
    std::copy_n(cell + b * c, c, state + r);
  }
}

// How many of the sessions still step at time t: all without `lengths`,
// else those whose (non-increasing) length exceeds t.
int64_t ActiveAt(int64_t batch, absl::Span<const int> lengths, int t) {
  if (lengths.empty()) return batch;
  return std::partition_point(lengths.begin(), lengths.end(), [t](int n) { return n > t; }) -
         lengths.begin();
}

const GateWeights& WeightsOf(const RecurrentLayer::Cell& cell) {
  return std::visit([](const auto& c) -> const GateWeights& { return c.weights(); },
                    cell);
}

// The panel order of step t of this call: alternating from the workspace's
// (Workspace::backwards_next), so each step starts where the last one ended.
internal::PanelOrder OrderOfStep(int t, const Workspace& workspace) {
  return (t % 2 != 0) != workspace.backwards_next() ? internal::PanelOrder::kBackward
                                                    : internal::PanelOrder::kForward;
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

RecurrentLayer::RecurrentLayer(Cell cell, std::optional<DenseHead> feedback)
    : cell_(std::move(cell)), feedback_(std::move(feedback)) {}

RecurrentLayer RecurrentLayer::WithWeights(WeightPrecision precision) const {
  Cell cell =
      std::visit([precision](const auto& c) -> Cell { return c.WithWeights(precision); }, cell_);
  std::optional<DenseHead> feedback;
  if (feedback_.has_value()) feedback = feedback_->WithWeights(precision);
  return RecurrentLayer(std::move(cell), std::move(feedback));
}

int64_t RecurrentLayer::packed_bytes() const {
  const int64_t cell = std::visit([](const auto& c) { return c.packed_bytes(); }, cell_);
  return cell + (feedback_.has_value() ? feedback_->packed_bytes() : 0);
}

int RecurrentLayer::input_size() const { return WeightsOf(cell_).input_size(); }

int RecurrentLayer::hidden_size() const { return WeightsOf(cell_).hidden_size; }

int RecurrentLayer::output_size() const {
  return feedback_.has_value() ? feedback_->output_size() : hidden_size();
}

int RecurrentLayer::cell_state_size() const {
  return std::visit([](const auto& c) { return c.cell_state_size(); }, cell_);
}

void RecurrentLayer::Run(const ConstRowMatrixMap& input, int steps, absl::Span<float* const> states,
                         int64_t state_offset, RowMatrixMap output, Workspace& workspace,
                         absl::Span<const int> lengths) const {
  std::visit(
      [&](const auto& cell) {
        RunCell(cell, input, steps, states, state_offset, output, workspace, lengths);
      },
      cell_);
}

template <typename CellT>
void RecurrentLayer::RunCell(const CellT& cell, const ConstRowMatrixMap& input, int steps,
                             absl::Span<float* const> states, int64_t state_offset,
                             RowMatrixMap output, Workspace& workspace,
                             absl::Span<const int> lengths) const {
  const GateWeights& weights = cell.weights();
  // 64-bit sizes: batch * width must not wrap for wide layers or heads.
  const int64_t batch = static_cast<int64_t>(states.size());
  const int64_t hidden = weights.hidden_size;
  const int64_t width = weights.width();
  const int64_t fed_back = output_size();
  const int64_t cell_size = cell.cell_state_size();

  // The input projection of a group of steps at once: one matrix product
  // streams W_x once for the whole group. Groups of ~kProjectedRows rows keep
  // the projection in cache until its steps read it (a whole chunk of a big
  // batch would go out to DRAM and back).
  constexpr int64_t kProjectedRows = 256;
  const int64_t group = std::clamp<int64_t>(kProjectedRows / batch, 1, steps);
  float* projected = workspace.Get(Workspace::kProjected, group * batch * width);

  float* recurrent = workspace.Get(Workspace::kRecurrent, batch * fed_back);
  RowMatrixMap cell_state(workspace.Get(Workspace::kCell, batch * cell_size),
                          batch, cell_size);
  GatherStates(states, state_offset, recurrent, fed_back, cell_state.data(), cell_size);

  RowMatrixMap cell_output(workspace.Get(Workspace::kCellOutput, batch * hidden),
                           batch, hidden);
  RowMatrixMap scratch(workspace.Get(Workspace::kScratch, batch * width), batch, width);
  RowMatrixMap scratch2(workspace.Get(Workspace::kScratch2, batch * hidden), batch,
                        hidden);
  // Step t reads what step t-1 wrote into `output`: no copies between steps.
  // With `lengths` the batch shrinks to its first `active` sessions; their
  // rows stay a prefix of every matrix, so the cells step that prefix, and
  // the rows of sessions that ended are left as they were.
  const float* fed = recurrent;
  int64_t active = batch;
  int64_t row = 0;        // the first row of step t in `input` and `output`
  int64_t group_row = 0;  // the first row of the projected group
  for (int t = 0; t < steps; ++t) {
    const int64_t now = ActiveAt(batch, lengths, t);
    if (now < active) {
      // Sessions now .. active - 1 ended at step t - 1: their r is there.
      ScatterStates(fed + now * fed_back, fed_back, cell_state.data() + now * cell_size, cell_size,
                    states.subspan(now, active - now), state_offset);
      active = now;
    }
    if (t % group == 0) {
      int64_t rows = 0;
      for (int s = t; s < std::min<int>(t + group, steps); ++s) {
        rows += ActiveAt(batch, lengths, s);
      }
      group_row = row;
      cell.packed_input().MultiplyAdd(input.data() + row * input.cols(), input.cols(), rows,
                                      weights.input_bias.data(), 0, projected, width,
                                      OrderOfStep(t, workspace));
    }
    float* out_t = output.data() + row * fed_back;
    CellStep step{
        .projected_input = ConstRowMatrixMap(projected + (row - group_row) * width, active, width),
        .recurrent_input = ConstRowMatrixMap(fed, active, fed_back),
        .cell = RowMatrixMap(cell_state.data(), active, cell_size),
        .output = feedback_.has_value() ? RowMatrixMap(cell_output.data(), active, hidden)
                                        : RowMatrixMap(out_t, active, hidden),
        .scratch = RowMatrixMap(scratch.data(), active, width),
        .scratch2 = RowMatrixMap(scratch2.data(), active, hidden),
        .order = OrderOfStep(t, workspace),
    };
    cell.Step(step);
    if (feedback_.has_value()) {
      feedback_->Apply(ConstRowMatrixMap(cell_output.data(), active, hidden),
                       RowMatrixMap(out_t, active, fed_back));
    }
    fed = out_t;
    row += active;
  }

  ScatterStates(fed, fed_back, cell_state.data(), cell_size, states.first(active), state_offset);
}

}  // namespace rnnserve::model
