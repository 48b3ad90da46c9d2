#include "server/v2/metadata.h"

#include "absl/strings/str_cat.h"
#include "model/engine/layer_stack.h"
#include "model/kernels/weight_precision.h"
#include "server/v2/infer_request.h"
#include "util/status_macros.h"

namespace rnnserve::server::v2 {
namespace {

void AddTensor(
    const std::string& name, const std::string& datatype, std::initializer_list<int64_t> shape,
    google::protobuf::RepeatedPtrField<inference::ModelMetadataResponse::TensorMetadata>& tensors) {
  inference::ModelMetadataResponse::TensorMetadata& tensor = *tensors.Add();
  tensor.set_name(name);
  tensor.set_datatype(datatype);
  for (const int64_t dim : shape) tensor.add_shape(dim);
}

}  // namespace

inference::ServerMetadataResponse ServerMetadata() {
  inference::ServerMetadataResponse metadata;
  metadata.set_name("rnnserve");
  // The API generation rnnserve serves natively (rnnserve.v1).
  metadata.set_version("1");
  metadata.add_extensions("sequence");
  metadata.add_extensions("sequence(string_id)");
  return metadata;
}

absl::StatusOr<inference::ModelMetadataResponse> ModelMetadata(const ServedModels& models,
                                                               const std::string& name,
                                                               const std::string& version) {
  RNN_ASSIGN_OR_RETURN(const int number, ParseModelVersion(version));
  RNN_ASSIGN_OR_RETURN(const ServedModelPtr model, models.Find(name, number));
  const model::LayerStack& stack = *model->loaded.stack;
  inference::ModelMetadataResponse metadata;
  metadata.set_name(model->name);
  for (const int v : models.Versions(model->name)) metadata.add_versions(absl::StrCat(v));
  metadata.set_platform(absl::StrCat("rnnserve_", model->loaded.info.cell));
  if (stack.input_kind() == model::InputKind::kTokens) {
    AddTensor(kInputName, "INT64", {-1}, *metadata.mutable_inputs());
  } else {
    AddTensor(kInputName, "FP32", {-1, stack.input_size()}, *metadata.mutable_inputs());
  }
  AddTensor(kOutputName, "FP32", {-1, stack.output_size()}, *metadata.mutable_outputs());
  // What the native DescribeModel gives as ModelInfo.weights and weight_bytes.
  auto& parameters = *metadata.mutable_parameters();
  parameters["weights"].set_string_param(model::WeightPrecisionName(model->loaded.info.weights));
  parameters["weight_bytes"].set_int64_param(model->loaded.info.weight_bytes);
  return metadata;
}

absl::StatusOr<bool> ModelReady(const ServedModels& models, const std::string& name,
                                const std::string& version) {
  RNN_ASSIGN_OR_RETURN(const int number, ParseModelVersion(version));
  return models.Find(name, number).ok();
}

}  // namespace rnnserve::server::v2
