#include "server/v2/sequence_parameters.h"

#include "absl/strings/str_cat.h"

namespace rnnserve::server::v2 {
namespace {

using Parameter = inference::InferParameter;

const char* TypeName(const Parameter& parameter) {
  switch (parameter.parameter_choice_case()) {
    case Parameter::kBoolParam:
      return "bool_param";
    case Parameter::kInt64Param:
      return "int64_param";
    case Parameter::kStringParam:
      return "string_param";
    case Parameter::kDoubleParam:
      return "double_param";
    case Parameter::kUint64Param:
      return "uint64_param";
    case Parameter::PARAMETER_CHOICE_NOT_SET:
      break;
  }
  return "no value";
}

absl::Status WrongType(const std::string& name, const Parameter& parameter, const char* want) {
  return absl::InvalidArgumentError(
      absl::StrCat("parameter ", name, " is a ", TypeName(parameter), "; want ", want));
}

absl::StatusOr<std::string> SequenceIdOf(const Parameter& parameter) {
  switch (parameter.parameter_choice_case()) {
    case Parameter::kStringParam:
      return parameter.string_param();
    case Parameter::kUint64Param:
      // 0 is "no sequence" for Triton's clients (they send none then).
      return parameter.uint64_param() == 0 ? "" : absl::StrCat(parameter.uint64_param());
    case Parameter::kInt64Param:
      // tritonclient sends an integer sequence_id as int64_param.
      if (parameter.int64_param() < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "parameter sequence_id is ", parameter.int64_param(), "; want an id >= 1"));
      }
      return parameter.int64_param() == 0 ? "" : absl::StrCat(parameter.int64_param());
    default:
      return WrongType("sequence_id", parameter, "uint64_param, int64_param or string_param");
  }
}

absl::StatusOr<bool> FlagOf(const std::string& name, const Parameter& parameter) {
  if (parameter.parameter_choice_case() != Parameter::kBoolParam) {
    return WrongType(name, parameter, "bool_param");
  }
  return parameter.bool_param();
}

absl::StatusOr<int64_t> StepCountOf(const std::string& name, const Parameter& parameter) {
  int64_t steps = -1;
  if (parameter.parameter_choice_case() == Parameter::kInt64Param) {
    steps = parameter.int64_param();
  } else if (parameter.parameter_choice_case() == Parameter::kUint64Param &&
             parameter.uint64_param() <= static_cast<uint64_t>(INT64_MAX)) {
    steps = static_cast<int64_t>(parameter.uint64_param());
  } else if (parameter.parameter_choice_case() != Parameter::kUint64Param) {
    return WrongType(name, parameter, "int64_param or uint64_param");
  }
  if (steps < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameter ", name, " is out of range; want a step count >= 0"));
  }
  return steps;
}

absl::StatusOr<v1::OutputMode> OutputModeOf(const Parameter& parameter) {
  if (parameter.parameter_choice_case() == Parameter::kStringParam) {
    if (parameter.string_param() == "all_steps") return v1::OUTPUT_MODE_ALL_STEPS;
    if (parameter.string_param() == "last_step") return v1::OUTPUT_MODE_LAST_STEP;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("parameter output_mode is ",
                   parameter.parameter_choice_case() == Parameter::kStringParam
                       ? absl::StrCat("\"", parameter.string_param(), "\"")
                       : TypeName(parameter),
                   "; want the string all_steps or last_step"));
}

}  // namespace

absl::StatusOr<SequenceParameters> ReadSequenceParameters(
    const google::protobuf::Map<std::string, inference::InferParameter>& parameters) {
  SequenceParameters read;
  for (const auto& [name, parameter] : parameters) {
    absl::Status status;
    if (name == "sequence_id") {
      absl::StatusOr<std::string> id = SequenceIdOf(parameter);
      if (id.ok()) read.sequence_id = *std::move(id);
      status = id.status();
    } else if (name == "sequence_start" || name == "sequence_end") {
      absl::StatusOr<bool> flag = FlagOf(name, parameter);
      if (flag.ok()) (name == "sequence_start" ? read.start : read.end) = *flag;
      status = flag.status();
    } else if (name == "expected_session_steps") {
      absl::StatusOr<int64_t> steps = StepCountOf(name, parameter);
      if (steps.ok()) read.expected_session_steps = *steps;
      status = steps.status();
    } else if (name == "output_mode") {
      absl::StatusOr<v1::OutputMode> mode = OutputModeOf(parameter);
      if (mode.ok()) read.output_mode = *mode;
      status = mode.status();
    }
    if (!status.ok()) return status;
  }
  if (read.sequence_id.empty() && (read.start || read.end || read.expected_session_steps)) {
    return absl::InvalidArgumentError(
        absl::StrCat(read.start ? "sequence_start"
                     : read.end ? "sequence_end"
                                : "expected_session_steps",
                     " needs a sequence_id (uint64 >= 1 or a non-empty string) naming the "
                     "sequence; without one a request is a stateless whole-sequence run"));
  }
  return read;
}

}  // namespace rnnserve::server::v2
