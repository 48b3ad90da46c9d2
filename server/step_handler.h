// Turns a StepRequest into a batched step and its StepResponse (DESIGN.md
// section 4): validates the session id and input, starts, finds or resets
// the session, submits to the StepBatcher, ends the session after the step
// when asked. Shared by the streaming and the unary RPC. Thread-safe; holds
// no state of its own.
#ifndef RNNSERVE_SERVER_STEP_HANDLER_H_
#define RNNSERVE_SERVER_STEP_HANDLER_H_

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rnnserve/v1/inference.pb.h"
#include "server/operation_gate.h"
#include "server/served_models.h"
#include "server/session_store.h"
#include "server/step_batcher.h"

namespace rnnserve::server {

class StepHandler {
 public:
  using Reply = absl::AnyInvocable<void(absl::StatusOr<v1::StepResponse>) &&>;

  // None owned; all outlive the handler. `gate` (null: none) counts every
  // request from before it touches a session until its reply.
  StepHandler(SessionStore* store, const ServedModels* models, StepBatcher* batcher,
              OperationGate* gate = nullptr)
      : store_(store), models_(models), batcher_(batcher), gate_(gate) {}

  // Applies `request`; `reply` runs exactly once: inline for a request
  // refused before it queues, else on a batcher thread. Nothing is applied
  // to the session when the reply is an error (UNAVAILABLE once the gate is
  // closed).
  void Handle(const v1::StepRequest& request, absl::Time deadline, Reply reply) const;

  // The stateless whole-sequence call. Runs on the calling thread.
  absl::StatusOr<v1::SequenceResponse> RunSequence(const v1::SequenceRequest& request) const;

 private:
  // Handle() past the gate.
  void HandleAdmitted(const v1::StepRequest& request, absl::Time deadline, Reply reply) const;
  // The running session a non-start request steps, and its model.
  absl::StatusOr<std::shared_ptr<Session>> FindSession(const v1::StepRequest& request,
                                                       absl::Time now, ModelRef& model) const;
  // Starts (or resets) the session of a start request once its input fits.
  absl::StatusOr<std::shared_ptr<Session>> StartSession(const v1::StepRequest& request,
                                                        absl::Time now, ModelRef& model,
                                                        StepInputData& input) const;

  SessionStore* const store_;
  const ServedModels* const models_;
  StepBatcher* const batcher_;
  OperationGate* const gate_;
};

// The steps a request carries, checked against `model`: INVALID_ARGUMENT
// for no input, the wrong kind, a float count that is not whole steps (or a
// negative floats.steps), a token outside the vocabulary, a NaN/Inf value or
// an output_mode this server does not know.
template <typename Request>
absl::StatusOr<StepInputData> InputOf(const Request& request, const model::LayerStack& model);

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_STEP_HANDLER_H_
