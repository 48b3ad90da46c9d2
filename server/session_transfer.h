// A session's state in and out of the store as a v1::SessionState (model
// name, version, fingerprint, step count, state as little-endian float32):
// the ExportState / ImportState RPCs and the snapshot file share this form,
// so a state saved by one can be loaded by the other. Thread-safe.
#ifndef RNNSERVE_SERVER_SESSION_TRANSFER_H_
#define RNNSERVE_SERVER_SESSION_TRANSFER_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rnnserve/v1/sessions.pb.h"
#include "server/served_models.h"
#include "server/session_store.h"

namespace rnnserve::server {

// Fills `state` from `session` (taking its mutex and waiting for any step
// computing on it). NOT_FOUND if its model version is no longer served.
absl::Status ExportSession(Session& session, const ServedModels& models,
                           v1::SessionState* state);
// The same with the session's mutex already held (to export and close it in
// one step, or to checkpoint it); waits for a step computing on it, releasing
// the mutex meanwhile (Session::AwaitIdle).
absl::Status ExportSessionLocked(Session& session, const ServedModels& models,
                                 v1::SessionState* state)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(session.mu());

// Creates or replaces session state.session_id() with `state`, used at
// `now`. NOT_FOUND for a model not served; FAILED_PRECONDITION when the
// fingerprint is not the served model's; INVALID_ARGUMENT for a bad id, a
// wrong byte count, a non-finite value or negative steps;
// RESOURCE_EXHAUSTED at the session limit. Nothing changes on error.
absl::StatusOr<SessionPtr> ImportSession(const v1::SessionState& state, const ServedModels& models,
                                         SessionStore& store, absl::Time now);

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_SESSION_TRANSFER_H_
