// The order of a Keras Functional model's layers: its config names each
// layer's inputs (Keras 2 as [name, node, tensor, kwargs] lists, Keras 3 as
// {"keras_history": [...]} objects), and a served model must be one chain
// from one input to one output (no branches, merges, shared layers or extra
// inputs).
#ifndef RNNSERVE_MODEL_IMPORTERS_KERAS_GRAPH_H_
#define RNNSERVE_MODEL_IMPORTERS_KERAS_GRAPH_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rnnserve::model {

// One entry of a Keras config's layer list, before it is mapped. `config`
// points into the parsed JSON, which must outlive it.
struct KerasRawLayer {
  std::string name;
  std::string class_name;
  const nlohmann::json* config = nullptr;
};

// `layers` in data-flow order. `config` is the Functional model's config
// object (with "layers", "input_layers", "output_layers"); `layers` its layer
// list in file order. INVALID_ARGUMENT naming `source` and the problem for
// anything but one chain.
absl::StatusOr<std::vector<KerasRawLayer>> KerasChainOrder(const nlohmann::json& config,
                                                           const std::vector<KerasRawLayer>& layers,
                                                           absl::string_view source);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_KERAS_GRAPH_H_
