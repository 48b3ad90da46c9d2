// Finds each Keras layer's weights in the two HDF5 layouts Keras writes
// (../shared/KERAS_FORMATS.md): the legacy full-model .h5 (Keras 2 and Keras
// 3's legacy h5: /model_weights/<layer>, read through the `weight_names`
// attribute in its order, names never rebuilt) and Keras 3's model.weights.h5
// (layers/<class>[_k]/[cell/]vars/<i>, numbered by position). Optimizer
// weights and empty groups are never read.
#ifndef RNNSERVE_MODEL_IMPORTERS_KERAS_WEIGHTS_H_
#define RNNSERVE_MODEL_IMPORTERS_KERAS_WEIGHTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/engine/tensor.h"
#include "model/importers/hdf5_file.h"
#include "model/importers/keras_config.h"

namespace rnnserve::model {

// A weight with the HDF5 path it came from, for messages.
struct KerasWeight {
  std::string path;
  Tensor tensor;
};

enum class KerasWeightLayout {
  kLegacyH5,      // model.save("m.h5"): weights under /model_weights
  kKeras3Layers,  // model.weights.h5 inside a .keras archive
};

// The weights of `layer` in Keras order: per direction (forward first)
// kernel, recurrent_kernel and, with use_bias, bias; Dense kernel and bias;
// Embedding embeddings. INVALID_ARGUMENT naming the file, the HDF5 path and
// the problem when a weight is missing, extra, misnamed, not finite, or the
// layer has none (a model saved before it was built).
absl::StatusOr<std::vector<KerasWeight>> ReadKerasLayerWeights(const Hdf5File& file,
                                                               KerasWeightLayout layout,
                                                               const KerasLayer& layer);

// OK when `names` (a layer's weight names in file order, e.g. a legacy
// weight_names attribute or a TF.js manifest's) end in the suffixes
// ExpectedKerasWeightNames() lists, Bidirectional forward ones first; else
// INVALID_ARGUMENT naming the layer, `where` and the problem. An empty list is
// a model saved before it was built.
absl::Status CheckKerasWeightNames(const KerasLayer& layer, const std::vector<std::string>& names,
                                   absl::string_view where);

// The weight names a layer has, in order ("kernel", "recurrent_kernel",
// "bias", ...), for checks and messages.
std::vector<std::string> ExpectedKerasWeightNames(const KerasLayer& layer);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_KERAS_WEIGHTS_H_
