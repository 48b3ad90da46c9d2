#include "model/importers/model_path.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/file.h"

namespace rnnserve::model {
namespace {

namespace fs = std::filesystem;

// What LoadModel() reads, in its order. Either file of the native pair names
// the folder.
constexpr absl::string_view kModelFiles[] = {
    "model.onnx",         // ONNX
    "config.json",        // native: the architecture
    "model.safetensors",  // native: the weights
    "model.keras",        // Keras 3 archive (or a legacy HDF5 file so named)
    "model.h5",           // legacy Keras full-model HDF5
    "model.json",         // TensorFlow.js layers model (+ the shards it names)
};

bool AllDigits(absl::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsModelFileName(absl::string_view name) {
  return std::find(std::begin(kModelFiles), std::end(kModelFiles), name) != std::end(kModelFiles);
}

// Keras users name their files freely (lstm_model.keras, bilstm.h5): any
// such file is a model by itself.
bool IsKerasFileName(absl::string_view name) {
  return absl::EndsWith(name, ".keras") || absl::EndsWith(name, ".h5") ||
         absl::EndsWith(name, ".hdf5");
}

}  // namespace

absl::Span<const absl::string_view> ModelFiles() { return kModelFiles; }

bool HoldsModelFiles(const std::string& dir) {
  std::error_code error;
  return std::any_of(std::begin(kModelFiles), std::end(kModelFiles), [&](absl::string_view file) {
    return fs::exists(fs::path(dir) / std::string(file), error);
  });
}

ModelPathKind ClassifyModelPath(const std::string& path) {
  std::error_code error;
  if (!fs::is_directory(path, error) || HoldsModelFiles(path)) return ModelPathKind::kVersion;
  const absl::StatusOr<std::vector<util::DirectoryEntry>> entries = util::ListVisibleEntries(path);
  if (!entries.ok()) return ModelPathKind::kRepository;  // Loading it will say why.
  // All-digit subfolders only, or one holding a model: ROOT/<name> (maybe
  // with a badly named version, which loading it will report).
  bool all_versions = true;
  bool any_version = false;
  for (const util::DirectoryEntry& entry : *entries) {
    if (!entry.is_directory) continue;
    const bool version = AllDigits(entry.name);
    if (version && HoldsModelFiles((fs::path(path) / entry.name).string())) {
      return ModelPathKind::kModel;
    }
    all_versions = all_versions && version;
    any_version = any_version || version;
  }
  return all_versions && any_version ? ModelPathKind::kModel : ModelPathKind::kRepository;
}

std::string AcceptedModelPaths() {
  const absl::Span<const absl::string_view> files = ModelFiles();
  return absl::StrCat("a ", absl::StrJoin(files.first(files.size() - 1), ", "), " or ",
                      files.back(),
                      " file, a version folder holding one, a Keras file of any name "
                      "(*.keras, *.h5), or a model folder of versions 1/, 2/, ...");
}

absl::StatusOr<ModelPath> ResolveModelPath(const std::string& path) {
  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (status.type() == fs::file_type::not_found) {
    return absl::NotFoundError(absl::StrCat(path, " does not exist; want ", AcceptedModelPaths()));
  }
  if (error) {
    return absl::ErrnoToStatus(error.value(), absl::StrCat("cannot stat ", path));
  }
  if (fs::is_directory(status)) return ModelPath{ClassifyModelPath(path), path};
  const fs::path file(path);
  if (IsKerasFileName(file.filename().string())) return ModelPath{ModelPathKind::kVersion, path};
  if (!IsModelFileName(file.filename().string())) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a model file; want ", AcceptedModelPaths(),
                     " (model files are recognised by these exact names)"));
  }
  // "model.onnx" alone has an empty parent: the current folder.
  const fs::path folder = file.has_parent_path() ? file.parent_path() : fs::path(".");
  return ModelPath{ModelPathKind::kVersion, folder.string()};
}

}  // namespace rnnserve::model
