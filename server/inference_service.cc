#include "server/inference_service.h"

#include <chrono>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/grpc_status.h"
#include "server/raw_message.h"
#include "server/refused_stream.h"
#include "server/session_position.h"
#include "server/step_stream.h"

namespace rnnserve::server {
absl::Time DeadlineOf(const grpc::CallbackServerContext& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  if (deadline >= std::chrono::system_clock::time_point::max() - std::chrono::hours(24 * 365)) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(deadline);
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* InferenceServiceImpl::StreamSteps(
    grpc::CallbackServerContext* context) {
  if (absl::Status allowed = Allowed(token_, *context); !allowed.ok()) {
    metrics_->CountRequest("StreamSteps", allowed.code());
    return new RefusedStream(allowed);
  }
  return new StepStream(handler_, metrics_, &streams_, DeadlineOf(*context));
}

grpc::ServerUnaryReactor* InferenceServiceImpl::Step(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* request_bytes,
                                                     grpc::ByteBuffer* response_bytes) {
  if (absl::Status allowed = Allowed(token_, *context); !allowed.ok()) {
    return FinishUnary(context, allowed, "Step", metrics_);
  }
  // Kept until the reply: the step reads its input rows where they were
  // parsed and writes its outputs into the response.
  auto call = std::make_unique<StepMessages>();
  if (absl::Status parsed = ParseMessage(*request_bytes, call->request); !parsed.ok()) {
    return FinishUnary(context, parsed, "Step", metrics_);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  StepMessages& kept = *call;
  handler_->Handle(
      kept.request, kept.response, DeadlineOf(*context), kept.in_flight,
      [this, context, reactor, response_bytes, call = std::move(call)](absl::Status status) {
        metrics_->CountRequest("Step", status.code());
        if (!status.ok()) {
          if (const std::optional<int64_t> steps = SessionStepsOf(status)) {
            context->AddTrailingMetadata(kSessionStepsTrailer, absl::StrCat(*steps));
          }
          return reactor->Finish(ToGrpcStatus(status));
        }
        reactor->Finish(SerializeMessage(call->response, *response_bytes));
      });
  return reactor;
}

grpc::ServerUnaryReactor* InferenceServiceImpl::RunSequence(grpc::CallbackServerContext* context,
                                                            const grpc::ByteBuffer* request_bytes,
                                                            grpc::ByteBuffer* response_bytes) {
  if (absl::Status allowed = Allowed(token_, *context); !allowed.ok()) {
    return FinishUnary(context, allowed, "RunSequence", metrics_);
  }
  auto request = std::make_unique<v1::SequenceRequest>();
  if (absl::Status parsed = ParseMessage(*request_bytes, *request); !parsed.ok()) {
    return FinishUnary(context, parsed, "RunSequence", metrics_);
  }
  // Validated and admitted here, before it queues: only work whose bytes are
  // reserved waits in the pool, and a request too large is refused at once.
  absl::StatusOr<AdmittedSequence> admitted = handler_->AdmitSequence(std::move(request));
  if (!admitted.ok()) return FinishUnary(context, admitted.status(), "RunSequence", metrics_);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time deadline = DeadlineOf(*context);
  // A whole sequence can take seconds: it runs on the pool, never on the
  // callback thread. gRPC keeps response_bytes alive until Finish.
  const absl::Status queued = sequences_->Submit(
      [this, reactor, sequence = *std::move(admitted), response_bytes, deadline]() mutable {
        absl::StatusOr<v1::SequenceResponse> result =
            absl::Now() > deadline
                ? absl::DeadlineExceededError("the deadline passed before the sequence started")
                : handler_->RunSequence(sequence);
        metrics_->CountRequest("RunSequence", result.status().code());
        reactor->Finish(result.ok() ? SerializeMessage(*result, *response_bytes)
                                    : ToGrpcStatus(result.status()));
        sequence.admitted.reservation.Release();  // The answer is gRPC's now.
      });
  if (!queued.ok()) {
    metrics_->CountRequest("RunSequence", queued.code());
    reactor->Finish(ToGrpcStatus(queued));
  }
  return reactor;
}

}  // namespace rnnserve::server
