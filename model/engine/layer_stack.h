// A whole recurrent model: optional embedding, stacked recurrent layers (each
// forward, or forward + backward), optional dense head (DESIGN.md section 2).
// Immutable after Create(), shared as shared_ptr<const LayerStack> by every
// thread; each thread brings its own Workspace. Session states are plain
// float buffers of state_size() that the caller owns, so a server can pool
// millions of them and export them as bytes.
#ifndef RNNSERVE_MODEL_ENGINE_LAYER_STACK_H_
#define RNNSERVE_MODEL_ENGINE_LAYER_STACK_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/engine/dense_head.h"
#include "model/engine/recurrent_layer.h"
#include "model/engine/step_input.h"
#include "model/engine/step_transform.h"
#include "model/engine/tensor.h"
#include "model/engine/workspace.h"

namespace rnnserve::model {

enum class InputKind { kFloats, kTokens };

// One level of the stack. `backward` runs on the reversed sequence and its
// outputs are re-aligned with the input (PyTorch/ONNX bidirectional).
struct LayerLevel {
  RecurrentLayer forward;
  std::optional<RecurrentLayer> backward;
  // ONNX direction "reverse": `forward` reads the sequence from last to first
  // and its outputs are re-aligned with the input.
  bool reversed = false;
  // Starting states, [r][c] as RecurrentLayer lays them out (ONNX initial_h,
  // initial_c); empty means zeros.
  std::vector<float> forward_initial_state;
  std::vector<float> backward_initial_state;
};

// What RunSequence() returns: a row per step (ONNX Y, Keras
// return_sequences) or one row, the final state (ONNX Y_h: for a backward
// direction, its state after reading the first step).
enum class SequenceOutput { kEveryStep, kFinalState };

// Raw values in, raw values out (model/engine/step_transform.h): every stepping
// mode applies `input` to the caller's floats before the first layer and
// `output` to what the head (or the top layer) returns.
struct StepTransforms {
  std::optional<StepTransform> input;   // Side::kInput; float inputs only
  std::optional<StepTransform> output;  // Side::kOutput
};

class LayerStack {
 public:
  // Steps per Step/StepChunk/RunSequence call; a bound on workspace growth.
  static constexpr int64_t kMaxInputRows = int64_t{1} << 20;

  // `embedding` is [vocabulary, dim]. `go_backwards` is Keras's: every layer
  // reads its input from last to first and returns outputs in that order.
  // INVALID_ARGUMENT when the levels' sizes do not chain, or a transform does
  // not fit its side (an input transform on a token model, a width that is
  // neither 1 nor input_size() / output_size()).
  static absl::StatusOr<LayerStack> Create(
      std::optional<RowMatrix> embedding, std::vector<LayerLevel> levels,
      std::optional<DenseHead> head, bool go_backwards,
      SequenceOutput sequence_output = SequenceOutput::kEveryStep, StepTransforms transforms = {});

  InputKind input_kind() const;
  // Floats per step (the embedding dimension for token models).
  int input_size() const;
  int vocabulary_size() const;  // 0 unless input_kind() == kTokens
  int output_size() const;
  // Step() and StepChunk() need a model that runs forward in time only;
  // bidirectional and go_backwards models serve whole sequences.
  bool streamable() const;
  // Floats in one session's state: per layer [r][c] (RecurrentLayer).
  int64_t state_size() const { return state_size_; }
  // Writes the state a new session starts from (zeros unless the model
  // carries initial states) into state[0..state_size()).
  void InitState(float* state) const;
  SequenceOutput sequence_output() const { return sequence_output_; }

  // This model with every weight matrix (input, recurrent, projection and
  // head; not the embedding, a lookup) packed at `precision`; the state,
  // cell arithmetic and activations stay float32 (issue 17).
  LayerStack WithWeights(WeightPrecision precision) const;
  WeightPrecision weight_precision() const { return weight_precision_; }
  // Bytes of every packed matrix: what stepping every session streams.
  int64_t weight_bytes() const;

  const std::optional<RowMatrix>& embedding() const { return embedding_; }
  const std::vector<LayerLevel>& levels() const { return levels_; }
  const std::optional<DenseHead>& head() const { return head_; }
  bool go_backwards() const { return go_backwards_; }
  const std::optional<StepTransform>& input_transform() const { return transforms_.input; }
  const std::optional<StepTransform>& output_transform() const { return transforms_.output; }

  // INVALID_ARGUMENT when `input` is empty, of the wrong kind, holds a token
  // outside [0, vocabulary) or a NaN/Inf value; says which row.
  absl::Status CheckInput(const StepInput& input) const;
  // CheckInput, once: the rows as this stack's trusted entry points take them.
  absl::StatusOr<CheckedInput> Check(const StepInput& input) const;

  // Step(), StepChunk() and StepChunks() on rows Check() passed: the same
  // results without scanning the input again (debug builds scan and
  // DCHECK). REQUIRES: every CheckedInput's checked_by() is this stack.
  absl::Status Step(absl::Span<float* const> states, const CheckedInput& input, float* outputs,
                    Workspace& workspace) const;
  absl::Status StepChunk(float* state, const CheckedInput& input, float* outputs,
                         Workspace& workspace) const;
  // Session b's `steps` rows are parts[b] (parts.size() == states.size()),
  // each in its caller's buffer: they are gathered time-major once, into
  // the workspace buffer the first layer reads anyway (a single part is read
  // where it is). Outputs as StepChunks().
  absl::Status StepChunks(absl::Span<float* const> states, int steps,
                          absl::Span<const CheckedInput> parts, float* outputs,
                          Workspace& workspace) const;

  // Advances B = states.size() sessions by one step: input row b belongs to
  // states[b] (any subset of sessions, any order, each at most once).
  // `outputs` gets [B, output_size()]; it must not overlap the input or the
  // states (here and in StepChunk, StepChunks). Allocates nothing once
  // `workspace` has seen this batch size. FAILED_PRECONDITION unless
  // streamable().
  absl::Status Step(absl::Span<float* const> states, const StepInput& input,
                    float* outputs, Workspace& workspace) const;

  // Advances one session by input.rows steps; the input projection of up to
  // 256 steps at a time is one matrix product. `outputs` gets [rows,
  // output_size()].
  absl::Status StepChunk(float* state, const StepInput& input, float* outputs,
                         Workspace& workspace) const;

  // Advances B = states.size() sessions by `steps` steps each, the B sessions
  // stepped together at every step (Step() is steps == 1, StepChunk() is
  // B == 1). Input and outputs are time-major: row t * B + b is session b's
  // step t; input.rows must be steps * B. The input projection is one
  // matrix product per layer and group of ~256 rows (enough to stream
  // the input weights once; few enough to stay in cache until the steps read
  // them; see recurrent_layer.cc). INVALID_ARGUMENT on a row count that
  // does not match; FAILED_PRECONDITION unless streamable().
  absl::Status StepChunks(absl::Span<float* const> states, int steps,
                          const StepInput& input, float* outputs,
                          Workspace& workspace) const;

  // The same for chunks of different lengths: session b runs lengths[b]
  // steps (>= 1, non-increasing: the longest first). The sessions step
  // together over their common prefix, then the batch shrinks as the
  // shorter ones end. Input and outputs are packed time-major (PyTorch's
  // PackedSequence): step t holds one row for each session still stepping
  // at t, sessions 0 .. B_t - 1 in order, B_t = #{b : lengths[b] > t};
  // input.rows must be sum(lengths). Workspace grows with input.rows, as for
  // StepChunks. INVALID_ARGUMENT on lengths out of order or a row count
  // that does not match.
  absl::Status StepChunks(absl::Span<float* const> states, absl::Span<const int> lengths,
                          const StepInput& input, float* outputs, Workspace& workspace) const;
  // The same on rows Check() passed: session b's lengths[b] rows are
  // parts[b], gathered as the equal-length StepChunks gathers them.
  absl::Status StepChunks(absl::Span<float* const> states, absl::Span<const int> lengths,
                          absl::Span<const CheckedInput> parts, float* outputs,
                          Workspace& workspace) const;

  // Runs a whole sequence from the initial state, any model: [rows,
  // output_size()], or [1, output_size()] for SequenceOutput::kFinalState.
  absl::StatusOr<RowMatrix> RunSequence(const StepInput& input) const;
  // The same on rows Check() passed, without scanning them again.
  absl::StatusOr<RowMatrix> RunSequence(const CheckedInput& input) const;

 private:
  LayerStack(std::optional<RowMatrix> embedding, std::vector<LayerLevel> levels,
             std::optional<DenseHead> head, bool go_backwards, SequenceOutput sequence_output,
             StepTransforms transforms);

  // Steps `input` (checked by the caller) through every layer; `lengths`
  // empty: every session runs `steps` steps, else packed as StepChunks's.
  absl::Status Advance(absl::Span<float* const> states, int steps, const StepInput& input,
                       float* outputs, Workspace& workspace,
                       absl::Span<const int> lengths = {}) const;
  // Every layer over `rows` first-layer input rows `x`, time-major (packed
  // by `lengths` when not empty).
  absl::Status RunLayers(absl::Span<float* const> states, int steps, const float* x, int64_t rows,
                         float* outputs, Workspace& workspace,
                         absl::Span<const int> lengths = {}) const;
  // INVALID_ARGUMENT unless `lengths` has one length per state, each >= 1,
  // longest first, summing to `rows`.
  static absl::Status CheckLengths(absl::Span<float* const> states, absl::Span<const int> lengths,
                                   int64_t rows);
  // The first layer's input of `parts` (session b's rows, lengths[b] of
  // them, or `steps` each when `lengths` is empty) gathered time-major
  // into the workspace; `rows` in all.
  const float* GatherParts(absl::Span<const CheckedInput> parts, int steps,
                           absl::Span<const int> lengths, int64_t rows, Workspace& workspace) const;
  // RunSequence on checked rows.
  RowMatrix RunChecked(const StepInput& input) const;
  // DCHECKs that `input` was checked by this stack (debug builds scan again).
  void DcheckChecked(const CheckedInput& input) const;
  // The first layer's input rows: the caller's floats as they are, or
  // written to `buffer` (rows * input_size() floats) as embedding rows or
  // through the input transform.
  const float* FirstLayerInput(const StepInput& input, float* buffer) const;
  // The output transform, in place on `rows` rows of output_size().
  void TransformOutput(float* outputs, int64_t rows) const;
  void ApplyHead(const ConstRowMatrixMap& top, float* outputs) const;

  std::optional<RowMatrix> embedding_;
  std::vector<LayerLevel> levels_;
  std::optional<DenseHead> head_;
  bool go_backwards_ = false;
  SequenceOutput sequence_output_ = SequenceOutput::kEveryStep;
  StepTransforms transforms_;
  int64_t state_size_ = 0;
  std::vector<float> initial_state_;
  WeightPrecision weight_precision_ = WeightPrecision::kFp32;
};

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_ENGINE_LAYER_STACK_H_
