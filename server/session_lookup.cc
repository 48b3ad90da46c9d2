#include "server/session_lookup.h"

namespace rnnserve::server {

std::optional<absl::StatusOr<SessionPtr>> LookUpLocally(SessionStore& store,
                                                        cluster::SessionTier* tier,
                                                        const std::string& id, absl::Time now,
                                                        SessionStore::Use use) {
  absl::StatusOr<SessionPtr> session = store.Get(id, now, use);
  if (tier == nullptr) return session;
  // A copy closed as stale waits only for its new owner to take it: asking
  // for the session here takes it back from that owner.
  const bool stale = session.ok() && (*session)->stale_since_ns() != 0;
  if (session.ok() && !stale && !tier->NeedsVerification(**session)) return session;
  // An expired or ended session is not pulled back (the tier forgets it).
  if (!session.ok() && !absl::IsNotFound(session.status())) return session;
  return std::nullopt;
}

absl::StatusOr<SessionPtr> LookUpSession(SessionStore& store, cluster::SessionTier* tier,
                                         const std::string& id, absl::Time now,
                                         SessionStore::Use use) {
  std::optional<absl::StatusOr<SessionPtr>> local = LookUpLocally(store, tier, id, now, use);
  if (local.has_value()) return *std::move(local);
  // Here but no longer trusted: re-read its record. Not here (or found
  // stale): the tier knows where it is.
  absl::StatusOr<SessionPtr> session = store.Get(id, now, use);
  if (session.ok() && (*session)->stale_since_ns() == 0 && tier->Verify(*session)) {
    return session;
  }
  if (!session.ok() && !absl::IsNotFound(session.status())) return session;
  return tier->Pull(id, now);
}

}  // namespace rnnserve::server
