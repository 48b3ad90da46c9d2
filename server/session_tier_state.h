// What the session tier (server/cluster/, --session_store) keeps about one
// session beside its state. Only a store that tracks changes for a tier
// gives its sessions one (Session::Create puts it in the session's own heap
// block), so a server without a tier pays nothing for it.
#ifndef RNNSERVE_SERVER_SESSION_TIER_STATE_H_
#define RNNSERVE_SERVER_SESSION_TIER_STATE_H_

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "server/change_feed.h"

namespace rnnserve::server {

// Plain data; Session's accessors give its meaning and its locking: the
// fields marked "under Session::mu" are read and written under the owning
// session's mutex, the atomic ones anywhere.
struct SessionTierState {
  explicit SessionTierState(ChangeFeed* feed) : changes(feed) {}

  ChangeFeed* const changes;  // Not owned; hears of each first change.
  absl::Status closed;        // under Session::mu
  // A new state: checkpoint it. Under Session::mu.
  int64_t changed_since_ns = absl::GetCurrentTimeNanos();
  bool restored_behind = false;  // under Session::mu
  std::atomic<bool> claim_due{true};
  std::atomic<int> unanswered{0};
  std::atomic<int64_t> epoch{0};
  std::atomic<int64_t> durable_steps{0};
  std::atomic<int64_t> verified_ns{0};
  std::atomic<int64_t> stale_since_ns{0};
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_SESSION_TIER_STATE_H_
