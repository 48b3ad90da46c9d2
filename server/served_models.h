// The models a server serves: the repository's loaded versions, each with the
// pool its sessions' states live in. Versions are only ever added (hot
// reload: AddNewVersions), never removed or changed, so a ServedModel* stays
// valid for the server's life and sessions on an old version keep working
// after a new one arrives. Thread-safe: readers take mu_ shared, briefly.
#ifndef RNNSERVE_SERVER_SERVED_MODELS_H_
#define RNNSERVE_SERVER_SERVED_MODELS_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "model/importers/model_repository.h"
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
  // (the problems are in the message). `load` applies to every version,
  // this one and AddNewVersions()'.
  static absl::StatusOr<std::unique_ptr<ServedModels>> Load(const std::string& root,
                                                            int64_t max_sessions,
                                                            ServerMetrics* metrics = nullptr,
                                                            const model::LoadOptions& load = {});

  // Loads the versions of `root` not served yet (new folders, or ones that
  // failed before) and serves them; new sessions of a name take its newest
  // version. A version that fails to load is only reported: what is served
  // keeps serving. The models added, and the problems met.
  struct Added {
    std::vector<const ServedModel*> models;
    std::vector<model::LoadProblem> problems;
  };
  absl::StatusOr<Added> AddNewVersions(const std::string& root, int64_t max_sessions,
                                       ServerMetrics* metrics = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The newest version when `version` is 0. NOT_FOUND says what exists.
  absl::StatusOr<const ServedModel*> Find(absl::string_view name, int version) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Sorted by name, then version.
  std::vector<const ServedModel*> List() const ABSL_LOCKS_EXCLUDED(mu_);
  // Every loaded version of `name`, ascending.
  std::vector<int> Versions(absl::string_view name) const ABSL_LOCKS_EXCLUDED(mu_);
  // The problems of the first Load().
  const std::vector<model::LoadProblem>& problems() const { return problems_; }

 private:
  explicit ServedModels(model::LoadOptions load) : load_(std::move(load)) {}
  // Serves `versions` (with a pool and metrics each); returns them.
  absl::StatusOr<std::vector<const ServedModel*>> Serve(std::vector<model::ModelVersion> versions,
                                                        int64_t max_sessions,
                                                        ServerMetrics* metrics)
      ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<int> VersionsLocked(absl::string_view name) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  // std::map: inserting never moves the other elements.
  std::map<std::pair<std::string, int>, ServedModel> models_ ABSL_GUARDED_BY(mu_);
  std::vector<model::LoadProblem> problems_;
  const model::LoadOptions load_;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_SERVED_MODELS_H_
