#include "server/cluster/checkpoint_writer.h"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "glog/logging.h"
#include "server/cluster/session_tier.h"
#include "server/cluster/start_claimer.h"
#include "server/session_transfer.h"

namespace rnnserve::cluster {
namespace {

// Where SCHED_IDLE is refused: the lowest nice value.
constexpr int kWriterNice = 19;

// Checkpoints take only the CPU the steps leave. SCHED_IDLE (Linux, per
// thread): a step worker or gRPC thread that wakes preempts this thread at
// once, where a nice value still let it finish a slice of up to a
// millisecond first; that delayed the steps around it (100 000 sessions
// at 4 000 steps/s on one core: step p99 1.55-2.1x without the store with
// nice 10; README Performance, "Session store"). Under a
// core the steps keep busy the checkpoints fall behind instead, which
// rnnserve_checkpoint_lag_seconds shows. Best effort: nothing else
// depends on it.
void RunOnIdleCpuOnly() {
  sched_param none{};
  if (sched_setscheduler(0, SCHED_IDLE, &none) != 0) {
    setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), kWriterNice);
  }
}

}  // namespace

CheckpointWriter::~CheckpointWriter() { Stop(); }

void CheckpointWriter::Start(absl::Duration interval) {
  interval_ = interval;
  thread_ = std::thread([this, interval] {
    RunOnIdleCpuOnly();
    while (!stop_.WaitForNotificationWithTimeout(interval)) RunPass(/*all=*/false);
  });
  // Apart from the checkpoints, which may take long with many sessions: a
  // replica that hears from Redis less often than its lease re-verifies
  // every session it answers for.
  heartbeat_ = std::thread([this, interval] {
    while (!stop_.WaitForNotificationWithTimeout(interval / 2)) Heartbeat();
  });
}

void CheckpointWriter::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
  if (heartbeat_.joinable()) heartbeat_.join();
}

bool CheckpointWriter::Heartbeat() {
  const int64_t started = absl::GetCurrentTimeNanos();
  const absl::StatusOr<bool> present =
      tier_->directory_.RenewPresence(std::max(10 * interval_, absl::Seconds(10)));
  if (!present.ok()) {
    tier_->StoreFailed(present.status(), "heartbeat");
    return false;
  }
  // Redis lost what this replica wrote (it came back empty) or never had
  // it: the next pass writes every session, changed or not, so that idle
  // sessions can be found by the other replicas again.
  if (!*present) rewrite_all_.store(true);
  // Fences first: contact counts only once this replica knows what it lost.
  if (!DrainFences()) return false;
  tier_->StoreAnswered(started);
  return true;
}

void CheckpointWriter::Flush(absl::Time deadline) {
  // A Redis that was already down gets one try: a stopping server does not
  // wait out its drain deadline for it.
  const bool was_up = tier_->store_up_.load();
  for (;;) {
    if (RunPass(/*all=*/true)) return ReleaseAll();
    if (!was_up || absl::Now() >= deadline) break;
    absl::SleepFor(std::min(absl::Milliseconds(200), deadline - absl::Now()));
  }
  LOG(WARNING) << "session store: checkpoints not all written at shutdown; a replica that "
               << "takes these sessions restores older checkpoints and their clients resend";
}

void CheckpointWriter::ReleaseAll() {
  std::vector<std::pair<std::string, int64_t>> released;
  for (const auto& session : tier_->store_->Sessions()) {
    absl::MutexLock lock(&session->mu());
    if (session->closed().ok() && session->changed_since_ns() == 0 && !session->claim_due()) {
      released.emplace_back(session->id(), session->epoch());
    }
  }
  for (size_t from = 0; from < released.size(); from += kBatchSessions) {
    const absl::Status status =
        tier_->directory_.Release(absl::MakeConstSpan(released).subspan(from, kBatchSessions));
    if (!status.ok()) return tier_->StoreFailed(status, "release");
  }
}

bool CheckpointWriter::DrainFences() {
  absl::StatusOr<std::vector<std::string>> fences = tier_->directory_.DrainFences();
  if (!fences.ok()) {
    tier_->StoreFailed(fences.status(), "fences");
    return false;
  }
  for (const std::string& fence : *fences) {
    // "<epoch> <session id>": the epoch another replica took it at.
    const std::pair<absl::string_view, absl::string_view> parts =
        absl::StrSplit(fence, absl::MaxSplits(' ', 1));
    int64_t epoch = 0;
    if (!absl::SimpleAtoi(parts.first, &epoch)) continue;
    const std::string id(parts.second);
    absl::StatusOr<server::SessionPtr> session =
        tier_->store_->Get(id, absl::Now(), server::SessionStore::Use::kLookOnly);
    if (session.ok() && (*session)->epoch() < epoch) {
      LOG(INFO) << "session " << id << " was taken from its checkpoint at epoch " << epoch
                << " while this replica did not answer; dropping the stale copy";
      tier_->DropStale(**session, "another replica");
    }
  }
  return true;
}

void CheckpointWriter::ForgetEnded() {
  std::vector<std::pair<std::string, int64_t>> ended;
  {
    absl::MutexLock lock(&tier_->mu_);
    for (auto& [id, epoch] : tier_->forgetting_) ended.emplace_back(id, epoch);
  }
  // A pipeline of kBatchSessions at a time: after an outage there may be
  // many, and one write of them all would hold the steps back (kBatchSessions).
  for (size_t from = 0; from < ended.size(); from += kBatchSessions) {
    const absl::Span<const std::pair<std::string, int64_t>> batch =
        absl::MakeConstSpan(ended).subspan(from, kBatchSessions);
    const absl::Status forgotten = tier_->directory_.Forget(batch);
    if (!forgotten.ok()) return tier_->StoreFailed(forgotten, "forget");
    absl::MutexLock lock(&tier_->mu_);
    for (const auto& [id, epoch] : batch) {
      auto it = tier_->forgetting_.find(id);
      if (it != tier_->forgetting_.end() && it->second == epoch) tier_->forgetting_.erase(it);
    }
  }
}

void CheckpointWriter::DropIfFenced(server::Session& session, int64_t changes) {
  absl::StatusOr<std::optional<SessionRecord>> record =
      tier_->directory_.LookupHeader(std::string(session.id()));
  // Redis cannot say, or the record names this replica (its own restart's
  // claim moved the epoch on): kept, and written again next pass.
  if (!record.ok() || !record->has_value() || tier_->StillMine(session, **record)) {
    absl::MutexLock lock(&session.mu());
    session.GiveBackChanges(changes);
    return;
  }
  tier_->RetireStale(session, (*record)->owner);
}

bool CheckpointWriter::WriteBatch() {
  if (batch_.empty()) return true;
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<CheckpointOutcome>> outcomes =
      tier_->directory_.WriteCheckpoints(batch_);
  SessionTierMetrics& metrics = tier_->metrics_;
  bool ok = outcomes.ok() && outcomes->size() == batch_.size();
  if (ok) {
    metrics.checkpoint_seconds.Observe(absl::ToDoubleSeconds(absl::Now() - start));
    metrics.checkpoint_batch_sessions.Observe(static_cast<double>(batch_.size()));
    for (size_t i = 0; i < batch_.size(); ++i) {
      server::Session& session = *batch_sessions_[i];
      if ((*outcomes)[i] == CheckpointOutcome::kFenced) {
        DropIfFenced(session, batch_changes_[i]);
      } else {
        session.set_durable_steps(std::max(session.durable_steps(), batch_[i].steps));
      }
    }
  } else {
    tier_->StoreFailed(outcomes.ok() ? absl::InternalError("reply count") : outcomes.status(),
                       "checkpoint");
    for (size_t i = 0; i < batch_.size(); ++i) {
      absl::MutexLock lock(&batch_sessions_[i]->mu());
      batch_sessions_[i]->GiveBackChanges(batch_changes_[i]);
    }
  }
  batch_.clear();
  batch_sessions_.clear();
  batch_changes_.clear();
  return ok;
}

// A session started (or imported) while Redis did not answer, rather than
// one whose claim is on its way right now.
bool CheckpointWriter::UnclaimedSince(server::Session& session, int64_t now_ns) const {
  absl::MutexLock lock(&session.mu());
  const int64_t since = session.changed_since_ns();
  return since != 0 && now_ns - since > absl::ToInt64Nanoseconds(interval_);
}

std::vector<server::SessionPtr> CheckpointWriter::SessionsToVisit() {
  server::SessionStore& store = *tier_->store_;
  std::vector<std::string> ids = store.changes().Take();
  if (std::exchange(visit_all_, false)) {
    left_.clear();
    return store.Sessions();  // Those fed before are among them.
  }
  ids.insert(ids.begin(), std::make_move_iterator(left_.begin()),
             std::make_move_iterator(left_.end()));
  left_.clear();
  const absl::Time now = absl::Now();
  absl::flat_hash_set<const server::Session*> seen;
  std::vector<server::SessionPtr> sessions;
  sessions.reserve(ids.size());
  for (const std::string& id : ids) {
    absl::StatusOr<server::SessionPtr> session =
        store.Get(id, now, server::SessionStore::Use::kLookOnly);
    // Gone: ended, expired or moved; its record is the tier's to forget.
    if (session.ok() && seen.insert(session->get()).second) sessions.push_back(*std::move(session));
  }
  return sessions;
}

bool CheckpointWriter::RunPass(bool all) {
  const int64_t started = absl::GetCurrentTimeNanos();
  SessionTierMetrics& metrics = tier_->metrics_;
  const bool heard = Heartbeat();
  // After the records of ended sessions are deleted: a session ended before
  // is gone from the store by then, so no checkpoint of it written below
  // makes its record again (one ended after is deleted next pass).
  if (heard) ForgetEnded();
  std::vector<server::SessionPtr> sessions = SessionsToVisit();
  // The oldest change this pass leaves unwritten, for the lag gauge.
  int64_t oldest_left = std::numeric_limits<int64_t>::max();
  const auto set_lag = [&] {
    metrics.checkpoint_lag_seconds.Set(
        oldest_left == std::numeric_limits<int64_t>::max()
            ? 0.0
            : static_cast<double>(absl::GetCurrentTimeNanos() - oldest_left) * 1e-9);
  };
  // The sessions from `next` on wait for the next pass.
  const auto leave_from = [&](size_t next) {
    for (size_t i = next; i < sessions.size(); ++i) left_.emplace_back(sessions[i]->id());
  };
  if (!heard) {
    for (const auto& session : sessions) {
      absl::MutexLock lock(&session->mu());
      if (session->changed_since_ns() != 0) {
        oldest_left = std::min(oldest_left, session->changed_since_ns());
      }
    }
    leave_from(0);
    set_lag();
    return false;
  }
  if (rewrite_all_.exchange(false)) {
    sessions = tier_->store_->Sessions();
    for (const auto& session : sessions) {
      absl::MutexLock lock(&session->mu());
      session->MarkChanged();
    }
  }
  // Writes the batch; on failure its changes count as left (and the
  // sessions feed them again: Session::GiveBackChanges).
  const auto write = [&] {
    if (batch_.empty()) return true;
    const int64_t oldest = *std::min_element(batch_changes_.begin(), batch_changes_.end());
    if (WriteBatch()) return true;
    oldest_left = std::min(oldest_left, oldest);
    return false;
  };
  bool complete = true;
  const int64_t grace_ns = absl::ToInt64Nanoseconds(SessionTier::kStaleGrace);
  for (size_t i = 0; i < sessions.size(); ++i) {
    const server::SessionPtr& session = sessions[i];
    // A stale copy no replica came to take: its new owner restored it
    // elsewhere.
    if (const int64_t stale = session->stale_since_ns(); stale != 0) {
      if (started - stale > grace_ns) {
        tier_->DropRetired(*session);
      } else {
        left_.emplace_back(session->id());
      }
      continue;
    }
    if (session->claim_due() && UnclaimedSince(*session, started)) {
      tier_->claimer_->Add(session);
    }
    {
      absl::MutexLock lock(&session->mu());
      const int64_t since = session->changed_since_ns();
      if (since == 0 || !session->closed().ok()) continue;
      // A step computing now changes it again: left for the next pass, as a
      // step whose answer is not out yet (the final pass waits for both).
      if (session->claim_due() || (!all && (session->unanswered() > 0 || session->stepping()))) {
        oldest_left = std::min(oldest_left, since);
        complete = false;
        left_.emplace_back(session->id());
        continue;
      }
      v1::SessionState state;
      if (!server::ExportSessionLocked(*session, *tier_->models_, &state).ok()) {
        left_.emplace_back(session->id());  // Still changed: tried again next pass.
        continue;
      }
      const int64_t steps = state.steps();
      batch_.push_back(Checkpoint{std::string(session->id()), session->epoch(), steps,
                                  encoder_.Encode(std::move(state))});
      batch_sessions_.push_back(session);
      batch_changes_.push_back(session->TakeChanges());
    }
    if (batch_.size() == kBatchSessions && !write()) {
      leave_from(i + 1);
      set_lag();
      return false;
    }
  }
  if (!write()) complete = false;
  set_lag();
  return complete;
}

}  // namespace rnnserve::cluster
