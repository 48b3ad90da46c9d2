#include "server/served_models.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "util/status_macros.h"

namespace rnnserve::server {

absl::StatusOr<std::unique_ptr<ServedModels>> ServedModels::Load(const std::string& root,
                                                                 int64_t max_sessions,
                                                                 ServerMetrics* metrics,
                                                                 const model::LoadOptions& load) {
  RNN_ASSIGN_OR_RETURN(const model::ModelRepository repository,
                       model::ModelRepository::Load(root, nullptr, load));
  std::unique_ptr<ServedModels> served(new ServedModels(load));
  served->problems_ = repository.problems();
  RNN_ASSIGN_OR_RETURN(const std::vector<const ServedModel*> loaded,
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

absl::StatusOr<std::vector<const ServedModel*>> ServedModels::Serve(
    std::vector<model::ModelVersion> versions, int64_t max_sessions, ServerMetrics* metrics) {
  std::vector<const ServedModel*> served;
  for (model::ModelVersion& version : versions) {
    RNN_ASSIGN_OR_RETURN(
        std::unique_ptr<StatePool> pool,
        StatePool::Create({.slot_floats = std::max<int64_t>(1, version.model.stack->state_size()),
                           .max_slots = max_sessions}));
    ServedModel model{version.name, version.version, std::move(version.model), std::move(pool)};
    if (metrics != nullptr) {
      model.metrics = &metrics->ForModel(model.name, model.version);
      const model::ModelInfo& info = model.loaded.info;
      metrics->SetModelInfo({.model = model.name,
                             .version = model.version,
                             .cell = info.cell,
                             .format = info.format,
                             .fingerprint = info.fingerprint,
                             .load_seconds = info.load_seconds,
                             .weights = model::WeightPrecisionName(info.weights),
                             .weight_bytes = info.weight_bytes});
    }
    absl::MutexLock lock(&mu_);
    const auto [it, inserted] =
        models_.try_emplace({model.name, model.version}, std::move(model));
    if (inserted) served.push_back(&it->second);  // else a concurrent reload won
  }
  return served;
}

absl::StatusOr<ServedModels::Added> ServedModels::AddNewVersions(const std::string& root,
                                                                 int64_t max_sessions,
                                                                 ServerMetrics* metrics) {
  RNN_ASSIGN_OR_RETURN(const model::ModelRepository repository,
                       model::ModelRepository::Load(
                           root,
                           [this](const std::string& name, int version) {
                             absl::ReaderMutexLock lock(&mu_);
                             return models_.count({name, version}) > 0;
                           },
                           load_));
  Added added;
  added.problems = repository.problems();
  RNN_ASSIGN_OR_RETURN(added.models, Serve(repository.List(), max_sessions, metrics));
  return added;
}

absl::StatusOr<const ServedModel*> ServedModels::Find(absl::string_view name,
                                                      int version) const {
  absl::ReaderMutexLock lock(&mu_);
  const std::vector<int> versions = VersionsLocked(name);
  if (versions.empty()) {
    std::vector<std::string> names;
    for (const auto& [key, model] : models_) {
      if (names.empty() || names.back() != key.first) names.push_back(key.first);
    }
    return absl::NotFoundError(absl::StrCat("model \"", name, "\" is not served; serving: ",
                                            absl::StrJoin(names, ", ")));
  }
  const int wanted = version == 0 ? versions.back() : version;
  const auto it = models_.find({std::string(name), wanted});
  if (it == models_.end()) {
    return absl::NotFoundError(absl::StrCat("model \"", name, "\" has no version ", version,
                                            "; versions: ", absl::StrJoin(versions, ", ")));
  }
  return &it->second;
}

std::vector<const ServedModel*> ServedModels::List() const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<const ServedModel*> list;
  for (const auto& [key, model] : models_) list.push_back(&model);
  return list;
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
