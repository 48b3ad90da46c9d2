// What a path given to the tools (`rnnserve-model inspect PATH`, `run
// --model PATH`) names: a model file, a model version folder, a model folder
// of versions or a repository of models. The repository layout itself is
// ROOT/<name>/<version>/ (model_repository.h); this only says where in it, or
// beside which file, a user pointed.
#ifndef RNNSERVE_MODEL_IMPORTERS_MODEL_PATH_H_
#define RNNSERVE_MODEL_IMPORTERS_MODEL_PATH_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace rnnserve::model {

// The files whose presence makes a folder a model version, in the order
// LoadModel() looks for them: model.onnx, the native pair config.json +
// model.safetensors, then Keras' model.keras, model.h5 and TF.js' model.json
// (a folder keeping its original Keras file beside native files it was
// converted to still serves the native files). A new format is one more entry
// in model_path.cc, and the tools take its files at once.
absl::Span<const absl::string_view> ModelFiles();

// True if folder `dir` holds any of ModelFiles().
bool HoldsModelFiles(const std::string& dir);

// What a folder given on the command line is, judged by its contents.
enum class ModelPathKind {
  kVersion,     // holds one of ModelFiles(); or is no folder
  kModel,       // ROOT/<name>: its subfolders all-digit, or one all-digit with a model
  kRepository,  // anything else
};
ModelPathKind ClassifyModelPath(const std::string& path);

// A command-line path resolved to the folder to load.
struct ModelPath {
  ModelPathKind kind = ModelPathKind::kVersion;
  // A version folder, a model folder or a repository; or, for kVersion, a
  // Keras file itself (LoadModel() takes either).
  std::string folder;
};

// A model file (one of ModelFiles(), e.g. path/to/model.onnx or config.json)
// stands for the version folder holding it; a Keras file of any name (*.keras,
// *.h5, *.hdf5) for itself; a folder is classified by
// ClassifyModelPath(). NOT_FOUND if `path` does not exist, INVALID_ARGUMENT
// for any other file; both messages say what is accepted.
absl::StatusOr<ModelPath> ResolveModelPath(const std::string& path);

// "a model.onnx, config.json or model.safetensors file, a version folder
// holding one, or a model folder of versions 1/, 2/, ...": what
// ResolveModelPath() accepts, for messages.
std::string AcceptedModelPaths();

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_MODEL_PATH_H_
