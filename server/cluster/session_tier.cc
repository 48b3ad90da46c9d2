#include "server/cluster/session_tier.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "server/cluster/checkpoint_codec.h"
#include "server/cluster/checkpoint_writer.h"
#include "server/cluster/session_ended.h"
#include "server/cluster/start_claimer.h"
#include "server/session_transfer.h"
#include "util/status_macros.h"

namespace rnnserve::cluster {
namespace {

// Claims lost to other replicas before a pull gives up (UNAVAILABLE).
constexpr int kPullAttempts = 3;
// A second request for a session being pulled waits at most this long.
constexpr absl::Duration kPullWait = absl::Seconds(5);

}  // namespace

bool SessionTier::IsReplica(const std::string& owner) const {
  return !owner.empty() && owner != kReleasedOwner && owner != options_.advertise;
}

SessionTier::SessionTier(const SessionTierOptions& options, server::SessionStore* store,
                         const server::ServedModels* models, prometheus::Registry& registry)
    : options_(options),
      store_(store),
      models_(models),
      metrics_(registry),
      pool_(options.redis),
      directory_(&pool_, options.prefix, options.advertise, options.record_ttl),
      peers_(options.authorization, options.peer_timeout) {
  const absl::Status ping = directory_.Ping();
  const std::string where =
      absl::StrCat(options.redis.address.host, ":", options.redis.address.port);
  if (ping.ok()) {
    StoreAnswered(absl::GetCurrentTimeNanos());
    LOG(INFO) << "session store: redis " << where << " db " << options.redis.address.db << ", keys "
              << options.prefix << ":*, this replica is " << options.advertise;
  } else {
    StoreFailed(ping, "connect");
    LOG(ERROR) << "session store: redis " << where << " cannot be used (" << ping
               << "); serving sessions from memory only until it answers "
               << "(rnnserve_session_store_up 0)";
  }
  claimer_ = std::make_unique<StartClaimer>(this);
  writer_ = std::make_unique<CheckpointWriter>(this);
}

SessionTier::~SessionTier() { Stop(); }

void SessionTier::Start() {
  claimer_->Start();
  writer_->Start(options_.checkpoint_interval);
}

void SessionTier::FlushAndStop(absl::Time deadline) {
  lookups_.Shutdown();  // The lookups queued so far run first.
  claimer_->Stop();  // The claims queued so far are made first.
  writer_->Stop();
  writer_->Flush(deadline);
  LeaveRetiredInTheirRecords();
}

void SessionTier::LeaveRetiredInTheirRecords() {
  for (const server::SessionPtr& session : store_->Sessions()) {
    if (session->stale_since_ns() == 0) continue;
    absl::StatusOr<std::optional<SessionRecord>> record =
        directory_.LookupHeader(std::string(session->id()));
    if (!record.ok()) return StoreFailed(record.status(), "lookup");
    if (!record->has_value() || !IsReplica((*record)->owner)) continue;
    v1::SessionState state;
    {
      absl::MutexLock lock(&session->mu());
      if (!server::ExportSessionLocked(*session, *models_, &state).ok()) continue;
    }
    const int64_t steps = state.steps();
    const Checkpoint kept{std::string(session->id()), (*record)->epoch, steps,
                          CheckpointEncoder().Encode(std::move(state))};
    if (const absl::Status written = directory_.WriteHandover((*record)->owner, kept);
        !written.ok()) {
      return StoreFailed(written, "handover");
    }
    LOG(INFO) << "session " << session->id() << ": its closed copy (" << steps
              << " steps) left in the store for " << (*record)->owner << ", which claimed it";
  }
}

void SessionTier::Stop() {
  lookups_.Shutdown();
  claimer_->Stop();
  writer_->Stop();
}

void SessionTier::RunLookup(LookupTask task) {
  // The pool drops a task it refuses: the caller's task stays here, to be
  // told why.
  auto held = std::make_shared<LookupTask>(std::move(task));
  const absl::Status queued = lookups_.Submit([held] { std::move (*held)(absl::OkStatus()); });
  if (!queued.ok()) {
    std::move (*held)(
        absl::Status(queued.code(), absl::StrCat("session lookup not queued: ", queued.message())));
  }
}

void SessionTier::StoreFailed(const absl::Status& status, const char* doing) {
  metrics_.store_errors_total.Increment();
  if (store_up_.exchange(false)) {
    LOG(ERROR) << "session store: " << doing << " failed: " << status
               << "; serving from memory, checkpoints resume when Redis answers";
  }
  metrics_.store_up.Set(0);
}

void SessionTier::StoreAnswered(int64_t started_ns) {
  last_contact_ns_.store(started_ns);
  if (!store_up_.exchange(true)) LOG(INFO) << "session store: redis answers";
  metrics_.store_up.Set(1);
}

void SessionTier::ClaimStarted(server::SessionPtr session) {
  // Redis down: the writer queues it once Redis answers.
  if (store_up_.load()) claimer_->Add(std::move(session));
}

void SessionTier::ClaimImported(server::Session& session) {
  if (!store_up_.load()) return;  // The writer claims it once Redis answers.
  absl::StatusOr<ClaimResult> claim;
  for (int attempt = 0; attempt < kPullAttempts; ++attempt) {
    // The state goes on from what another replica gave away: its checkpoint
    // stays until this replica writes a newer one.
    absl::StatusOr<std::optional<SessionRecord>> record =
        directory_.LookupHeader(std::string(session.id()));
    if (!record.ok()) {
      claim = record.status();
      break;
    }
    std::optional<int64_t> expected;
    ClaimMode mode = ClaimMode::kStart;
    if (record->has_value()) {
      mode = ClaimMode::kTake;
      expected = (*record)->epoch;
    }
    claim = directory_.Claim(std::string(session.id()), mode, expected);
    if (!claim.ok() || claim->won) break;
  }
  if (!claim.ok()) return StoreFailed(claim.status(), "claim");
  if (!claim->won) return;  // Left unclaimed: the writer claims it.
  session.RaiseEpoch(claim->epoch);
  session.set_claimed();
  session.set_verified_ns(absl::GetCurrentTimeNanos());
  if (IsReplica(claim->previous_owner)) {
    TakeFrom(claim->previous_owner, std::string(session.id()), claim->epoch).IgnoreError();
  }
}

absl::StatusOr<v1::SessionState> SessionTier::TakeFrom(const std::string& owner,
                                                       const std::string& id, int64_t epoch) {
  v1::TakeSessionRequest request;
  request.set_session_id(id);
  request.set_epoch(epoch);
  request.set_new_owner(options_.advertise);
  const int64_t now = absl::GetCurrentTimeNanos();
  bool recently_unreachable;
  {
    absl::MutexLock lock(&mu_);
    auto it = unreachable_until_ns_.find(owner);
    recently_unreachable = it != unreachable_until_ns_.end() && now < it->second;
  }
  // A replica that just did not answer is not waited for again at once:
  // each pull of its sessions would cost the whole peer timeout.
  absl::StatusOr<v1::SessionState> state =
      recently_unreachable
          ? absl::UnavailableError(absl::StrCat("replica ", owner, " did not answer just now"))
          : peers_.TakeSession(owner, request);
  {
    absl::MutexLock lock(&mu_);
    if (state.ok()) {
      unreachable_until_ns_.erase(owner);
    } else if (!recently_unreachable && PeerUnreachable(state.status())) {
      unreachable_until_ns_[owner] =
          now + absl::ToInt64Nanoseconds(std::max(2 * options_.peer_timeout, absl::Seconds(2)));
    }
  }
  if (!state.ok() && PeerUnreachable(state.status())) {
    // It may only be stopped: it drops its copy when it reads its fences.
    const absl::Status fenced = directory_.Fence(owner, absl::StrCat(epoch, " ", id));
    if (!fenced.ok()) StoreFailed(fenced, "fence");
  }
  return state;
}

void SessionTier::WaitForPull(const std::string& id) {
  std::shared_ptr<absl::Notification> done;
  {
    absl::MutexLock lock(&mu_);
    auto it = pulling_.find(id);
    if (it == pulling_.end()) return;
    done = it->second;
  }
  done->WaitForNotificationWithTimeout(kPullWait);
}

absl::StatusOr<server::SessionPtr> SessionTier::Pull(const std::string& id, absl::Time now) {
  std::shared_ptr<absl::Notification> done;
  {
    absl::MutexLock lock(&mu_);
    if (forgetting_.contains(id)) {
      return absl::NotFoundError(absl::StrCat("session \"", id, "\" ended here"));
    }
    auto [it, first] = pulling_.try_emplace(id, nullptr);
    if (first) {
      it->second = std::make_shared<absl::Notification>();
    } else {
      done = it->second;
    }
  }
  if (done != nullptr) {
    // Another request pulls it; this one steps what that one brings.
    done->WaitForNotificationWithTimeout(kPullWait);
    return store_->Get(id, now);
  }
  absl::StatusOr<server::SessionPtr> pulled = PullOnce(id, now);
  absl::MutexLock lock(&mu_);
  auto it = pulling_.find(id);
  it->second->Notify();
  pulling_.erase(it);
  return pulled;
}

absl::StatusOr<server::SessionPtr> SessionTier::PullOnce(const std::string& id, absl::Time now) {
  for (int attempt = 0; attempt < kPullAttempts; ++attempt) {
    // The claim answers with the checkpoint: the lookup needs only the epoch.
    absl::StatusOr<std::optional<SessionRecord>> record = directory_.LookupHeader(id);
    if (!record.ok()) {
      StoreFailed(record.status(), "lookup");
      return absl::UnavailableError(
          absl::StrCat("session \"", id,
                       "\" is not on this replica and the session store cannot be asked "
                       "where it is (",
                       record.status().message(), "); retry"));
    }
    if (!record->has_value()) {
      metrics_.pulls(PullSource::kNone).Increment();
      return absl::NotFoundError(absl::StrCat("session \"", id, "\" not found"));
    }
    absl::StatusOr<ClaimResult> claim = directory_.Claim(id, ClaimMode::kTake, (*record)->epoch);
    if (!claim.ok()) {
      StoreFailed(claim.status(), "claim");
      return absl::UnavailableError(absl::StrCat(
          "session \"", id, "\" could not be claimed: ", claim.status().message(), "; retry"));
    }
    if (!claim->won) continue;  // Another replica claimed it meanwhile.
    const std::string& owner = claim->previous_owner;
    if (IsReplica(owner)) {
      absl::StatusOr<v1::SessionState> taken = TakeFrom(owner, id, claim->epoch);
      if (taken.ok()) {
        metrics_.pulls(PullSource::kPeer).Increment();
        return Install(*taken, claim->epoch, /*behind=*/false, now);
      }
      if (IsSessionEnded(taken.status())) {
        metrics_.pulls(PullSource::kNone).Increment();
        const std::pair<std::string, int64_t> gone(id, claim->epoch);
        directory_.Forget({&gone, 1}).IgnoreError();  // Its owner's delete no longer matches.
        return taken.status();
      }
      LOG(INFO) << "session " << id << ": owner " << owner << " did not hand it over ("
                << taken.status() << "); restoring its checkpoint";
      // It may have handed it over after all, too late for the call: then
      // the record holds that state (SessionDirectory::WriteHandover).
      absl::StatusOr<std::optional<SessionRecord>> now_record = directory_.Lookup(id);
      if (now_record.ok() && now_record->has_value() &&
          (*now_record)->owner == options_.advertise && (*now_record)->epoch == claim->epoch &&
          (*now_record)->checkpoint_steps >= claim->checkpoint_steps) {
        claim->checkpoint = std::move((*now_record)->checkpoint);
      }
    }
    absl::StatusOr<v1::SessionState> checkpoint = claim->checkpoint.empty()
                                                      ? absl::NotFoundError("no checkpoint")
                                                      : DecodeCheckpoint(claim->checkpoint);
    if (!checkpoint.ok()) {
      if (!claim->checkpoint.empty()) {
        LOG(WARNING) << "session " << id << ": " << checkpoint.status();
      }
      metrics_.pulls(PullSource::kNone).Increment();
      const std::pair<std::string, int64_t> gone(id, claim->epoch);
      directory_.Forget({&gone, 1}).IgnoreError();  // Nothing to pull next time either.
      return absl::NotFoundError(absl::StrCat("session \"", id, "\" was on replica ", owner,
                                              ", which is gone, and had no "
                                              "checkpoint yet: start it again"));
    }
    // A released checkpoint is the state its replica stopped with.
    const bool released = owner == kReleasedOwner;
    metrics_.pulls(released ? PullSource::kReleased : PullSource::kCheckpoint).Increment();
    return Install(*checkpoint, claim->epoch, /*behind=*/!released, now);
  }
  // Nothing was applied and nothing is known of where the session stands:
  // retryable, not ABORTED (which always names the session's steps).
  return absl::UnavailableError(
      absl::StrCat("session \"", id,
                   "\" is being claimed by other replicas at the same time; send the "
                   "step again"));
}

absl::StatusOr<server::SessionPtr> SessionTier::Install(const v1::SessionState& state,
                                                        int64_t epoch, bool behind,
                                                        absl::Time now) {
  // A copy of this replica's that was closed as stale makes way: the state
  // that replaces it is at least as new.
  if (absl::StatusOr<server::SessionPtr> old =
          store_->Get(state.session_id(), now, server::SessionStore::Use::kLookOnly);
      old.ok() && (*old)->stale_since_ns() != 0) {
    DropRetired(**old);
  }
  absl::StatusOr<server::SessionPtr> session = server::ImportSession(state, *models_, *store_, now);
  if (!session.ok()) {
    if (!behind) {
      // The old owner gave its copy away: keep the state in Redis.
      Checkpoint saved{state.session_id(), epoch, state.steps(), CheckpointEncoder().Encode(state)};
      directory_.WriteCheckpoints({&saved, 1}).IgnoreError();
    }
    return session;
  }
  server::Session& installed = **session;
  LOG(INFO) << "session " << state.session_id() << " taken at epoch " << epoch << " with "
            << state.steps() << " steps from " << (behind ? "its checkpoint" : "its owner");
  absl::MutexLock lock(&installed.mu());
  installed.RaiseEpoch(epoch);
  installed.set_claimed();
  installed.set_verified_ns(absl::GetCurrentTimeNanos());
  if (behind) {
    installed.set_restored_behind(true);
    installed.MarkCheckpointed(state.steps());  // It is its checkpoint.
  }
  return session;
}

bool SessionTier::NeedsVerification(const server::Session& session) const {
  if (!store_up_.load()) return false;  // Redis cannot say; serve from memory.
  const int64_t lease_ns = absl::ToInt64Nanoseconds(3 * options_.checkpoint_interval);
  const int64_t confirmed = std::max(last_contact_ns_.load(), session.verified_ns());
  return absl::GetCurrentTimeNanos() - confirmed > lease_ns;
}

bool SessionTier::Verify(const server::SessionPtr& session) {
  const int64_t started = absl::GetCurrentTimeNanos();
  absl::StatusOr<std::optional<SessionRecord>> record =
      directory_.LookupHeader(std::string(session->id()));
  if (!record.ok()) {
    StoreFailed(record.status(), "lookup");
    return true;
  }
  // No record: Redis came back empty; the writer puts this replica's back.
  if (!record->has_value() || StillMine(*session, **record)) {
    session->set_verified_ns(started);
    return true;
  }
  RetireStale(*session, (*record)->owner);
  return false;
}

bool SessionTier::StillMine(server::Session& session, const SessionRecord& record) {
  if (record.owner != options_.advertise) return false;
  // Only this replica names itself owner, and its store holds one copy of a
  // session: a newer epoch is its own claim (a restart) not yet applied.
  session.RaiseEpoch(record.epoch);
  return true;
}

void SessionTier::RetireStale(server::Session& session, const std::string& owner) {
  {
    absl::MutexLock lock(&session.mu());
    if (!session.closed().ok()) return;
    session.CloseAsStale(absl::UnavailableError(absl::StrCat(
        "session \"", session.id(), "\" moved to replica ", owner, "; send this step again")));
  }
  LOG(INFO) << "session " << session.id() << ": closed the copy of epoch " << session.epoch()
            << ", " << owner << " owns it now (kept for it to take)";
  store_->changes().Add(session.id());  // The writer drops it after kStaleGrace.
}

void SessionTier::DropRetired(server::Session& session) {
  if (store_->Remove(session)) {
    metrics_.sessions_fenced_total.Increment();
    LOG(INFO) << "session " << session.id() << ": dropped the closed copy of epoch "
              << session.epoch() << ", no replica took it";
  }
}

void SessionTier::DropStale(server::Session& session, const std::string& owner) {
  {
    absl::MutexLock lock(&session.mu());
    session.Close(absl::UnavailableError(absl::StrCat(
        "session \"", session.id(), "\" moved to replica ", owner, "; send this step again")));
  }
  // Outside the session's lock: the store's lock comes first.
  if (store_->Remove(session)) {
    metrics_.sessions_fenced_total.Increment();
    LOG(INFO) << "session " << session.id() << ": dropped the copy of epoch " << session.epoch()
              << ", " << owner << " owns it now";
  }
}

absl::StatusOr<v1::SessionState> SessionTier::HandOver(const v1::TakeSessionRequest& request) {
  {
    // The new owner calls: it is back, whatever its silence a moment ago
    // made TakeFrom believe. Its sessions are asked of it again at once, not
    // restored from checkpoints that may be behind it (a replica thawed
    // after a pause pulls its sessions back, and is asked for the others).
    absl::MutexLock lock(&mu_);
    unreachable_until_ns_.erase(request.new_owner());
  }
  const auto find = [&] {
    return store_->Get(request.session_id(), absl::Now(), server::SessionStore::Use::kLookOnly);
  };
  absl::StatusOr<server::SessionPtr> found = find();
  if (!found.ok()) {
    // Perhaps on its way here: a pull of this replica's own.
    WaitForPull(request.session_id());
    found = find();
  }
  if (!found.ok() && EndedHere(request.session_id())) {
    return SessionEnded(request.session_id(), options_.advertise);
  }
  RNN_RETURN_IF_ERROR(found.status());
  const server::SessionPtr& session = *found;
  v1::SessionState state;
  {
    absl::MutexLock lock(&session->mu());
    session->AwaitIdle();  // A step computing on it is applied first.
    // A copy closed as stale is kept for exactly this: its state is final.
    if (!session->closed().ok() && session->stale_since_ns() == 0) {
      return absl::NotFoundError(session->closed().message());
    }
    if (session->epoch() >= request.epoch()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "session \"", request.session_id(), "\" is at epoch ", session->epoch(),
          " here, not older than the claim's ", request.epoch()));
    }
    RNN_RETURN_IF_ERROR(server::ExportSessionLocked(*session, *models_, &state));
    session->Close(absl::UnavailableError(absl::StrCat("session \"", request.session_id(),
                                                       "\" moved to replica ", request.new_owner(),
                                                       "; send this step again")));
  }
  store_->Remove(*session);
  // If the answer does not reach the new owner in time, it finds the state
  // in Redis: given away, it must never be lost.
  const Checkpoint handed{request.session_id(), request.epoch(), state.steps(),
                          CheckpointEncoder().Encode(state)};
  if (const absl::Status kept = directory_.WriteHandover(request.new_owner(), handed); !kept.ok()) {
    StoreFailed(kept, "handover");
  }
  LOG(INFO) << "session " << request.session_id() << " handed over to " << request.new_owner()
            << " at epoch " << request.epoch() << ", " << state.steps() << " steps";
  return state;
}

bool SessionTier::EndedHere(const std::string& id) {
  absl::MutexLock lock(&mu_);
  return forgetting_.contains(id);
}

void SessionTier::Forget(const std::string& id, int64_t epoch) {
  absl::MutexLock lock(&mu_);
  if (forgetting_.size() >= kMaxForgetting && !forgetting_.contains(id)) {
    LOG_EVERY_N(WARNING, 10000) << "session store: " << forgetting_.size()
                                << " ended sessions wait for their records to be deleted; the "
                                   "records of sessions ending now stay in Redis";
    return;
  }
  forgetting_[id] = epoch;
}

}  // namespace rnnserve::cluster
