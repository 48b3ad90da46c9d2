#include "model/importers/keras_weights.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "util/status_macros.h"

namespace rnnserve::model {
namespace {

std::vector<std::string> DirectionNames(const KerasLayer& layer) {
  std::vector<std::string> names = {"kernel", "recurrent_kernel"};
  if (layer.recurrent.use_bias) names.push_back("bias");
  return names;
}

absl::Status LayerError(const Hdf5File& file, const KerasLayer& layer, absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat(file.source(), ": layer ", layer.name, " (", layer.class_name, "): ", problem));
}

absl::StatusOr<KerasWeight> ReadFinite(const Hdf5File& file, const std::string& path) {
  RNN_ASSIGN_OR_RETURN(Tensor tensor, file.ReadFloats(path));
  for (float v : tensor.values) {
    if (!std::isfinite(v)) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.source(), ": ", path, " holds a NaN or infinite weight"));
    }
  }
  return KerasWeight{path, std::move(tensor)};
}

// "lstm_1/lstm_cell_1/kernel:0" -> "kernel"; Keras 3 writes no ":0".
std::string WeightSuffix(absl::string_view name) {
  absl::string_view last = name.substr(name.rfind('/') + 1);
  if (const size_t colon = last.rfind(':'); colon != absl::string_view::npos) {
    last = last.substr(0, colon);
  }
  return std::string(last);
}

// Bidirectional weights name their direction in one path component:
// "forward_lstm_6", "backward_lstm"...
bool NamesDirection(absl::string_view name, absl::string_view direction) {
  for (absl::string_view part : absl::StrSplit(name, '/')) {
    if (absl::StartsWith(part, direction)) return true;
  }
  return false;
}

absl::StatusOr<std::vector<KerasWeight>> ReadLegacy(const Hdf5File& file, const KerasLayer& layer) {
  const std::string group = absl::StrCat("/model_weights/", layer.name);
  if (!file.Exists(group)) return LayerError(file, layer, absl::StrCat("has no group ", group));
  RNN_ASSIGN_OR_RETURN(const std::vector<std::string> names,
                       file.StringListAttribute(group, "weight_names"));
  if (const absl::Status named = CheckKerasWeightNames(layer, names, group); !named.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(file.source(), ": ", named.message()));
  }
  std::vector<KerasWeight> weights;
  for (const std::string& name : names) {
    RNN_ASSIGN_OR_RETURN(KerasWeight weight, ReadFinite(file, absl::StrCat(group, "/", name)));
    weights.push_back(std::move(weight));
  }
  return weights;
}

// Reads vars/0 .. vars/<count - 1> of one Keras 3 variable group; any other
// member is refused.
absl::Status ReadVars(const Hdf5File& file, const KerasLayer& layer, const std::string& group,
                      size_t count, std::vector<KerasWeight>& weights) {
  if (!file.Exists(group)) {
    return LayerError(file, layer,
                      absl::StrCat("has no group ", group,
                                   " (Keras 3 stores a layer's weights by class and position)"));
  }
  RNN_ASSIGN_OR_RETURN(const std::vector<std::string> members, file.Members(group));
  if (members.empty()) {
    return LayerError(file, layer,
                      absl::StrCat(group, " is empty: the model was saved before it was built"));
  }
  std::vector<std::string> want;
  for (size_t i = 0; i < count; ++i) want.push_back(absl::StrCat(i));
  std::vector<std::string> sorted_want = want;
  std::sort(sorted_want.begin(), sorted_want.end());  // the order HDF5 lists names
  if (members != sorted_want) {
    return LayerError(file, layer,
                      absl::StrCat(group, " holds ", absl::StrJoin(members, ", "), "; want ",
                                   absl::StrJoin(want, ", ")));
  }
  for (const std::string& name : want) {
    RNN_ASSIGN_OR_RETURN(KerasWeight weight, ReadFinite(file, absl::StrCat(group, "/", name)));
    weights.push_back(std::move(weight));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<KerasWeight>> ReadKeras3(const Hdf5File& file, const KerasLayer& layer) {
  const std::string& base = layer.keras3_path;
  std::vector<KerasWeight> weights;
  const size_t count = ExpectedKerasWeightNames(layer).size();
  switch (layer.kind) {
    case KerasLayer::Kind::kEmbedding:
    case KerasLayer::Kind::kDense:
      RNN_RETURN_IF_ERROR(ReadVars(
          file, layer, base + (layer.time_distributed ? "/layer/vars" : "/vars"), count, weights));
      break;
    case KerasLayer::Kind::kRecurrent:
      RNN_RETURN_IF_ERROR(ReadVars(file, layer, base + "/cell/vars", count, weights));
      break;
    case KerasLayer::Kind::kBidirectional:
      RNN_RETURN_IF_ERROR(
          ReadVars(file, layer, base + "/forward_layer/cell/vars", count / 2, weights));
      RNN_RETURN_IF_ERROR(
          ReadVars(file, layer, base + "/backward_layer/cell/vars", count / 2, weights));
      break;
  }
  return weights;
}

}  // namespace

absl::Status CheckKerasWeightNames(const KerasLayer& layer, const std::vector<std::string>& names,
                                   absl::string_view where) {
  auto refuse = [&](absl::string_view problem) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer ", layer.name, " (", layer.class_name, "): ", where, " ", problem));
  };
  const std::vector<std::string> want = ExpectedKerasWeightNames(layer);
  if (names.empty()) {
    return refuse(
        "lists no weights: the model was saved before it was built; build it (call it on "
        "data) before saving");
  }
  if (names.size() != want.size()) {
    return refuse(absl::StrCat("lists ", names.size(), " weights (", absl::StrJoin(names, ", "),
                               "), want ", want.size(), " (", absl::StrJoin(want, ", "), ")"));
  }
  const bool bidirectional = layer.kind == KerasLayer::Kind::kBidirectional;
  for (size_t i = 0; i < names.size(); ++i) {
    const bool backward = bidirectional && i >= names.size() / 2;
    if (WeightSuffix(names[i]) != want[i] ||
        (bidirectional && !NamesDirection(names[i], backward ? "backward" : "forward"))) {
      return refuse(absl::StrCat("weight ", i, " is named ", names[i], ", want ",
                                 bidirectional ? (backward ? "backward " : "forward ") : "",
                                 want[i]));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> ExpectedKerasWeightNames(const KerasLayer& layer) {
  switch (layer.kind) {
    case KerasLayer::Kind::kEmbedding:
      return {"embeddings"};
    case KerasLayer::Kind::kDense:
      return layer.use_bias ? std::vector<std::string>{"kernel", "bias"}
                            : std::vector<std::string>{"kernel"};
    case KerasLayer::Kind::kRecurrent:
      return DirectionNames(layer);
    case KerasLayer::Kind::kBidirectional: {
      std::vector<std::string> names = DirectionNames(layer);
      std::vector<std::string> both = names;
      both.insert(both.end(), names.begin(), names.end());
      return both;
    }
  }
  return {};
}

absl::StatusOr<std::vector<KerasWeight>> ReadKerasLayerWeights(const Hdf5File& file,
                                                               KerasWeightLayout layout,
                                                               const KerasLayer& layer) {
  return layout == KerasWeightLayout::kLegacyH5 ? ReadLegacy(file, layer) : ReadKeras3(file, layer);
}

}  // namespace rnnserve::model
