#include "server/inference_service.h"

#include <chrono>

#include "server/grpc_status.h"

namespace rnnserve::server {
namespace {

// One client stream, strictly read -> step -> write -> read. A bad request
// gets its error in its own response and the stream goes on; exactly one
// Finish, once no step of this stream is in flight.
class StepStream final : public grpc::ServerBidiReactor<v1::StepRequest, v1::StepResponse> {
 public:
  StepStream(const StepHandler* handler, ServerMetrics* metrics, absl::Time deadline)
      : handler_(handler), metrics_(metrics), deadline_(deadline) {
    StartRead(&request_);
  }

 private:
  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);  // The client half-closed: the normal end.
      return;
    }
    handler_->Handle(request_, deadline_, [this](absl::StatusOr<v1::StepResponse> result) {
      metrics_->CountRequest("StreamSteps", result.status().code());
      if (result.ok()) {
        response_ = *std::move(result);
      } else {
        response_.Clear();
        response_.set_request_id(request_.request_id());
        response_.set_session_id(request_.session_id());
        response_.mutable_error()->set_code(static_cast<int>(result.status().code()));
        response_.mutable_error()->set_message(std::string(result.status().message()));
      }
      StartWrite(&response_);  // Untouched until OnWriteDone.
    });
  }

  void OnWriteDone(bool ok) override {
    if (ok) {
      StartRead(&request_);
    } else {
      Finish(grpc::Status::CANCELLED);  // The client is gone; Finish is owed.
    }
  }

  void OnDone() override { delete this; }  // The last reaction.

  const StepHandler* const handler_;  // Not owned; outlives the server.
  ServerMetrics* const metrics_;      // Not owned; outlives the server.
  const absl::Time deadline_;
  v1::StepRequest request_;
  v1::StepResponse response_;
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
  return new StepStream(handler_, metrics_, DeadlineOf(*context));
}

grpc::ServerUnaryReactor* InferenceServiceImpl::Step(grpc::CallbackServerContext* context,
                                                     const v1::StepRequest* request,
                                                     v1::StepResponse* response) {
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
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // TODO(issue 6): run long sequences on the batcher's threads, not gRPC's.
  absl::StatusOr<v1::SequenceResponse> result = handler_->RunSequence(*request);
  if (result.ok()) *response = *std::move(result);
  metrics_->CountRequest("RunSequence", result.status().code());
  reactor->Finish(ToGrpcStatus(result.status()));
  return reactor;
}

}  // namespace rnnserve::server
