// The models a server serves: the repository's loaded versions, each with the
// pool its sessions' states live in. A reload (Reload) adds the versions new
// in the repository and retires those whose folder left it (or that newer
// ones outnumber, with newest_versions): a retired
// version takes no new session but its sessions go on, and once none is left
// and no caller holds it, TakeUnused hands it over to be freed. A version is
// shared (ServedModelPtr), so whoever found one may use it as long as it
// holds the pointer. Thread-safe: readers take mu_ shared, briefly.
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
#include "absl/time/time.h"
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

// A served version, kept loaded while anyone holds it.
using ServedModelPtr = std::shared_ptr<const ServedModel>;

class ServedModels {
 public:
  // Loads repository `root`; a pool per version holds up to `max_sessions`
  // states; each version's metrics come from `metrics` (not owned).
  // NOT_FOUND for a missing root, FAILED_PRECONDITION when no model loads
  // (the problems are in the message). `load` applies to every version,
  // this one and Reload()'s. With `newest_versions` > 0 each name serves its
  // newest that many versions that load, now and after every Reload().
  static absl::StatusOr<std::unique_ptr<ServedModels>> Load(const std::string& root,
                                                            int64_t max_sessions,
                                                            ServerMetrics* metrics = nullptr,
                                                            const model::LoadOptions& load = {},
                                                            int newest_versions = 0);

  // Loads the versions of `root` not served yet (new folders, or ones that
  // failed before) and serves them; new sessions of a name take its newest
  // version. Retires each served version whose folder left `root` or, with
  // newest_versions, that newer versions now outnumber; serves a retired one
  // again if it is wanted again before it was freed. A model folder that
  // cannot be listed leaves its versions as they are. A version that fails
  // to load is only reported: what is served keeps serving.
  // FAILED_PRECONDITION, changing nothing, when `root` holds no model at all
  // while some are served (an empty or unmounted volume).
  struct Reloaded {
    std::vector<ServedModelPtr> added;    // loaded, or served again
    std::vector<ServedModelPtr> retired;  // by this reload
    std::vector<model::LoadProblem> problems;
  };
  absl::StatusOr<Reloaded> Reload(const std::string& root, int64_t max_sessions,
                                  ServerMetrics* metrics = nullptr) ABSL_LOCKS_EXCLUDED(mu_);

  // A served version, the newest when `version` is 0. NOT_FOUND says what
  // exists (and when the version asked for was retired).
  absl::StatusOr<ServedModelPtr> Find(absl::string_view name, int version) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // `version` of `name` whether served or retired and not freed yet: for a
  // session bound to it already (exported, imported, restored), which goes
  // on where its version still is. NOT_FOUND as Find.
  absl::StatusOr<ServedModelPtr> FindForSession(absl::string_view name, int version) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // The served versions, sorted by name, then version (not the retired ones).
  std::vector<ServedModelPtr> List() const ABSL_LOCKS_EXCLUDED(mu_);
  // Every served version of `name`, ascending.
  std::vector<int> Versions(absl::string_view name) const ABSL_LOCKS_EXCLUDED(mu_);
  // The retired versions nothing uses any more: no session draws from their
  // pool and no caller holds them, as seen at `now` and at an earlier call
  // at least kFreeGrace before, with no session come and gone between (a
  // thread that read a session's binding without its lock, just before the
  // session left the pool, is long done with it). They leave this object;
  // the version is freed when the caller drops the pointers.
  static constexpr absl::Duration kFreeGrace = absl::Seconds(1);
  std::vector<ServedModelPtr> TakeUnused(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);
  // Retired versions not freed yet (they still have sessions, or a caller).
  int64_t retired() const ABSL_LOCKS_EXCLUDED(mu_);
  // The problems of the first Load().
  const std::vector<model::LoadProblem>& problems() const { return problems_; }

 private:
  ServedModels(model::LoadOptions load, int newest_versions)
      : load_(std::move(load)), newest_versions_(newest_versions) {}
  using Key = std::pair<std::string, int>;

  // Serves `versions` (with a pool and metrics each); returns them.
  absl::StatusOr<std::vector<ServedModelPtr>> Serve(std::vector<model::ModelVersion> versions,
                                                    int64_t max_sessions, ServerMetrics* metrics)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Retires the served versions `repository` no longer wants (their folder
  // left, or newer ones outnumber them) and serves again the retired ones it
  // wants back.
  void RetireAndRevive(const model::ModelRepository& repository, Reloaded& reloaded)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<ServedModelPtr> FindLocked(absl::string_view name, int version,
                                            bool retired_too) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  std::vector<int> VersionsLocked(absl::string_view name) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  bool Serving() const ABSL_LOCKS_EXCLUDED(mu_);  // any version at all

  mutable absl::Mutex mu_;
  std::map<Key, ServedModelPtr> models_ ABSL_GUARDED_BY(mu_);
  // A version is in one of the two maps at most.
  std::map<Key, ServedModelPtr> retired_ ABSL_GUARDED_BY(mu_);
  // Retired versions seen unused, since when, and their pool's releases()
  // then (TakeUnused).
  struct Quiet {
    absl::Time since;
    int64_t releases = 0;
  };
  std::map<Key, Quiet> quiet_ ABSL_GUARDED_BY(mu_);
  std::vector<model::LoadProblem> problems_;
  const model::LoadOptions load_;
  const int newest_versions_;  // 0: every version
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_SERVED_MODELS_H_
