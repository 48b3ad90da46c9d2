#include "model/importers/model_loader.h"

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "model/importers/fingerprint.h"
#include "model/importers/keras_model.h"
#include "model/importers/onnx_external_data.h"
#include "model/importers/onnx_graph.h"
#include "model/importers/onnx_reader.h"
#include "model/importers/safetensors_reader.h"
#include "model/importers/tfjs_model.h"
#include "model/importers/weight_converter.h"
#include "util/file.h"
#include "util/status_macros.h"

namespace rnnserve::model {
namespace {

// Fills the weight fields of model.info from its stack.
void NoteWeights(LoadedModel& model) {
  model.info.weights = model.stack->weight_precision();
  model.info.weight_bytes = model.stack->weight_bytes();
}

absl::Status Annotate(const absl::Status& status, absl::string_view where) {
  return absl::Status(status.code(), absl::StrCat(where, ": ", status.message()));
}

// The served model of an importer's result (OnnxImport and KerasImport
// share these fields), loaded from `path`, described as `format`.
template <typename Import>
LoadedModel FromImport(Import imported, const std::string& path, std::string format,
                       std::string fingerprint) {
  LoadedModel model;
  model.stack = std::make_shared<const LayerStack>(std::move(imported.stack));
  model.info = ModelInfo{
      .path = path,
      .format = std::move(format),
      .cell = imported.cell,
      .num_layers = imported.num_layers,
      .hidden_size = imported.hidden_size,
      .proj_size = 0,
      .bidirectional = imported.bidirectional,
      .parameter_count = imported.parameter_count,
      .fingerprint = std::move(fingerprint),
  };
  NoteWeights(model);
  return model;
}

// The model of an imported ONNX graph, fingerprinted by `parts`.
LoadedModel FromOnnx(OnnxImport imported, const std::string& path,
                     absl::Span<const NamedBytes> parts) {
  std::string format = absl::StrCat("onnx (", imported.summary, ")");
  return FromImport(std::move(imported), path, std::move(format), Fingerprint(parts));
}

// model.onnx in folder `path`, with its external data files, if any: they
// define the model too, so they are in its fingerprint, after model.onnx.
absl::StatusOr<LoadedModel> LoadOnnx(const std::string& path, const std::string& file) {
  RNN_ASSIGN_OR_RETURN(const std::string bytes, util::ReadFileToString(file));
  absl::StatusOr<OnnxModel> parsed = ParseOnnxModel(bytes);
  if (!parsed.ok()) return Annotate(parsed.status(), file);
  ExternalDataFiles external;
  if (absl::Status read = InlineExternalData(parsed->proto, path, external); !read.ok()) {
    return Annotate(read, file);
  }
  RNN_ASSIGN_OR_RETURN(OnnxImport imported, ImportOnnxModel(*parsed, file));
  std::vector<NamedBytes> parts = {{"model.onnx", bytes}};
  for (const auto& [location, data] : external) parts.push_back({location, data});
  return FromOnnx(std::move(imported), path, parts);
}

absl::StatusOr<LoadedModel> LoadKeras(const std::string& file) {
  RNN_ASSIGN_OR_RETURN(const std::string bytes, util::ReadFileToString(file));
  return LoadKerasModel(bytes, file);
}

// The served model of any Keras container (.keras, .h5, TF.js), loaded from
// `path`, its files' fingerprint given.
LoadedModel FromKeras(KerasImport imported, const std::string& path, std::string fingerprint) {
  std::string format = imported.summary;
  return FromImport(std::move(imported), path, std::move(format), std::move(fingerprint));
}

// A TF.js layers model: `json_path` and the shards it names, beside it.
absl::StatusOr<LoadedModel> LoadTfjs(const std::string& json_path) {
  const std::filesystem::path parent = std::filesystem::path(json_path).parent_path();
  const std::string path = parent.empty() ? "." : parent.string();
  RNN_ASSIGN_OR_RETURN(const std::string json, util::ReadFileToString(json_path));
  // Kept for the fingerprint, which covers every file of the model.
  std::vector<std::pair<std::string, std::string>> shards;
  const TfjsShardReader read_shard = [&](const std::string& name,
                                         int64_t max_bytes) -> absl::StatusOr<std::string> {
    const std::string file = path + "/" + name;
    std::error_code error;
    const uintmax_t size = std::filesystem::file_size(file, error);
    if (error) return absl::InvalidArgumentError(absl::StrCat(file, ": ", error.message()));
    if (size > static_cast<uintmax_t>(max_bytes)) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": larger than the 4 GiB served"));
    }
    RNN_ASSIGN_OR_RETURN(std::string bytes, util::ReadFileToString(file));
    shards.emplace_back(name, bytes);
    return bytes;
  };
  RNN_ASSIGN_OR_RETURN(KerasImport imported, ImportTfjsModel(json, read_shard, json_path));
  const std::string json_name = std::filesystem::path(json_path).filename().string();
  std::vector<NamedBytes> parts = {{json_name, json}};
  for (const auto& [name, bytes] : shards) parts.push_back({name, bytes});
  return FromKeras(std::move(imported), path, Fingerprint(parts));
}

// The native format once config.json has parsed.
absl::StatusOr<LoadedModel> BuildNative(const ModelConfig& config, absl::string_view config_json,
                                        absl::string_view safetensors, const std::string& path) {
  RNN_ASSIGN_OR_RETURN(SafetensorsFile weights,
                       SafetensorsFile::Parse(safetensors, path + "/model.safetensors"));
  absl::StatusOr<ConvertedModel> converted = ConvertWeights(config, weights);
  if (!converted.ok()) return Annotate(converted.status(), path);

  LoadedModel model;
  model.stack = std::make_shared<const LayerStack>(
      config.weights == WeightPrecision::kFp32 ? std::move(converted->stack)
                                               : converted->stack.WithWeights(config.weights));
  model.info = ModelInfo{
      .path = path,
      .format = config.naming == TensorNaming::kKeras ? "native (keras naming)"
                                                      : "native (pytorch naming)",
      .cell = std::string(CellKindName(config.cell)),
      .num_layers = config.num_layers,
      .hidden_size = config.hidden_size,
      .proj_size = config.proj_size,
      .bidirectional = config.bidirectional,
      .parameter_count = converted->parameter_count,
      .fingerprint = Fingerprint({{"config.json", config_json},
                                  {"model.safetensors", safetensors}}),
  };
  NoteWeights(model);
  return model;
}

absl::StatusOr<LoadedModel> LoadNative(const std::string& path,
                                       std::optional<WeightPrecision> weights) {
  const std::string config_path = path + "/config.json";
  absl::StatusOr<std::string> config_text = util::ReadFileToString(config_path);
  if (!config_text.ok()) return Annotate(config_text.status(), config_path);
  absl::StatusOr<ModelConfig> config = ParseModelConfig(*config_text);
  if (!config.ok()) return Annotate(config.status(), config_path);
  if (weights.has_value()) config->weights = *weights;
  RNN_ASSIGN_OR_RETURN(const std::string weight_bytes,
                       util::ReadFileToString(path + "/model.safetensors"));
  return BuildNative(*config, *config_text, weight_bytes, path);
}

}  // namespace

absl::StatusOr<LoadedModel> LoadOnnxModel(absl::string_view onnx_bytes,
                                          const std::string& path) {
  RNN_ASSIGN_OR_RETURN(OnnxImport imported,
                       ImportOnnxModel(onnx_bytes, path + "/model.onnx"));
  return FromOnnx(std::move(imported), path, {{"model.onnx", onnx_bytes}});
}

absl::StatusOr<LoadedModel> LoadKerasModel(absl::string_view bytes, const std::string& file) {
  RNN_ASSIGN_OR_RETURN(KerasImport imported, ImportKerasModel(bytes, file));
  return FromKeras(std::move(imported), file,
                   Fingerprint({{std::filesystem::path(file).filename().string(), bytes}}));
}

absl::StatusOr<LoadedModel> LoadNativeModel(absl::string_view config_json,
                                            absl::string_view safetensors,
                                            const std::string& path) {
  absl::StatusOr<ModelConfig> config = ParseModelConfig(config_json);
  if (!config.ok()) return Annotate(config.status(), path + "/config.json");
  return BuildNative(*config, config_json, safetensors, path);
}

absl::StatusOr<LoadedModel> LoadModel(const std::string& folder, const LoadOptions& options) {
  std::string path = folder;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const absl::Time start = absl::Now();
  std::error_code error;
  auto exists = [&](const std::string& file) { return std::filesystem::exists(file, error); };
  absl::StatusOr<LoadedModel> model =
      // A file given by its own path: a TF.js model.json, or a Keras file.
      std::filesystem::is_regular_file(path, error)
          ? (absl::EndsWith(path, ".json") ? LoadTfjs(path) : LoadKeras(path))
      : exists(path + "/model.onnx")  ? LoadOnnx(path, path + "/model.onnx")
      : exists(path + "/config.json") ? LoadNative(path, options.weights)
      : exists(path + "/model.keras") ? LoadKeras(path + "/model.keras")
      : exists(path + "/model.h5")    ? LoadKeras(path + "/model.h5")
      : exists(path + "/model.json")  ? LoadTfjs(path + "/model.json")
                                      : LoadNative(path, options.weights);
  // The formats without a config of ours (ONNX, Keras) convert here.
  if (model.ok() && options.weights.has_value() &&
      model->stack->weight_precision() != *options.weights) {
    model->stack = std::make_shared<const LayerStack>(model->stack->WithWeights(*options.weights));
    NoteWeights(*model);
  }
  if (model.ok()) model->info.load_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return model;
}

}  // namespace rnnserve::model
