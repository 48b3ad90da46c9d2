// Live sessions: one recurrent state bound to one model version each
// (DESIGN.md section 4; issue 4, "Sessions"). No gRPC here: the service maps
// these absl codes to gRPC ones at the edge.
#ifndef RNNSERVE_SERVER_SESSION_STORE_H_
#define RNNSERVE_SERVER_SESSION_STORE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "model/engine/layer_stack.h"
#include "server/state_pool.h"

namespace rnnserve::server {

struct ModelMetrics;  // server/metrics.h

// The model a session is bound to; cheap to copy.
struct ModelRef {
  std::string name;
  int version = 0;
  std::shared_ptr<const model::LayerStack> stack;
  // Not owned; the pool of this model version, whose slot_floats() is
  // stack->state_size(). Outlives every session (and every shared_ptr to
  // one) that draws from it.
  StatePool* pool = nullptr;
  // Not owned; this version's metrics, or null where none are kept.
  ModelMetrics* metrics = nullptr;
};

// One session: its id, its model and its state slot (returned to the pool
// when the Session is destroyed, i.e. when the store and every step holding
// a shared_ptr have let go). mu() serialises everything that reads or writes
// the state, the model binding or the step count: a step holds it for the
// whole step, so one session's steps apply in order and never interleave.
// The id is immutable and last_used() is atomic; both need no lock.
class Session {
 public:
  // Takes ownership of `state` (a slot of model.pool, already initialised).
  Session(std::string id, ModelRef model, float* state, absl::Time now);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::string& id() const { return id_; }
  absl::Mutex& mu() const ABSL_LOCK_RETURNED(mu_) { return mu_; }

  const ModelRef& model() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return model_; }
  // model().stack->state_size() floats.
  float* state() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return state_; }
  int64_t step_count() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return step_count_; }
  void AddSteps(int64_t steps) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    step_count_ += steps;
    MarkChanged();
  }
  // A step was applied whose answer is not with gRPC yet (the batcher, under
  // the lock, so a checkpoint taken between the two sees it); the step
  // handler calls AnswerHandedOver() once it is.
  void AnswerPending() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { ++unanswered_; }
  void AnswerHandedOver() { --unanswered_; }

  // The session tier's view (server/cluster/, --session_store); unused
  // without a store. A step of a session whose state changed since its last
  // checkpoint, and whose every answer is out, is checkpointed next.
  //
  // Ownership epoch in the session store (0: not claimed yet).
  int64_t epoch() const { return epoch_.load(); }
  // Claims by this replica only ever raise it (two may race: the start's
  // and the checkpoint writer's).
  void RaiseEpoch(int64_t epoch) {
    int64_t now = epoch_.load();
    while (now < epoch && !epoch_.compare_exchange_weak(now, epoch)) {
    }
  }
  // OK while this replica holds the session; the reason once it was handed
  // over or found stale: steps still queued for it fail with that.
  const absl::Status& closed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closed_; }
  void Close(absl::Status why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { closed_ = std::move(why); }
  // Came back from a checkpoint: the next step must say it expects exactly
  // this many steps (StepRequest.expected_session_steps), since the client
  // may have sent more.
  bool restored_behind() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return restored_behind_; }
  void set_restored_behind(bool behind) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    restored_behind_ = behind;
  }
  // Since when the state has changes no checkpoint holds (0: none).
  int64_t changed_since_ns() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return changed_since_ns_; }
  void MarkChanged() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (changed_since_ns_ == 0) changed_since_ns_ = absl::GetCurrentTimeNanos();
  }
  void MarkCheckpointed(int64_t steps) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    changed_since_ns_ = 0;
    durable_steps_.store(steps);
  }
  // For a checkpoint being written: the changes are taken (returns since
  // when), and given back if the write fails.
  int64_t TakeChanges() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return std::exchange(changed_since_ns_, 0);
  }
  void GiveBackChanges(int64_t since_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (changed_since_ns_ == 0 || since_ns < changed_since_ns_) changed_since_ns_ = since_ns;
  }
  // Steps computed whose answers are not handed to gRPC yet.
  int unanswered() const { return unanswered_.load(); }
  // Steps the last written checkpoint holds (StepResponse.durable_steps).
  int64_t durable_steps() const { return durable_steps_.load(); }
  void set_durable_steps(int64_t steps) { durable_steps_.store(steps); }
  // When the session store last confirmed this replica owns the session.
  int64_t verified_ns() const { return verified_ns_.load(); }
  void set_verified_ns(int64_t ns) { verified_ns_.store(ns); }

  absl::Time last_used() const { return absl::FromUnixNanos(last_used_ns_.load()); }
  // The metrics of the model the session is bound to now (or null); read
  // without the lock so the store can count a session it drops.
  ModelMetrics* metrics() const { return metrics_.load(); }
  void Touch(absl::Time now) { last_used_ns_.store(absl::ToUnixNanos(now)); }

 private:
  friend class SessionStore;
  // Rebinds to `model` with a re-initialised state and zero steps; a slot
  // from model.pool replaces the current one if the pool differs.
  // RESOURCE_EXHAUSTED (session untouched) when that pool is full.
  absl::Status Reset(const ModelRef& model) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string id_;
  mutable absl::Mutex mu_;
  ModelRef model_ ABSL_GUARDED_BY(mu_);
  float* state_ ABSL_GUARDED_BY(mu_);
  int64_t step_count_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status closed_ ABSL_GUARDED_BY(mu_);
  bool restored_behind_ ABSL_GUARDED_BY(mu_) = false;
  int64_t changed_since_ns_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<int> unanswered_{0};
  std::atomic<int64_t> epoch_{0};
  std::atomic<int64_t> durable_steps_{0};
  std::atomic<int64_t> verified_ns_{0};
  std::atomic<int64_t> last_used_ns_;
  std::atomic<ModelMetrics*> metrics_;
};

// Owns every live session; thread-safe, shard-locked by id (64 shards). A
// shared_ptr keeps a session alive for a step already running after End(),
// eviction or ReapIdle(). Lock order: Shard::mu, then Session::mu, then
// StatePool's; no shard lock is held while waiting for a step, and sessions
// are destroyed (their slots released) outside the shard locks.
// A session idle past options.idle_timeout is gone even before ReapIdle()
// sweeps it: Get() expires it and answers NOT_FOUND.
class SessionStore {
 public:
  static constexpr size_t kMaxIdBytes = 256;
  static constexpr int kShards = 64;

  enum class FullPolicy { kRefuse, kEvictLeastRecentlyUsed };
  struct Options {
    int64_t max_sessions = 1'000'000;
    absl::Duration idle_timeout = absl::InfiniteDuration();
    FullPolicy full_policy = FullPolicy::kRefuse;
  };

  explicit SessionStore(const Options& options);
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  // Whether a Get() counts as using the session (resets its idle time).
  enum class Use { kStep, kLookOnly };

  // The session `id`, marked used at `now` unless `use` is kLookOnly
  // (describe, export). INVALID_ARGUMENT for a bad id; NOT_FOUND if absent or
  // idle past the timeout (then counted as expired).
  absl::StatusOr<std::shared_ptr<Session>> Get(const std::string& id, absl::Time now,
                                               Use use = Use::kStep);

  // Creates session `id` bound to `model` with a fresh state, or resets an
  // existing one (state re-initialised, step count 0, rebound to `model`);
  // waits for a step running on it. INVALID_ARGUMENT for a bad id or model;
  // RESOURCE_EXHAUSTED at max_sessions under kRefuse (under
  // kEvictLeastRecentlyUsed the least recently used session is evicted), or
  // when the model's pool is full.
  absl::StatusOr<std::shared_ptr<Session>> Start(const std::string& id, const ModelRef& model,
                                                 absl::Time now);

  // Removes session `id`; a step already holding it finishes. NOT_FOUND if
  // absent.
  absl::Status End(const std::string& id);

  // Removes `session` if it is still the one stored under its id (not one
  // started since), counted as ended; false otherwise. For a session that
  // moved to another replica: its record there is not this replica's to
  // forget, so the gone-listener is not told.
  bool Remove(const Session& session);

  // Called with the id and epoch of every session ended, expired or evicted
  // here (not Remove()d), under a shard lock: it must only record them. The
  // session tier forgets their records. Set before serving.
  using GoneListener = std::function<void(const std::string& id, int64_t epoch)>;
  void set_gone_listener(GoneListener listener) { gone_listener_ = std::move(listener); }

  // Ends sessions unused for longer than idle_timeout at `now`; returns how
  // many. Locks one shard at a time.
  int ReapIdle(absl::Time now);

  // Every live session, one shard at a time (a session started meanwhile
  // may be missing). For snapshots; the shared_ptrs keep them valid.
  std::vector<std::shared_ptr<Session>> Sessions();

  // Live sessions, plus creations under way.
  int64_t size() const { return size_.load(); }
  int64_t created() const { return created_.load(); }
  int64_t ended() const { return ended_.load(); }
  int64_t expired() const { return expired_.load(); }
  int64_t evicted() const { return evicted_.load(); }
  const Options& options() const { return options_; }

 private:
  struct Shard {
    absl::Mutex mu;
    absl::flat_hash_map<std::string, std::shared_ptr<Session>> sessions ABSL_GUARDED_BY(mu);
  };

  Shard& ShardFor(const std::string& id);
  bool IsExpired(const Session& session, absl::Time now) const;
  // Takes a place under max_sessions, evicting if the policy says so.
  absl::Status ReserveSlot();
  // Evicts the least recently used session; false if there was none.
  bool EvictLeastRecentlyUsed();
  enum class Ending { kEnded, kExpired, kEvicted };
  // Counts a session that goes, in the store's and its model's counters,
  // and tells the gone-listener.
  void CountEnding(const Session& session, Ending why);
  void CountEndingQuietly(const Session& session, Ending why);
  // Removes `id` from `shard` and counts it; returns the session for the
  // caller to drop once the shard lock is released.
  std::shared_ptr<Session> EraseLocked(Shard& shard, const std::string& id, Ending why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);

  const Options options_;
  GoneListener gone_listener_;
  std::array<Shard, kShards> shards_;
  std::atomic<int64_t> size_{0};
  std::atomic<int64_t> created_{0};
  std::atomic<int64_t> ended_{0};
  std::atomic<int64_t> expired_{0};
  std::atomic<int64_t> evicted_{0};
};

// INVALID_ARGUMENT unless `id` is 1 to SessionStore::kMaxIdBytes bytes.
absl::Status ValidateSessionId(const std::string& id);

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_SESSION_STORE_H_
