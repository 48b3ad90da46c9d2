#include "server/v2/json_responses.h"

#include <cstring>
#include <vector>

#include "nlohmann/json.hpp"

namespace rnnserve::server::v2 {
namespace {

using json = nlohmann::ordered_json;

// Model names and messages come from clients and files: never let a stray
// byte make dump() throw.
std::string Dump(const json& value) {
  return value.dump(/*indent=*/-1, /*indent_char=*/' ', /*ensure_ascii=*/false,
                    json::error_handler_t::replace);
}

json ParameterValue(const inference::InferParameter& parameter) {
  switch (parameter.parameter_choice_case()) {
    case inference::InferParameter::kBoolParam:
      return parameter.bool_param();
    case inference::InferParameter::kInt64Param:
      return parameter.int64_param();
    case inference::InferParameter::kUint64Param:
      return parameter.uint64_param();
    case inference::InferParameter::kDoubleParam:
      return parameter.double_param();
    case inference::InferParameter::kStringParam:
      return parameter.string_param();
    case inference::InferParameter::PARAMETER_CHOICE_NOT_SET:
      break;
  }
  return nullptr;
}

json ParametersJson(const google::protobuf::Map<std::string, inference::InferParameter>& map) {
  json parameters = json::object();
  for (const auto& [name, value] : map) parameters[name] = ParameterValue(value);
  return parameters;
}

json Tensor(const std::string& name, const std::string& datatype,
            const google::protobuf::RepeatedField<int64_t>& shape) {
  json tensor = json::object();
  tensor["name"] = name;
  tensor["datatype"] = datatype;
  tensor["shape"] = json::array();
  for (const int64_t dim : shape) tensor["shape"].push_back(dim);
  return tensor;
}

// The output's values; rnnserve answers FP32 only.
json OutputData(const inference::ModelInferResponse& response, int index) {
  json data = json::array();
  if (index < response.raw_output_contents_size()) {
    const std::string& raw = response.raw_output_contents(index);
    std::vector<float> values(raw.size() / sizeof(float));
    std::memcpy(values.data(), raw.data(), values.size() * sizeof(float));
    for (const float value : values) data.push_back(value);
  } else {
    for (const float value : response.outputs(index).contents().fp32_contents()) {
      data.push_back(value);
    }
  }
  return data;
}

}  // namespace

std::string InferResponseJson(const inference::ModelInferResponse& response) {
  json body = json::object();
  body["model_name"] = response.model_name();
  body["model_version"] = response.model_version();
  if (!response.id().empty()) body["id"] = response.id();
  if (!response.parameters().empty()) body["parameters"] = ParametersJson(response.parameters());
  body["outputs"] = json::array();
  for (int i = 0; i < response.outputs_size(); ++i) {
    const auto& output = response.outputs(i);
    json tensor = Tensor(output.name(), output.datatype(), output.shape());
    tensor["data"] = OutputData(response, i);
    body["outputs"].push_back(std::move(tensor));
  }
  return Dump(body);
}

std::string ServerMetadataJson(const inference::ServerMetadataResponse& metadata) {
  json body = json::object();
  body["name"] = metadata.name();
  body["version"] = metadata.version();
  body["extensions"] = json::array();
  for (const std::string& extension : metadata.extensions())
    body["extensions"].push_back(extension);
  return Dump(body);
}

std::string ModelMetadataJson(const inference::ModelMetadataResponse& metadata) {
  json body = json::object();
  body["name"] = metadata.name();
  body["versions"] = json::array();
  for (const std::string& version : metadata.versions()) body["versions"].push_back(version);
  body["platform"] = metadata.platform();
  for (const char* side : {"inputs", "outputs"}) {
    const auto& tensors = side[0] == 'i' ? metadata.inputs() : metadata.outputs();
    body[side] = json::array();
    for (const auto& tensor : tensors) {
      body[side].push_back(Tensor(tensor.name(), tensor.datatype(), tensor.shape()));
    }
  }
  if (!metadata.parameters().empty()) body["parameters"] = ParametersJson(metadata.parameters());
  return Dump(body);
}

std::string ErrorJson(absl::string_view message, std::optional<int64_t> session_steps) {
  json body = json::object();
  body["error"] = std::string(message);
  if (session_steps.has_value()) body["session_steps"] = *session_steps;
  return Dump(body);
}

}  // namespace rnnserve::server::v2
