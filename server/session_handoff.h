// Moving a stopping server's sessions to the replicas that take over
// (--handoff_to, issue 7 "scaling out"). Each live session is exported and
// imported into `target`, normally the session-affinity proxy in front of
// the fleet: the import carries the session's `x-session-id` header, so the
// proxy delivers it to the replica that will receive the session's next
// steps once this one is gone. A moved session is ended here; one that could
// not be moved stays (and goes into the snapshot, if there is one).
// The caller makes the store final first (OperationGate closed) and stops
// listening, so the proxy cannot route an import back here.
#ifndef RNNSERVE_SERVER_SESSION_HANDOFF_H_
#define RNNSERVE_SERVER_SESSION_HANDOFF_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "server/served_models.h"
#include "server/session_store.h"

namespace rnnserve::server {

struct HandoffOptions {
  std::string target;         // HOST:PORT, plaintext
  std::string authorization;  // sent as `authorization` when not empty ("Bearer <token>")
  absl::Time deadline = absl::InfiniteFuture();  // what is not moved by then stays
  int concurrency = 8;                           // imports in flight
};

struct HandoffResult {
  int64_t moved = 0;
  int64_t failed = 0;  // still here: the import was refused or timed out
};

// Moves every session of `store`; logs the first failures.
HandoffResult HandOffSessions(SessionStore& store, const ServedModels& models,
                              const HandoffOptions& options);

// Waits until nothing accepts TCP connections on the host of `listen`
// (wildcards mean loopback) at `port`; false if something still does at
// `deadline`. gRPC closes its listeners asynchronously on Shutdown.
bool WaitUntilNotListening(const std::string& listen, int port, absl::Time deadline);

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_SESSION_HANDOFF_H_
