#include "server/cluster/start_claimer.h"

#include <algorithm>
#include <string>
#include <utility>

#include "server/cluster/session_tier.h"

namespace rnnserve::cluster {

StartClaimer::~StartClaimer() { Stop(); }

void StartClaimer::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void StartClaimer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void StartClaimer::Add(server::SessionPtr session) {
  absl::MutexLock lock(&mu_);
  if (!stopping_) pending_.push_back(std::move(session));
}

void StartClaimer::Loop() {
  std::vector<server::SessionPtr> batch;
  for (;;) {
    {
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || !pending_.empty();
      };
      absl::MutexLock lock(&mu_, absl::Condition(&ready));
      if (pending_.empty()) return;  // Stopping, and nothing left.
      const size_t n = std::min(pending_.size(), static_cast<size_t>(kBatch));
      batch.assign(std::make_move_iterator(pending_.begin()),
                   std::make_move_iterator(pending_.begin() + n));
      pending_.erase(pending_.begin(), pending_.begin() + n);
    }
    ClaimBatch(batch);
    batch.clear();
  }
}

void StartClaimer::ClaimBatch(std::vector<server::SessionPtr>& batch) {
  std::vector<std::string> ids;
  ids.reserve(batch.size());
  for (const auto& session : batch) ids.emplace_back(session->id());
  absl::StatusOr<std::vector<ClaimResult>> claims = tier_->directory_.ClaimStarts(ids);
  if (!claims.ok() || claims->size() != batch.size()) {
    // Left unclaimed: the checkpoint writer queues them again.
    tier_->StoreFailed(claims.ok() ? absl::InternalError("reply count") : claims.status(), "claim");
    return;
  }
  const int64_t now = absl::GetCurrentTimeNanos();
  for (size_t i = 0; i < batch.size(); ++i) {
    const ClaimResult& claim = (*claims)[i];
    batch[i]->RaiseEpoch(claim.epoch);
    batch[i]->set_claimed();
    batch[i]->set_verified_ns(now);
    if (tier_->IsReplica(claim.previous_owner)) {
      // Its copy is stale from now on; the state it answers with is not used.
      tier_->TakeFrom(claim.previous_owner, ids[i], claim.epoch).IgnoreError();
    }
  }
}

}  // namespace rnnserve::cluster
