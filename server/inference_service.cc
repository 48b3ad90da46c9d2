#include "server/inference_service.h"

#include <chrono>
#include <utility>

#include "server/grpc_status.h"
#include "server/step_stream.h"

namespace rnnserve::server {
namespace {

// A stream refused before it starts (no token): finishes at once.
class RefusedStream final : public grpc::ServerBidiReactor<v1::StepRequest, v1::StepResponse> {
 public:
  explicit RefusedStream(const absl::Status& status) { Finish(ToGrpcStatus(status)); }

 private:
  void OnDone() override { delete this; }
};

}  // namespace

absl::Time DeadlineOf(const grpc::CallbackServerContext& context) {
  const std::chrono::system_clock::time_point deadline = context.deadline();
  if (deadline >= std::chrono::system_clock::time_point::max() - std::chrono::hours(24 * 365)) {
    return absl::InfiniteFuture();
  }
  return absl::FromChrono(deadline);
}

grpc::ServerBidiReactor<v1::StepRequest, v1::StepResponse>* InferenceServiceImpl::StreamSteps(
    grpc::CallbackServerContext* context) {
  if (absl::Status allowed = Allowed(token_, *context); !allowed.ok()) {
    metrics_->CountRequest("StreamSteps", allowed.code());
    return new RefusedStream(allowed);
  }
  return new StepStream(handler_, metrics_, &streams_, DeadlineOf(*context));
}

grpc::ServerUnaryReactor* InferenceServiceImpl::Step(grpc::CallbackServerContext* context,
                                                     const v1::StepRequest* request,
                                                     v1::StepResponse* response) {
  if (absl::Status allowed = Allowed(token_, *context); !allowed.ok()) {
    return FinishUnary(context, allowed, "Step", metrics_);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  handler_->Handle(*request, DeadlineOf(*context),
                   [this, reactor, response](absl::StatusOr<v1::StepResponse> result) {
                     metrics_->CountRequest("Step", result.status().code());
                     if (!result.ok()) return reactor->Finish(ToGrpcStatus(result.status()));
                     *response = *std::move(result);
                     reactor->Finish(grpc::Status::OK);
                   });
  return reactor;
}

grpc::ServerUnaryReactor* InferenceServiceImpl::RunSequence(
    grpc::CallbackServerContext* context, const v1::SequenceRequest* request,
    v1::SequenceResponse* response) {
  if (absl::Status allowed = Allowed(token_, *context); !allowed.ok()) {
    return FinishUnary(context, allowed, "RunSequence", metrics_);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time deadline = DeadlineOf(*context);
  // A whole sequence can take seconds: it runs on the pool, never on the
  // callback thread. gRPC keeps request and response alive until Finish.
  const absl::Status queued = sequences_->Submit([this, reactor, request, response, deadline] {
    absl::StatusOr<v1::SequenceResponse> result =
        absl::Now() > deadline
            ? absl::DeadlineExceededError("the deadline passed before the sequence started")
            : handler_->RunSequence(*request);
    if (result.ok()) *response = *std::move(result);
    metrics_->CountRequest("RunSequence", result.status().code());
    reactor->Finish(ToGrpcStatus(result.status()));
  });
  if (!queued.ok()) {
    metrics_->CountRequest("RunSequence", queued.code());
    reactor->Finish(ToGrpcStatus(queued));
  }
  return reactor;
}

}  // namespace rnnserve::server
