#include "server/v2/infer_runner.h"

#include <memory>
#include <utility>
#include <variant>

#include "server/v2/infer_response.h"

namespace rnnserve::server::v2 {

void InferRunner::Run(const inference::ModelInferRequest& request, absl::Time deadline,
                      Reply reply) const {
  absl::StatusOr<NativeRequest> native = ToNativeRequest(request, *models_);
  if (!native.ok()) return std::move(reply)(native.status());
  if (const auto* step = std::get_if<v1::StepRequest>(&native->call)) {
    handler_->Handle(*step, deadline,
                     [form = std::move(native->form),
                      reply = std::move(reply)](absl::StatusOr<v1::StepResponse> result) mutable {
                       if (!result.ok()) return std::move(reply)(result.status());
                       std::move(reply)(ToInferResponse(result->outputs(), result->model(),
                                                        result->session_steps(), form));
                     });
    return;
  }
  RunStateless(std::get<v1::SequenceRequest>(native->call), deadline, std::move(native->form),
               std::move(reply));
}

void InferRunner::RunStateless(const v1::SequenceRequest& request, absl::Time deadline,
                               ResponseForm form, Reply reply) const {
  // Validated and admitted here, before it queues, as RunSequence is.
  absl::StatusOr<AdmittedSequence> admitted = handler_->AdmitSequence(request);
  if (!admitted.ok()) return std::move(reply)(admitted.status());
  // Shared with the task: TaskPool drops a task it refuses unrun, and the
  // reply is still owed then.
  auto shared_reply = std::make_shared<Reply>(std::move(reply));
  const absl::Status queued = sequences_->Submit([this, sequence = *std::move(admitted), deadline,
                                                  form = std::move(form), shared_reply]() mutable {
    absl::StatusOr<v1::SequenceResponse> result =
        absl::Now() > deadline
            ? absl::DeadlineExceededError("the deadline passed before the sequence started")
            : handler_->RunSequence(sequence);
    if (!result.ok()) {
      std::move (*shared_reply)(result.status());
    } else {
      std::move (*shared_reply)(
          ToInferResponse(result->outputs(), result->model(), std::nullopt, form));
    }
    sequence.admitted.reservation.Release();  // The answer is handed over.
  });
  if (!queued.ok()) std::move (*shared_reply)(queued);
}

}  // namespace rnnserve::server::v2
