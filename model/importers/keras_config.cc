#include "model/importers/keras_config.h"

#include <cctype>
#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "model/importers/json_fields.h"
#include "model/importers/keras_graph.h"
#include "util/status_macros.h"

namespace rnnserve::model {
namespace {

using Json = nlohmann::json;

using RawLayer = KerasRawLayer;

// Reads one layer's options, every error naming the layer.
class LayerReader {
 public:
  LayerReader(const RawLayer& layer, absl::string_view source)
      : layer_(layer), config_(*layer.config), source_(source) {}

  absl::Status Error(absl::string_view problem) const {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": layer ", layer_.name, " (", layer_.class_name, "): ", problem));
  }
  absl::Status OptionError(absl::string_view option, absl::string_view problem) const {
    return Error(absl::StrCat("option ", option, " ", problem));
  }

  bool Has(absl::string_view key) const { return config_.contains(key); }

  absl::StatusOr<int> PositiveInt(absl::string_view key) const {
    const auto it = config_.find(key);
    if (it == config_.end()) return OptionError(key, "is missing");
    if (!it->is_number_integer() || it->get<int64_t>() < 1 ||
        it->get<int64_t>() > (int64_t{1} << 24)) {
      return OptionError(key, absl::StrCat("is ", it->dump(), ", want an integer in [1, 2^24]"));
    }
    return static_cast<int>(it->get<int64_t>());
  }

  // Every Keras version writes these options, so a missing one is a
  // malformed file rather than a default to guess.
  absl::StatusOr<bool> Bool(absl::string_view key) const {
    const auto it = config_.find(key);
    if (it == config_.end()) return OptionError(key, "is missing");
    if (!it->is_boolean())
      return OptionError(key, absl::StrCat("is ", it->dump(), ", want a bool"));
    return it->get<bool>();
  }
  absl::StatusOr<bool> BoolOr(absl::string_view key, bool fallback) const {
    return Has(key) ? Bool(key) : fallback;
  }

  absl::StatusOr<std::string> String(absl::string_view key) const {
    const auto it = config_.find(key);
    if (it == config_.end()) return OptionError(key, "is missing");
    if (!it->is_string()) {
      return OptionError(key, absl::StrCat("is ", it->dump().substr(0, 200), ", want a name"));
    }
    return it->get<std::string>();
  }

  // A recurrent cell activation by Keras name.
  absl::StatusOr<Activation> CellActivation(absl::string_view key,
                                            absl::string_view flavour) const {
    RNN_ASSIGN_OR_RETURN(const std::string name, String(key));
    absl::StatusOr<Activation> activation = ActivationFromConfigName(name, flavour);
    if (!activation.ok()) return OptionError(key, activation.status().message());
    return activation;
  }

  // An option that must hold `want` for the engine to be exact (absent is fine).
  absl::Status Require(absl::string_view key, const Json& want, absl::string_view why) const {
    const auto it = config_.find(key);
    if (it == config_.end() || *it == want) return absl::OkStatus();
    return OptionError(key, absl::StrCat("is ", it->dump().substr(0, 200), ": ", why));
  }

  const Json& config() const { return config_; }

 private:
  const RawLayer& layer_;
  const Json& config_;
  absl::string_view source_;
};

std::optional<int> LastAxis(const Json& config) {
  for (const char* key : {"batch_input_shape", "batch_shape"}) {
    const auto it = config.find(key);
    if (it != config.end() && it->is_array() && !it->empty() && it->back().is_number_integer()) {
      return static_cast<int>(it->back().get<int64_t>());
    }
  }
  return std::nullopt;
}

absl::StatusOr<KerasRecurrentOptions> ReadRecurrent(const LayerReader& reader,
                                                    absl::string_view class_name,
                                                    absl::string_view flavour) {
  KerasRecurrentOptions options;
  if (class_name == "LSTM") {
    options.cell = CellKind::kLstm;
  } else if (class_name == "GRU") {
    options.cell = CellKind::kGru;
  } else {
    options.cell = CellKind::kRnn;
  }
  RNN_ASSIGN_OR_RETURN(options.units, reader.PositiveInt("units"));
  RNN_ASSIGN_OR_RETURN(options.activation, reader.CellActivation("activation", flavour));
  if (options.cell != CellKind::kRnn) {
    RNN_ASSIGN_OR_RETURN(options.recurrent_activation,
                         reader.CellActivation("recurrent_activation", flavour));
  }
  RNN_ASSIGN_OR_RETURN(options.use_bias, reader.Bool("use_bias"));
  RNN_ASSIGN_OR_RETURN(options.go_backwards, reader.Bool("go_backwards"));
  RNN_ASSIGN_OR_RETURN(options.return_sequences, reader.Bool("return_sequences"));
  if (options.cell == CellKind::kGru) {
    RNN_ASSIGN_OR_RETURN(const bool reset_after, reader.Bool("reset_after"));
    options.reset = reset_after ? GruReset::kAfterProduct : GruReset::kBeforeProduct;
  }
  // `stateful` is what every session is; `unroll`, `implementation`,
  // dropouts, initializers, regularizers and constraints only shape training;
  // `time_major` only the batch layout, and a session is one batch row.
  RNN_RETURN_IF_ERROR(reader.Require(
      "return_state", false, "the states are the session's; a model serves one output per step"));
  return options;
}

// The options a Bidirectional layer's backward copy must share with the
// forward one: Keras 3 writes `backward_layer`, and a user may pass a
// different one in Keras 2.
bool SameComputation(const KerasRecurrentOptions& a, const KerasRecurrentOptions& b) {
  return a.cell == b.cell && a.units == b.units && a.activation == b.activation &&
         a.recurrent_activation == b.recurrent_activation && a.use_bias == b.use_bias &&
         a.reset == b.reset && a.return_sequences == b.return_sequences;
}

absl::StatusOr<RawLayer> InnerLayer(const LayerReader& reader, absl::string_view key,
                                    const std::string& outer_name) {
  const auto it = reader.config().find(key);
  if (it == reader.config().end() || !it->is_object() || !it->contains("config") ||
      !(*it)["config"].is_object() || !it->contains("class_name") ||
      !(*it)["class_name"].is_string()) {
    return reader.OptionError(key, "is missing or not a {class_name, config} object");
  }
  RawLayer inner;
  inner.class_name = (*it)["class_name"].get<std::string>();
  inner.config = &(*it)["config"];
  const auto name = inner.config->find("name");
  inner.name = name != inner.config->end() && name->is_string()
                   ? absl::StrCat(outer_name, "/", name->get<std::string>())
                   : absl::StrCat(outer_name, "/", key);
  return inner;
}

bool IsRecurrentClass(absl::string_view class_name) {
  return class_name == "LSTM" || class_name == "GRU" || class_name == "SimpleRNN";
}

absl::StatusOr<KerasLayer> ReadBidirectional(const RawLayer& raw, const LayerReader& reader,
                                             absl::string_view flavour, absl::string_view source) {
  RNN_ASSIGN_OR_RETURN(const std::string merge_mode, reader.String("merge_mode"));
  if (merge_mode != "concat") {
    return reader.OptionError("merge_mode",
                              absl::StrCat("is \"", merge_mode, "\"; only \"concat\" is served"));
  }
  RNN_ASSIGN_OR_RETURN(const RawLayer inner, InnerLayer(reader, "layer", raw.name));
  const LayerReader inner_reader(inner, source);
  if (!IsRecurrentClass(inner.class_name)) {
    return inner_reader.Error("is not an LSTM, GRU or SimpleRNN");
  }
  KerasLayer layer{
      .kind = KerasLayer::Kind::kBidirectional, .name = raw.name, .class_name = raw.class_name};
  RNN_ASSIGN_OR_RETURN(layer.recurrent, ReadRecurrent(inner_reader, inner.class_name, flavour));
  if (layer.recurrent.go_backwards) {
    return inner_reader.OptionError(
        "go_backwards", "is true inside Bidirectional: its forward copy would read backwards");
  }
  if (reader.Has("backward_layer") && !reader.config()["backward_layer"].is_null()) {
    RNN_ASSIGN_OR_RETURN(const RawLayer backward, InnerLayer(reader, "backward_layer", raw.name));
    const LayerReader backward_reader(backward, source);
    RNN_ASSIGN_OR_RETURN(const KerasRecurrentOptions options,
                         ReadRecurrent(backward_reader, backward.class_name, flavour));
    if (backward.class_name != inner.class_name || !SameComputation(options, layer.recurrent) ||
        !options.go_backwards) {
      return reader.OptionError("backward_layer",
                                "differs from the forward layer other than by go_backwards "
                                "true; only a mirrored copy is served");
    }
  }
  return layer;
}

// A Dense layer's options (its own, or those of the Dense inside a
// TimeDistributed wrapper), into `layer`.
absl::Status ReadDense(const LayerReader& reader, KerasLayer& layer) {
  RNN_ASSIGN_OR_RETURN(layer.units, reader.PositiveInt("units"));
  RNN_ASSIGN_OR_RETURN(layer.use_bias, reader.Bool("use_bias"));
  RNN_ASSIGN_OR_RETURN(const std::string activation, reader.String("activation"));
  if (activation != "linear" && activation != "softmax" && activation != "sigmoid" &&
      activation != "tanh" && activation != "relu") {
    return reader.OptionError("activation",
                              absl::StrCat("is \"", activation,
                                           "\"; a Dense head serves linear, softmax, sigmoid, "
                                           "tanh or relu"));
  }
  RNN_ASSIGN_OR_RETURN(layer.dense_activation, HeadActivationFromName(activation));
  return reader.Require("lora_rank", nullptr, "LoRA weights are not served");
}

absl::StatusOr<std::optional<KerasLayer>> MapLayer(const RawLayer& raw, absl::string_view flavour,
                                                   absl::string_view source) {
  const LayerReader reader(raw, source);
  const std::string& type = raw.class_name;
  if (type == "InputLayer" || type == "Dropout" || type == "SpatialDropout1D") {
    return std::optional<KerasLayer>();  // no computation at inference
  }
  if (type == "Masking") {
    return reader.Error(
        "Masking is not served: Keras skips the steps it masks, keeping the state, while a "
        "session computes every step it is sent; send only the unmasked steps instead");
  }
  if (IsRecurrentClass(type)) {
    KerasLayer layer{.kind = KerasLayer::Kind::kRecurrent, .name = raw.name, .class_name = type};
    RNN_ASSIGN_OR_RETURN(layer.recurrent, ReadRecurrent(reader, type, flavour));
    return std::optional<KerasLayer>(std::move(layer));
  }
  if (type == "Bidirectional") {
    RNN_ASSIGN_OR_RETURN(KerasLayer layer, ReadBidirectional(raw, reader, flavour, source));
    return std::optional<KerasLayer>(std::move(layer));
  }
  if (type == "Embedding") {
    KerasLayer layer{.kind = KerasLayer::Kind::kEmbedding, .name = raw.name, .class_name = type};
    RNN_ASSIGN_OR_RETURN(layer.input_dim, reader.PositiveInt("input_dim"));
    RNN_ASSIGN_OR_RETURN(layer.output_dim, reader.PositiveInt("output_dim"));
    RNN_RETURN_IF_ERROR(reader.Require(
        "mask_zero", false,
        "a masked step (token 0) leaves the state unchanged in Keras; a session computes it"));
    RNN_RETURN_IF_ERROR(reader.Require("lora_rank", nullptr, "LoRA weights are not served"));
    return std::optional<KerasLayer>(std::move(layer));
  }
  if (type == "Dense") {
    KerasLayer layer{.kind = KerasLayer::Kind::kDense, .name = raw.name, .class_name = type};
    RNN_RETURN_IF_ERROR(ReadDense(reader, layer));
    return std::optional<KerasLayer>(std::move(layer));
  }
  if (type == "TimeDistributed") {
    // TimeDistributed(Dense) applies the Dense at every step: what a head does.
    RNN_ASSIGN_OR_RETURN(const RawLayer inner, InnerLayer(reader, "layer", raw.name));
    const LayerReader inner_reader(inner, source);
    if (inner.class_name != "Dense") {
      return inner_reader.Error("TimeDistributed is served around a Dense layer only");
    }
    KerasLayer layer{.kind = KerasLayer::Kind::kDense,
                     .name = raw.name,
                     .class_name = type,
                     .time_distributed = true};
    RNN_RETURN_IF_ERROR(ReadDense(inner_reader, layer));
    return std::optional<KerasLayer>(std::move(layer));
  }
  return reader.Error(
      "this layer class is not served; served are InputLayer, Embedding, LSTM, GRU, SimpleRNN, "
      "Bidirectional, Dense, TimeDistributed(Dense) and Dropout");
}

absl::StatusOr<RawLayer> ReadRawLayer(const Json& entry, size_t index, absl::string_view source) {
  if (!entry.is_object() || !entry.contains("class_name") || !entry["class_name"].is_string() ||
      !entry.contains("config") || !entry["config"].is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": layer entry ", index, " is not a {class_name, config} object"));
  }
  RawLayer raw;
  raw.class_name = entry["class_name"].get<std::string>();
  raw.config = &entry["config"];
  const Json* name = entry.contains("name") ? &entry["name"] : nullptr;
  if (name == nullptr || !name->is_string()) {
    name = raw.config->contains("name") ? &(*raw.config)["name"] : nullptr;
  }
  raw.name =
      name != nullptr && name->is_string() ? name->get<std::string>() : absl::StrCat("#", index);
  return raw;
}

absl::Status CheckStructure(KerasModelSpec& spec, absl::string_view source) {
  auto refuse = [&](const KerasLayer& layer, absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": layer ", layer.name, " (", layer.class_name, "): ", why));
  };
  const KerasLayer* last_recurrent = nullptr;
  bool any_bidirectional = false;
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const KerasLayer& layer = spec.layers[i];
    switch (layer.kind) {
      case KerasLayer::Kind::kEmbedding:
        if (i != 0) return refuse(layer, "an Embedding is served only as the first layer");
        break;
      case KerasLayer::Kind::kDense:
        if (i + 1 != spec.layers.size()) {
          // Dense -> Dense: the engine's output head is one Dense layer, and
          // folding two is exact only when the first is linear (rare: it
          // usually has relu); refused rather than served approximately.
          return refuse(layer, absl::StrCat("a Dense layer is served only as the last layer "
                                            "(the output head is one Dense layer); ",
                                            spec.layers[i + 1].name, " (",
                                            spec.layers[i + 1].class_name, ") follows it"));
        }
        if (last_recurrent == nullptr) return refuse(layer, "no recurrent layer precedes it");
        break;
      case KerasLayer::Kind::kRecurrent:
      case KerasLayer::Kind::kBidirectional:
        if (last_recurrent != nullptr && !last_recurrent->recurrent.return_sequences) {
          return refuse(*last_recurrent,
                        absl::StrCat("option return_sequences is false but ", layer.name,
                                     " follows it; a non-final recurrent layer must return "
                                     "sequences"));
        }
        if (last_recurrent != nullptr &&
            last_recurrent->recurrent.go_backwards != layer.recurrent.go_backwards) {
          return refuse(layer,
                        "option go_backwards differs from the layer before it; served "
                        "models read backwards in every layer or in none");
        }
        any_bidirectional |= layer.kind == KerasLayer::Kind::kBidirectional;
        last_recurrent = &layer;
        break;
    }
  }
  if (last_recurrent == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": the model has no LSTM, GRU or SimpleRNN layer"));
  }
  spec.go_backwards = last_recurrent->recurrent.go_backwards;
  if (spec.go_backwards && any_bidirectional) {
    return refuse(*last_recurrent, "go_backwards together with Bidirectional is not served");
  }
  spec.sequence_output = last_recurrent->recurrent.return_sequences ? SequenceOutput::kEveryStep
                                                                    : SequenceOutput::kFinalState;
  return absl::OkStatus();
}

}  // namespace

std::string KerasSnakeCase(absl::string_view name) {
  // Keras' to_snake_case: "(.)([A-Z][a-z]+)" -> "\1_\2", then
  // "([a-z])([A-Z])" -> "\1_\2", lower-cased.
  std::string first;
  for (size_t i = 0; i < name.size(); ++i) {
    if (i > 0 && std::isupper(name[i]) && i + 1 < name.size() && std::islower(name[i + 1])) {
      first += '_';
    }
    first += name[i];
  }
  std::string out;
  for (size_t i = 0; i < first.size(); ++i) {
    if (i > 0 && std::isupper(first[i]) && std::islower(first[i - 1])) {
      out += '_';
    }
    out += static_cast<char>(std::tolower(first[i]));
  }
  return out;
}

absl::StatusOr<KerasModelSpec> ParseKerasModelConfig(absl::string_view json_text,
                                                     absl::string_view hard_sigmoid_flavour,
                                                     absl::string_view source) {
  const Json root = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": is not a JSON object"));
  }
  KerasModelSpec spec;
  spec.class_name = JsonString(root, "class_name", "");
  const Json& config = JsonMember(root, "config");
  const bool sequential = spec.class_name == "Sequential";
  if (!sequential && spec.class_name != "Functional" && spec.class_name != "Model") {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": class_name is \"", spec.class_name,
                     "\"; want a Sequential or Functional (Model) model"));
  }
  // Keras 2.2.0 writes a Sequential's layers as the config itself.
  const Json& list = config.is_array() ? config : JsonMember(config, "layers");
  if (!list.is_array() || list.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": has no layers list"));
  }
  std::vector<RawLayer> raw;
  for (size_t i = 0; i < list.size(); ++i) {
    RNN_ASSIGN_OR_RETURN(RawLayer layer, ReadRawLayer(list[i], i, source));
    raw.push_back(std::move(layer));
  }
  if (!sequential) {
    RNN_ASSIGN_OR_RETURN(raw, KerasChainOrder(config, raw, source));
  }
  // Keras 3 names each layer's variables by class and per-class position
  // (in config order, InputLayer not counted).
  absl::flat_hash_map<std::string, int> seen_classes;
  for (const RawLayer& layer : raw) {
    if (!spec.input_features.has_value()) spec.input_features = LastAxis(*layer.config);
    std::string keras3_path;
    if (layer.class_name != "InputLayer") {
      const std::string base = KerasSnakeCase(layer.class_name);
      const int k = seen_classes[base]++;
      keras3_path = k == 0 ? absl::StrCat("layers/", base) : absl::StrCat("layers/", base, "_", k);
    }
    RNN_ASSIGN_OR_RETURN(std::optional<KerasLayer> mapped,
                         MapLayer(layer, hard_sigmoid_flavour, source));
    if (!mapped.has_value()) continue;
    mapped->keras3_path = std::move(keras3_path);
    spec.layers.push_back(*std::move(mapped));
  }
  RNN_RETURN_IF_ERROR(CheckStructure(spec, source));
  return spec;
}

}  // namespace rnnserve::model
