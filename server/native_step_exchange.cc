#include "server/native_step_exchange.h"

#include <optional>
#include <string>
#include <utility>

#include "server/grpc_status.h"
#include "server/raw_message.h"
#include "server/session_position.h"

namespace rnnserve::server {
namespace {

// The response of a request that failed: nothing was applied.
v1::StepResponse ErrorResponse(const std::string& request_id, const std::string& session_id,
                               const absl::Status& status) {
  v1::StepResponse response;
  response.set_request_id(request_id);
  response.set_session_id(session_id);
  response.mutable_error()->set_code(static_cast<int>(status.code()));
  response.mutable_error()->set_message(std::string(status.message()));
  // Where the session stands, when the request was refused for that.
  if (const std::optional<int64_t> steps = SessionStepsOf(status)) {
    response.set_session_steps(*steps);
  }
  return response;
}

}  // namespace

void NativeStepExchange::Serve(const grpc::ByteBuffer& request_bytes, Respond respond) {
  // request_ lives until the answer: the step reads its input rows where
  // they were parsed. Reused from step to step, it keeps its capacity
  // (no allocation for a step the size of the last), bounded (see Trim).
  const absl::Status parsed = ParseMessage(request_bytes, request_);
  auto answer = [this,
                 respond = std::move(respond)](absl::StatusOr<v1::StepResponse> result) mutable {
    metrics_->CountRequest("StreamSteps", result.status().code());
    const v1::StepResponse response =
        result.ok() ? *std::move(result)
                    : ErrorResponse(request_.request_id(), request_.session_id(), result.status());
    // Done with the request before respond: once it runs, the next Serve may.
    Trim();
    // Cannot fail: Admission keeps every answer within --max_message_bytes,
    // below protobuf's 2 GiB. Kept as the guard it was.
    grpc::ByteBuffer bytes;
    const grpc::Status serialized = SerializeMessage(response, bytes);
    if (!serialized.ok()) return std::move(respond)(ToAbslStatus(serialized));
    std::move(respond)(std::move(bytes));
  };
  if (!parsed.ok()) return answer(parsed);
  handler_->Handle(request_, deadline_, std::move(answer));
}

void NativeStepExchange::Trim() {
  // A Clear()ed message keeps its capacity: a long chunk's input would stay
  // with a stream that idles for hours (issue 20). Past kKeptBytes, the
  // message is freed; below, the next parse reuses it.
  const int64_t kept =
      int64_t{4} * request_.floats().values().Capacity() +
      int64_t{8} * request_.tokens().ids().Capacity() +
      static_cast<int64_t>(request_.request_id().capacity() + request_.session_id().capacity() +
                           request_.model().name().capacity());
  if (kept > kKeptBytes) request_ = v1::StepRequest();
}

}  // namespace rnnserve::server
