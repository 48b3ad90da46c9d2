#include "model/model_loader.h"

#include "absl/strings/str_cat.h"
#include "model/file_util.h"
#include "model/safetensors_reader.h"
#include "model/status_macros.h"
#include "model/weight_converter.h"

namespace rnnserve::model {
namespace {

absl::Status Annotate(const absl::Status& status, absl::string_view where) {
  return absl::Status(status.code(), absl::StrCat(where, ": ", status.message()));
}

}  // namespace

absl::StatusOr<LoadedModel> LoadModel(const std::string& path) {
  const std::string config_path = path + "/config.json";
  absl::StatusOr<std::string> text = ReadFileToString(config_path);
  if (!text.ok()) return Annotate(text.status(), config_path);
  absl::StatusOr<ModelConfig> config = ParseModelConfig(*text);
  if (!config.ok()) return Annotate(config.status(), config_path);

  const std::string weights_path = path + "/model.safetensors";
  RNN_ASSIGN_OR_RETURN(SafetensorsFile weights, SafetensorsFile::Read(weights_path));
  absl::StatusOr<ConvertedModel> converted = ConvertWeights(*config, weights);
  if (!converted.ok()) return Annotate(converted.status(), path);

  LoadedModel model;
  model.stack = std::make_shared<const LayerStack>(std::move(converted->stack));
  model.info = ModelInfo{
      .path = path,
      .format = config->naming == TensorNaming::kKeras ? "native (keras naming)"
                                                       : "native (pytorch naming)",
      .cell = std::string(CellKindName(config->cell)),
      .num_layers = config->num_layers,
      .hidden_size = config->hidden_size,
      .proj_size = config->proj_size,
      .bidirectional = config->bidirectional,
      .parameter_count = converted->parameter_count,
  };
  return model;
}

}  // namespace rnnserve::model
