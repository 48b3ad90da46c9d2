// Sends one session's step requests one at a time, each answered before the
// next is sent: over one StreamSteps stream (the default) or as unary Step
// calls. Every call carries the x-session-id header; the wait for each
// answer is bounded by `timeout` (AnswerWatchdog on the stream, the call's
// deadline when unary). A broken stream stays broken until Reopen(). Used
// from one thread.
#ifndef RNNSERVE_CLIENT_STEP_CALLER_H_
#define RNNSERVE_CLIENT_STEP_CALLER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/answer_watchdog.h"
#include "grpcpp/channel.h"
#include "rnnserve/v1/inference.grpc.pb.h"

namespace rnnserve::client {

class StepCaller {
 public:
  enum class Transport { kStream, kUnary };

  StepCaller(std::shared_ptr<grpc::Channel> channel, std::string session_id, absl::Duration timeout,
             Transport transport);
  ~StepCaller();  // Close()s an open stream, ignoring its outcome.
  StepCaller(const StepCaller&) = delete;
  StepCaller& operator=(const StepCaller&) = delete;

  // The answer to `request`, valid until the next Call. RpcError carrying
  // the response's own error code, the RPC's status, or DEADLINE_EXCEEDED
  // when no answer came within the timeout; after a broken stream every
  // later call fails with the same status.
  absl::StatusOr<const v1::StepResponse*> Call(const v1::StepRequest& request);

  // Where the session stands after the last Call was refused ABORTED: the
  // response's session_steps on a stream, the trailing metadata
  // rnnserve-session-steps when unary; nullopt when the server did not say
  // (session_steps 0 on a stream).
  std::optional<int64_t> refused_at_steps() const { return refused_at_steps_; }

  // Drops a broken (or open) stream, so the next Call opens a new one: the
  // way to go on after UNAVAILABLE. Nothing to do when unary.
  void Reopen();

  // Half-closes the stream and waits for its status; OK when unary or never
  // opened.
  absl::Status Close();

 private:
  absl::Status FinishStream();

  const std::shared_ptr<grpc::Channel> channel_;
  const std::string session_id_;
  const absl::Duration timeout_;
  const Transport transport_;
  std::unique_ptr<v1::InferenceService::Stub> stub_;
  // The stream, opened by the first Call.
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<AnswerWatchdog> watchdog_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::StepRequest, v1::StepResponse>> stream_;
  absl::Status broken_;  // set once the stream failed
  v1::StepResponse response_;
  std::optional<int64_t> refused_at_steps_;
  int64_t calls_ = 0;
};

}  // namespace rnnserve::client

#endif  // RNNSERVE_CLIENT_STEP_CALLER_H_
