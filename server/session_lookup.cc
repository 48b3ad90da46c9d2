#include "server/session_lookup.h"

namespace rnnserve::server {

absl::StatusOr<std::shared_ptr<Session>> LookUpSession(SessionStore& store,
                                                       cluster::SessionTier* tier,
                                                       const std::string& id, absl::Time now,
                                                       SessionStore::Use use) {
  absl::StatusOr<std::shared_ptr<Session>> session = store.Get(id, now, use);
  if (tier == nullptr) return session;
  // A copy closed as stale waits only for its new owner to take it: asking
  // for the session here takes it back from that owner.
  const bool stale = session.ok() && (*session)->stale_since_ns() != 0;
  if (session.ok() && !stale &&
      (!tier->NeedsVerification(**session) || tier->Verify(*session))) {
    return session;
  }
  // Not here (or no longer trusted here): the tier knows where it is. An
  // expired or ended session is not pulled back (the tier forgets it).
  if (!session.ok() && !absl::IsNotFound(session.status())) return session;
  return tier->Pull(id, now);
}

}  // namespace rnnserve::server
