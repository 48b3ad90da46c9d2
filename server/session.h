// One live session: a recurrent state bound to one model version (DESIGN.md
// section 4). SessionStore (server/session_store.h) owns them.
#ifndef RNNSERVE_SERVER_SESSION_H_
#define RNNSERVE_SERVER_SESSION_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "glog/logging.h"
#include "server/change_feed.h"
#include "server/model_ref.h"

namespace rnnserve::server {

struct ModelMetrics;  // server/metrics.h

// One session: its id, its model and its state slot (returned to the pool
// when the Session is destroyed, i.e. when the store and every step holding
// a shared_ptr have let go). mu() guards the bookkeeping: the model binding,
// the step count, and whether a step is computing on the state. The batcher
// holds mu() only to begin and to end a step (BeginStep, EndStep), never
// through the math, and its busy set keeps one session's steps apart; so
// whoever reads or replaces the state takes mu() and then AwaitIdle(), which
// waits (releasing mu()) until no step is half-applied. The id is immutable
// and last_used() is atomic; both need no lock.
class Session {
 public:
  // Takes ownership of `state` (a slot of model.pool, already initialised).
  // `changes` (not owned; may be null) hears of each first change since a
  // checkpoint (MarkChanged); the new state's is the store's to report, once
  // the session can be found.
  Session(std::string id, ModelRef model, float* state, absl::Time now,
          ChangeFeed* changes = nullptr);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::string& id() const { return id_; }
  absl::Mutex& mu() const ABSL_LOCK_RETURNED(mu_) { return mu_; }

  const ModelRef& model() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return model_; }
  // model().stack->state_size() floats. REQUIRES: no step computing on it
  // (AwaitIdle()); a half-stepped state must never be read or replaced.
  float* state() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    CHECK(idle_) << "session " << id_ << ": state read while a step computes on it";
    return state_;
  }
  // Waits, releasing mu() meanwhile, until no step computes on the state;
  // other fields may have changed when it returns. Returns at once when idle.
  void AwaitIdle() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { mu_.Await(absl::Condition(&idle_)); }
  bool stepping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !idle_; }
  // The batcher's: marks the state as being stepped and returns it, to be
  // computed on without the lock until EndStep(). REQUIRES: idle (the
  // batcher's busy set keeps one session's steps apart).
  float* BeginStep() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    CHECK(idle_) << "session " << id_ << ": two steps at once";
    idle_ = false;
    return state_;
  }
  // The step's math is over: readers waiting in AwaitIdle() go on.
  void EndStep() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { idle_ = true; }
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
  // Whether this replica has yet to claim the session (a new epoch) before
  // a checkpoint of it may be written: a start, restart or import not
  // claimed yet. A restart keeps its epoch meanwhile (fencing still applies
  // to the copy), but its state must never be compared with, or lose to, the
  // previous incarnation's checkpoint at that epoch.
  bool claim_due() const { return claim_due_.load(); }
  void set_claimed() { claim_due_.store(false); }
  // OK while this replica holds the session; the reason once it was handed
  // over or found stale: steps still queued for it fail with that.
  const absl::Status& closed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closed_; }
  void Close(absl::Status why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { closed_ = std::move(why); }
  // Closed because the session store names another owner, and kept for a
  // moment: that owner may be about to take this (exact) state. Since when
  // (0: not so).
  void CloseAsStale(absl::Status why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    closed_ = std::move(why);
    stale_since_ns_.store(absl::GetCurrentTimeNanos());
  }
  int64_t stale_since_ns() const { return stale_since_ns_.load(); }
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
    if (changed_since_ns_ == 0) GiveBackChanges(absl::GetCurrentTimeNanos());
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
    if (changed_since_ns_ == 0 && changes_ != nullptr) changes_->Add(id_);
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
  // REQUIRES: idle (AwaitIdle()).
  absl::Status Reset(const ModelRef& model) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string id_;
  ChangeFeed* const changes_;  // Not owned; null without a session tier.
  mutable absl::Mutex mu_;
  ModelRef model_ ABSL_GUARDED_BY(mu_);
  float* state_ ABSL_GUARDED_BY(mu_);
  int64_t step_count_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status closed_ ABSL_GUARDED_BY(mu_);
  bool restored_behind_ ABSL_GUARDED_BY(mu_) = false;
  // False between BeginStep() and EndStep(): the state is being computed on.
  bool idle_ ABSL_GUARDED_BY(mu_) = true;
  int64_t changed_since_ns_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<int> unanswered_{0};
  std::atomic<int64_t> epoch_{0};
  std::atomic<bool> claim_due_{true};
  std::atomic<int64_t> durable_steps_{0};
  std::atomic<int64_t> verified_ns_{0};
  std::atomic<int64_t> stale_since_ns_{0};
  std::atomic<int64_t> last_used_ns_;
  std::atomic<ModelMetrics*> metrics_;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_SESSION_H_
