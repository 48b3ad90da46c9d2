#include "server/v2/infer_runner.h"

#include <memory>
#include <utility>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/v2/infer_response.h"

namespace rnnserve::server::v2 {

absl::Status InV2Terms(const absl::Status& status, const std::string& session_id, bool start) {
  // Every native refusal of an unknown (or expired) session names it so
  // (step_handler.cc, session_store.cc, the session tier); any other
  // NOT_FOUND (a model, a version) is not the client's missing start.
  if (start || !absl::IsNotFound(status) ||
      !absl::StrContains(status.message(), absl::StrCat("session \"", session_id, "\""))) {
    return status;
  }
  return absl::NotFoundError(absl::StrCat(
      status.message(), " (Open Inference Protocol: the parameter sequence_start=true)"));
}

void InferRunner::Run(const inference::ModelInferRequest& request, absl::Time deadline,
                      Reply reply) const {
  absl::StatusOr<NativeRequest> native = ToNativeRequest(request, *models_);
  if (!native.ok()) return std::move(reply)(native.status());
  if (auto* step = std::get_if<v1::StepRequest>(&native->call)) {
    // Kept until the reply: the step reads its input rows from the request
    // and writes its outputs into the response.
    auto call = std::make_unique<StepMessages>();
    call->request = std::move(*step);
    StepMessages& kept = *call;
    auto answer = [form = std::move(native->form), call = std::move(call),
                   reply = std::move(reply)](absl::Status status) mutable {
      if (!status.ok()) {
        return std::move(reply)(
            InV2Terms(status, call->request.session_id(), call->request.start()));
      }
      const v1::StepResponse& response = call->response;
      std::move(reply)(
          ToInferResponse(response.outputs(), response.model(), response.session_steps(), form));
    };
    handler_->Handle(kept.request, kept.response, deadline, kept.in_flight, std::move(answer));
    return;
  }
  RunStateless(std::make_unique<const v1::SequenceRequest>(
                   std::move(std::get<v1::SequenceRequest>(native->call))),
               deadline, std::move(native->form), std::move(reply));
}

void InferRunner::RunStateless(std::unique_ptr<const v1::SequenceRequest> request,
                               absl::Time deadline, ResponseForm form, Reply reply) const {
  // Validated and admitted here, before it queues, as RunSequence is.
  absl::StatusOr<AdmittedSequence> admitted = handler_->AdmitSequence(std::move(request));
  if (!admitted.ok()) return std::move(reply)(admitted.status());
  // Shared with the task: TaskPool drops a task it refuses unrun, and the
  // reply is still owed then.
  auto shared = std::make_shared<Reply>(std::move(reply));
  auto task = [this, sequence = *std::move(admitted), deadline, form = std::move(form),
               shared]() mutable {
    Reply& answer = *shared;
    absl::StatusOr<v1::SequenceResponse> result =
        absl::Now() > deadline
            ? absl::DeadlineExceededError("the deadline passed before the sequence started")
            : handler_->RunSequence(sequence);
    if (result.ok()) {
      std::move(answer)(ToInferResponse(result->outputs(), result->model(), std::nullopt, form));
    } else {
      std::move(answer)(result.status());
    }
    sequence.admitted.reservation.Release();  // The answer is handed over.
  };
  if (const absl::Status queued = sequences_->Submit(std::move(task)); !queued.ok()) {
    Reply& answer = *shared;
    std::move(answer)(queued);
  }
}

}  // namespace rnnserve::server::v2
