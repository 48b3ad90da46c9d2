#include "client/step_caller.h"

#include "absl/strings/str_cat.h"
#include "client/channel.h"
#include "client/errors.h"

namespace rnnserve::client {

StepCaller::StepCaller(std::shared_ptr<grpc::Channel> channel, std::string session_id,
                       absl::Duration timeout, Transport transport)
    : channel_(std::move(channel)),
      session_id_(std::move(session_id)),
      timeout_(timeout),
      transport_(transport),
      stub_(v1::InferenceService::NewStub(channel_)) {}

StepCaller::~StepCaller() { Close().IgnoreError(); }

absl::StatusOr<const v1::StepResponse*> StepCaller::Call(const v1::StepRequest& request) {
  ++calls_;
  if (transport_ == Transport::kUnary) {
    grpc::ClientContext context;
    PrepareContext(context, timeout_, session_id_);
    const grpc::Status status = stub_->Step(&context, request, &response_);
    if (!status.ok()) return RpcError(absl::StrCat("Step (request ", calls_, ")"), status);
    return &response_;
  }
  if (!broken_.ok()) return broken_;
  if (stream_ == nullptr) {
    context_ = std::make_unique<grpc::ClientContext>();
    // No deadline for the whole stream: the watchdog bounds each answer.
    PrepareContext(*context_, absl::ZeroDuration(), session_id_);
    watchdog_ = std::make_unique<AnswerWatchdog>(context_.get(), timeout_);
    stream_ = stub_->StreamSteps(context_.get());
  }
  watchdog_->Arm();
  const bool answered = stream_->Write(request) && stream_->Read(&response_);
  watchdog_->Disarm();
  if (!answered) {
    broken_ = FinishStream();
    if (broken_.ok()) {  // The server ended the stream without an answer.
      broken_ = RpcError("StreamSteps", grpc::Status(grpc::StatusCode::INTERNAL,
                                                     "the stream ended without an answer"));
    }
    return broken_;
  }
  if (response_.has_error()) {
    return RpcError(absl::StrCat("StreamSteps (request ", calls_, ")"), response_.error().code(),
                    response_.error().message());
  }
  return &response_;
}

absl::Status StepCaller::FinishStream() {
  watchdog_->Arm();
  const grpc::Status status = stream_->Finish();
  watchdog_->Disarm();
  stream_.reset();
  if (watchdog_->fired()) {
    return ServerRefused(
        absl::StatusCode::kDeadlineExceeded,
        absl::StrCat("StreamSteps: no answer within --timeout=", absl::FormatDuration(timeout_)));
  }
  return status.ok() ? absl::OkStatus() : RpcError("StreamSteps", status);
}

absl::Status StepCaller::Close() {
  if (stream_ == nullptr) return absl::OkStatus();
  watchdog_->Arm();
  stream_->WritesDone();
  watchdog_->Disarm();
  return FinishStream();
}

}  // namespace rnnserve::client
