#include "server/session_store.h"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "glog/logging.h"
#include "server/metrics.h"
#include "util/status_macros.h"

namespace rnnserve::server {

namespace {

absl::Status ValidateModel(const ModelRef& model) {
  if (model.stack == nullptr || model.pool == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("model ", model.name, " version ", model.version,
                                                   ": needs a stack and a state pool"));
  }
  if (model.pool->slot_floats() != model.stack->state_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model ", model.name, " version ", model.version, ": state pool slots hold ",
        model.pool->slot_floats(), " floats, want state_size() ", model.stack->state_size()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSessionId(absl::string_view id) {
  if (id.empty() || id.size() > SessionStore::kMaxIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "session id must be 1 to ", SessionStore::kMaxIdBytes, " bytes, got ", id.size()));
  }
  return absl::OkStatus();
}

namespace {

// Sessions one scan keeps as eviction candidates: at 1 000 000 sessions a
// scan (about 20 ms) then serves 4096 evictions. At most 4096 ids of at most
// kMaxIdBytes are copied.
constexpr size_t kEvictionCandidates = 4096;

}  // namespace

SessionStore::SessionStore(const Options& options)
    : options_(options),
      eviction_candidates_(kEvictionCandidates),
      newest_candidate_ns_(std::numeric_limits<int64_t>::min()) {}

void SessionStore::NoteUse(absl::Time now) {
  if (options_.full_policy == FullPolicy::kEvictLeastRecentlyUsed &&
      absl::ToUnixNanos(now) < newest_candidate_ns_.load(std::memory_order_relaxed)) {
    candidates_stale_.store(true, std::memory_order_relaxed);
  }
}

SessionStore::Shard& SessionStore::ShardFor(absl::string_view id) {
  // The high bits: the shard's set (SessionIdHash) keeps the low 7 bits of the same hash as
  // its control byte, which would be near-constant within a shard.
  const size_t hash = absl::Hash<absl::string_view>{}(id);
  return shards_[(hash >> (std::numeric_limits<size_t>::digits - 8)) % kShards];
}

bool SessionStore::IsExpired(const Session& session, absl::Time now) const {
  return now - session.last_used() > options_.idle_timeout;
}

void SessionStore::CountEnding(const Session& session, Ending why) {
  if (gone_listener_) gone_listener_(std::string(session.id()), session.epoch());
  CountEndingQuietly(session, why);
}

void SessionStore::CountEndingQuietly(const Session& session, Ending why) {
  ModelMetrics* metrics = session.metrics();
  if (metrics != nullptr) metrics->active_sessions.Decrement();
  switch (why) {
    case Ending::kEnded:
      ++ended_;
      if (metrics != nullptr) metrics->sessions_ended_total.Increment();
      return;
    case Ending::kExpired:
      ++expired_;
      if (metrics != nullptr) metrics->sessions_expired_total.Increment();
      return;
    case Ending::kEvicted:
      ++evicted_;
      if (metrics != nullptr) metrics->sessions_evicted_total.Increment();
      return;
  }
}

SessionPtr SessionStore::EraseLocked(Shard& shard, absl::string_view id, Ending why) {
  auto it = shard.sessions.find(id);
  if (it == shard.sessions.end()) return nullptr;
  SessionPtr session = *it;
  shard.sessions.erase(it);
  --size_;
  CountEnding(*session, why);
  return session;
}

absl::StatusOr<SessionPtr> SessionStore::Get(absl::string_view id, absl::Time now, Use use) {
  RNN_RETURN_IF_ERROR(ValidateSessionId(id));
  Shard& shard = ShardFor(id);
  SessionPtr expired;  // dropped after the shard lock
  absl::MutexLock lock(&shard.mu);
  auto it = shard.sessions.find(id);
  if (it == shard.sessions.end()) {
    return absl::NotFoundError(absl::StrCat("session \"", id, "\" not found: start it first"));
  }
  if (IsExpired(**it, now)) {
    expired = EraseLocked(shard, id, Ending::kExpired);
    return absl::NotFoundError(absl::StrCat("session \"", id, "\" expired: idle for more than ",
                                            absl::FormatDuration(options_.idle_timeout)));
  }
  if (use == Use::kStep) {
    (*it)->Touch(now);
    NoteUse(now);
  }
  return *it;
}

absl::StatusOr<SessionPtr> SessionStore::Start(absl::string_view id, const ModelRef& model,
                                               absl::Time now) {
  RNN_RETURN_IF_ERROR(ValidateSessionId(id));
  RNN_RETURN_IF_ERROR(ValidateModel(model));
  Shard& shard = ShardFor(id);
  SessionPtr session;
  SessionPtr expired;
  {
    absl::MutexLock lock(&shard.mu);
    auto it = shard.sessions.find(id);
    if (it != shard.sessions.end()) {
      if (IsExpired(**it, now)) {
        expired = EraseLocked(shard, id, Ending::kExpired);
      } else {
        session = *it;
        session->Touch(now);
        NoteUse(now);
      }
    }
  }
  expired.reset();

  if (session == nullptr) {
    // Reserve, allocate and initialise without the shard lock, then insert.
    RNN_RETURN_IF_ERROR(ReserveSlot());
    absl::StatusOr<float*> slot = model.pool->Allocate();
    if (!slot.ok()) {
      --size_;
      return slot.status();
    }
    model.stack->InitState(*slot);
    auto fresh =
        Session::Create(id, model, *slot, now, options_.track_changes ? &changes_ : nullptr);
    {
      absl::MutexLock lock(&shard.mu);
      auto [it, inserted] = shard.sessions.insert(fresh);
      if (inserted) {
        NoteUse(now);  // after any eviction its reservation made
        ++created_;
        // Only now can the checkpoint writer find it by its id.
        if (options_.track_changes) changes_.Add(id);
        if (model.metrics != nullptr) {
          model.metrics->sessions_created_total.Increment();
          model.metrics->active_sessions.Increment();
        }
        return fresh;
      }
      // Another Start of this id won the race: reset its session instead.
      session = *it;
      session->Touch(now);
      NoteUse(now);
    }
    --size_;
    fresh.reset();  // returns our slot
  }

  // Waits for a step computing on the session; no shard lock is held.
  absl::MutexLock lock(&session->mu());
  session->AwaitIdle();
  RNN_RETURN_IF_ERROR(session->Reset(model));
  return session;
}

absl::Status SessionStore::End(absl::string_view id) {
  RNN_RETURN_IF_ERROR(ValidateSessionId(id));
  Shard& shard = ShardFor(id);
  SessionPtr ended;  // dropped after the shard lock
  absl::MutexLock lock(&shard.mu);
  ended = EraseLocked(shard, id, Ending::kEnded);
  if (ended == nullptr) {
    return absl::NotFoundError(absl::StrCat("session \"", id, "\" not found"));
  }
  return absl::OkStatus();
}

bool SessionStore::Remove(const Session& session) {
  Shard& shard = ShardFor(session.id());
  SessionPtr removed;  // dropped after the shard lock
  absl::MutexLock lock(&shard.mu);
  auto it = shard.sessions.find(session.id());
  if (it == shard.sessions.end() || it->get() != &session) return false;
  removed = *it;
  shard.sessions.erase(it);
  --size_;
  CountEndingQuietly(*removed, Ending::kEnded);
  return true;
}

std::vector<SessionPtr> SessionStore::Sessions() {
  std::vector<SessionPtr> sessions;
  sessions.reserve(static_cast<size_t>(std::max<int64_t>(size_.load(), 0)));
  for (Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    for (const SessionPtr& session : shard.sessions) sessions.push_back(session);
  }
  return sessions;
}

int SessionStore::ReapIdle(absl::Time now) {
  int reaped = 0;
  std::vector<SessionPtr> doomed;
  for (Shard& shard : shards_) {
    {
      absl::MutexLock lock(&shard.mu);
      for (auto it = shard.sessions.begin(); it != shard.sessions.end();) {
        if (IsExpired(**it, now)) {
          doomed.push_back(*it);
          shard.sessions.erase(it++);
        } else {
          ++it;
        }
      }
    }
    reaped += static_cast<int>(doomed.size());
    size_ -= static_cast<int64_t>(doomed.size());
    for (const auto& session : doomed) CountEnding(*session, Ending::kExpired);
    doomed.clear();  // releases the slots outside the shard lock
  }
  return reaped;
}

absl::Status SessionStore::ReserveSlot() {
  int64_t n = size_.load();
  for (;;) {
    if (n < options_.max_sessions) {
      if (size_.compare_exchange_weak(n, n + 1)) return absl::OkStatus();
      continue;  // `n` now holds the current size
    }
    if (options_.full_policy == FullPolicy::kRefuse || !EvictLeastRecentlyUsed()) {
      return absl::ResourceExhaustedError(
          absl::StrCat("session limit reached: ", options_.max_sessions, " sessions are live"));
    }
    n = size_.load();
  }
}

// One shard lock at a time: about 1M/64 sessions each at a million, 0.3 ms.
void SessionStore::ScanForEvictionCandidates() {
  eviction_candidates_.BeginScan();
  candidates_stale_.store(false, std::memory_order_relaxed);
  for (Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    for (const SessionPtr& session : shard.sessions) {
      eviction_candidates_.Offer(session->last_used_ns_.load(), session->id());
    }
  }
  eviction_candidates_.Finish();
  newest_candidate_ns_.store(eviction_candidates_.newest_ns(), std::memory_order_relaxed);
}

bool SessionStore::EvictLeastRecentlyUsed() {
  absl::MutexLock lock(&eviction_mu_);
  if (candidates_stale_.load(std::memory_order_relaxed)) eviction_candidates_.BeginScan();
  bool scanned = false;
  for (;;) {
    if (eviction_candidates_.empty()) {
      // Every candidate of a fresh scan went or was used meanwhile: the
      // caller looks at the size again.
      if (scanned) return true;
      ScanForEvictionCandidates();
      scanned = true;
      if (eviction_candidates_.empty()) return false;
    }
    const EvictionCandidates::Candidate oldest = *eviction_candidates_.TakeOldest();
    Shard& shard = ShardFor(oldest.id);
    SessionPtr evicted;  // dropped after the shard lock
    absl::MutexLock shard_lock(&shard.mu);
    auto it = shard.sessions.find(oldest.id);
    // Ended, or used (or restarted) since the scan: newer than the rest.
    if (it == shard.sessions.end() || (*it)->last_used_ns_.load() != oldest.last_used_ns) continue;
    evicted = EraseLocked(shard, oldest.id, Ending::kEvicted);
    return true;
  }
}

}  // namespace rnnserve::server
