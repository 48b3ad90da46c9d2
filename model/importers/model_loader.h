// Loads one model version from disk into an immutable, shareable LayerStack.
// A model folder holds model.onnx, a Keras model.keras or model.h5, a TF.js
// model.json with its shards, or
// config.json + model.safetensors (README "Native model format").
// Thread-safe: no shared state (libhdf5's calls are serialised inside).
#ifndef RNNSERVE_MODEL_IMPORTERS_MODEL_LOADER_H_
#define RNNSERVE_MODEL_IMPORTERS_MODEL_LOADER_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/engine/layer_stack.h"
#include "model/importers/config.h"

namespace rnnserve::model {

// What a loaded model is, for inspect and (later) the API.
struct ModelInfo {
  std::string path;
  // "native (pytorch naming)", "native (keras naming)", "onnx (...)",
  // "keras 3.4.1 .keras: Sequential LSTM > Dense"
  std::string format;
  std::string cell;  // "lstm", "gru", "rnn", "jordan"; "lstm+gru" for a Keras mix
  int num_layers = 0;
  int hidden_size = 0;
  int proj_size = 0;
  bool bidirectional = false;
  int64_t parameter_count = 0;
  std::string fingerprint;  // Fingerprint() of the files that define the model
  double load_seconds = 0;  // reading, parsing and converting, wall time
  // How the weight matrices are packed (config.json "weights", or
  // LoadOptions::weights) and the bytes of those packed matrices: what one
  // step of every session streams.
  WeightPrecision weights = WeightPrecision::kFp32;
  int64_t weight_bytes = 0;
};

struct LoadOptions {
  // Packs every model's matrices at this precision, whatever its config
  // says (the server's --weights); unset: the model's own (fp32 unless a
  // native config.json says otherwise).
  std::optional<WeightPrecision> weights;
};

struct LoadedModel {
  std::shared_ptr<const LayerStack> stack;
  ModelInfo info;
};

// Loads the model folder `path`: model.onnx if present, else the native
// files if config.json is, else model.keras, model.h5 (Keras,
// keras_model.h) or model.json (TF.js, tfjs_model.h); or `path` itself when
// it is a file (a Keras file of any name, or a TF.js *.json, as the tools
// take them). NOT_FOUND when none is there; INVALID_ARGUMENT with the file
// and the problem for anything malformed.
absl::StatusOr<LoadedModel> LoadModel(const std::string& path, const LoadOptions& options = {});

// What LoadModel() runs once the files are read, for bytes from elsewhere
// (the fuzzers, fuzz/). `path` names the model folder in messages and in
// ModelInfo; nothing is read from it, so an ONNX model whose weights are in
// external data files is refused (LoadModel reads them). Codes as
// LoadModel().
absl::StatusOr<LoadedModel> LoadOnnxModel(absl::string_view onnx_bytes,
                                          const std::string& path);
// `file` is the Keras file's path: it names the model in messages and its
// file name is part of the fingerprint.
absl::StatusOr<LoadedModel> LoadKerasModel(absl::string_view bytes, const std::string& file);
absl::StatusOr<LoadedModel> LoadNativeModel(absl::string_view config_json,
                                            absl::string_view safetensors,
                                            const std::string& path);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_MODEL_LOADER_H_
