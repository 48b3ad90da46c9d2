#include "server/session.h"

#include <cstring>
#include <limits>
#include <new>
#include <utility>

#include "glog/logging.h"
#include "server/metrics.h"
#include "util/status_macros.h"

namespace rnnserve::server {

// What issue 16 measured this layout for (tests/bench/session_memory.cc):
// with a 36-byte id a session is one 96-byte malloc chunk.
static_assert(sizeof(Session) == 48, "a session's fixed part grew: measure it again");
static_assert(sizeof(SessionTierState) % alignof(Session) == 0,
              "the session must stay aligned behind its tier state");

SessionPtr Session::Create(absl::string_view id, const ModelRef& model, float* state,
                           absl::Time now, ChangeFeed* changes) {
  CHECK(!id.empty() && id.size() <= std::numeric_limits<uint16_t>::max()) << id.size();
  const ModelRef& binding = model.pool->Bind(model);
  const size_t front = changes != nullptr ? sizeof(SessionTierState) : 0;
  char* block = static_cast<char*>(::operator new(front + sizeof(Session) + id.size()));
  if (changes != nullptr) new (block) SessionTierState(changes);
  auto* session = new (block + front) Session(id, &binding, state, now, changes != nullptr);
  return SessionPtr(session);
}

Session::Session(absl::string_view id, const ModelRef* model, float* state, absl::Time now,
                 bool tracked)
    : id_size_(static_cast<uint16_t>(id.size())),
      tracked_(tracked),
      model_(model),
      state_(state),
      last_used_ns_(absl::ToUnixNanos(now)) {
  CHECK(state_ != nullptr);
  std::memcpy(reinterpret_cast<char*>(this + 1), id.data(), id.size());
}

Session::~Session() { model_.load()->pool->Release(state_); }

void Session::Destroy(Session* session) {
  SessionTierState* tier = session->tier();
  void* block = tier != nullptr ? static_cast<void*>(tier) : static_cast<void*>(session);
  session->~Session();
  if (tier != nullptr) tier->~SessionTierState();
  ::operator delete(block);
}

SessionTierState& Session::tier_state() const {
  CHECK(tracked_) << "session \"" << id()
                  << "\": the session tier needs a store that tracks changes";
  return *tier();
}

const absl::Status& Session::Open() {
  static const absl::Status* const kOpen = new absl::Status();
  return *kOpen;
}

void Session::RaiseEpoch(int64_t epoch) {
  std::atomic<int64_t>& current = tier_state().epoch;
  int64_t now = current.load();
  while (now < epoch && !current.compare_exchange_weak(now, epoch)) {
  }
}

void Session::CloseAsStale(absl::Status why) {
  SessionTierState& tier = tier_state();
  tier.closed = std::move(why);
  tier.stale_since_ns.store(absl::GetCurrentTimeNanos());
}

void Session::MarkCheckpointed(int64_t steps) {
  SessionTierState& tier = tier_state();
  tier.changed_since_ns = 0;
  tier.durable_steps.store(steps);
}

void Session::GiveBackChanges(int64_t since_ns) {
  SessionTierState& tier = tier_state();
  if (tier.changed_since_ns == 0 && tier.changes != nullptr) tier.changes->Add(id());
  if (tier.changed_since_ns == 0 || since_ns < tier.changed_since_ns) {
    tier.changed_since_ns = since_ns;
  }
}

absl::Status Session::Reset(const ModelRef& model) {
  CHECK(idle_) << "session " << id() << ": reset while a step computes on it";
  const ModelRef& current = *model_.load(std::memory_order_relaxed);
  StatePool* const old_pool = current.pool;
  float* old_slot = nullptr;
  if (model.pool != old_pool) {
    RNN_ASSIGN_OR_RETURN(float* fresh, model.pool->Allocate());
    old_slot = std::exchange(state_, fresh);
  }
  // A live session moves from its old model's active count to the new one.
  if (model.metrics != current.metrics) {
    if (current.metrics != nullptr) current.metrics->active_sessions.Decrement();
    if (model.metrics != nullptr) model.metrics->active_sessions.Increment();
  }
  model_.store(&model.pool->Bind(model), std::memory_order_release);
  // Last: a retired version is freed once its pool lends no slot, and the
  // binding `current` lives in that pool.
  if (old_slot != nullptr) old_pool->Release(old_slot);
  model.stack->InitState(state_);
  step_count_ = 0;
  if (SessionTierState* tier = this->tier(); tier != nullptr) {
    tier->restored_behind = false;
    // A new incarnation: nothing of it is durable, and it must be claimed anew.
    tier->durable_steps.store(0);
    tier->claim_due.store(true);
  }
  MarkChanged();
  return absl::OkStatus();
}

}  // namespace rnnserve::server
