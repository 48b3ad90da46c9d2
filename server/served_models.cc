#include "server/served_models.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/status_macros.h"

namespace rnnserve::server {

absl::StatusOr<std::unique_ptr<ServedModels>> ServedModels::Load(const std::string& root,
                                                                 int64_t max_sessions,
                                                                 ServerMetrics* metrics,
                                                                 const model::LoadOptions& load,
                                                                 int newest_versions) {
  RNN_ASSIGN_OR_RETURN(const model::ModelRepository repository,
                       model::ModelRepository::Load(root, nullptr, load, newest_versions));
  std::unique_ptr<ServedModels> served(new ServedModels(load, newest_versions));
  served->problems_ = repository.problems();
  RNN_ASSIGN_OR_RETURN(const std::vector<ServedModelPtr> loaded,
                       served->Serve(repository.List(), max_sessions, metrics));
  if (loaded.empty()) {
    std::vector<std::string> reasons;
    for (const model::LoadProblem& p : served->problems_) {
      reasons.push_back(absl::StrCat(p.name, "/", p.version, ": ", p.status.message()));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "no model in ", root, " loads", reasons.empty() ? "" : ": ",
        absl::StrJoin(reasons, "; ")));
  }
  return served;
}

absl::StatusOr<std::vector<ServedModelPtr>> ServedModels::Serve(
    std::vector<model::ModelVersion> versions, int64_t max_sessions, ServerMetrics* metrics) {
  std::vector<ServedModelPtr> served;
  for (model::ModelVersion& version : versions) {
    RNN_ASSIGN_OR_RETURN(
        std::unique_ptr<StatePool> pool,
        StatePool::Create({.slot_floats = std::max<int64_t>(1, version.model.stack->state_size()),
                           .max_slots = max_sessions}));
    auto model = std::make_shared<ServedModel>(
        ServedModel{version.name, version.version, std::move(version.model), std::move(pool)});
    if (metrics != nullptr) {
      model->metrics = &metrics->ForModel(model->name, model->version);
      const model::ModelInfo& info = model->loaded.info;
      metrics->SetModelInfo({.model = model->name,
                             .version = model->version,
                             .cell = info.cell,
                             .format = info.format,
                             .fingerprint = info.fingerprint,
                             .load_seconds = info.load_seconds,
                             .weights = model::WeightPrecisionName(info.weights),
                             .weight_bytes = info.weight_bytes});
    }
    absl::MutexLock lock(&mu_);
    Key key{model->name, model->version};
    // Unless a concurrent reload served or retired it meanwhile.
    if (retired_.count(key) > 0) continue;
    const auto [it, inserted] = models_.try_emplace(std::move(key), std::move(model));
    if (inserted) served.push_back(it->second);
  }
  return served;
}

absl::StatusOr<ServedModels::Reloaded> ServedModels::Reload(const std::string& root,
                                                            int64_t max_sessions,
                                                            ServerMetrics* metrics) {
  RNN_ASSIGN_OR_RETURN(const model::ModelRepository repository,
                       model::ModelRepository::Load(
                           root,
                           [this](const std::string& name, int version) {
                             absl::ReaderMutexLock lock(&mu_);
                             const Key key{name, version};
                             return models_.count(key) > 0 || retired_.count(key) > 0;
                           },
                           load_, newest_versions_));
  if (repository.HoldsNothing() && Serving()) {
    return absl::FailedPreconditionError(
        absl::StrCat(root, " holds no model version (an empty or unmounted volume?)"));
  }
  Reloaded reloaded;
  reloaded.problems = repository.problems();
  RNN_ASSIGN_OR_RETURN(reloaded.added, Serve(repository.List(), max_sessions, metrics));
  RetireAndRevive(repository, reloaded);
  return reloaded;
}

void ServedModels::RetireAndRevive(const model::ModelRepository& repository, Reloaded& reloaded) {
  absl::MutexLock lock(&mu_);
  // Served from now on: each loaded version whose folder is there, only the
  // newest newest_versions_ of a name when that is set.
  // A name whose folder could not be listed keeps its versions as they are.
  std::map<std::string, std::vector<int>> present;
  for (const std::map<Key, ServedModelPtr>* loaded : {&models_, &retired_}) {
    for (const auto& [key, model] : *loaded) {
      if (repository.Holds(key.first, key.second)) present[key.first].push_back(key.second);
    }
  }
  std::set<Key> wanted;
  for (auto& [name, versions] : present) {
    std::sort(versions.rbegin(), versions.rend());
    if (newest_versions_ > 0 && static_cast<int>(versions.size()) > newest_versions_) {
      versions.resize(newest_versions_);
    }
    for (const int version : versions) wanted.emplace(name, version);
  }
  for (auto it = models_.begin(); it != models_.end();) {
    if (wanted.count(it->first) > 0 || repository.Unlisted(it->first.first)) {
      ++it;
      continue;
    }
    reloaded.retired.push_back(it->second);
    retired_.insert(models_.extract(it++));
  }
  for (auto it = retired_.begin(); it != retired_.end();) {
    if (wanted.count(it->first) == 0 || repository.Unlisted(it->first.first)) {
      ++it;
      continue;
    }
    reloaded.added.push_back(it->second);
    quiet_.erase(it->first);
    models_.insert(retired_.extract(it++));
  }
}

std::vector<ServedModelPtr> ServedModels::TakeUnused(absl::Time now) {
  std::vector<ServedModelPtr> unused;
  absl::MutexLock lock(&mu_);
  for (auto it = retired_.begin(); it != retired_.end();) {
    const StatePool& pool = *it->second->pool;
    // Only this map can hand the version out, so once it holds the last
    // pointer no new session can draw from the pool: live() stays 0.
    if (it->second.use_count() > 1 || pool.live() > 0) {
      quiet_.erase(it->first);
      ++it;
      continue;
    }
    const auto [quiet, first_look] = quiet_.try_emplace(it->first, Quiet{now, pool.releases()});
    if (!first_look && quiet->second.releases != pool.releases()) {
      quiet->second = {now, pool.releases()};  // a session came and went
    }
    if (now - quiet->second.since < kFreeGrace) {
      ++it;
      continue;
    }
    quiet_.erase(quiet);
    unused.push_back(std::move(it->second));
    it = retired_.erase(it);
  }
  return unused;
}

int64_t ServedModels::retired() const {
  absl::ReaderMutexLock lock(&mu_);
  return static_cast<int64_t>(retired_.size());
}

absl::StatusOr<ServedModelPtr> ServedModels::Find(absl::string_view name, int version) const {
  absl::ReaderMutexLock lock(&mu_);
  return FindLocked(name, version, /*retired_too=*/false);
}

absl::StatusOr<ServedModelPtr> ServedModels::FindForSession(absl::string_view name,
                                                            int version) const {
  absl::ReaderMutexLock lock(&mu_);
  return FindLocked(name, version, /*retired_too=*/true);
}

absl::StatusOr<ServedModelPtr> ServedModels::FindLocked(absl::string_view name, int version,
                                                        bool retired_too) const {
  const Key key{std::string(name), version};
  if (retired_too) {
    if (const auto it = retired_.find(key); it != retired_.end()) return it->second;
  }
  const std::vector<int> versions = VersionsLocked(name);
  if (versions.empty()) {
    const auto retired_version = retired_.lower_bound({std::string(name), 0});
    const bool retired = retired_version != retired_.end() && retired_version->first.first == name;
    std::vector<std::string> names;
    for (const auto& [served, model] : models_) {
      if (names.empty() || names.back() != served.first) names.push_back(served.first);
    }
    return absl::NotFoundError(
        absl::StrCat("model \"", name, "\" is not served",
                     retired ? " (retired: its folder left the repository)" : "",
                     "; serving: ", absl::StrJoin(names, ", ")));
  }
  const int wanted = version == 0 ? versions.back() : version;
  const auto it = models_.find({std::string(name), wanted});
  if (it == models_.end()) {
    const bool retired = retired_.count(key) > 0;
    return absl::NotFoundError(absl::StrCat(
        "model \"", name, "\" has no version ", version,
        retired ? " (retired: its folder left the repository or newer versions replaced it; "
                  "only its live sessions go on)"
                : "",
        "; versions: ", absl::StrJoin(versions, ", ")));
  }
  return it->second;
}

std::vector<ServedModelPtr> ServedModels::List() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<ServedModelPtr> list;
  for (const auto& [key, model] : models_) list.push_back(model);
  return list;
}

bool ServedModels::Serving() const {
  absl::ReaderMutexLock lock(&mu_);
  return !models_.empty();
}

std::vector<int> ServedModels::Versions(absl::string_view name) const {
  absl::ReaderMutexLock lock(&mu_);
  return VersionsLocked(name);
}

std::vector<int> ServedModels::VersionsLocked(absl::string_view name) const {
  std::vector<int> versions;
  for (auto it = models_.lower_bound({std::string(name), 0});
       it != models_.end() && it->first.first == name; ++it) {
    versions.push_back(it->first.second);
  }
  return versions;
}

}  // namespace rnnserve::server
