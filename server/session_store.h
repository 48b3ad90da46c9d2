// The store of live sessions (server/session.h), each one recurrent state
// bound to one model version (DESIGN.md section 4; issue 4, "Sessions"). No
// gRPC here: the service maps these absl codes to gRPC ones at the edge.
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
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/change_feed.h"
#include "server/eviction_candidates.h"
#include "server/model_ref.h"
#include "server/session.h"
#include "server/session_set.h"

namespace rnnserve::server {

// Owns every live session; thread-safe, shard-locked by id (64 shards). A
// SessionPtr keeps a session alive for a step already running after End(),
// eviction or ReapIdle(). Lock order: eviction_mu_, then Shard::mu, then
// Session::mu, then StatePool's; no shard lock is held while waiting for a
// step, and sessions are destroyed (their slots released) outside the shard
// locks.
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
    // Report every session's first change since a checkpoint to changes():
    // on with a session tier, which alone reads them.
    bool track_changes = false;
  };

  explicit SessionStore(const Options& options);
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;

  // Whether a Get() counts as using the session (resets its idle time).
  enum class Use { kStep, kLookOnly };

  // The session `id`, marked used at `now` unless `use` is kLookOnly
  // (describe, export). INVALID_ARGUMENT for a bad id; NOT_FOUND if absent or
  // idle past the timeout (then counted as expired).
  absl::StatusOr<SessionPtr> Get(absl::string_view id, absl::Time now, Use use = Use::kStep);

  // Creates session `id` bound to `model` with a fresh state, or resets an
  // existing one (state re-initialised, step count 0, rebound to `model`);
  // waits for a step running on it. INVALID_ARGUMENT for a bad id or model;
  // RESOURCE_EXHAUSTED at max_sessions under kRefuse (under
  // kEvictLeastRecentlyUsed the least recently used session is evicted), or
  // when the model's pool is full.
  absl::StatusOr<SessionPtr> Start(absl::string_view id, const ModelRef& model, absl::Time now);

  // Removes session `id`; a step already holding it finishes. NOT_FOUND if
  // absent.
  absl::Status End(absl::string_view id);

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
  // many. Locks one shard at a time. Exact: it looks at every session.
  int ReapIdle(absl::Time now);

  // Every live session, one shard at a time (a session started meanwhile
  // may be missing). For snapshots; the SessionPtrs keep them valid.
  std::vector<SessionPtr> Sessions();

  // Where sessions report their changes (Options::track_changes).
  ChangeFeed& changes() { return changes_; }

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
    SessionSet sessions ABSL_GUARDED_BY(mu);
  };

  Shard& ShardFor(absl::string_view id);
  bool IsExpired(const Session& session, absl::Time now) const;
  // Takes a place under max_sessions, evicting if the policy says so.
  absl::Status ReserveSlot();
  // Evicts the least recently used session (exact: EvictionCandidates);
  // false if there was none.
  bool EvictLeastRecentlyUsed() ABSL_LOCKS_EXCLUDED(eviction_mu_);
  // Refills the candidates with one scan of every shard.
  void ScanForEvictionCandidates() ABSL_EXCLUSIVE_LOCKS_REQUIRED(eviction_mu_);
  // A session used (started or stepped) at `now`: one used before the
  // newest eviction candidate makes the candidates stale (a caller's clock
  // that went back; the scan could not have seen it).
  void NoteUse(absl::Time now);
  enum class Ending { kEnded, kExpired, kEvicted };
  // Counts a session that goes, in the store's and its model's counters,
  // and tells the gone-listener.
  void CountEnding(const Session& session, Ending why);
  void CountEndingQuietly(const Session& session, Ending why);
  // Removes `id` from `shard` and counts it; returns the session for the
  // caller to drop once the shard lock is released.
  SessionPtr EraseLocked(Shard& shard, absl::string_view id, Ending why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(shard.mu);

  const Options options_;
  GoneListener gone_listener_;
  ChangeFeed changes_;
  std::array<Shard, kShards> shards_;
  absl::Mutex eviction_mu_;
  EvictionCandidates eviction_candidates_ ABSL_GUARDED_BY(eviction_mu_);
  // eviction_candidates_.newest_ns(), for NoteUse without the lock.
  std::atomic<int64_t> newest_candidate_ns_;
  std::atomic<bool> candidates_stale_{false};
  std::atomic<int64_t> size_{0};
  std::atomic<int64_t> created_{0};
  std::atomic<int64_t> ended_{0};
  std::atomic<int64_t> expired_{0};
  std::atomic<int64_t> evicted_{0};
};

// INVALID_ARGUMENT unless `id` is 1 to SessionStore::kMaxIdBytes bytes.
absl::Status ValidateSessionId(absl::string_view id);

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_SESSION_STORE_H_
