// The one way a request finds the session it names: in this replica's
// store, or, with a session tier (--session_store), pulled from the replica
// or checkpoint that holds it; a local copy the tier no longer trusts is
// re-verified first (server/cluster/session_tier.h). Used by the step path
// and the session service alike.
#ifndef RNNSERVE_SERVER_SESSION_LOOKUP_H_
#define RNNSERVE_SERVER_SESSION_LOOKUP_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/cluster/session_tier.h"
#include "server/session_store.h"

namespace rnnserve::server {

// NOT_FOUND as SessionStore::Get when no tier is given or it has nothing;
// the tier's errors otherwise (UNAVAILABLE, ABORTED). With a tier it may
// wait on Redis and on a peer: off gRPC's callback threads
// (SessionTier::RunLookup), unless LookUpLocally answered.
absl::StatusOr<SessionPtr> LookUpSession(SessionStore& store, cluster::SessionTier* tier,
                                         const std::string& id, absl::Time now,
                                         SessionStore::Use use);

// LookUpSession's answer when this replica's store decides it without a
// word with Redis (no tier; a trusted local copy; an id the store refuses),
// else nullopt. Never waits.
std::optional<absl::StatusOr<SessionPtr>> LookUpLocally(SessionStore& store,
                                                        cluster::SessionTier* tier,
                                                        const std::string& id, absl::Time now,
                                                        SessionStore::Use use);

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_SESSION_LOOKUP_H_
