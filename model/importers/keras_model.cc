#include "model/importers/keras_model.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "model/importers/hdf5_file.h"
#include "model/importers/keras_config.h"
#include "model/importers/keras_weights.h"
#include "model/importers/weight_converter.h"
#include "model/importers/zip_archive.h"
#include "util/status_macros.h"

namespace rnnserve::model {
namespace {

// The architecture and the weights, once the container is opened.
struct KerasParts {
  std::string config_json;
  std::string keras_version;  // "" when the file does not say
  std::string container;      // ".keras" or "legacy .h5"
  std::optional<Hdf5File> weights;
  KerasWeightLayout layout = KerasWeightLayout::kLegacyH5;
};

absl::StatusOr<KerasParts> OpenLegacyH5(absl::string_view bytes, absl::string_view source) {
  RNN_ASSIGN_OR_RETURN(Hdf5File file, Hdf5File::Open(bytes, std::string(source)));
  RNN_ASSIGN_OR_RETURN(std::optional<std::string> config,
                       file.StringAttribute("/", "model_config"));
  if (!config.has_value()) {
    if (file.HasAttribute("/", "layer_names")) {
      return absl::InvalidArgumentError(
          absl::StrCat(source,
                       ": is a Keras weights-only file (model.save_weights()): it has no "
                       "model_config, so no architecture; save the whole model with model.save()"));
    }
    if (file.Exists("/layers")) {
      return absl::InvalidArgumentError(
          absl::StrCat(source,
                       ": is a Keras 3 weights file (model.weights.h5) without its config; serve "
                       "the .keras archive model.save(\"model.keras\") writes"));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": is an HDF5 file without a model_config attribute: not a Keras model"));
  }
  if (!file.Exists("/model_weights")) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": has a model_config but no /model_weights group"));
  }
  RNN_ASSIGN_OR_RETURN(std::optional<std::string> version,
                       file.StringAttribute("/", "keras_version"));
  KerasParts parts{.config_json = *std::move(config),
                   .keras_version = version.value_or(""),
                   .container = "legacy .h5"};
  parts.weights.emplace(std::move(file));
  return parts;
}

absl::StatusOr<KerasParts> OpenArchive(absl::string_view bytes, absl::string_view source) {
  RNN_ASSIGN_OR_RETURN(const ZipArchive archive, ZipArchive::Open(bytes, std::string(source)));
  KerasParts parts{.container = ".keras", .layout = KerasWeightLayout::kKeras3Layers};
  RNN_ASSIGN_OR_RETURN(parts.config_json, archive.Read("config.json", int64_t{64} << 20));
  if (archive.Has("metadata.json")) {
    RNN_ASSIGN_OR_RETURN(const std::string metadata, archive.Read("metadata.json", 1 << 20));
    const nlohmann::json json = nlohmann::json::parse(metadata, nullptr, false);
    if (json.is_object() && json.contains("keras_version") && json["keras_version"].is_string()) {
      parts.keras_version = json["keras_version"].get<std::string>();
    }
  }
  if (!archive.Has("model.weights.h5")) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": the archive has no model.weights.h5 (it holds ",
                     absl::StrJoin(archive.names(), ", "), ")"));
  }
  RNN_ASSIGN_OR_RETURN(const std::string weights, archive.Read("model.weights.h5"));
  RNN_ASSIGN_OR_RETURN(Hdf5File file,
                       Hdf5File::Open(weights, absl::StrCat(source, ":model.weights.h5")));
  parts.weights.emplace(std::move(file));
  return parts;
}

// Checks a weight's shape, naming the layer and the HDF5 path.
absl::StatusOr<RowMatrix> TakeMatrix(const KerasLayer& layer, const KerasWeight& weight,
                                     int64_t rows, int64_t cols, int64_t& parameters) {
  if (weight.tensor.shape != std::vector<int64_t>{rows, cols}) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer ", layer.name, " (", layer.class_name, "): ", weight.path, " is ",
                     weight.tensor.ShapeString(), ", want ", ShapeToString({rows, cols})));
  }
  parameters += rows * cols;
  return RowMatrix(ConstRowMatrixMap(weight.tensor.values.data(), rows, cols));
}

absl::StatusOr<RowVector> TakeVector(const KerasLayer& layer, const KerasWeight& weight,
                                     int64_t size, int64_t& parameters) {
  if (weight.tensor.shape != std::vector<int64_t>{size}) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer ", layer.name, " (", layer.class_name, "): ", weight.path, " is ",
                     weight.tensor.ShapeString(), ", want ", ShapeToString({size})));
  }
  parameters += size;
  return RowVector(Eigen::Map<const RowVector>(weight.tensor.values.data(), size));
}

int GateCount(CellKind cell) {
  return cell == CellKind::kLstm ? 4 : cell == CellKind::kGru ? 3 : 1;
}

// Keras gate blocks are i, f, c, o (LSTM; the engine's i, f, g, o) and
// z, r, h (GRU; the engine's r, z, n). Keras' GRU update h = z * h_prev +
// (1 - z) * h~ is the engine's own, so no z negation.
GateOrder KerasGateOrder(CellKind cell) {
  switch (cell) {
    case CellKind::kLstm:
      return kLstmFromIfgo;
    case CellKind::kGru:
      return kGruFromZrh;
    default:
      return kSingleGate;
  }
}

// One direction's cell from weights[first..]: kernel, recurrent_kernel, bias.
absl::StatusOr<RecurrentLayer> BuildDirection(const KerasLayer& layer,
                                              const std::vector<KerasWeight>& weights, size_t first,
                                              int input_size, int64_t& parameters) {
  const KerasRecurrentOptions& o = layer.recurrent;
  const int h = o.units;
  const int width = GateCount(o.cell) * h;
  const GateOrder order = KerasGateOrder(o.cell);
  GateWeights w{.gates = GateCount(o.cell), .hidden_size = h};
  RNN_ASSIGN_OR_RETURN(RowMatrix kernel,
                       TakeMatrix(layer, weights[first], input_size, width, parameters));
  RNN_ASSIGN_OR_RETURN(RowMatrix recurrent,
                       TakeMatrix(layer, weights[first + 1], h, width, parameters));
  w.input = FuseGateColumns(kernel, order, h);
  w.recurrent = FuseGateColumns(recurrent, order, h);
  w.input_bias = w.recurrent_bias = RowVector::Zero(width);
  if (o.use_bias && o.cell == CellKind::kGru && o.reset == GruReset::kAfterProduct) {
    // reset_after=True: [input bias; recurrent bias]; the candidate's
    // recurrent bias stays inside r * (h U + b), where the engine keeps it.
    RNN_ASSIGN_OR_RETURN(RowMatrix bias,
                         TakeMatrix(layer, weights[first + 2], 2, width, parameters));
    w.input_bias = FuseGateBias(bias.row(0), order, h);
    w.recurrent_bias = FuseGateBias(bias.row(1), order, h);
  } else if (o.use_bias) {
    RNN_ASSIGN_OR_RETURN(RowVector bias, TakeVector(layer, weights[first + 2], width, parameters));
    w.input_bias = FuseGateBias(bias, order, h);
  }
  absl::StatusOr<RecurrentLayer::Cell> cell = absl::InternalError("unset");
  switch (o.cell) {
    case CellKind::kLstm:
      cell = LstmCell::Create(
          std::move(w),
          {.gate = o.recurrent_activation, .cell = o.activation, .output = o.activation});
      break;
    case CellKind::kGru:
      cell = GruCell::Create(
          std::move(w),
          {.gate = o.recurrent_activation, .candidate = o.activation, .reset = o.reset});
      break;
    default:
      cell = RnnCell::Create(std::move(w), {.activation = o.activation});
      break;
  }
  RNN_RETURN_IF_ERROR(cell.status());
  return RecurrentLayer::Create(*std::move(cell), std::nullopt);
}

struct BuiltLayers {
  std::optional<RowMatrix> embedding;
  std::vector<LayerLevel> levels;
  std::optional<DenseHead> head;
  int64_t parameters = 0;
};

absl::Status BuildLayer(const KerasLayer& layer, const std::vector<KerasWeight>& weights,
                        int& width, BuiltLayers& built) {
  switch (layer.kind) {
    case KerasLayer::Kind::kEmbedding: {
      RNN_ASSIGN_OR_RETURN(built.embedding, TakeMatrix(layer, weights[0], layer.input_dim,
                                                       layer.output_dim, built.parameters));
      width = layer.output_dim;
      return absl::OkStatus();
    }
    case KerasLayer::Kind::kDense: {
      RNN_ASSIGN_OR_RETURN(RowMatrix kernel,
                           TakeMatrix(layer, weights[0], width, layer.units, built.parameters));
      RowVector bias;
      if (layer.use_bias) {
        RNN_ASSIGN_OR_RETURN(bias, TakeVector(layer, weights[1], layer.units, built.parameters));
      }
      RNN_ASSIGN_OR_RETURN(built.head, DenseHead::Create(std::move(kernel), std::move(bias),
                                                         layer.dense_activation));
      width = layer.units;
      return absl::OkStatus();
    }
    case KerasLayer::Kind::kRecurrent:
    case KerasLayer::Kind::kBidirectional: {
      RNN_ASSIGN_OR_RETURN(RecurrentLayer forward,
                           BuildDirection(layer, weights, 0, width, built.parameters));
      LayerLevel level{.forward = std::move(forward)};
      if (layer.kind == KerasLayer::Kind::kBidirectional) {
        RNN_ASSIGN_OR_RETURN(level.backward, BuildDirection(layer, weights, weights.size() / 2,
                                                            width, built.parameters));
      }
      width = layer.recurrent.units * (level.backward.has_value() ? 2 : 1);
      built.levels.push_back(std::move(level));
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unknown Keras layer kind");
}

// The first layer's input width: from the embedding, or the first recurrent
// kernel's rows (the config's input shape, when given, must agree).
absl::StatusOr<int> InputWidth(const KerasModelSpec& spec,
                               const std::vector<std::vector<KerasWeight>>& weights,
                               absl::string_view source) {
  const KerasLayer& first = spec.layers[0];
  if (first.kind == KerasLayer::Kind::kEmbedding) return first.output_dim;
  const Tensor& kernel = weights[0][0].tensor;
  if (kernel.shape.size() != 2 || kernel.shape[0] < 1 || kernel.shape[0] > (1 << 24)) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": layer ", first.name, " (", first.class_name, "): ", weights[0][0].path, " is ",
        kernel.ShapeString(), ", want [input features, gates * units]"));
  }
  const int width = static_cast<int>(kernel.shape[0]);
  if (spec.input_features.has_value() && *spec.input_features != width) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": the config's input shape has ", *spec.input_features,
                     " features but ", weights[0][0].path, " is ", kernel.ShapeString()));
  }
  return width;
}

std::string Summary(absl::string_view keras_version, absl::string_view container,
                    const KerasModelSpec& spec) {
  std::vector<std::string> names;
  for (const KerasLayer& layer : spec.layers) {
    names.push_back(layer.kind == KerasLayer::Kind::kBidirectional
                        ? absl::StrCat("Bidirectional(", CellKindName(layer.recurrent.cell), ")")
                        : layer.class_name);
  }
  return absl::StrCat("keras ", keras_version.empty() ? "?" : keras_version, " ", container, ": ",
                      spec.class_name, " ", absl::StrJoin(names, " > "));
}

}  // namespace

std::string KerasHardSigmoidFlavour(absl::string_view keras_version) {
  if (keras_version.empty()) return "unknown (the file has no keras_version)";
  return absl::StartsWith(keras_version, "3.") ? "keras3" : "keras2";
}

std::string KerasSummary(absl::string_view keras_version, absl::string_view container,
                         const KerasModelSpec& spec) {
  return Summary(keras_version, container, spec);
}

absl::StatusOr<KerasImport> ImportKerasModel(absl::string_view bytes, absl::string_view source) {
  absl::StatusOr<KerasParts> opened =
      absl::StartsWith(bytes, kHdf5Magic) ? OpenLegacyH5(bytes, source)
      : absl::StartsWith(bytes, kZipMagic)
          ? OpenArchive(bytes, source)
          : absl::InvalidArgumentError(
                absl::StrCat(source,
                             ": is neither an HDF5 file (legacy Keras .h5) nor a zip archive "
                             "(Keras 3 .keras): it starts with neither \\x89HDF nor PK\\3\\4"));
  RNN_RETURN_IF_ERROR(opened.status());
  KerasParts& parts = *opened;
  const std::string config_source = absl::StrCat(
      source, parts.layout == KerasWeightLayout::kLegacyH5 ? ": model_config" : ":config.json");
  RNN_ASSIGN_OR_RETURN(
      const KerasModelSpec spec,
      ParseKerasModelConfig(parts.config_json, KerasHardSigmoidFlavour(parts.keras_version),
                            config_source));
  std::vector<std::vector<KerasWeight>> weights;
  for (const KerasLayer& layer : spec.layers) {
    RNN_ASSIGN_OR_RETURN(std::vector<KerasWeight> layer_weights,
                         ReadKerasLayerWeights(*parts.weights, parts.layout, layer));
    weights.push_back(std::move(layer_weights));
  }
  return BuildKerasImport(spec, weights, Summary(parts.keras_version, parts.container, spec),
                          source);
}

absl::StatusOr<KerasImport> BuildKerasImport(const KerasModelSpec& spec,
                                             const std::vector<std::vector<KerasWeight>>& weights,
                                             std::string summary, absl::string_view source) {
  RNN_ASSIGN_OR_RETURN(int width, InputWidth(spec, weights, source));
  BuiltLayers built;
  std::vector<std::string> cells;
  int num_layers = 0;
  int hidden_size = 0;
  bool bidirectional = false;
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const absl::Status status = BuildLayer(spec.layers[i], weights[i], width, built);
    if (!status.ok()) {
      return absl::Status(status.code(), absl::StrCat(source, ": ", status.message()));
    }
    const KerasLayer& layer = spec.layers[i];
    if (layer.kind != KerasLayer::Kind::kRecurrent &&
        layer.kind != KerasLayer::Kind::kBidirectional) {
      continue;
    }
    const std::string cell(CellKindName(layer.recurrent.cell));
    if (std::find(cells.begin(), cells.end(), cell) == cells.end()) cells.push_back(cell);
    if (num_layers++ == 0) hidden_size = layer.recurrent.units;
    bidirectional |= layer.kind == KerasLayer::Kind::kBidirectional;
  }
  absl::StatusOr<LayerStack> stack =
      LayerStack::Create(std::move(built.embedding), std::move(built.levels), std::move(built.head),
                         spec.go_backwards, spec.sequence_output);
  if (!stack.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", stack.status().message()));
  }
  return KerasImport{.stack = *std::move(stack),
                     .parameter_count = built.parameters,
                     .summary = std::move(summary),
                     .cell = absl::StrJoin(cells, "+"),
                     .num_layers = num_layers,
                     .hidden_size = hidden_size,
                     .bidirectional = bidirectional};
}

}  // namespace rnnserve::model
