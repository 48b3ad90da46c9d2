// What the request fuzzers do with input the server's checks accepted: step
// it from a fresh state (StepChunk, or RunSequence for a model that cannot
// stream), so a check that lets through what stepping cannot take is a
// finding too. Shared by step_request_fuzzer and v2_infer_request_fuzzer.
#ifndef RNNSERVE_FUZZ_ACCEPTED_INPUT_H_
#define RNNSERVE_FUZZ_ACCEPTED_INPUT_H_

#include <vector>

#include "glog/logging.h"
#include "model/engine/layer_stack.h"
#include "model/engine/workspace.h"
#include "server/step_batcher.h"

namespace rnnserve::fuzz {

inline void StepAccepted(const model::LayerStack& stack, const server::StepInputData& input) {
  CHECK_GE(input.steps, 1);
  const model::StepInput view = input.tokens.empty()
                                    ? model::StepInput::Floats(input.floats.data(), input.steps)
                                    : model::StepInput::Tokens(input.tokens.data(), input.steps);
  if (!stack.streamable()) {
    absl::StatusOr<model::RowMatrix> outputs = stack.RunSequence(view);
    CHECK(outputs.ok()) << outputs.status();
    return;
  }
  std::vector<float> state(stack.state_size());
  stack.InitState(state.data());
  std::vector<float> outputs(input.steps * static_cast<int64_t>(stack.output_size()));
  model::Workspace workspace;
  const absl::Status status = stack.StepChunk(state.data(), view, outputs.data(), workspace);
  CHECK(status.ok()) << status;
}

}  // namespace rnnserve::fuzz

#endif  // RNNSERVE_FUZZ_ACCEPTED_INPUT_H_
