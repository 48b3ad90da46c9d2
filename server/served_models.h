// The models a server serves: the repository's loaded versions, each with the
// pool its sessions' states live in. Immutable after Load() (hot reload is
// issue 8), so every thread reads it without locks.
#ifndef RNNSERVE_SERVER_SERVED_MODELS_H_
#define RNNSERVE_SERVER_SERVED_MODELS_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/model_repository.h"
#include "server/metrics.h"
#include "server/session_store.h"
#include "server/state_pool.h"

namespace rnnserve::server {

struct ServedModel {
  std::string name;
  int version = 0;
  model::LoadedModel loaded;
  std::unique_ptr<StatePool> pool;
  ModelMetrics* metrics = nullptr;  // Not owned.

  ModelRef ref() const { return {name, version, loaded.stack, pool.get(), metrics}; }
};

class ServedModels {
 public:
  // Loads repository `root`; a pool per version holds up to `max_sessions`
  // states; each version's metrics come from `metrics` (not owned).
  // NOT_FOUND for a missing root, FAILED_PRECONDITION when no model loads
  // (the problems are in the message).
  static absl::StatusOr<std::unique_ptr<ServedModels>> Load(const std::string& root,
                                                            int64_t max_sessions,
                                                            ServerMetrics* metrics = nullptr);

  // The newest version when `version` is 0. NOT_FOUND says what exists.
  absl::StatusOr<const ServedModel*> Find(absl::string_view name, int version) const;
  // Sorted by name, then version.
  std::vector<const ServedModel*> List() const;
  // Every loaded version of `name`, ascending.
  std::vector<int> Versions(absl::string_view name) const;
  const std::vector<model::LoadProblem>& problems() const { return problems_; }

 private:
  ServedModels() = default;

  std::map<std::pair<std::string, int>, ServedModel> models_;
  std::vector<model::LoadProblem> problems_;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_SERVED_MODELS_H_
