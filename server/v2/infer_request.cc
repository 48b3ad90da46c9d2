#include "server/v2/infer_request.h"

#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/engine/layer_stack.h"
#include "server/v2/sequence_parameters.h"
#include "util/status_macros.h"

namespace rnnserve::server::v2 {
namespace {

// raw_input_contents and raw_output_contents are little-endian, as the
// specification says; we copy them as they are.
static_assert(std::endian::native == std::endian::little, "raw tensors need a little-endian host");

using InputTensor = inference::ModelInferRequest::InferInputTensor;

// What the model takes, as the v2 input describes it.
struct InputSpec {
  bool tokens = false;
  int64_t width = 1;  // values per step: input_size, or 1 token id
};

std::string ShapeString(const google::protobuf::RepeatedField<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// The datatype's element size; INVALID_ARGUMENT unless the model takes it.
absl::StatusOr<int64_t> ElementBytes(const InputTensor& input, const InputSpec& spec) {
  const std::string& type = input.datatype();
  if (!spec.tokens && type == "FP32") return 4;
  if (spec.tokens && type == "INT64") return 8;
  if (spec.tokens && type == "INT32") return 4;
  return absl::InvalidArgumentError(absl::StrCat(
      "input ", kInputName, " is ", type.empty() ? "without a datatype" : type,
      "; this model takes ", spec.tokens ? "token ids, INT64 or INT32" : "FP32 features"));
}

// The steps the shape holds: [T, width] or [1, T, width] for features, [T]
// or [1, T] for token ids. Sets `batch_dim` when the leading 1 is there.
absl::StatusOr<int64_t> StepsOf(const InputTensor& input, const InputSpec& spec, bool& batch_dim) {
  const auto& shape = input.shape();
  const int rank = spec.tokens ? 1 : 2;
  const std::string want = spec.tokens
                               ? "[T] or [1, T]"
                               : absl::StrCat("[T, ", spec.width, "] or [1, T, ", spec.width, "]");
  batch_dim = shape.size() == rank + 1;
  if (shape.size() != rank && !batch_dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("input ", kInputName, " has shape ", ShapeString(shape), "; want ", want));
  }
  if (batch_dim && shape[0] != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input ", kInputName, " has shape ", ShapeString(shape), ": a batch of ", shape[0],
        "; want a batch of 1 (one sequence a request; send a sequence's steps as T), ", want));
  }
  const int64_t steps = shape[batch_dim ? 1 : 0];
  if (!spec.tokens && shape[shape.size() - 1] != spec.width) {
    return absl::InvalidArgumentError(absl::StrCat("input ", kInputName, " has shape ",
                                                   ShapeString(shape), "; want ", want, " (",
                                                   spec.width, " features per step)"));
  }
  if (steps < 1 || steps > model::LayerStack::kMaxInputRows) {
    return absl::InvalidArgumentError(
        absl::StrCat("input ", kInputName, " has shape ", ShapeString(shape), ": ", steps,
                     " steps; want 1 to ", model::LayerStack::kMaxInputRows));
  }
  return steps;
}

absl::Status CountMismatch(const char* field, int64_t have, int64_t want,
                           const InputTensor& input) {
  return absl::InvalidArgumentError(absl::StrCat("input ", kInputName, " has ", have, " values in ",
                                                 field, "; its shape ", ShapeString(input.shape()),
                                                 " wants ", want));
}

// The input's data, `count` elements, from the raw bytes when `raw` is set,
// else from the typed contents, straight into the native request's
// `floats` (FP32) or `tokens` (INT64; INT32 widened): one copy of the input.
absl::Status ReadData(const InputTensor& input, const std::string* raw, int64_t count,
                      int64_t element_bytes, v1::FloatSteps& floats, v1::TokenSteps& tokens) {
  const std::string& type = input.datatype();
  if (raw != nullptr) {
    if (static_cast<int64_t>(raw->size()) != count * element_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("raw_input_contents[0] has ", raw->size(), " bytes; input ", kInputName, " ",
                       type, " ", ShapeString(input.shape()), " wants ", count, " x ",
                       element_bytes, " = ", count * element_bytes));
    }
    if (type == "FP32") {
      floats.mutable_values()->Resize(static_cast<int>(count), 0.0f);
      std::memcpy(floats.mutable_values()->mutable_data(), raw->data(), raw->size());
    } else if (type == "INT64") {
      tokens.mutable_ids()->Resize(static_cast<int>(count), 0);
      std::memcpy(tokens.mutable_ids()->mutable_data(), raw->data(), raw->size());
    } else {
      tokens.mutable_ids()->Reserve(static_cast<int>(count));
      for (int64_t i = 0; i < count; ++i) {
        int32_t id;
        std::memcpy(&id, raw->data() + i * sizeof(id), sizeof(id));
        tokens.add_ids(id);
      }
    }
    return absl::OkStatus();
  }
  const inference::InferTensorContents& contents = input.contents();
  if (type == "FP32") {
    if (contents.fp32_contents_size() != count) {
      return CountMismatch("contents.fp32_contents", contents.fp32_contents_size(), count, input);
    }
    *floats.mutable_values() = contents.fp32_contents();
  } else if (type == "INT64") {
    if (contents.int64_contents_size() != count) {
      return CountMismatch("contents.int64_contents", contents.int64_contents_size(), count, input);
    }
    *tokens.mutable_ids() = contents.int64_contents();
  } else {
    if (contents.int_contents_size() != count) {
      return CountMismatch("contents.int_contents", contents.int_contents_size(), count, input);
    }
    tokens.mutable_ids()->Assign(contents.int_contents().begin(), contents.int_contents().end());
  }
  return absl::OkStatus();
}

bool HasTypedContents(const InputTensor& input) {
  return input.has_contents() && input.contents().ByteSizeLong() > 0;
}

absl::Status CheckRequestedOutputs(const inference::ModelInferRequest& request) {
  for (const auto& output : request.outputs()) {
    if (output.name() != kOutputName) {
      return absl::InvalidArgumentError(absl::StrCat("requested output \"", output.name(),
                                                     "\" is unknown; this model has one output, ",
                                                     kOutputName));
    }
  }
  return absl::OkStatus();
}

// Fills the native request (StepRequest or SequenceRequest) from the data
// ReadData read, and the model and output mode.
template <typename Native>
void SetCommon(const ServedModel& model, int version, v1::FloatSteps floats, v1::TokenSteps tokens,
               int64_t steps, v1::OutputMode mode, Native& native) {
  native.mutable_model()->set_name(model.name);
  native.mutable_model()->set_version(version);
  if (model.loaded.stack->input_kind() == model::InputKind::kTokens) {
    *native.mutable_tokens() = std::move(tokens);
  } else {
    floats.set_steps(static_cast<int32_t>(steps));
    *native.mutable_floats() = std::move(floats);
  }
  native.set_output_mode(mode);
}

}  // namespace

absl::StatusOr<int> ParseModelVersion(const std::string& version) {
  if (version.empty()) return 0;
  int parsed = 0;
  if (!absl::SimpleAtoi(version, &parsed) || parsed < 1 ||
      absl::StrCat(parsed) != version) {  // no sign, spaces or leading zeros
    return absl::InvalidArgumentError(
        absl::StrCat("model_version \"", version,
                     "\" is not a version; want a number >= 1, or empty for the "
                     "newest"));
  }
  return parsed;
}

absl::StatusOr<NativeRequest> ToNativeRequest(const inference::ModelInferRequest& request,
                                              const ServedModels& models) {
  if (request.model_name().empty()) {
    return absl::InvalidArgumentError("model_name is empty; name the model to run");
  }
  RNN_ASSIGN_OR_RETURN(const int version, ParseModelVersion(request.model_version()));
  RNN_ASSIGN_OR_RETURN(const SequenceParameters sequence,
                       ReadSequenceParameters(request.parameters()));
  // A sequence going on may be on a retired version: its sessions go on.
  const bool going_on = !sequence.sequence_id.empty() && !sequence.start;
  RNN_ASSIGN_OR_RETURN(const ServedModelPtr model,
                       going_on ? models.FindForSession(request.model_name(), version)
                                : models.Find(request.model_name(), version));
  RNN_RETURN_IF_ERROR(CheckRequestedOutputs(request));
  if (request.inputs_size() != 1 || request.inputs(0).name() != kInputName) {
    std::vector<std::string> names;
    for (const InputTensor& input : request.inputs()) names.push_back(input.name());
    return absl::InvalidArgumentError(absl::StrCat("the request has inputs [",
                                                   absl::StrJoin(names, ", "),
                                                   "]; want exactly one, ", kInputName));
  }
  const InputTensor& input = request.inputs(0);
  const model::LayerStack& stack = *model->loaded.stack;
  const InputSpec spec{.tokens = stack.input_kind() == model::InputKind::kTokens,
                       .width = stack.input_kind() == model::InputKind::kTokens
                                    ? 1
                                    : static_cast<int64_t>(stack.input_size())};
  RNN_ASSIGN_OR_RETURN(const int64_t element_bytes, ElementBytes(input, spec));
  NativeRequest native;
  native.form.id = request.id();
  RNN_ASSIGN_OR_RETURN(const int64_t steps, StepsOf(input, spec, native.form.batch_dim));
  if (request.raw_input_contents_size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat("the request has ",
                                                   request.raw_input_contents_size(),
                                                   " raw_input_contents; want one per input (1)"));
  }
  native.form.raw = request.raw_input_contents_size() == 1;
  if (native.form.raw && HasTypedContents(input)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input ", kInputName, " has both contents and raw_input_contents; send one of them"));
  }
  v1::FloatSteps floats;
  v1::TokenSteps tokens;
  RNN_RETURN_IF_ERROR(ReadData(input, native.form.raw ? &request.raw_input_contents(0) : nullptr,
                               steps * spec.width, element_bytes, floats, tokens));
  if (sequence.sequence_id.empty()) {
    v1::SequenceRequest call;
    SetCommon(*model, version, std::move(floats), std::move(tokens), steps, sequence.output_mode,
              call);
    native.call = std::move(call);
  } else {
    v1::StepRequest call;
    call.set_session_id(sequence.sequence_id);
    call.set_start(sequence.start);
    call.set_end(sequence.end);
    call.set_request_id(request.id());
    if (sequence.expected_session_steps.has_value()) {
      call.set_expected_session_steps(*sequence.expected_session_steps);
    }
    SetCommon(*model, version, std::move(floats), std::move(tokens), steps, sequence.output_mode,
              call);
    native.call = std::move(call);
  }
  return native;
}

}  // namespace rnnserve::server::v2
