// One session stepped through a StepCaller with the resend protocol (README
// "Writing your own client: resending after a crash"): every request carries
// expected_session_steps; ABORTED(N) sends the kept inputs after step N
// again; UNAVAILABLE (a broken stream, a replica gone, a moved session)
// reopens the stream after a short backoff and sends the unanswered request
// again; NOT_FOUND restarts the session and replays it when every input is
// kept, else the session is reported lost. Each step's output reaches the
// caller once, in order, as in a run without failures. Used from one thread.
#ifndef RNNSERVE_CLIENT_SESSION_STEPPER_H_
#define RNNSERVE_CLIENT_SESSION_STEPPER_H_

#include <cstdint>
#include <deque>
#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/resend_window.h"
#include "client/step_caller.h"
#include "rnnserve/v1/inference.pb.h"

namespace rnnserve::client {

struct StepperOptions {
  // Recoveries in a row (no answer between them) before giving up.
  int max_reconnects = 10;
  // The wait before reopening after UNAVAILABLE doubles from `first_backoff`
  // up to `max_backoff`.
  absl::Duration first_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(2);
  int64_t keep_steps = 10000;  // ResendWindow's max_kept_steps
};

// What recovering took, for messages and tests.
struct RecoveryCounts {
  int64_t resent_steps = 0;  // steps sent more than once
  int64_t restarts = 0;      // sessions started again and replayed
  int64_t reconnects = 0;    // streams reopened (or unary calls retried) after UNAVAILABLE
};

class SessionStepper {
 public:
  // `caller` is not owned and outlives the stepper. `request` names the
  // session, model and output mode (its input, start, expectation and id are
  // set per request). `origin`/`session_steps` as for ResendWindow.
  SessionStepper(StepCaller* caller, v1::StepRequest request, ResendWindow::Origin origin,
                 int64_t session_steps, StepperOptions options);

  // Called with each answer and how many of its output rows were shown
  // before (a resent step's answer): show the rest.
  using Deliver = std::function<void(const v1::StepResponse& response, int64_t seen_rows)>;

  // Sends `input` (floats or tokens set, at least one step) and returns once
  // it is answered, recovering on the way. The error of a request the server
  // refused for another reason, DATA_LOSS when the session is lost, or the
  // last error after max_reconnects recoveries in a row.
  absl::Status Step(v1::StepRequest input, const Deliver& deliver);

  const RecoveryCounts& counts() const { return counts_; }

 private:
  // `pending` as a request: the kept input's steps from pending.skip on.
  void Build(const PendingRequest& pending);
  void FreeUnneededInputs();

  StepCaller* const caller_;  // not owned
  v1::StepRequest request_;   // the one being sent
  const StepperOptions options_;
  ResendWindow window_;
  std::deque<v1::StepRequest> inputs_;  // handle first_input_ + i
  uint64_t first_input_ = 0;
  uint64_t next_input_ = 0;
  bool version_pinned_ = false;
  RecoveryCounts counts_;
};

// Steps in a request's input (floats.steps, or the number of token ids).
int64_t InputSteps(const v1::StepRequest& request);

}  // namespace rnnserve::client

#endif  // RNNSERVE_CLIENT_SESSION_STEPPER_H_
