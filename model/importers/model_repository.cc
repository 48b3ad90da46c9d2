#include "model/importers/model_repository.h"

#include <algorithm>
#include <climits>
#include <filesystem>
#include <iterator>
#include <system_error>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/file.h"
#include "util/status_macros.h"

namespace rnnserve::model {
namespace {

namespace fs = std::filesystem;

absl::Status CheckDirectory(const std::string& path, absl::string_view what) {
  std::error_code error;
  if (fs::is_directory(path, error)) return absl::OkStatus();
  return absl::NotFoundError(absl::StrCat(
      what, " ", path, fs::exists(path, error) ? " is not a directory" : " does not exist"));
}

bool AllDigits(absl::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsValidName(absl::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
  });
}

template <typename Map>
std::string JoinKeys(const Map& map) {
  if (map.empty()) return "none";
  std::vector<std::string> keys;
  for (const auto& [key, value] : map) keys.push_back(absl::StrCat(key));
  return absl::StrJoin(keys, ", ");
}

}  // namespace

absl::StatusOr<int> ParseModelVersion(absl::string_view text) {
  int value = 0;
  if (!AllDigits(text) || !absl::SimpleAtoi(text, &value) || value < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "version folder \"", text, "\" is not a positive integer (want 1 to ", INT_MAX, ")"));
  }
  return value;
}

absl::StatusOr<ModelRepository> ModelRepository::Load(const std::string& root) {
  return Load(root, nullptr);
}

absl::StatusOr<ModelRepository> ModelRepository::Load(const std::string& root, const Skip& skip,
                                                      const LoadOptions& options,
                                                      int newest_versions) {
  RNN_RETURN_IF_ERROR(CheckDirectory(root, "model repository"));
  RNN_ASSIGN_OR_RETURN(const std::vector<util::DirectoryEntry> entries,
                       util::ListVisibleEntries(root));
  ModelRepository repository(root, skip, options);
  repository.newest_versions_ = std::max(0, newest_versions);
  for (const util::DirectoryEntry& entry : entries) {
    if (entry.is_directory) repository.LoadName(entry.name, (fs::path(root) / entry.name).string());
    // Perhaps a model folder (an I/O error, a symlink whose target is away):
    // what it holds is unknown.
    if (entry.unknown) repository.unlisted_names_.insert(entry.name);
  }
  return repository;
}

absl::StatusOr<ModelRepository> ModelRepository::LoadModelFolder(const std::string& model_dir,
                                                                 const LoadOptions& options) {
  RNN_RETURN_IF_ERROR(CheckDirectory(model_dir, "model folder"));
  // Made absolute so "." and "models/lstm/" are named after the folder too.
  std::error_code error;
  fs::path path = fs::absolute(model_dir, error).lexically_normal();
  if (!path.has_filename()) path = path.parent_path();
  ModelRepository repository(path.parent_path().string(), nullptr, options);
  repository.LoadName(path.filename().string(), model_dir);
  return repository;
}

void ModelRepository::LoadName(const std::string& name, const std::string& dir) {
  if (!IsValidName(name)) {
    problems_.push_back({name, "", absl::InvalidArgumentError(absl::StrCat(
                                       "model name \"", name,
                                       "\" has characters outside [A-Za-z0-9_.-]"))});
    return;
  }
  const absl::StatusOr<std::vector<util::DirectoryEntry>> entries = util::ListVisibleEntries(dir);
  if (!entries.ok()) {
    problems_.push_back({name, "", entries.status()});
    unlisted_names_.insert(name);
    return;
  }
  std::vector<std::string> folders;
  for (const util::DirectoryEntry& entry : *entries) {
    if (entry.is_directory) folders.push_back(entry.name);
    if (!entry.unknown) continue;
    // Perhaps a version folder: held, though not loaded.
    if (const absl::StatusOr<int> version = ParseModelVersion(entry.name); version.ok()) {
      version_folders_.emplace(name, *version);
    }
  }
  if (newest_versions_ > 0) {
    // Newest first, so loading stops once enough serve; stable, so that of
    // "7" and "007" the first in name order still wins. Numbered once each
    // (0: not a version; LoadVersion reports it).
    std::vector<std::pair<int, std::string>> numbered;
    for (std::string& folder : folders) {
      const absl::StatusOr<int> version = ParseModelVersion(folder);
      numbered.emplace_back(version.ok() ? *version : 0, std::move(folder));
    }
    std::stable_sort(numbered.begin(), numbered.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t i = 0; i < folders.size(); ++i) folders[i] = std::move(numbered[i].second);
  }
  VersionMap versions;
  std::set<int> serving;  // loaded, or skipped: the caller has them
  for (const std::string& folder : folders) {
    const bool wanted =
        newest_versions_ == 0 || static_cast<int>(serving.size()) < newest_versions_;
    const std::optional<int> serves =
        LoadVersion(name, folder, (fs::path(dir) / folder).string(), versions, wanted);
    if (serves.has_value()) serving.insert(*serves);
  }
  if (folders.empty()) {
    problems_.push_back({name, "", absl::NotFoundError(absl::StrCat(
                                       dir, " has no version folders; want ", dir,
                                       "/1/ holding the model files"))});
  }
  if (!versions.empty()) models_.emplace(name, std::move(versions));
}

std::optional<int> ModelRepository::LoadVersion(const std::string& name,
                                                const std::string& version_text,
                                                const std::string& dir, VersionMap& versions,
                                                bool wanted) {
  const absl::StatusOr<int> version = ParseModelVersion(version_text);
  if (!version.ok()) {
    problems_.push_back({name, version_text, version.status()});
    return std::nullopt;
  }
  version_folders_.emplace(name, *version);
  if (skip_ && skip_(name, *version)) return *version;
  if (!wanted) return std::nullopt;
  // "7" and "007" are both version 7; the first one (in name order) wins.
  if (versions.count(*version) > 0) {
    problems_.push_back({name, version_text, absl::AlreadyExistsError(absl::StrCat(
                                                 "version ", *version,
                                                 " is already loaded from another folder"))});
    return std::nullopt;
  }
  absl::StatusOr<LoadedModel> model = LoadModel(dir, options_);
  if (!model.ok()) {
    problems_.push_back({name, version_text, model.status()});
    return std::nullopt;
  }
  versions.emplace(*version, *std::move(model));
  return *version;
}

std::vector<ModelVersion> ModelRepository::List() const {
  std::vector<ModelVersion> list;
  for (const auto& [name, versions] : models_) {
    for (const auto& [version, model] : versions) list.push_back({name, version, model});
  }
  return list;
}

std::vector<int> ModelRepository::Versions(absl::string_view name) const {
  std::vector<int> versions;
  const auto it = models_.find(std::string(name));
  if (it == models_.end()) return versions;
  for (const auto& [version, model] : it->second) versions.push_back(version);
  return versions;
}

absl::StatusOr<ModelVersion> ModelRepository::Find(absl::string_view name,
                                                   std::optional<int> version) const {
  const auto it = models_.find(std::string(name));
  if (it == models_.end()) {
    return absl::NotFoundError(absl::StrCat("model \"", name, "\" not found",
                                            ProblemNote(name, ""),
                                            "; available models: ", JoinKeys(models_)));
  }
  const VersionMap& versions = it->second;
  const auto found = version.has_value() ? versions.find(*version) : std::prev(versions.end());
  if (found == versions.end()) {
    return absl::NotFoundError(absl::StrCat(
        "model \"", name, "\" has no version ", *version,
        ProblemNote(name, absl::StrCat(*version)), "; available versions: ", JoinKeys(versions)));
  }
  return ModelVersion{it->first, found->first, found->second};
}

bool ModelRepository::Holds(const std::string& name, int version) const {
  return version_folders_.count({name, version}) > 0;
}

bool ModelRepository::Unlisted(const std::string& name) const {
  return unlisted_names_.count(name) > 0;
}

// Why `name` (any version when `version` is empty) failed to load, if it did.
std::string ModelRepository::ProblemNote(absl::string_view name,
                                         absl::string_view version) const {
  for (const LoadProblem& problem : problems_) {
    if (problem.name != name || (!version.empty() && problem.version != version)) continue;
    const std::string where =
        problem.version.empty() ? problem.name : absl::StrCat(problem.name, "/", problem.version);
    return absl::StrCat(" (", where, " failed to load: ", problem.status.message(), ")");
  }
  return "";
}

}  // namespace rnnserve::model
