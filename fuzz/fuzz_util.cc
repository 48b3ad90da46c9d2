#include "fuzz/fuzz_util.h"

#include <vector>

#include "glog/logging.h"

namespace rnnserve::fuzz {

void CheckRefused(const absl::Status& status) { CHECK(absl::IsInvalidArgument(status)) << status; }

void CheckRuns(const model::LayerStack& stack) {
  constexpr int64_t kRows = 3;
  const bool tokens = stack.input_kind() == model::InputKind::kTokens;
  // A model may be too big to step quickly; the loaders bound every size, so
  // the fuzzer's memory limit catches what they let through.
  const std::vector<float> floats(kRows * static_cast<int64_t>(stack.input_size()), 0.0f);
  const std::vector<int64_t> ids(kRows, 0);
  const model::StepInput input = tokens ? model::StepInput::Tokens(ids.data(), kRows)
                                        : model::StepInput::Floats(floats.data(), kRows);
  if (tokens && stack.vocabulary_size() == 0) {
    CHECK(!stack.CheckInput(input).ok()) << "token 0 accepted with an empty vocabulary";
    return;
  }
  const absl::StatusOr<model::RowMatrix> sequence = stack.RunSequence(input);
  CHECK(sequence.ok()) << sequence.status();
  const int64_t want_rows =
      stack.sequence_output() == model::SequenceOutput::kFinalState ? 1 : kRows;
  CHECK_EQ(sequence->rows(), want_rows);
  CHECK_EQ(sequence->cols(), stack.output_size());
  if (!stack.streamable()) return;

  std::vector<float> state(stack.state_size());
  stack.InitState(state.data());
  std::vector<float> outputs(kRows * static_cast<int64_t>(stack.output_size()));
  model::Workspace workspace;
  const absl::Status chunk = stack.StepChunk(state.data(), input, outputs.data(), workspace);
  CHECK(chunk.ok()) << chunk;
  float* const states[] = {state.data()};
  const model::StepInput one =
      tokens ? model::StepInput::Tokens(ids.data(), 1) : model::StepInput::Floats(floats.data(), 1);
  const absl::Status step = stack.Step(states, one, outputs.data(), workspace);
  CHECK(step.ok()) << step;
}

}  // namespace rnnserve::fuzz
