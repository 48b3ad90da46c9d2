#include "model/importers/config.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/status_macros.h"

namespace rnnserve::model {
namespace {

using Json = nlohmann::json;

absl::Status FieldError(absl::string_view field, absl::string_view want) {
  return absl::InvalidArgumentError(
      absl::StrCat("config.json: \"", field, "\" ", want));
}

absl::Status CheckKnownFields(const Json& object, absl::string_view where,
                              const absl::flat_hash_set<absl::string_view>& known) {
  for (const auto& [key, value] : object.items()) {
    if (!known.contains(key)) {
      std::vector<absl::string_view> sorted(known.begin(), known.end());
      std::sort(sorted.begin(), sorted.end());
      return absl::InvalidArgumentError(
          absl::StrCat("config.json: unknown field \"", key, "\" in ", where,
                       "; known fields: ", absl::StrJoin(sorted, ", ")));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int> ReadInt(const Json& object, absl::string_view field,
                            std::optional<int> fallback, int min_value) {
  const auto it = object.find(field);
  if (it == object.end()) {
    if (fallback.has_value()) return *fallback;
    return FieldError(field, "is required");
  }
  if (!it->is_number_integer() || it->get<int64_t>() < min_value ||
      it->get<int64_t>() > (int64_t{1} << 24)) {
    return FieldError(field, absl::StrCat("is ", it->dump(), ", want an integer in [",
                                          min_value, ", 16777216]"));
  }
  return static_cast<int>(it->get<int64_t>());
}

absl::StatusOr<bool> ReadBool(const Json& object, absl::string_view field, bool fallback) {
  const auto it = object.find(field);
  if (it == object.end()) return fallback;
  if (!it->is_boolean()) return FieldError(field, absl::StrCat("is ", it->dump(), ", want true or false"));
  return it->get<bool>();
}

absl::StatusOr<float> ReadFloat(const Json& object, absl::string_view field, float fallback) {
  const auto it = object.find(field);
  if (it == object.end()) return fallback;
  // Beyond float's range the narrowing gives inf (or is undefined), which
  // would turn a forget_bias or clip into an infinite weight.
  if (!it->is_number() || !std::isfinite(it->get<double>()) ||
      std::fabs(it->get<double>()) > std::numeric_limits<float>::max()) {
    return FieldError(field, absl::StrCat("is ", it->dump(), ", want a float32 number"));
  }
  return static_cast<float>(it->get<double>());
}

absl::StatusOr<std::optional<std::string>> ReadString(const Json& object,
                                                      absl::string_view field) {
  const auto it = object.find(field);
  if (it == object.end()) return std::optional<std::string>();
  if (!it->is_string()) return FieldError(field, absl::StrCat("is ", it->dump(), ", want a string"));
  return std::optional<std::string>(it->get<std::string>());
}

// Reads a string field that must be one of `choices`; returns its index.
absl::StatusOr<int> ReadChoice(const Json& object, absl::string_view field,
                               const std::vector<absl::string_view>& choices,
                               int fallback) {
  RNN_ASSIGN_OR_RETURN(std::optional<std::string> value, ReadString(object, field));
  if (!value.has_value()) return fallback;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (*value == choices[i]) return static_cast<int>(i);
  }
  return FieldError(field, absl::StrCat("is \"", *value, "\", want one of \"",
                                        absl::StrJoin(choices, "\", \""), "\""));
}

absl::StatusOr<std::optional<EmbeddingConfig>> ReadEmbedding(const Json& root) {
  const auto it = root.find("embedding");
  if (it == root.end() || it->is_null()) return std::optional<EmbeddingConfig>();
  if (!it->is_object()) return FieldError("embedding", "must be an object");
  RNN_RETURN_IF_ERROR(CheckKnownFields(*it, "embedding", {"num_embeddings", "embedding_dim"}));
  EmbeddingConfig embedding;
  RNN_ASSIGN_OR_RETURN(embedding.num_embeddings, ReadInt(*it, "num_embeddings", {}, 1));
  RNN_ASSIGN_OR_RETURN(embedding.embedding_dim, ReadInt(*it, "embedding_dim", {}, 1));
  return std::optional<EmbeddingConfig>(embedding);
}

absl::StatusOr<std::optional<HeadConfig>> ReadHead(const Json& root) {
  const auto it = root.find("head");
  if (it == root.end() || it->is_null()) return std::optional<HeadConfig>();
  if (!it->is_object()) return FieldError("head", "must be an object");
  RNN_RETURN_IF_ERROR(CheckKnownFields(*it, "head", {"out_features", "activation"}));
  HeadConfig head;
  RNN_ASSIGN_OR_RETURN(head.out_features, ReadInt(*it, "out_features", {}, 1));
  RNN_ASSIGN_OR_RETURN(std::optional<std::string> activation, ReadString(*it, "activation"));
  if (activation.has_value()) {
    RNN_ASSIGN_OR_RETURN(head.activation, HeadActivationFromName(*activation));
  }
  return std::optional<HeadConfig>(head);
}

// A number or a non-empty list of numbers, each a finite float32.
absl::StatusOr<std::vector<float>> ReadFloats(const Json& object, absl::string_view where,
                                              absl::string_view field, float fallback) {
  const auto it = object.find(field);
  if (it == object.end()) return std::vector<float>{fallback};
  const Json list = it->is_array() ? *it : Json::array({*it});
  std::vector<float> values;
  for (const Json& v : list) {
    if (!v.is_number() || !std::isfinite(v.get<double>()) ||
        std::fabs(v.get<double>()) > std::numeric_limits<float>::max()) {
      return FieldError(where, absl::StrCat("has ", field, " ", it->dump(),
                                            "; want a float32 number or a list of them"));
    }
    values.push_back(static_cast<float>(v.get<double>()));
  }
  if (values.empty()) return FieldError(where, absl::StrCat("has an empty ", field));
  return values;
}

// "input_transform" / "output_transform": {"offset": ..., "scale": ...}.
absl::StatusOr<std::optional<StepTransform>> ReadTransform(const Json& root,
                                                           absl::string_view field,
                                                           StepTransform::Side side) {
  const auto it = root.find(field);
  if (it == root.end() || it->is_null()) return std::optional<StepTransform>();
  if (!it->is_object())
    return FieldError(field, "must be an object {\"offset\": ..., \"scale\": ...}");
  RNN_RETURN_IF_ERROR(CheckKnownFields(*it, field, {"offset", "scale"}));
  RNN_ASSIGN_OR_RETURN(std::vector<float> offset, ReadFloats(*it, field, "offset", 0.0f));
  RNN_ASSIGN_OR_RETURN(std::vector<float> scale, ReadFloats(*it, field, "scale", 1.0f));
  absl::StatusOr<StepTransform> transform =
      StepTransform::Create(side, std::move(offset), std::move(scale));
  if (!transform.ok()) return FieldError(field, transform.status().message());
  return std::optional<StepTransform>(*std::move(transform));
}

absl::Status ValidateTransforms(const ModelConfig& config) {
  if (config.input_transform.has_value()) {
    if (config.embedding.has_value()) {
      return FieldError("input_transform",
                        "applies to float inputs only; this model takes token ids "
                        "(it has an embedding)");
    }
    if (!config.input_transform->Fits(config.input_size)) {
      return FieldError(
          "input_transform",
          absl::StrCat("has values for ", config.input_transform->features(),
                       " features, want 1 (every feature) or input_size ", config.input_size));
    }
  }
  if (config.output_transform.has_value() && !config.output_transform->Fits(config.output_size())) {
    return FieldError(
        "output_transform",
        absl::StrCat("has values for ", config.output_transform->features(),
                     " features, want 1 (every feature) or ",
                     config.head.has_value() ? "head.out_features " : "the top layer's width ",
                     config.output_size()));
  }
  return absl::OkStatus();
}

// `activation`, `nonlinearity`, `gate_activation`, `recurrent_activation`:
// each pair of spellings must agree when both are given.
absl::StatusOr<Activation> ReadActivationPair(const Json& root, absl::string_view name,
                                              absl::string_view alias,
                                              absl::string_view flavour,
                                              Activation fallback) {
  RNN_ASSIGN_OR_RETURN(std::optional<std::string> a, ReadString(root, name));
  RNN_ASSIGN_OR_RETURN(std::optional<std::string> b, ReadString(root, alias));
  if (a.has_value() && b.has_value() && *a != *b) {
    return FieldError(name, absl::StrCat("is \"", *a, "\" but \"", alias, "\" is \"",
                                         *b, "\"; they name the same function"));
  }
  if (!a.has_value()) a = b;
  if (!a.has_value()) return fallback;
  return ActivationFromConfigName(*a, flavour);
}

absl::Status Validate(const ModelConfig& config, const Json& root) {
  const bool lstm = config.cell == CellKind::kLstm;
  const bool gru = config.cell == CellKind::kGru;
  const bool simple = config.cell == CellKind::kRnn || config.cell == CellKind::kJordan;
  auto only_for = [&](absl::string_view field, bool allowed, absl::string_view cells) {
    return root.contains(field) && !allowed
               ? FieldError(field, absl::StrCat("applies to ", cells, " only"))
               : absl::OkStatus();
  };
  RNN_RETURN_IF_ERROR(only_for("gate_activation", !simple, "lstm and gru"));
  RNN_RETURN_IF_ERROR(only_for("recurrent_activation", !simple, "lstm and gru"));
  RNN_RETURN_IF_ERROR(only_for("proj_size", lstm || config.proj_size == 0, "lstm"));
  RNN_RETURN_IF_ERROR(only_for("peephole", lstm, "lstm"));
  RNN_RETURN_IF_ERROR(only_for("input_forget", lstm, "lstm"));
  RNN_RETURN_IF_ERROR(only_for("forget_bias", lstm, "lstm"));
  RNN_RETURN_IF_ERROR(only_for("gru_update", gru, "gru"));
  RNN_RETURN_IF_ERROR(only_for("reset_after", gru, "gru"));
  if (config.proj_size >= config.hidden_size) {
    return FieldError("proj_size", absl::StrCat("is ", config.proj_size,
                                                ", want less than hidden_size ",
                                                config.hidden_size));
  }
  if (config.embedding.has_value() &&
      config.embedding->embedding_dim != config.input_size) {
    return FieldError("input_size", absl::StrCat("is ", config.input_size,
                                                 ", want embedding_dim ",
                                                 config.embedding->embedding_dim));
  }
  if (config.cell == CellKind::kJordan &&
      (config.num_layers != 1 || !config.head.has_value() || config.bidirectional)) {
    return FieldError("cell", "is \"jordan\": want num_layers 1, a head, and not bidirectional");
  }
  if (config.go_backwards && config.bidirectional) {
    return FieldError("go_backwards", "cannot be combined with bidirectional");
  }
  if (config.naming == TensorNaming::kKeras) {
    if (config.proj_size > 0 || config.peephole || config.cell == CellKind::kJordan) {
      return FieldError("naming", "is \"keras\": Keras layers have no proj_size, "
                                  "peephole or jordan cell");
    }
  }
  if (config.gru_update == GruUpdate::kSwapped &&
      !config.gate_activation.IsComplementSymmetric()) {
    return FieldError("gru_update", "\"swapped\" needs a gate activation with "
                                    "1 - f(x) == f(-x) (sigmoid, hard_sigmoid)");
  }
  return ValidateTransforms(config);
}

}  // namespace

absl::string_view CellKindName(CellKind kind) {
  switch (kind) {
    case CellKind::kLstm: return "lstm";
    case CellKind::kGru: return "gru";
    case CellKind::kRnn: return "rnn";
    case CellKind::kJordan: return "jordan";
  }
  return "unknown";
}

int ModelConfig::output_size() const {
  if (head.has_value()) return head->out_features;
  return (proj_size > 0 ? proj_size : hidden_size) * directions();
}

int ModelConfig::gates() const {
  switch (cell) {
    case CellKind::kLstm: return 4;
    case CellKind::kGru: return 3;
    default: return 1;
  }
}

absl::StatusOr<ModelConfig> ParseModelConfig(absl::string_view json_text) {
  const Json root = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return absl::InvalidArgumentError("config.json is not valid JSON");
  if (!root.is_object()) return absl::InvalidArgumentError("config.json must hold a JSON object");
  RNN_RETURN_IF_ERROR(CheckKnownFields(
      root, "the top level",
      {"cell", "input_size", "hidden_size", "num_layers", "bias", "batch_first",
       "dropout", "bidirectional", "proj_size", "nonlinearity", "embedding", "head",
       "naming", "gru_update", "reset_after", "gate_activation", "recurrent_activation",
       "activation", "hard_sigmoid", "clip", "peephole", "input_forget", "forget_bias",
       "go_backwards", "input_transform", "output_transform", "metadata",
       "weights"}));
  ModelConfig config;
  RNN_ASSIGN_OR_RETURN(int cell, ReadChoice(root, "cell", {"lstm", "gru", "rnn", "jordan"}, -1));
  if (cell < 0) return FieldError("cell", "is required: lstm, gru, rnn or jordan");
  config.cell = static_cast<CellKind>(cell);
  RNN_ASSIGN_OR_RETURN(config.embedding, ReadEmbedding(root));
  std::optional<int> default_input;
  if (config.embedding.has_value()) default_input = config.embedding->embedding_dim;
  RNN_ASSIGN_OR_RETURN(config.input_size, ReadInt(root, "input_size", default_input, 1));
  RNN_ASSIGN_OR_RETURN(config.hidden_size, ReadInt(root, "hidden_size", {}, 1));
  RNN_ASSIGN_OR_RETURN(config.num_layers, ReadInt(root, "num_layers", 1, 1));
  RNN_ASSIGN_OR_RETURN(config.proj_size, ReadInt(root, "proj_size", 0, 0));
  RNN_ASSIGN_OR_RETURN(config.bias, ReadBool(root, "bias", true));
  RNN_ASSIGN_OR_RETURN(config.bidirectional, ReadBool(root, "bidirectional", false));
  // Sequences here are always [T, features]: batch_first and dropout describe
  // training and are accepted for compatibility only.
  RNN_RETURN_IF_ERROR(ReadBool(root, "batch_first", false).status());
  RNN_RETURN_IF_ERROR(ReadFloat(root, "dropout", 0.0f).status());
  RNN_ASSIGN_OR_RETURN(config.head, ReadHead(root));
  RNN_ASSIGN_OR_RETURN(int naming, ReadChoice(root, "naming", {"pytorch", "keras"}, 0));
  config.naming = static_cast<TensorNaming>(naming);
  RNN_ASSIGN_OR_RETURN(int flavour, ReadChoice(root, "hard_sigmoid", {"keras2", "keras3"}, 0));
  const absl::string_view flavour_name = flavour == 0 ? "keras2" : "keras3";
  RNN_ASSIGN_OR_RETURN(config.activation,
                       ReadActivationPair(root, "activation", "nonlinearity",
                                          flavour_name, Activation::Tanh()));
  RNN_ASSIGN_OR_RETURN(config.gate_activation,
                       ReadActivationPair(root, "gate_activation", "recurrent_activation",
                                          flavour_name, Activation::Sigmoid()));
  RNN_ASSIGN_OR_RETURN(int update, ReadChoice(root, "gru_update", {"pytorch", "swapped"}, 0));
  config.gru_update = static_cast<GruUpdate>(update);
  RNN_ASSIGN_OR_RETURN(bool reset_after, ReadBool(root, "reset_after", true));
  config.gru_reset = reset_after ? GruReset::kAfterProduct : GruReset::kBeforeProduct;
  RNN_ASSIGN_OR_RETURN(config.clip, ReadFloat(root, "clip", 0.0f));
  if (config.clip < 0.0f) return FieldError("clip", "must be >= 0 (0 = no clip)");
  RNN_ASSIGN_OR_RETURN(config.peephole, ReadBool(root, "peephole", false));
  RNN_ASSIGN_OR_RETURN(config.input_forget, ReadBool(root, "input_forget", false));
  RNN_ASSIGN_OR_RETURN(config.forget_bias, ReadFloat(root, "forget_bias", 0.0f));
  RNN_ASSIGN_OR_RETURN(config.go_backwards, ReadBool(root, "go_backwards", false));
  RNN_ASSIGN_OR_RETURN(int weights, ReadChoice(root, "weights", {"fp32", "bf16", "int8"}, 0));
  config.weights = static_cast<WeightPrecision>(weights);
  RNN_ASSIGN_OR_RETURN(config.input_transform,
                       ReadTransform(root, "input_transform", StepTransform::Side::kInput));
  RNN_ASSIGN_OR_RETURN(config.output_transform,
                       ReadTransform(root, "output_transform", StepTransform::Side::kOutput));
  if (const auto it = root.find("metadata"); it != root.end() && !it->is_object()) {
    return FieldError("metadata", "must be an object");
  }
  RNN_RETURN_IF_ERROR(Validate(config, root));
  return config;
}

}  // namespace rnnserve::model
