// Refuse before working (issue 20): what one request may ask for, checked
// before anything is computed or applied, for every front end (the native
// gRPC service today; the Open Inference Protocol ones reuse it):
// - its answer must fit the send limit (--max_message_bytes): rows x output
//   width x 4 bytes plus the envelope, known from the request alone;
// - its steps must not pass --max_steps_per_request;
// - what it will allocate must fit the budget for work in flight
//   (--max_inflight_bytes), reserved until its answer is handed to gRPC.
// Codes: INVALID_ARGUMENT for what no retry can change (too many steps, an
// answer past the limit, more than the whole budget), RESOURCE_EXHAUSTED
// only for "not now" (the budget is held by other requests), so a client's
// retry policy may retry RESOURCE_EXHAUSTED and never the others.
// Thread-safe: the limits are immutable, the budget is atomic.
#ifndef RNNSERVE_SERVER_ADMISSION_H_
#define RNNSERVE_SERVER_ADMISSION_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/engine/layer_stack.h"
#include "server/inflight_budget.h"

namespace rnnserve::server {

struct AdmissionLimits {
  int64_t max_message_bytes = 16 << 20;  // the send limit
  // 0: one step per kBytesPerDerivedStep of max_message_bytes (262 144 at
  // 16 MiB). Never more than LayerStack::kMaxInputRows.
  int64_t max_steps_per_request = 0;
  int64_t max_inflight_bytes = int64_t{1} << 30;

  static constexpr int64_t kBytesPerDerivedStep = 64;
  // The steps-per-request cap these limits give.
  int64_t steps_per_request() const;
};

// What a request asks of a model, as far as admission cares.
struct RequestedWork {
  enum class Kind { kSteps, kWholeSequence };  // Step/StreamSteps, RunSequence
  Kind kind = Kind::kSteps;
  int64_t steps = 0;
  bool last_only = false;  // OUTPUT_MODE_LAST_STEP
  // Bytes of the strings the answer carries (request id, session id, model
  // name): part of the envelope.
  int64_t echoed_bytes = 0;
};

class Admission {
 public:
  explicit Admission(const AdmissionLimits& limits);

  // The checks in order, then the reservation. INVALID_ARGUMENT when the
  // answer would pass max_message_bytes (the message names the largest
  // chunk of `model_name` that fits, and OUTPUT_MODE_LAST_STEP), when the
  // steps pass the cap, or when the work exceeds the whole budget;
  // RESOURCE_EXHAUSTED when the budget is held by other requests now. On
  // OK, the caller holds the reservation until its answer is handed over.
  absl::StatusOr<InflightBudget::Reservation> Admit(const model::LayerStack& model,
                                                    absl::string_view model_name,
                                                    const RequestedWork& work);

  // Reserves the `bytes` of a request copied to wait for something other
  // than the budget (its session's lookup by the tier), so that waiting
  // requests count against the same limit. Errors as InflightBudget::Reserve.
  absl::StatusOr<InflightBudget::Reservation> ReserveWaiting(int64_t bytes) {
    return budget_.Reserve(bytes);
  }

  // Serialized bytes of the answer (an upper bound: varints counted at
  // their widest).
  static int64_t AnswerBytes(const model::LayerStack& model, const RequestedWork& work);
  // The most steps whose all-steps answer fits the send limit.
  int64_t LargestAnsweredChunk(const model::LayerStack& model, int64_t echoed_bytes) const;
  // What the request allocates while in flight: its input (the parsed
  // message and the copy the step runs on), the step's outputs, the answer
  // (the outcome, the response message, its serialized bytes) and, for a
  // whole sequence, every layer's outputs for every step.
  static int64_t WorkBytes(const model::LayerStack& model, const RequestedWork& work);

  const AdmissionLimits& limits() const { return limits_; }
  const InflightBudget& budget() const { return budget_; }

 private:
  const AdmissionLimits limits_;
  InflightBudget budget_;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_ADMISSION_H_
