// Runs an Open Inference Protocol inference request on the native path:
// ToNativeRequest, then StepHandler (a session's step: the same sessions,
// Redis-tier lookup, batcher, admission and drain gate as rnnserve.v1) or
// StepHandler's whole-sequence halves on the TaskPool (no sequence_id), then
// ToInferResponse. Shared by ModelInfer and ModelStreamInfer (and the REST
// front end to come). Holds no state of its own; thread-safe.
#ifndef RNNSERVE_SERVER_V2_INFER_RUNNER_H_
#define RNNSERVE_SERVER_V2_INFER_RUNNER_H_

#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "inference/grpc_service.pb.h"
#include "server/served_models.h"
#include "server/step_handler.h"
#include "server/task_pool.h"
#include "server/v2/infer_request.h"

namespace rnnserve::server::v2 {

// A native refusal of a step on session `session_id` in the protocol's
// terms: the NOT_FOUND of an unknown or expired session (a step without
// sequence_start) gets the hint "the parameter sequence_start=true"; every
// other status (a NOT_FOUND model or version too) is unchanged.
absl::Status InV2Terms(const absl::Status& status, const std::string& session_id, bool start);

class InferRunner {
 public:
  using Reply = absl::AnyInvocable<void(absl::StatusOr<inference::ModelInferResponse>) &&>;

  // None owned; all outlive the runner.
  InferRunner(const StepHandler* handler, const ServedModels* models, TaskPool* sequences)
      : handler_(handler), models_(models), sequences_(sequences) {}

  // Serves `request`; `reply` runs exactly once: inline when the request is
  // refused before it queues, else on a batcher or pool thread. Codes as the
  // native API's (infer_request.h for the mapping's own). Nothing is applied
  // to a session when the reply is an error. Bytes reserved for the request
  // are released once `reply` returns, so it must hand the answer over
  // (serialize it) before returning.
  void Run(const inference::ModelInferRequest& request, absl::Time deadline, Reply reply) const;

 private:
  void RunStateless(std::unique_ptr<const v1::SequenceRequest> request, absl::Time deadline,
                    ResponseForm form, Reply reply) const;

  const StepHandler* const handler_;
  const ServedModels* const models_;
  TaskPool* const sequences_;
};

}  // namespace rnnserve::server::v2

#endif  // RNNSERVE_SERVER_V2_INFER_RUNNER_H_
