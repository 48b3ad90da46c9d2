#include "server/v2/json_infer_request.h"

#include <cstdint>
#include <limits>
#include <optional>

#include "absl/strings/str_cat.h"
#include "model/importers/json_syntax_error.h"
#include "nlohmann/json.hpp"
#include "util/status_macros.h"

namespace rnnserve::server::v2 {
namespace {

using json = nlohmann::json;
using InputTensor = inference::ModelInferRequest::InferInputTensor;

// The deepest nesting of arrays and objects in `text`, brackets inside
// strings not counted; found before parsing, so that a hostile body is
// refused without building (and recursively destroying) its tree.
int NestingDepth(absl::string_view text) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

// A short view of a value for messages.
std::string Describe(const json& value) {
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  if (value.is_null()) return "null";
  std::string text = value.dump();  // parsed text is valid UTF-8: no throw
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return text;
}

absl::Status WrongType(const std::string& where, const json& value, const char* want) {
  return absl::InvalidArgumentError(absl::StrCat(where, " is ", Describe(value), "; want ", want));
}

absl::StatusOr<inference::InferParameter> ParameterOf(const std::string& name, const json& value) {
  inference::InferParameter parameter;
  if (value.is_boolean()) {
    parameter.set_bool_param(value.get<bool>());
  } else if (value.is_number_unsigned()) {
    parameter.set_uint64_param(value.get<uint64_t>());
  } else if (value.is_number_integer()) {
    parameter.set_int64_param(value.get<int64_t>());
  } else if (value.is_number_float()) {
    parameter.set_double_param(value.get<double>());
  } else if (value.is_string()) {
    parameter.set_string_param(value.get<std::string>());
  } else {
    return WrongType(absl::StrCat("parameter ", name), value, "a bool, a number or a string");
  }
  return parameter;
}

absl::Status ReadParameters(const json& object, const std::string& where,
                            google::protobuf::Map<std::string, inference::InferParameter>& into) {
  if (!object.is_object()) return WrongType(where, object, "an object");
  for (const auto& [name, value] : object.items()) {
    RNN_ASSIGN_OR_RETURN(into[name], ParameterOf(name, value));
  }
  return absl::OkStatus();
}

// An integer of `data` in [low, high], or nullopt.
std::optional<int64_t> IntegerIn(const json& data, int64_t low, int64_t high) {
  if (data.is_number_unsigned()) {
    const uint64_t value = data.get<uint64_t>();
    if (value > static_cast<uint64_t>(high)) return std::nullopt;
    return static_cast<int64_t>(value);
  }
  if (!data.is_number_integer()) return std::nullopt;
  const int64_t value = data.get<int64_t>();
  if (value < low || value > high) return std::nullopt;
  return value;
}

// Appends the numbers of `data` (flat or nested, row-major) to the contents
// `datatype` uses. An error's message starts with where in `data` it is
// ("[3][1] is ..."), built only on the error path: data can be millions of
// numbers.
absl::Status ReadData(const json& data, const std::string& datatype,
                      inference::InferTensorContents& contents) {
  if (data.is_array()) {
    for (size_t i = 0; i < data.size(); ++i) {
      if (absl::Status read = ReadData(data[i], datatype, contents); !read.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("[", i, "]", read.message()));
      }
    }
    return absl::OkStatus();
  }
  if (datatype == "FP32") {
    if (!data.is_number()) return WrongType("", data, "a number (FP32)");
    contents.add_fp32_contents(data.get<float>());
  } else if (datatype == "INT64") {
    const std::optional<int64_t> id = IntegerIn(data, INT64_MIN, INT64_MAX);
    if (!id.has_value()) return WrongType("", data, "an integer (INT64)");
    contents.add_int64_contents(*id);
  } else if (datatype == "INT32") {
    const std::optional<int64_t> id = IntegerIn(data, INT32_MIN, INT32_MAX);
    if (!id.has_value()) return WrongType("", data, "an integer (INT32)");
    contents.add_int_contents(static_cast<int32_t>(*id));
  }
  return absl::OkStatus();
}

absl::Status ReadInput(const json& object, const std::string& where, InputTensor& input) {
  if (!object.is_object()) return WrongType(where, object, "an object");
  const auto name = object.find("name");
  if (name == object.end() || !name->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " has no string \"name\""));
  }
  input.set_name(name->get<std::string>());
  const auto datatype = object.find("datatype");
  if (datatype == object.end() || !datatype->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " (", input.name(), ") has no string \"datatype\""));
  }
  input.set_datatype(datatype->get<std::string>());
  const auto shape = object.find("shape");
  if (shape == object.end() || !shape->is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " (", input.name(), ") has no \"shape\" array"));
  }
  for (size_t i = 0; i < shape->size(); ++i) {
    const json& dim = (*shape)[i];
    if (!dim.is_number_unsigned() || dim.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return WrongType(absl::StrCat(where, ".shape[", i, "]"), dim, "an integer >= 0");
    }
    input.add_shape(dim.get<int64_t>());
  }
  if (const auto parameters = object.find("parameters"); parameters != object.end()) {
    if (parameters->is_object() && parameters->contains("binary_data_size")) {
      return absl::InvalidArgumentError(
          absl::StrCat(where,
                       " has parameter binary_data_size: the binary data extension is not served; "
                       "send the values in \"data\""));
    }
    RNN_RETURN_IF_ERROR(
        ReadParameters(*parameters, where + ".parameters", *input.mutable_parameters()));
  }
  const auto data = object.find("data");
  if (data == object.end()) {
    return absl::InvalidArgumentError(absl::StrCat(where, " (", input.name(), ") has no \"data\""));
  }
  if (absl::Status read = ReadData(*data, input.datatype(), *input.mutable_contents());
      !read.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ".data", read.message()));
  }
  return absl::OkStatus();
}

absl::Status ReadOutputs(const json& outputs, inference::ModelInferRequest& request) {
  if (!outputs.is_array()) return WrongType("outputs", outputs, "an array");
  for (size_t i = 0; i < outputs.size(); ++i) {
    const std::string where = absl::StrCat("outputs[", i, "]");
    const json& object = outputs[i];
    const auto name = object.is_object() ? object.find("name") : object.end();
    if (!object.is_object() || name == object.end() || !name->is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(where, " is not an object with a name"));
    }
    auto& output = *request.add_outputs();
    output.set_name(name->get<std::string>());
    if (const auto parameters = object.find("parameters"); parameters != object.end()) {
      RNN_RETURN_IF_ERROR(
          ReadParameters(*parameters, where + ".parameters", *output.mutable_parameters()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<inference::ModelInferRequest> ParseJsonInferRequest(
    absl::string_view body, const std::string& model_name, const std::string& model_version) {
  if (const int depth = NestingDepth(body); depth > kMaxJsonDepth) {
    return absl::InvalidArgumentError(absl::StrCat("the request nests arrays and objects ", depth,
                                                   " deep; at most ", kMaxJsonDepth,
                                                   " are accepted"));
  }
  const json root = json::parse(body.begin(), body.end(), /*cb=*/nullptr,
                                /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the request is not JSON: ", model::JsonSyntaxError(body)));
  }
  if (!root.is_object()) return WrongType("the request", root, "an object");
  inference::ModelInferRequest request;
  request.set_model_name(model_name);
  request.set_model_version(model_version);
  if (const auto id = root.find("id"); id != root.end()) {
    if (!id->is_string()) return WrongType("id", *id, "a string");
    request.set_id(id->get<std::string>());
  }
  if (const auto parameters = root.find("parameters"); parameters != root.end()) {
    RNN_RETURN_IF_ERROR(ReadParameters(*parameters, "parameters", *request.mutable_parameters()));
  }
  const auto inputs = root.find("inputs");
  if (inputs == root.end() || !inputs->is_array()) {
    return absl::InvalidArgumentError("the request has no \"inputs\" array");
  }
  for (size_t i = 0; i < inputs->size(); ++i) {
    RNN_RETURN_IF_ERROR(
        ReadInput((*inputs)[i], absl::StrCat("inputs[", i, "]"), *request.add_inputs()));
  }
  if (const auto outputs = root.find("outputs"); outputs != root.end()) {
    RNN_RETURN_IF_ERROR(ReadOutputs(*outputs, request));
  }
  return request;
}

}  // namespace rnnserve::server::v2
