// Imports a model saved by Keras (../shared/KERAS_FORMATS.md) into a
// LayerStack: a Keras 3 .keras archive (config.json, metadata.json,
// model.weights.h5) or a legacy full-model HDF5 file (model.save("m.h5"),
// Keras 2.1 to 3.x), told apart by their magic bytes, never by the file name
// (a legacy HDF5 file saved as "x.keras" loads as what it is).
#ifndef RNNSERVE_MODEL_IMPORTERS_KERAS_MODEL_H_
#define RNNSERVE_MODEL_IMPORTERS_KERAS_MODEL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/engine/layer_stack.h"
#include "model/importers/keras_config.h"
#include "model/importers/keras_weights.h"

namespace rnnserve::model {

struct KerasImport {
  LayerStack stack;
  int64_t parameter_count = 0;
  std::string summary;  // e.g. "keras 3.4.1 .keras: Sequential, 2 x LSTM + Dense"
  std::string cell;     // "lstm", "gru", "rnn"; "lstm+gru" for a mix
  int num_layers = 0;
  int hidden_size = 0;  // the first recurrent layer's units
  bool bidirectional = false;
};

// `bytes` is the whole file; `source` names it in messages. INVALID_ARGUMENT
// naming the file, the HDF5 path or layer, and the problem for anything not
// served exactly: weights-only files, unbuilt models, unsupported layers or
// options, missing or mis-shaped weights.
absl::StatusOr<KerasImport> ImportKerasModel(absl::string_view bytes, absl::string_view source);

// What every Keras container shares once it is read (TF.js too): the engine's
// model from a parsed config and each layer's weights, in spec.layers order
// and in the order ReadKerasLayerWeights() returns them. INVALID_ARGUMENT
// naming `source`, the layer and the weight for a shape that does not fit.
absl::StatusOr<KerasImport> BuildKerasImport(const KerasModelSpec& spec,
                                             const std::vector<std::vector<KerasWeight>>& weights,
                                             std::string summary, absl::string_view source);

// "keras2" (hard_sigmoid 0.2x + 0.5) for Keras 1-2 and tfjs-layers, "keras3"
// (x/6 + 0.5) for Keras 3; a flavour ActivationFromConfigName() refuses,
// naming why, when the version is unknown.
std::string KerasHardSigmoidFlavour(absl::string_view keras_version);

// "keras 3.4.1 .keras: Sequential LSTM > Dense", for ModelInfo::format.
std::string KerasSummary(absl::string_view keras_version, absl::string_view container,
                         const KerasModelSpec& spec);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_KERAS_MODEL_H_
