#include "model/importers/tfjs_model.h"

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "model/importers/json_fields.h"
#include "util/byte_order.h"
#include "util/status_macros.h"

namespace rnnserve::model {
namespace {

using Json = nlohmann::json;

// Bounds on what a manifest may ask for.
constexpr int64_t kMaxWeightElements = int64_t{1} << 28;
constexpr int64_t kMaxGroupBytes = int64_t{4} << 30;

struct NamedWeight {
  std::string name;
  KerasWeight weight;
};

absl::Status ManifestError(absl::string_view source, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": weightsManifest ", problem));
}

// A shard name must stay in model.json's folder.
bool IsPlainFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of("/\\") == std::string::npos && name.find('\0') == std::string::npos;
}

absl::StatusOr<std::vector<int64_t>> ReadShape(const Json& entry, const std::string& name,
                                               absl::string_view source, int64_t& elements) {
  const auto shape = entry.find("shape");
  if (shape == entry.end() || !shape->is_array() || shape->size() > 8) {
    return ManifestError(source, absl::StrCat("weight ", name, " has no shape list"));
  }
  std::vector<int64_t> dims;
  elements = 1;
  for (const Json& d : *shape) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0 || d.get<int64_t>() > kMaxWeightElements) {
      return ManifestError(source, absl::StrCat("weight ", name, " has shape ", shape->dump()));
    }
    dims.push_back(d.get<int64_t>());
    elements *= dims.back();
    if (elements > kMaxWeightElements) {
      return ManifestError(source, absl::StrCat("weight ", name, " is larger than 2^28 floats"));
    }
  }
  return dims;
}

// The concatenated shards of one manifest group, in order.
absl::StatusOr<std::string> ReadGroupBytes(const Json& group, const TfjsShardReader& read_shard,
                                           absl::string_view source) {
  std::string bytes;
  for (const Json& path : group["paths"]) {
    if (!path.is_string() || !IsPlainFileName(path.get<std::string>())) {
      return ManifestError(source, absl::StrCat("names shard ", path.dump(),
                                                "; want a file name in model.json's folder"));
    }
    const absl::StatusOr<std::string> shard =
        read_shard(path.get<std::string>(), kMaxGroupBytes - bytes.size());
    if (!shard.ok()) {
      return ManifestError(source,
                           absl::StrCat("names shard ", path.get<std::string>(),
                                        " that cannot be read: ", shard.status().message()));
    }
    bytes += *shard;
  }
  return bytes;
}

// Every weight of every group, in manifest order, cut out of its group's
// concatenated shards.
absl::StatusOr<std::vector<NamedWeight>> ReadWeights(const Json& manifest,
                                                     const TfjsShardReader& read_shard,
                                                     absl::string_view source) {
  if (!manifest.is_array()) return ManifestError(source, "is missing or not a list");
  std::vector<NamedWeight> weights;
  absl::flat_hash_set<std::string> names;
  for (const Json& group : manifest) {
    if (!group.is_object() || !group.contains("paths") || !group["paths"].is_array() ||
        !group.contains("weights") || !group["weights"].is_array()) {
      return ManifestError(source, "has a group without paths and weights lists");
    }
    RNN_ASSIGN_OR_RETURN(const std::string bytes, ReadGroupBytes(group, read_shard, source));
    size_t offset = 0;
    for (const Json& entry : group["weights"]) {
      if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string()) {
        return ManifestError(source, "has a weight without a name");
      }
      const std::string name = entry["name"].get<std::string>();
      if (entry.contains("quantization")) {
        return ManifestError(source, absl::StrCat("weight ", name,
                                                  " is quantized; only float32 weights are "
                                                  "served (convert without --quantize_*)"));
      }
      if (JsonString(entry, "dtype", "") != "float32") {
        return ManifestError(
            source, absl::StrCat("weight ", name, " has dtype ", JsonMember(entry, "dtype").dump(),
                                 "; want float32"));
      }
      int64_t elements = 0;
      RNN_ASSIGN_OR_RETURN(std::vector<int64_t> shape, ReadShape(entry, name, source, elements));
      const size_t size = static_cast<size_t>(elements) * sizeof(float);
      if (size > bytes.size() - offset) {
        return ManifestError(source, absl::StrCat("weight ", name, " ends past its shards (",
                                                  bytes.size(), " bytes)"));
      }
      if (!names.insert(name).second) {
        return ManifestError(source, absl::StrCat("lists weight ", name, " twice"));
      }
      Tensor tensor{.shape = std::move(shape), .values = std::vector<float>(elements)};
      // TF.js writes little-endian floats, whatever the host.
      for (int64_t k = 0; k < elements; ++k) {
        const uint32_t word = util::LoadU32(bytes.data() + offset + 4 * k);
        std::memcpy(&tensor.values[k], &word, sizeof(float));
      }
      offset += size;
      for (float v : tensor.values) {
        if (!std::isfinite(v)) {
          return ManifestError(source, absl::StrCat("weight ", name, " holds NaN or infinity"));
        }
      }
      weights.push_back({name, KerasWeight{name, std::move(tensor)}});
    }
    if (offset != bytes.size()) {
      return ManifestError(source, absl::StrCat("group lists ", offset,
                                                " bytes of weights but "
                                                "its shards hold ",
                                                bytes.size()));
    }
  }
  return weights;
}

// Whether weight `name` belongs to layer `layer`: its first path component is
// the layer's name, or its second after a model-name prefix (Keras 3).
bool BelongsTo(const std::string& name, const std::string& layer) {
  const std::vector<absl::string_view> parts = absl::StrSplit(name, '/');
  return (parts.size() > 1 && parts[0] == layer) || (parts.size() > 2 && parts[1] == layer);
}

}  // namespace

absl::StatusOr<KerasImport> ImportTfjsModel(absl::string_view model_json,
                                            const TfjsShardReader& read_shard,
                                            absl::string_view source) {
  const Json root = Json::parse(model_json, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": is not a JSON object"));
  }
  if (JsonString(root, "format", "layers-model") != "layers-model") {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": format is ", JsonMember(root, "format").dump(),
                     "; only TF.js layers models (\"layers-model\") are served, not graph models"));
  }
  const auto topology = root.find("modelTopology");
  if (topology == root.end() || !topology->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": has no modelTopology object"));
  }
  // tensorflowjs_converter nests the Keras config under model_config;
  // tfjs-layers' model.save() writes it at the top.
  const Json& config =
      topology->contains("model_config") ? JsonMember(*topology, "model_config") : *topology;
  const std::string version = JsonString(*topology, "keras_version", "");
  const std::string flavour =
      absl::StartsWith(version, "tfjs") ? "keras2" : KerasHardSigmoidFlavour(version);
  RNN_ASSIGN_OR_RETURN(
      const KerasModelSpec spec,
      ParseKerasModelConfig(config.dump(), flavour, absl::StrCat(source, ": modelTopology")));
  RNN_ASSIGN_OR_RETURN(std::vector<NamedWeight> all,
                       ReadWeights(JsonMember(root, "weightsManifest"), read_shard, source));
  std::vector<bool> claimed(all.size(), false);
  std::vector<std::vector<KerasWeight>> weights;
  for (const KerasLayer& layer : spec.layers) {
    std::vector<std::string> names;
    std::vector<KerasWeight> layer_weights;
    for (size_t i = 0; i < all.size(); ++i) {
      if (claimed[i] || !BelongsTo(all[i].name, layer.name)) continue;
      claimed[i] = true;
      names.push_back(all[i].name);
      layer_weights.push_back(std::move(all[i].weight));
    }
    const absl::Status named =
        CheckKerasWeightNames(layer, names, absl::StrCat("weightsManifest for ", layer.name));
    if (!named.ok()) return absl::InvalidArgumentError(absl::StrCat(source, ": ", named.message()));
    weights.push_back(std::move(layer_weights));
  }
  for (size_t i = 0; i < all.size(); ++i) {
    if (!claimed[i]) {
      return ManifestError(source, absl::StrCat("lists weight ", all[i].name,
                                                " that no served layer of the config has"));
    }
  }
  return BuildKerasImport(spec, weights, KerasSummary(version, "tfjs layers-model", spec), source);
}

}  // namespace rnnserve::model
