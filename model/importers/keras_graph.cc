#include "model/importers/keras_graph.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "model/importers/json_fields.h"

namespace rnnserve::model {
namespace {

using Json = nlohmann::json;

// Every layer name a Functional node reads: Keras 2 nodes are lists of
// [name, node, tensor, kwargs]; Keras 3 nodes hold {"keras_history": [name,
// node, tensor]} objects anywhere in their args and kwargs.
void CollectInboundNames(const Json& node, bool keras2_list, std::vector<std::string>& names) {
  if (keras2_list && node.is_array() && !node.empty() && node[0].is_string()) {
    names.push_back(node[0].get<std::string>());
    return;
  }
  if (node.is_object()) {
    const auto history = node.find("keras_history");
    if (history != node.end() && history->is_array() && !history->empty() &&
        (*history)[0].is_string()) {
      names.push_back((*history)[0].get<std::string>());
      return;
    }
  }
  if (node.is_array() || node.is_object()) {
    for (const Json& child : node) CollectInboundNames(child, keras2_list, names);
  }
}

// The first name of an input_layers / output_layers list: [["x", 0, 0]] or
// ["x", 0, 0]; the count of entries too.
std::vector<std::string> EndpointNames(const Json& list) {
  std::vector<std::string> names;
  if (!list.is_array()) return names;
  if (!list.empty() && list[0].is_string()) return {list[0].get<std::string>()};
  for (const Json& entry : list) {
    if (entry.is_array() && !entry.empty() && entry[0].is_string()) {
      names.push_back(entry[0].get<std::string>());
    } else {
      names.push_back("");
    }
  }
  return names;
}

// A Functional graph's layers in data-flow order; refused unless it is one
// chain from its one input to its one output.
}  // namespace

absl::StatusOr<std::vector<KerasRawLayer>> KerasChainOrder(const Json& config,
                                                           const std::vector<KerasRawLayer>& layers,
                                                           absl::string_view source) {
  auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": the Functional graph ", why,
                     "; only a chain of layers with one input and one output is served"));
  };
  const std::vector<std::string> inputs = EndpointNames(JsonMember(config, "input_layers"));
  const std::vector<std::string> outputs = EndpointNames(JsonMember(config, "output_layers"));
  if (inputs.size() != 1) return refuse(absl::StrCat("has ", inputs.size(), " inputs"));
  if (outputs.size() != 1) return refuse(absl::StrCat("has ", outputs.size(), " outputs"));
  absl::flat_hash_map<std::string, std::string> next;  // producer -> its one consumer
  for (size_t i = 0; i < layers.size(); ++i) {
    const Json& entry = config["layers"][i];
    const Json& nodes = JsonMember(entry, "inbound_nodes");
    if (layers[i].name == inputs[0]) continue;
    if (!nodes.is_array() || nodes.size() != 1) {
      return refuse(absl::StrCat("calls layer ", layers[i].name, " ", nodes.size(), " times"));
    }
    std::vector<std::string> names;
    CollectInboundNames(nodes[0], nodes[0].is_array(), names);
    if (names.size() != 1) {
      return refuse(absl::StrCat("feeds layer ", layers[i].name, " ", names.size(), " inputs"));
    }
    if (!next.emplace(names[0], layers[i].name).second) {
      return refuse(absl::StrCat("branches after layer ", names[0]));
    }
  }
  absl::flat_hash_map<std::string, const KerasRawLayer*> by_name;
  for (const KerasRawLayer& layer : layers) by_name[layer.name] = &layer;
  std::vector<KerasRawLayer> chain;
  std::string current = inputs[0];
  while (true) {
    const auto layer = by_name.find(current);
    if (layer == by_name.end()) return refuse(absl::StrCat("names an unknown layer ", current));
    chain.push_back(*layer->second);
    if (chain.size() > layers.size()) return refuse("has a cycle");
    const auto it = next.find(current);
    if (it == next.end()) break;
    current = it->second;
  }
  if (current != outputs[0] || chain.size() != layers.size()) {
    return refuse("is not one chain from its input to its output");
  }
  return chain;
}

}  // namespace rnnserve::model
