#include "client/step_caller.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/channel.h"
#include "client/errors.h"

namespace rnnserve::client {
namespace {

// The trailing metadata of a unary Step refused ABORTED: where the session
// stands (ISSUE 13's client protocol; README "Sessions across replicas").
constexpr char kSessionStepsTrailer[] = "rnnserve-session-steps";

std::optional<int64_t> SessionStepsTrailer(const grpc::ClientContext& context) {
  const auto& trailers = context.GetServerTrailingMetadata();
  const auto it = trailers.find(kSessionStepsTrailer);
  int64_t steps = 0;
  if (it == trailers.end() ||
      !absl::SimpleAtoi(absl::string_view(it->second.data(), it->second.size()), &steps)) {
    return std::nullopt;
  }
  return steps;
}

}  // namespace

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
  refused_at_steps_.reset();
  if (transport_ == Transport::kUnary) {
    grpc::ClientContext context;
    PrepareContext(context, timeout_, session_id_);
    const grpc::Status status = stub_->Step(&context, request, &response_);
    if (!status.ok()) {
      if (status.error_code() == grpc::StatusCode::ABORTED) {
        refused_at_steps_ = SessionStepsTrailer(context);
      }
      return RpcError(absl::StrCat("Step (request ", calls_, ")"), status);
    }
    return &response_;
  }
  if (!broken_.ok()) return broken_;
  if (stream_ == nullptr) {
    watchdog_.reset();  // it points at the old context
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
    // 0 is unset in proto3: an ABORTED that does not say where the session
    // stands (replicas racing to claim it: "send the step again"). A refused
    // session never stands at 0: that would be a restart, not a refusal.
    if (response_.error().code() == static_cast<int>(grpc::StatusCode::ABORTED) &&
        response_.session_steps() > 0) {
      refused_at_steps_ = response_.session_steps();
    }
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

void StepCaller::Reopen() {
  broken_ = absl::OkStatus();
  if (stream_ == nullptr) return;
  context_->TryCancel();
  FinishStream().IgnoreError();
}

absl::Status StepCaller::Close() {
  if (stream_ == nullptr) return absl::OkStatus();
  watchdog_->Arm();
  stream_->WritesDone();
  watchdog_->Disarm();
  return FinishStream();
}

}  // namespace rnnserve::client
