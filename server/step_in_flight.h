// What StepHandler keeps of one step request from Handle() until its reply
// (the caller's reply, the session stepped, its model, the bytes reserved,
// when it came), in storage the caller owns: a stream reuses one for each of
// its requests, a unary call keeps one beside its messages. The closure the
// handler hands the batcher then holds only a pointer to it, which
// absl::AnyInvocable stores inline: a step allocates nothing here. Only
// StepHandler reads or writes it; the caller keeps it alive and hands it to
// no other Handle() until the reply has run (the handler empties it before
// the reply runs, so the caller may reuse it from the reply on).
#ifndef RNNSERVE_SERVER_STEP_IN_FLIGHT_H_
#define RNNSERVE_SERVER_STEP_IN_FLIGHT_H_

#include <cstdint>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "rnnserve/v1/inference.pb.h"
#include "server/inflight_budget.h"
#include "server/model_ref.h"
#include "server/session.h"

namespace rnnserve::server {

class StepInFlight {
 public:
  // OK: the response passed to StepHandler::Handle() holds the answer.
  using Reply = absl::AnyInvocable<void(absl::Status) &&>;

  StepInFlight() = default;
  StepInFlight(const StepInFlight&) = delete;
  StepInFlight& operator=(const StepInFlight&) = delete;

 private:
  friend class StepHandler;

  Reply reply_;
  bool gated_ = false;  // the handler's OperationGate was entered
  // The session's model. Kept across requests, but for its stack (which
  // goes to the batcher, or is dropped with the reply): assigning the next
  // one reuses the name's capacity (a copy of a name past the short-string
  // size would allocate).
  ModelRef model_;
  // From the submit to the batcher until the reply.
  v1::StepResponse* response_ = nullptr;  // Not owned; the caller's.
  SessionPtr session_;
  InflightBudget::Reservation reservation_;
  absl::Time received_;
  int64_t steps_ = 0;
  bool end_ = false;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_STEP_IN_FLIGHT_H_
