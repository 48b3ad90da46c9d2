#include "client/bench/v2_step_wire.h"

#include <bit>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace rnnserve::client::bench {
namespace {

static_assert(std::endian::native == std::endian::little, "raw tensors need a little-endian host");

constexpr char kSequenceId[] = "sequence_id";
constexpr char kSequenceStart[] = "sequence_start";
constexpr char kExpectedSteps[] = "expected_session_steps";
constexpr char kSessionSteps[] = "session_steps";

}  // namespace

void V2StepWire::Prepare(const v1::ModelInfo& model, Request& request) {
  request.set_model_name(model.model().name());
  request.set_model_version(absl::StrCat(model.model().version()));
  Request::InferInputTensor& input = *request.add_inputs();
  input.set_name("input");
  input.set_datatype(model.input_kind() == v1::INPUT_KIND_TOKENS ? "INT64" : "FP32");
  request.add_raw_input_contents();
}

void V2StepWire::Fill(const std::string& session_id, const PendingRequest& p,
                      const StepInput& input, Request& request) {
  request.set_id(absl::StrCat(p.ticket));
  auto& parameters = *request.mutable_parameters();
  parameters[kSequenceId].set_string_param(session_id);
  parameters[kSequenceStart].set_bool_param(p.start);
  parameters[kExpectedSteps].set_int64_param(p.expected_session_steps);
  Request::InferInputTensor& tensor = *request.mutable_inputs(0);
  tensor.clear_shape();
  tensor.add_shape(input.steps);
  // Little-endian bytes, as the protocol's raw contents are (the host's).
  std::string& raw = *request.mutable_raw_input_contents(0);
  if (!input.tokens.empty()) {
    raw.assign(reinterpret_cast<const char*>(input.tokens.data()),
               input.tokens.size() * sizeof(int64_t));
  } else {
    tensor.add_shape(input.input_size);
    raw.assign(reinterpret_cast<const char*>(input.floats.data()),
               input.floats.size() * sizeof(float));
  }
}

StepOutcome V2StepWire::Read(const Response& response) {
  StepOutcome outcome;
  const auto& parameters = response.infer_response().parameters();
  if (const auto it = parameters.find(kSessionSteps); it != parameters.end()) {
    outcome.session_steps = it->second.int64_param();
  }
  if (!response.error_message().empty()) {
    outcome.code = CodeOfErrorMessage(response.error_message());
    outcome.message = response.error_message();
  }
  return outcome;
}

int CodeOfErrorMessage(absl::string_view error_message) {
  for (int code = 1; code <= 16; ++code) {
    const std::string name = absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
    if (absl::StartsWith(error_message, name) && error_message.size() > name.size() &&
        error_message[name.size()] == ':') {
      return code;
    }
  }
  return static_cast<int>(absl::StatusCode::kUnknown);
}

}  // namespace rnnserve::client::bench
