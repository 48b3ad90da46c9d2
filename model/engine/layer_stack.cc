#include "model/engine/layer_stack.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "util/status_macros.h"

namespace rnnserve::model {
namespace {

int LevelOutputSize(const LayerLevel& level) {
  return level.forward.output_size() +
         (level.backward.has_value() ? level.backward->output_size() : 0);
}

// Runs `layer` over a whole sequence `x` from `initial` (zeros if empty);
// with `reversed` the layer reads x from last row to first and its output
// rows follow the order it read them in.
RowMatrix RunWholeSequence(const RecurrentLayer& layer, const RowMatrix& x, bool reversed,
                           const std::vector<float>& initial, Workspace& workspace) {
  const RowMatrix input = reversed ? RowMatrix(x.colwise().reverse()) : x;
  std::vector<float> state =
      initial.empty() ? std::vector<float>(layer.state_size(), 0.0f) : initial;
  float* states[] = {state.data()};
  RowMatrix y(x.rows(), layer.output_size());
  layer.Run(ConstRowMatrixMap(input.data(), input.rows(), input.cols()),
            static_cast<int>(x.rows()), states, 0,
            RowMatrixMap(y.data(), y.rows(), y.cols()), workspace);
  return y;
}

absl::Status CheckInitialState(const std::vector<float>& state, const RecurrentLayer& layer,
                               size_t level) {
  if (state.empty() || static_cast<int>(state.size()) == layer.state_size()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("layer ", level, ": initial state has ",
                                                 state.size(), " values, want ",
                                                 layer.state_size()));
}

absl::Status CheckTransforms(const StepTransforms& transforms, bool tokens, int input_size,
                             int output_size) {
  if (transforms.input.has_value()) {
    if (transforms.input->side() != StepTransform::Side::kInput) {
      return absl::InvalidArgumentError("input transform: built for the output side");
    }
    if (tokens) {
      return absl::InvalidArgumentError(
          "input transform: this model starts with an embedding and takes token ids; "
          "an input transform applies to float inputs only");
    }
    if (!transforms.input->Fits(input_size)) {
      return absl::InvalidArgumentError(
          absl::StrCat("input transform has values for ", transforms.input->features(),
                       " features, want 1 (every feature) or input_size ", input_size));
    }
  }
  if (transforms.output.has_value()) {
    if (transforms.output->side() != StepTransform::Side::kOutput) {
      return absl::InvalidArgumentError("output transform: built for the input side");
    }
    if (!transforms.output->Fits(output_size)) {
      return absl::InvalidArgumentError(
          absl::StrCat("output transform has values for ", transforms.output->features(),
                       " features, want 1 (every feature) or the output size ", output_size));
    }
  }
  return absl::OkStatus();
}

absl::Status NotSteppableError() {
  return absl::FailedPreconditionError(
      "this model reads sequences backwards (bidirectional, reverse or "
      "go_backwards): it needs the whole sequence at once, so it cannot be stepped");
}

}  // namespace

absl::StatusOr<LayerStack> LayerStack::Create(std::optional<RowMatrix> embedding,
                                              std::vector<LayerLevel> levels,
                                              std::optional<DenseHead> head, bool go_backwards,
                                              SequenceOutput sequence_output,
                                              StepTransforms transforms) {
  if (levels.empty()) return absl::InvalidArgumentError("a model needs at least one layer");
  int in = embedding.has_value() ? static_cast<int>(embedding->cols())
                                 : levels[0].forward.input_size();
  for (size_t k = 0; k < levels.size(); ++k) {
    const LayerLevel& level = levels[k];
    if (level.forward.input_size() != in ||
        (level.backward.has_value() && level.backward->input_size() != in)) {
      return absl::InvalidArgumentError(
          absl::StrCat("layer ", k, " takes ", level.forward.input_size(),
                       " inputs, want ", in, " (the size of what feeds it)"));
    }
    RNN_RETURN_IF_ERROR(CheckInitialState(level.forward_initial_state, level.forward, k));
    if (level.backward.has_value()) {
      RNN_RETURN_IF_ERROR(
          CheckInitialState(level.backward_initial_state, *level.backward, k));
    }
    in = LevelOutputSize(level);
  }
  if (head.has_value() && head->input_size() != in) {
    return absl::InvalidArgumentError(absl::StrCat(
        "head takes ", head->input_size(), " inputs, want the top layer's ", in));
  }
  const int input_size =
      embedding.has_value() ? static_cast<int>(embedding->cols()) : levels[0].forward.input_size();
  RNN_RETURN_IF_ERROR(CheckTransforms(transforms, embedding.has_value(), input_size,
                                      head.has_value() ? head->output_size() : in));
  return LayerStack(std::move(embedding), std::move(levels), std::move(head), go_backwards,
                    sequence_output, std::move(transforms));
}

LayerStack::LayerStack(std::optional<RowMatrix> embedding, std::vector<LayerLevel> levels,
                       std::optional<DenseHead> head, bool go_backwards,
                       SequenceOutput sequence_output, StepTransforms transforms)
    : embedding_(std::move(embedding)),
      levels_(std::move(levels)),
      head_(std::move(head)),
      go_backwards_(go_backwards),
      sequence_output_(sequence_output),
      transforms_(std::move(transforms)) {
  for (const LayerLevel& level : levels_) {
    const std::vector<float>& initial = level.forward_initial_state;
    if (initial.empty()) {
      initial_state_.resize(initial_state_.size() + level.forward.state_size(), 0.0f);
    } else {
      initial_state_.insert(initial_state_.end(), initial.begin(), initial.end());
    }
  }
  state_size_ = static_cast<int64_t>(initial_state_.size());
}

void LayerStack::InitState(float* state) const {
  std::copy(initial_state_.begin(), initial_state_.end(), state);
}

InputKind LayerStack::input_kind() const {
  return embedding_.has_value() ? InputKind::kTokens : InputKind::kFloats;
}

int LayerStack::input_size() const {
  return embedding_.has_value() ? static_cast<int>(embedding_->cols())
                                : levels_[0].forward.input_size();
}

int LayerStack::vocabulary_size() const {
  return embedding_.has_value() ? static_cast<int>(embedding_->rows()) : 0;
}

LayerStack LayerStack::WithWeights(WeightPrecision precision) const {
  LayerStack converted = *this;
  for (LayerLevel& level : converted.levels_) {
    level.forward = level.forward.WithWeights(precision);
    if (level.backward.has_value()) level.backward = level.backward->WithWeights(precision);
  }
  if (converted.head_.has_value()) converted.head_ = converted.head_->WithWeights(precision);
  converted.weight_precision_ = precision;
  return converted;
}

int64_t LayerStack::weight_bytes() const {
  int64_t bytes = head_.has_value() ? head_->packed_bytes() : 0;
  for (const LayerLevel& level : levels_) {
    bytes += level.forward.packed_bytes();
    if (level.backward.has_value()) bytes += level.backward->packed_bytes();
  }
  return bytes;
}

int LayerStack::output_size() const {
  return head_.has_value() ? head_->output_size() : LevelOutputSize(levels_.back());
}

bool LayerStack::streamable() const {
  return !go_backwards_ && std::none_of(levels_.begin(), levels_.end(),
                                        [](const LayerLevel& level) {
                                          return level.backward.has_value() ||
                                                 level.reversed;
                                        });
}

absl::Status LayerStack::CheckInput(const StepInput& input) const {
  if (input.rows <= 0) {
    return absl::InvalidArgumentError("input is empty, want at least one step");
  }
  if (input.rows > kMaxInputRows) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input has ", input.rows, " steps, want at most ", kMaxInputRows, " per call"));
  }
  if (input_kind() == InputKind::kTokens) {
    if (input.tokens == nullptr) {
      return absl::InvalidArgumentError(
          "this model starts with an embedding: want token ids, got floats");
    }
    const int64_t vocabulary = vocabulary_size();
    for (int64_t r = 0; r < input.rows; ++r) {
      if (input.tokens[r] < 0 || input.tokens[r] >= vocabulary) {
        return absl::InvalidArgumentError(
            absl::StrCat("step ", r, ": token id ", input.tokens[r],
                         " is outside the vocabulary [0, ", vocabulary, ")"));
      }
    }
    return absl::OkStatus();
  }
  if (input.floats == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("this model takes ", input_size(), " floats per step, got token ids"));
  }
  const int64_t n = input.rows * input_size();
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(input.floats[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("step ", i / input_size(), ", feature ", i % input_size(),
                       " is ", input.floats[i], "; inputs must be finite"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CheckedInput> LayerStack::Check(const StepInput& input) const {
  RNN_RETURN_IF_ERROR(CheckInput(input));
  return CheckedInput(input, this, input_kind() == InputKind::kTokens ? 0 : input_size());
}

void LayerStack::DcheckChecked(const CheckedInput& input) const {
  DCHECK(input.checked_by() == this) << "rows checked by another model";
#ifndef NDEBUG
  const absl::Status valid = CheckInput(input.view());
  DCHECK(valid.ok()) << valid;
#endif
}

absl::Status LayerStack::Step(absl::Span<float* const> states, const CheckedInput& input,
                              float* outputs, Workspace& workspace) const {
  DcheckChecked(input);
  if (input.rows() != static_cast<int64_t>(states.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch of ", states.size(), " sessions got ", input.rows(), " input rows"));
  }
  return Advance(states, 1, input.view(), outputs, workspace);
}

absl::Status LayerStack::StepChunk(float* state, const CheckedInput& input, float* outputs,
                                   Workspace& workspace) const {
  DcheckChecked(input);
  float* const states[] = {state};
  return Advance(states, static_cast<int>(input.rows()), input.view(), outputs, workspace);
}

absl::Status LayerStack::StepChunks(absl::Span<float* const> states, int steps,
                                    absl::Span<const CheckedInput> parts, float* outputs,
                                    Workspace& workspace) const {
  if (steps <= 0 || parts.size() != states.size()) {
    return absl::InvalidArgumentError(absl::StrCat(steps, " steps of a batch of ", states.size(),
                                                   " sessions got ", parts.size(),
                                                   " parts, want one per session"));
  }
  for (const CheckedInput& part : parts) {
    DcheckChecked(part);
    if (part.rows() != steps) {
      return absl::InvalidArgumentError(
          absl::StrCat("a part of ", part.rows(), " rows in a batch of ", steps, " steps"));
    }
  }
  if (parts.size() == 1) return Advance(states, steps, parts[0].view(), outputs, workspace);
  if (!streamable()) return NotSteppableError();
  const int64_t rows = steps * static_cast<int64_t>(parts.size());
  return RunLayers(states, steps, GatherParts(parts, steps, {}, rows, workspace), rows, outputs,
                   workspace);
}

absl::Status LayerStack::StepChunks(absl::Span<float* const> states, absl::Span<const int> lengths,
                                    absl::Span<const CheckedInput> parts, float* outputs,
                                    Workspace& workspace) const {
  if (parts.size() != states.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(parts.size(), " parts for ", states.size(), " sessions, want one each"));
  }
  int64_t rows = 0;
  for (size_t b = 0; b < parts.size(); ++b) {
    DcheckChecked(parts[b]);
    rows += parts[b].rows();
    if (b < lengths.size() && parts[b].rows() != lengths[b]) {
      return absl::InvalidArgumentError(absl::StrCat("session ", b, " has length ", lengths[b],
                                                     " but ", parts[b].rows(), " rows"));
    }
  }
  RNN_RETURN_IF_ERROR(CheckLengths(states, lengths, rows));
  if (parts.size() == 1) return Advance(states, lengths[0], parts[0].view(), outputs, workspace);
  if (!streamable()) return NotSteppableError();
  return RunLayers(states, lengths[0], GatherParts(parts, lengths[0], lengths, rows, workspace),
                   rows, outputs, workspace, lengths);
}

// Row by row in the order the first layer reads them (time-major; at step t
// the sessions still running, in order), written once: embedding rows, or
// the caller's floats, through the input transform when there is one.
const float* LayerStack::GatherParts(absl::Span<const CheckedInput> parts, int steps,
                                     absl::Span<const int> lengths, int64_t rows,
                                     Workspace& workspace) const {
  const int width = input_size();
  float* x = workspace.Get(Workspace::kLayerA, rows * width);
  float* row = x;
  for (int t = 0; t < steps; ++t) {
    for (size_t b = 0; b < parts.size() && (lengths.empty() || lengths[b] > t); ++b) {
      const StepInput& part = parts[b].view();
      if (embedding_.has_value()) {
        std::copy_n(embedding_->row(part.tokens[t]).data(), width, row);
      } else {
        std::copy_n(part.floats + static_cast<int64_t>(t) * width, width, row);
      }
      row += width;
    }
  }
  if (transforms_.input.has_value()) transforms_.input->Apply(x, x, rows, width);
  return x;
}

absl::Status LayerStack::Step(absl::Span<float* const> states, const StepInput& input,
                              float* outputs, Workspace& workspace) const {
#ifndef NDEBUG
  // Two rows on one state would both step from its old value (the contract
  // says each state at most once); quadratic, so debug builds only.
  for (size_t i = 0; i < states.size(); ++i) {
    for (size_t j = i + 1; j < states.size(); ++j) DCHECK_NE(states[i], states[j]);
  }
#endif
  if (input.rows != static_cast<int64_t>(states.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "batch of ", states.size(), " sessions got ", input.rows, " input rows"));
  }
  if (streamable()) RNN_RETURN_IF_ERROR(CheckInput(input));  // Else Advance refuses.
  return Advance(states, 1, input, outputs, workspace);
}

absl::Status LayerStack::StepChunk(float* state, const StepInput& input,
                                   float* outputs, Workspace& workspace) const {
  if (streamable()) RNN_RETURN_IF_ERROR(CheckInput(input));  // Else Advance refuses.
  float* const states[] = {state};
  return Advance(states, static_cast<int>(input.rows), input, outputs, workspace);
}

absl::Status LayerStack::StepChunks(absl::Span<float* const> states, int steps,
                                    const StepInput& input, float* outputs,
                                    Workspace& workspace) const {
  if (steps <= 0 || input.rows != steps * static_cast<int64_t>(states.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat(steps, " steps of a batch of ", states.size(), " sessions got ",
                     input.rows, " input rows, want steps * sessions"));
  }
  if (streamable()) RNN_RETURN_IF_ERROR(CheckInput(input));  // Else Advance refuses.
  return Advance(states, steps, input, outputs, workspace);
}

absl::Status LayerStack::CheckLengths(absl::Span<float* const> states,
                                      absl::Span<const int> lengths, int64_t rows) {
  if (lengths.size() != states.size() || lengths.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(lengths.size(), " lengths for ", states.size(), " sessions, want one each"));
  }
  int64_t total = 0;
  for (size_t b = 0; b < lengths.size(); ++b) {
    if (lengths[b] <= 0 || (b > 0 && lengths[b] > lengths[b - 1])) {
      return absl::InvalidArgumentError(
          absl::StrCat("session ", b, " has length ", lengths[b],
                       ": want lengths of at least 1, longest first"));
    }
    total += lengths[b];
  }
  if (total != rows) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunks of ", total, " steps in all got ", rows, " input rows"));
  }
  return absl::OkStatus();
}

absl::Status LayerStack::StepChunks(absl::Span<float* const> states, absl::Span<const int> lengths,
                                    const StepInput& input, float* outputs,
                                    Workspace& workspace) const {
  RNN_RETURN_IF_ERROR(CheckLengths(states, lengths, input.rows));
  if (streamable()) RNN_RETURN_IF_ERROR(CheckInput(input));  // Else Advance refuses.
  return Advance(states, lengths[0], input, outputs, workspace, lengths);
}

absl::Status LayerStack::Advance(absl::Span<float* const> states, int steps, const StepInput& input,
                                 float* outputs, Workspace& workspace,
                                 absl::Span<const int> lengths) const {
  if (!streamable()) return NotSteppableError();
  const int64_t rows = input.rows;
  const float* x = FirstLayerInput(input, workspace.Get(Workspace::kLayerA, rows * input_size()));
  return RunLayers(states, steps, x, rows, outputs, workspace, lengths);
}

absl::Status LayerStack::RunLayers(absl::Span<float* const> states, int steps, const float* x,
                                   int64_t rows, float* outputs, Workspace& workspace,
                                   absl::Span<const int> lengths) const {
  int x_cols = input_size();
  int64_t offset = 0;
  for (size_t k = 0; k < levels_.size(); ++k) {
    const RecurrentLayer& layer = levels_[k].forward;
    const int y_cols = layer.output_size();
    // Layer k writes where layer k-1 did not: A and B alternate. Without a
    // head the top layer writes the caller's outputs directly.
    const bool top = k + 1 == levels_.size() && !head_.has_value();
    float* y = top ? outputs
                   : workspace.Get(k % 2 == 0 ? Workspace::kLayerB : Workspace::kLayerA,
                                   rows * y_cols);
    layer.Run(ConstRowMatrixMap(x, rows, x_cols), steps, states, offset,
              RowMatrixMap(y, rows, y_cols), workspace, lengths);
    offset += layer.state_size();
    x = y;
    x_cols = y_cols;
  }
  if (head_.has_value()) head_->Apply(ConstRowMatrixMap(x, rows, x_cols),
                                      RowMatrixMap(outputs, rows, output_size()));
  TransformOutput(outputs, rows);
  workspace.Stepped(steps);
  return absl::OkStatus();
}

const float* LayerStack::FirstLayerInput(const StepInput& input, float* buffer) const {
  if (transforms_.input.has_value()) {
    transforms_.input->Apply(input.floats, buffer, input.rows, input_size());
    return buffer;
  }
  if (!embedding_.has_value()) return input.floats;
  const int dim = input_size();
  for (int64_t r = 0; r < input.rows; ++r) {
    std::copy_n(embedding_->row(input.tokens[r]).data(), dim, buffer + r * dim);
  }
  return buffer;
}

void LayerStack::TransformOutput(float* outputs, int64_t rows) const {
  if (transforms_.output.has_value()) {
    transforms_.output->Apply(outputs, outputs, rows, output_size());
  }
}

void LayerStack::ApplyHead(const ConstRowMatrixMap& top, float* outputs) const {
  RowMatrixMap out(outputs, top.rows(), output_size());
  if (head_.has_value()) {
    head_->Apply(top, out);
  } else {
    out = top;
  }
}

absl::StatusOr<RowMatrix> LayerStack::RunSequence(const StepInput& input) const {
  RNN_RETURN_IF_ERROR(CheckInput(input));
  return RunChecked(input);
}

absl::StatusOr<RowMatrix> LayerStack::RunSequence(const CheckedInput& input) const {
  DcheckChecked(input);
  return RunChecked(input.view());
}

RowMatrix LayerStack::RunChecked(const StepInput& input) const {
  Workspace workspace;
  RowMatrix x(input.rows, input_size());
  if (FirstLayerInput(input, x.data()) == input.floats) {
    std::copy_n(input.floats, x.size(), x.data());
  }
  const int64_t last = x.rows() - 1;
  RowVector final_state;  // Of the top level: [forward, backward].
  for (const LayerLevel& level : levels_) {
    RowMatrix forward = RunWholeSequence(level.forward, x, go_backwards_ || level.reversed,
                                         level.forward_initial_state, workspace);
    if (level.reversed) forward = forward.colwise().reverse().eval();
    final_state = forward.row(level.reversed ? 0 : last);
    if (!level.backward.has_value()) {
      x = std::move(forward);
      continue;
    }
    const RowMatrix backward = RowMatrix(
        RunWholeSequence(*level.backward, x, true, level.backward_initial_state, workspace)
            .colwise()
            .reverse());
    RowMatrix both(x.rows(), forward.cols() + backward.cols());
    both << forward, backward;
    final_state = both.row(0);
    final_state.head(forward.cols()) = forward.row(level.reversed ? 0 : last);
    x = std::move(both);
  }
  if (sequence_output_ == SequenceOutput::kFinalState) x = final_state;
  RowMatrix out(x.rows(), output_size());
  ApplyHead(ConstRowMatrixMap(x.data(), x.rows(), x.cols()), out.data());
  TransformOutput(out.data(), out.rows());
  return out;
}

}  // namespace rnnserve::model
