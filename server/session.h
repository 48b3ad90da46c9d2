// One live session: a recurrent state bound to one model version (DESIGN.md
// section 4). SessionStore (server/session_store.h) owns them.
#ifndef RNNSERVE_SERVER_SESSION_H_
#define RNNSERVE_SERVER_SESSION_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "glog/logging.h"
#include "server/change_feed.h"
#include "server/model_ref.h"
#include "server/session_tier_state.h"

namespace rnnserve::server {

struct ModelMetrics;  // server/metrics.h
class SessionPtr;

// One session: its id, its model and its state slot (returned to the pool
// when the last SessionPtr to it lets go: the store's and every step's).
// mu() guards the bookkeeping: the model binding, the step count, and
// whether a step is computing on the state. The batcher holds mu() only to
// begin and to end a step (BeginStep, EndStep), never through the math, and
// its busy set keeps one session's steps apart; so whoever reads or replaces
// the state takes mu() and then AwaitIdle(), which waits (releasing mu())
// until no step is half-applied. The id is immutable and last_used() is
// atomic; both need no lock.
//
// Memory (issue 16): a session is one heap block of 48 bytes plus its id,
// which follows the object. Its model binding is a pointer to the ModelRef
// its pool keeps for every session of the version (StatePool::Bind). The
// session tier's fields (SessionTierState) exist only when the store tracks
// changes for a tier, in front of the object in the same block.
class Session {
 public:
  // A session `id` (1 to 65535 bytes) bound to `model` that owns `state` (a
  // slot of model.pool, already initialised). With `changes` (not owned; a
  // session tier's feed) it keeps the tier's fields and reports each first
  // change since a checkpoint there (MarkChanged); the new state's is the
  // store's to report, once the session can be found.
  static SessionPtr Create(absl::string_view id, const ModelRef& model, float* state,
                           absl::Time now, ChangeFeed* changes = nullptr);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  absl::string_view id() const { return {reinterpret_cast<const char*>(this + 1), id_size_}; }
  absl::Mutex& mu() const ABSL_LOCK_RETURNED(mu_) { return mu_; }

  // Shared by every session of the version; valid while the session lives.
  const ModelRef& model() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return *model_.load(std::memory_order_relaxed);
  }
  // model().stack->state_size() floats. REQUIRES: no step computing on it
  // (AwaitIdle()); a half-stepped state must never be read or replaced.
  float* state() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    CHECK(idle_) << "session " << id() << ": state read while a step computes on it";
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
    CHECK(idle_) << "session " << id() << ": two steps at once";
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
  // handler calls AnswerHandedOver() once it is. Counted for a tier only.
  void AnswerPending() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (tier() != nullptr) ++tier()->unanswered;
  }
  void AnswerHandedOver() {
    if (tier() != nullptr) --tier()->unanswered;
  }

  // The session tier's view (server/cluster/, --session_store). A session
  // of a store that does not track changes reads as never claimed, open and
  // unchanged, and the tier's setters (below, to set_verified_ns) must not
  // be called on it. A step of a session whose state changed since its last
  // checkpoint, and whose every answer is out, is checkpointed next.
  //
  // Ownership epoch in the session store (0: not claimed yet).
  int64_t epoch() const { return tier() != nullptr ? tier()->epoch.load() : 0; }
  // Claims by this replica only ever raise it (two may race: the start's
  // and the checkpoint writer's).
  void RaiseEpoch(int64_t epoch);
  // Whether this replica has yet to claim the session (a new epoch) before
  // a checkpoint of it may be written: a start, restart or import not
  // claimed yet. A restart keeps its epoch meanwhile (fencing still applies
  // to the copy), but its state must never be compared with, or lose to, the
  // previous incarnation's checkpoint at that epoch.
  bool claim_due() const { return tier() == nullptr || tier()->claim_due.load(); }
  void set_claimed() { tier_state().claim_due.store(false); }
  // OK while this replica holds the session; the reason once it was handed
  // over or found stale: steps still queued for it fail with that.
  const absl::Status& closed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return tier() != nullptr ? tier()->closed : Open();
  }
  void Close(absl::Status why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    tier_state().closed = std::move(why);
  }
  // Closed because the session store names another owner, and kept for a
  // moment: that owner may be about to take this (exact) state. Since when
  // (0: not so).
  void CloseAsStale(absl::Status why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t stale_since_ns() const { return tier() != nullptr ? tier()->stale_since_ns.load() : 0; }
  // Came back from a checkpoint: the next step must say it expects exactly
  // this many steps (StepRequest.expected_session_steps), since the client
  // may have sent more.
  bool restored_behind() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return tier() != nullptr && tier()->restored_behind;
  }
  void set_restored_behind(bool behind) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    tier_state().restored_behind = behind;
  }
  // Since when the state has changes no checkpoint holds (0: none).
  int64_t changed_since_ns() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return tier() != nullptr ? tier()->changed_since_ns : 0;
  }
  void MarkChanged() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (tier() != nullptr && tier()->changed_since_ns == 0) {
      GiveBackChanges(absl::GetCurrentTimeNanos());
    }
  }
  void MarkCheckpointed(int64_t steps) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // For a checkpoint being written: the changes are taken (returns since
  // when), and given back if the write fails.
  int64_t TakeChanges() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return std::exchange(tier_state().changed_since_ns, 0);
  }
  void GiveBackChanges(int64_t since_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Steps computed whose answers are not handed to gRPC yet.
  int unanswered() const { return tier() != nullptr ? tier()->unanswered.load() : 0; }
  // Steps the last written checkpoint holds (StepResponse.durable_steps).
  int64_t durable_steps() const { return tier() != nullptr ? tier()->durable_steps.load() : 0; }
  void set_durable_steps(int64_t steps) { tier_state().durable_steps.store(steps); }
  // When the session store last confirmed this replica owns the session.
  int64_t verified_ns() const { return tier() != nullptr ? tier()->verified_ns.load() : 0; }
  void set_verified_ns(int64_t ns) { tier_state().verified_ns.store(ns); }

  absl::Time last_used() const { return absl::FromUnixNanos(last_used_ns_.load()); }
  // The metrics of the model the session is bound to now (or null); read
  // without the lock so the store can count a session it drops.
  ModelMetrics* metrics() const { return model_.load(std::memory_order_acquire)->metrics; }
  void Touch(absl::Time now) { last_used_ns_.store(absl::ToUnixNanos(now)); }

 private:
  friend class SessionPtr;
  friend class SessionStore;

  Session(absl::string_view id, const ModelRef* model, float* state, absl::Time now, bool tracked);
  ~Session();
  // Ends the session whose last SessionPtr let go, and frees its block.
  static void Destroy(Session* session);

  // Rebinds to `model` with a re-initialised state and zero steps; a slot
  // from model.pool replaces the current one if the pool differs.
  // RESOURCE_EXHAUSTED (session untouched) when that pool is full.
  // REQUIRES: idle (AwaitIdle()).
  absl::Status Reset(const ModelRef& model) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The tier's fields in front of this object, or null without a tier.
  SessionTierState* tier() const {
    if (!tracked_) return nullptr;
    const char* self = reinterpret_cast<const char*>(this);
    return std::launder(
        reinterpret_cast<SessionTierState*>(const_cast<char*>(self) - sizeof(SessionTierState)));
  }
  // tier(), which the caller (the tier) knows to exist; CHECKs it.
  SessionTierState& tier_state() const;
  // The closed() of a session without a tier.
  static const absl::Status& Open();

  // The order packs the fields into 48 bytes (the count, the id's size and
  // the flags share a word); the id's bytes follow.
  std::atomic<uint32_t> refs_{1};  // SessionPtrs to this session
  const uint16_t id_size_;
  const bool tracked_;  // Whether a SessionTierState precedes the object.
  // False between BeginStep() and EndStep(): the state is being computed on.
  bool idle_ ABSL_GUARDED_BY(mu_) = true;
  mutable absl::Mutex mu_;
  // Written under mu_ (Reset), read under it or, for metrics(), without.
  std::atomic<const ModelRef*> model_;
  float* state_ ABSL_GUARDED_BY(mu_);
  int64_t step_count_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<int64_t> last_used_ns_;
};

// A shared hold on a session (an intrusive count, so 8 bytes and no control
// block): the store holds one, and so does every step or call using it, so
// a session outlives End(), eviction or expiry until the last hold is let
// go. Copy it to share, compare it, test it against null. Thread-safe as a
// shared_ptr is: distinct SessionPtrs to one session may be copied and
// dropped on any threads.
class SessionPtr {
 public:
  SessionPtr() = default;
  SessionPtr(std::nullptr_t) {}  // NOLINT: as a pointer converts
  SessionPtr(const SessionPtr& other) : session_(other.session_) {
    if (session_ != nullptr) session_->refs_.fetch_add(1, std::memory_order_relaxed);
  }
  SessionPtr(SessionPtr&& other) noexcept : session_(std::exchange(other.session_, nullptr)) {}
  SessionPtr& operator=(SessionPtr other) noexcept {
    std::swap(session_, other.session_);
    return *this;
  }
  ~SessionPtr() { reset(); }

  void reset() {
    Session* session = std::exchange(session_, nullptr);
    if (session != nullptr && session->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      Session::Destroy(session);
    }
  }
  Session* get() const { return session_; }
  Session& operator*() const { return *session_; }
  Session* operator->() const { return session_; }
  explicit operator bool() const { return session_ != nullptr; }
  friend bool operator==(const SessionPtr& a, const SessionPtr& b) {
    return a.session_ == b.session_;
  }
  friend bool operator==(const SessionPtr& a, std::nullptr_t) { return a.session_ == nullptr; }

 private:
  friend class Session;
  // Adopts the count Session::Create gave `session`.
  explicit SessionPtr(Session* session) : session_(session) {}

  Session* session_ = nullptr;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_SESSION_H_
