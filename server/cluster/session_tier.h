// Sessions that survive the cluster (DESIGN.md section 7, issue 13): with
// --session_store, Redis knows each session's owner (an advertised
// HOST:PORT) and an epoch that grows with every change of owner, and holds
// its last checkpoint. This replica
//  - claims the sessions started or imported here;
//  - pulls a session it is asked for but does not hold: from its live owner,
//    exactly (ClusterService.TakeSession), or from its checkpoint when the
//    owner is gone (the first step after it must then say where the client
//    thinks the session stands: server/session_position.h);
//  - hands its own sessions over when another replica claims them;
//  - re-reads a session's record before answering for it when it has not
//    heard from Redis for a while (it was stopped, or cut off), so a stale
//    replica never answers with a stale state.
// The periodic work (checkpoints, forgetting ended sessions, fences) is
// server/cluster/checkpoint_writer.h. Nothing here waits on Redis for a step
// of a session this replica holds and owns; starts, pulls and handovers do,
// each bounded by the store's command timeout and the peer timeout.
// Thread-safe.
#ifndef RNNSERVE_SERVER_CLUSTER_SESSION_TIER_H_
#define RNNSERVE_SERVER_CLUSTER_SESSION_TIER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "prometheus/registry.h"
#include "rnnserve/v1/cluster.pb.h"
#include "rnnserve/v1/sessions.pb.h"
#include "server/cluster/peer_client.h"
#include "server/cluster/redis_connection.h"
#include "server/cluster/redis_pool.h"
#include "server/cluster/session_directory.h"
#include "server/cluster/session_tier_metrics.h"
#include "server/served_models.h"
#include "server/session_store.h"
#include "server/task_pool.h"

namespace rnnserve::cluster {

class CheckpointWriter;
class StartClaimer;

struct SessionTierOptions {
  RedisOptions redis;
  std::string prefix = "rnnserve";
  std::string advertise;  // HOST:PORT peers reach this replica at
  absl::Duration checkpoint_interval = absl::Seconds(1);
  // How long a record outlives its last write (SessionDirectory);
  // infinite: for good.
  absl::Duration record_ttl = absl::InfiniteDuration();
  absl::Duration peer_timeout = absl::Seconds(1);
  std::string authorization;  // sent to peers ("Bearer <token>"), or empty
};

class SessionTier {
 public:
  // None of the pointers is owned; all outlive the tier. Connects to Redis
  // (an unreachable Redis or a refused password is logged and counted, not
  // fatal: sessions are served from memory until it answers).
  SessionTier(const SessionTierOptions& options, server::SessionStore* store,
              const server::ServedModels* models, prometheus::Registry& registry);
  ~SessionTier();  // Stop().
  SessionTier(const SessionTier&) = delete;
  SessionTier& operator=(const SessionTier&) = delete;

  // Starts the checkpoint writer (every checkpoint_interval).
  void Start();
  // Writes every changed session's checkpoint (all steps are answered by
  // now: the caller stopped the steps), bounded by `deadline`, and leaves
  // the state of each copy closed as stale (RetireStale) in its record for
  // the replica that claimed it; then stops the writer.
  void FlushAndStop(absl::Time deadline);
  void Stop();

  // `session` was started (or reset) here: it is claimed at a new epoch
  // within about a round trip, off the step path (StartClaimer), and its
  // previous owner, if another replica, is told to drop its copy.
  void ClaimStarted(server::SessionPtr session);
  // `session` was imported here (a handoff): claimed now, keeping the
  // record's checkpoint until this replica writes a newer one.
  void ClaimImported(server::Session& session);

  // Brings session `id`, which this replica does not hold, here (see the
  // file comment). NOT_FOUND when neither its owner nor a checkpoint has it;
  // UNAVAILABLE when Redis cannot be asked or other replicas keep claiming it
  // meanwhile (retry).
  absl::StatusOr<server::SessionPtr> Pull(const std::string& id, absl::Time now);

  // Runs `task` on the tier's lookup threads: a pull or a verification
  // waits on Redis and maybe on a peer (up to its timeout), which a gRPC
  // callback thread must not. `task` always runs exactly once: there with
  // an OK status, or at once with the error when it cannot queue
  // (RESOURCE_EXHAUSTED when kLookupQueue lookups wait, UNAVAILABLE once
  // the tier stopped).
  using LookupTask = absl::AnyInvocable<void(absl::Status) &&>;
  void RunLookup(LookupTask task);
  static constexpr int kLookupThreads = 8;
  static constexpr int64_t kLookupQueue = 4096;

  // Whether this replica must confirm with Redis that it still owns
  // `session` before answering for it (no round trip with Redis for three
  // checkpoint intervals). Cheap.
  bool NeedsVerification(const server::Session& session) const;
  // Re-reads the record: true when this replica still owns `session` (or
  // Redis cannot say: serving goes on); false after dropping the stale copy.
  bool Verify(const server::SessionPtr& session);

  // ClusterService.TakeSession: hands session request.session_id() over to
  // request.new_owner(), who claimed it at request.epoch().
  absl::StatusOr<v1::SessionState> HandOver(const v1::TakeSessionRequest& request);

  // Whether `record` says this replica owns `session`; then its epoch is
  // raised to the record's (a claim of its own still under way).
  bool StillMine(server::Session& session, const SessionRecord& record);
  // Closes the local copy of `session`, which the session store says
  // another replica owns now, and keeps it a moment for that replica to take
  // (HandOver); the checkpoint writer removes it after kStaleGrace.
  void RetireStale(server::Session& session, const std::string& owner);
  static constexpr absl::Duration kStaleGrace = absl::Seconds(5);
  // Removes a copy RetireStale closed that no replica took (kStaleGrace
  // passed, or this replica pulls the session back). Counted as fenced only
  // now: a pull claims the session before it asks for it, so the owner often
  // finds its copy stale just before handing it over, which drops nothing.
  void DropRetired(server::Session& session);
  // Drops the local copy of `session`, which another replica owns now
  // (steps still queued for it fail UNAVAILABLE: send again).
  void DropStale(server::Session& session, const std::string& owner);

  // Records that `id` ended here; its record is deleted by the writer.
  // While Redis is down they pile up, up to kMaxForgetting (past that, a
  // record stays until it expires, --session_store_record_ttl, and a request
  // for its id can bring the session back from it: logged).
  void Forget(const std::string& id, int64_t epoch);
  // Whether `id` ended here and its record is not deleted yet.
  bool EndedHere(const std::string& id);
  static constexpr size_t kMaxForgetting = 1'000'000;

  const std::string& advertise() const { return options_.advertise; }

 private:
  friend class CheckpointWriter;
  friend class StartClaimer;

  // Pull() once this replica is the only one pulling `id`.
  absl::StatusOr<server::SessionPtr> PullOnce(const std::string& id, absl::Time now);
  // Imports `state` as session `id` owned at `epoch`; `behind` when it came
  // from a checkpoint. When it cannot be held here (the session limit), the
  // state goes back to Redis as the checkpoint so nothing is lost.
  absl::StatusOr<server::SessionPtr> Install(const v1::SessionState& state, int64_t epoch,
                                             bool behind, absl::Time now);
  // A replica that claimed a session may not have taken the copy this one
  // kept for it (RetireStale) when this one stops: its TakeSession call then
  // fails, and it restores the record's checkpoint, which misses the steps
  // since. So the kept states go into those records first (WriteHandover),
  // where PullOnce looks when the call fails.
  void LeaveRetiredInTheirRecords();
  // Asks `owner` to hand `id` over (claimed at `epoch`); fences it in Redis
  // when it does not answer.
  absl::StatusOr<v1::SessionState> TakeFrom(const std::string& owner, const std::string& id,
                                            int64_t epoch);
  // Whether `owner` (a record's) is another replica that may hold a copy.
  bool IsReplica(const std::string& owner) const;
  // Waits (bounded) for a pull of `id` running here.
  void WaitForPull(const std::string& id);
  // Counts a failed Redis call and marks the store down.
  void StoreFailed(const absl::Status& status, const char* doing);
  // The writer's round trip succeeded; it started at `started_ns`.
  void StoreAnswered(int64_t started_ns);

  const SessionTierOptions options_;
  server::SessionStore* const store_;
  const server::ServedModels* const models_;
  SessionTierMetrics metrics_;
  RedisPool pool_;
  SessionDirectory directory_;
  PeerClient peers_;
  std::unique_ptr<StartClaimer> claimer_;
  std::unique_ptr<CheckpointWriter> writer_;
  server::TaskPool lookups_{kLookupThreads, kLookupQueue};

  // The start of the writer's last successful pass (0: none yet).
  std::atomic<int64_t> last_contact_ns_{0};
  std::atomic<bool> store_up_{false};

  absl::Mutex mu_;
  // Pulls in progress here, so that two requests for one session pull once.
  absl::flat_hash_map<std::string, std::shared_ptr<absl::Notification>> pulling_
      ABSL_GUARDED_BY(mu_);
  // Replicas whose TakeSession call failed as unreachable, until when they
  // are not called again (a peer's address; pod IPs are not reused soon),
  // or until they call this replica (HandOver).
  absl::flat_hash_map<std::string, int64_t> unreachable_until_ns_ ABSL_GUARDED_BY(mu_);
  // Ended here, record not deleted yet: never pulled back from a checkpoint.
  absl::flat_hash_map<std::string, int64_t> forgetting_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rnnserve::cluster

#endif  // RNNSERVE_SERVER_CLUSTER_SESSION_TIER_H_
