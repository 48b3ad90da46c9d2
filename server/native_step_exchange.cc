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
  // A fresh message each time: a Clear()ed one would keep the capacity of a
  // long chunk's input while the stream idles (issue 20). Handle() copies
  // what outlives it.
  v1::StepRequest request;
  const absl::Status parsed = ParseMessage(request_bytes, request);
  auto answer = [metrics = metrics_, request_id = request.request_id(),
                 session_id = request.session_id(),
                 respond = std::move(respond)](absl::StatusOr<v1::StepResponse> result) mutable {
    metrics->CountRequest("StreamSteps", result.status().code());
    const v1::StepResponse response =
        result.ok() ? *std::move(result) : ErrorResponse(request_id, session_id, result.status());
    // Cannot fail: Admission keeps every answer within --max_message_bytes,
    // below protobuf's 2 GiB. Kept as the guard it was.
    grpc::ByteBuffer bytes;
    const grpc::Status serialized = SerializeMessage(response, bytes);
    if (!serialized.ok()) return std::move(respond)(ToAbslStatus(serialized));
    std::move(respond)(std::move(bytes));
  };
  if (!parsed.ok()) return answer(parsed);
  handler_->Handle(request, deadline_, std::move(answer));
}

}  // namespace rnnserve::server
