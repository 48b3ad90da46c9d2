// A folder of models, each in numbered versions: ROOT/<name>/<version>/, where
// <version> is a positive decimal integer and each version folder holds a
// model LoadModel accepts (model.onnx, or config.json + model.safetensors).
#ifndef RNNSERVE_MODEL_IMPORTERS_MODEL_REPOSITORY_H_
#define RNNSERVE_MODEL_IMPORTERS_MODEL_REPOSITORY_H_

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/importers/model_loader.h"

namespace rnnserve::model {

// A name or version folder that did not load. `version` is the folder name
// as found ("abc", "0"), empty when the problem is the name folder itself.
struct LoadProblem {
  std::string name;
  std::string version;
  absl::Status status;
};

// One loaded version of a model; cheap to copy (LoadedModel shares its stack).
struct ModelVersion {
  std::string name;
  int version = 0;
  LoadedModel model;
};

// Every model of a repository folder, loaded at once. A broken version is a
// LoadProblem, not a failure: the other versions and models still load, and a
// name with no loadable version is absent from List() and Find().
// Hidden entries (".*") and plain files are ignored at both levels.
// Immutable after Load(), so one instance serves every thread without locks
// (hot reload, a later issue, will swap whole instances).
class ModelRepository {
 public:
  // NOT_FOUND if `root` is missing or not a directory; the errno's code if it
  // cannot be listed. Names must match [A-Za-z0-9_.-]+, versions be integers
  // in [1, INT_MAX]; anything else is a problem.
  static absl::StatusOr<ModelRepository> Load(const std::string& root);

  // Says which versions a caller already has, so Load() skips them (neither
  // loaded nor reported): a server picking up versions added since. With
  // `newest_versions` > 0, each name loads its versions newest first until
  // that many serve (loaded, or skipped: the caller has them); the older
  // folders are neither loaded nor reported, and a version that fails to
  // load does not count, so an older one that loads takes its place.
  using Skip = std::function<bool(const std::string& name, int version)>;
  static absl::StatusOr<ModelRepository> Load(const std::string& root, const Skip& skip,
                                              const LoadOptions& options = {},
                                              int newest_versions = 0);

  // The repository of the one model folder `model_dir` (ROOT/<name>), named
  // after its last path component. Same rules and codes as Load().
  static absl::StatusOr<ModelRepository> LoadModelFolder(const std::string& model_dir,
                                                         const LoadOptions& options = {});

  const std::string& root() const { return root_; }
  const std::vector<LoadProblem>& problems() const { return problems_; }

  // Every loaded version, sorted by name, then version.
  std::vector<ModelVersion> List() const;

  // The loaded versions of `name`, ascending; empty for an unknown name.
  std::vector<int> Versions(absl::string_view name) const;

  // Whether `version` of `name` had its folder in the repository when it was
  // read, whether that version loaded, was skipped or failed (or an entry of
  // that name could not be stat'ed): a server retires the versions it serves
  // whose folder left.
  bool Holds(const std::string& name, int version) const;
  // Whether the folder of `name` was there but could not be listed (or
  // stat'ed): what it holds is unknown, so a server leaves its versions as
  // they are.
  bool Unlisted(const std::string& name) const;
  // Whether the repository held no model folder at all (an empty or
  // unmounted volume, likelier than an operator removing every model).
  bool HoldsNothing() const { return version_folders_.empty() && unlisted_names_.empty(); }

  // `version` of `name`, or its newest loaded version. NOT_FOUND naming the
  // available models (or the name's available versions) and, if the asked
  // one failed to load, why.
  absl::StatusOr<ModelVersion> Find(absl::string_view name,
                                    std::optional<int> version = std::nullopt) const;

 private:
  using VersionMap = std::map<int, LoadedModel>;

  explicit ModelRepository(std::string root, Skip skip = nullptr, LoadOptions options = {})
      : root_(std::move(root)), skip_(std::move(skip)), options_(std::move(options)) {}
  void LoadName(const std::string& name, const std::string& dir);
  // The version if it serves now: loaded, or skipped (the caller has it).
  // Neither loads nor reports a valid version unless `wanted`.
  std::optional<int> LoadVersion(const std::string& name, const std::string& version_text,
                                 const std::string& dir, VersionMap& versions, bool wanted);
  std::string ProblemNote(absl::string_view name, absl::string_view version) const;

  std::string root_;
  Skip skip_;  // may be empty
  LoadOptions options_;                       // every version's
  int newest_versions_ = 0;                   // 0: every version
  std::map<std::string, VersionMap> models_;  // only names with a loaded version
  std::vector<LoadProblem> problems_;
  std::set<std::pair<std::string, int>> version_folders_;  // every one found
  std::set<std::string> unlisted_names_;                   // folders not listed
};

// The integer a version folder is named after: digits only, 1 to INT_MAX.
// INVALID_ARGUMENT saying so otherwise.
absl::StatusOr<int> ParseModelVersion(absl::string_view text);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_MODEL_REPOSITORY_H_
