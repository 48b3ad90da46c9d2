#include "client/bench/native_step_wire.h"

#include "absl/strings/str_cat.h"

namespace rnnserve::client::bench {

void NativeStepWire::Prepare(const v1::ModelInfo& model, Request& request) {
  request.mutable_model()->set_name(model.model().name());
  request.mutable_model()->set_version(model.model().version());
}

void NativeStepWire::Fill(const std::string& session_id, const PendingRequest& p,
                          const StepInput& input, Request& request) {
  request.set_session_id(session_id);
  request.set_start(p.start);
  request.set_expected_session_steps(p.expected_session_steps);
  request.set_request_id(absl::StrCat(p.ticket));
  if (!input.tokens.empty()) {
    request.mutable_tokens()->mutable_ids()->Assign(input.tokens.begin(), input.tokens.end());
  } else {
    v1::FloatSteps* floats = request.mutable_floats();
    floats->mutable_values()->Assign(input.floats.begin(), input.floats.end());
    floats->set_steps(static_cast<int32_t>(input.steps));
  }
}

StepOutcome NativeStepWire::Read(const Response& response) {
  StepOutcome outcome;
  outcome.session_steps = response.session_steps();
  outcome.durable_steps = response.durable_steps();
  if (response.has_error()) {
    outcome.code = response.error().code();
    outcome.message = response.error().message();
  }
  return outcome;
}

}  // namespace rnnserve::client::bench
