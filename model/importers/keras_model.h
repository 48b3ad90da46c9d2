// Imports a model saved by Keras (../shared/KERAS_FORMATS.md) into a
// LayerStack: a Keras 3 .keras archive (config.json, metadata.json,
// model.weights.h5) or a legacy full-model HDF5 file (model.save("m.h5"),
// Keras 2.1 to 3.x), told apart by their magic bytes, never by the file name
// (a legacy HDF5 file saved as "x.keras" loads as what it is).
#ifndef RNNSERVE_MODEL_IMPORTERS_KERAS_MODEL_H_
#define RNNSERVE_MODEL_IMPORTERS_KERAS_MODEL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/engine/layer_stack.h"

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

// True if `bytes` starts like a file ImportKerasModel() reads (HDF5 or zip).
bool LooksLikeKerasFile(absl::string_view bytes);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_KERAS_MODEL_H_
