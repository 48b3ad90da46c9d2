// Turns a StepRequest into a batched step and its StepResponse (DESIGN.md
// section 4): validates the session id and input, admits the request
// (server/admission.h: answer size, steps, bytes in flight), starts, finds or
// resets the session, submits to the StepBatcher, ends the session after the
// step when asked. Shared by the streaming and the unary RPC; whole sequences
// are admitted here too. Thread-safe; holds no state of its own.
#ifndef RNNSERVE_SERVER_STEP_HANDLER_H_
#define RNNSERVE_SERVER_STEP_HANDLER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rnnserve/v1/inference.pb.h"
#include "server/admission.h"
#include "server/cluster/session_tier.h"
#include "server/inflight_budget.h"
#include "server/operation_gate.h"
#include "server/served_models.h"
#include "server/session_store.h"
#include "server/step_batcher.h"
#include "server/step_in_flight.h"

namespace rnnserve::server {

// A request's input, checked against its model and admitted: the bytes it
// will allocate are reserved until its answer is handed to gRPC. `input`
// views the rows of the request it was admitted from.
struct AdmittedInput {
  StepInputData input;
  InflightBudget::Reservation reservation;
};

// A whole sequence admitted (validated, bytes reserved), waiting to run.
struct AdmittedSequence {
  ServedModelPtr model;  // kept loaded until the answer
  // Kept until the answer: `admitted.input` views its rows.
  std::unique_ptr<const v1::SequenceRequest> request;
  AdmittedInput admitted;
  bool last_only = false;
};

// A step request, its response and the handler's state of it, for a caller
// that keeps them on the heap from Handle() until its reply (a unary call; a
// stream keeps its own and reuses them).
struct StepMessages {
  v1::StepRequest request;
  v1::StepResponse response;
  StepInFlight in_flight;
};

class StepHandler {
 public:
  // OK: the response passed to Handle() holds the answer.
  using Reply = StepInFlight::Reply;

  // None owned; all outlive the handler. `gate` (null: none) counts every
  // request from before it touches a session until its reply.
  // `tier` (null: none) finds sessions other replicas hold and claims the
  // ones started here (server/cluster/session_tier.h).
  StepHandler(SessionStore* store, const ServedModels* models, StepBatcher* batcher,
              Admission* admission, OperationGate* gate = nullptr,
              cluster::SessionTier* tier = nullptr)
      : store_(store),
        models_(models),
        batcher_(batcher),
        admission_(admission),
        gate_(gate),
        tier_(tier) {}

  // Applies `request` and writes its answer into `response` (cleared
  // first; the outputs go straight into its field, no copy per step). The
  // caller keeps both and `in_flight` alive, `request` unchanged, until
  // `reply` has run (it may run before Handle returns): the step reads the
  // input rows where they were parsed, and `in_flight` holds the request's
  // state meanwhile (server/step_in_flight.h). A reused trio allocates
  // nothing for a step no larger than the last, nor does a `reply` of at
  // most two pointers (absl stores it inline). `reply` runs exactly once:
  // inline for a request refused before it queues (admission included) or
  // computed inline (StepBatcher::Options::inline_max_steps), else on a
  // batcher thread, or on the tier's lookup threads when the lookup of its
  // session needed Redis (refused there, or computed inline). Nothing is
  // applied to the session when the reply is an error (UNAVAILABLE once the
  // gate is closed). The reservation in flight is released once `reply`
  // returns.
  void Handle(const v1::StepRequest& request, v1::StepResponse& response, absl::Time deadline,
              StepInFlight& in_flight, Reply reply) const;

  // The stateless whole-sequence call in two halves, so that only admitted
  // work queues: AdmitSequence (cheap, on the calling thread) validates and
  // reserves; RunSequence computes. The caller releases
  // `sequence.admitted.reservation` once the answer is handed over.
  absl::StatusOr<AdmittedSequence> AdmitSequence(
      std::unique_ptr<const v1::SequenceRequest> request) const;
  absl::StatusOr<v1::SequenceResponse> RunSequence(const AdmittedSequence& sequence) const;

 private:
  // Handle() past the gate; `call` holds the reply.
  void HandleAdmitted(const v1::StepRequest& request, v1::StepResponse& response,
                      absl::Time deadline, StepInFlight& call) const;
  // A non-start request once its session is looked up (`found`): checked,
  // admitted and queued.
  void StepFound(const v1::StepRequest& request, v1::StepResponse& response, absl::Time deadline,
                 absl::Time received, absl::StatusOr<SessionPtr> found, StepInFlight& call) const;
  // The session a non-start request steps, from its lookup, and its model
  // (into `model`); NOT_FOUND says how to begin one, FAILED_PRECONDITION
  // when the request names another model.
  absl::StatusOr<SessionPtr> CheckFound(const v1::StepRequest& request,
                                        absl::StatusOr<SessionPtr> session, ModelRef& model) const;
  // Queues the admitted steps of `request` on `session` (of `call.model_`),
  // their answer into `response`.
  void Submit(const v1::StepRequest& request, v1::StepResponse& response, absl::Time deadline,
              absl::Time received, SessionPtr session, AdmittedInput admitted,
              StepInFlight& call) const;
  // The batcher's answer to Submit: completes the response and replies.
  void Complete(StepInFlight& call, absl::StatusOr<StepOutcome> outcome) const;
  // Runs the reply `call` holds, with `status`, once out of the gate.
  void Answer(StepInFlight& call, const absl::Status& status) const;
  // Starts (or resets) the session of a start request once its input fits
  // and is admitted.
  absl::StatusOr<SessionPtr> StartSession(const v1::StepRequest& request, absl::Time now,
                                          ModelRef& model, AdmittedInput& admitted) const;
  // InputOf, then Admission::Admit: the one place a step request is checked.
  absl::StatusOr<AdmittedInput> Admit(const v1::StepRequest& request,
                                      const model::LayerStack& model,
                                      const std::string& model_name) const;

  SessionStore* const store_;
  const ServedModels* const models_;
  StepBatcher* const batcher_;
  Admission* const admission_;
  OperationGate* const gate_;
  cluster::SessionTier* const tier_;
};

// The steps a request carries, checked against `model`: INVALID_ARGUMENT
// for no input, the wrong kind, a float count that is not whole steps (or a
// negative floats.steps), a token outside the vocabulary, a NaN/Inf value or
// an output_mode this server does not know. The rows stay in `request`,
// which must outlive the result.
template <typename Request>
absl::StatusOr<StepInputData> InputOf(const Request& request, const model::LayerStack& model);

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_STEP_HANDLER_H_
