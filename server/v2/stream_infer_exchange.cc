#include "server/v2/stream_infer_exchange.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/grpc_status.h"
#include "server/raw_message.h"
#include "server/session_position.h"

namespace rnnserve::server::v2 {

void StreamInferExchange::Serve(const grpc::ByteBuffer& request_bytes,
                                grpc::ByteBuffer* response_bytes, Done done) {
  inference::ModelInferRequest request;  // Run() copies what outlives it.
  const absl::Status parsed = ParseMessage(request_bytes, request);
  auto answer = [metrics = metrics_, id = request.id(), model_name = request.model_name(),
                 model_version = request.model_version(), response_bytes, done = std::move(done)](
                    absl::StatusOr<inference::ModelInferResponse> result) mutable {
    metrics->CountRequest(RequestProtocol::kOpenInference, "ModelStreamInfer",
                          result.status().code());
    inference::ModelStreamInferResponse response;
    if (result.ok()) {
      *response.mutable_infer_response() = *std::move(result);
    } else {
      response.set_error_message(absl::StrCat(absl::StatusCodeToString(result.status().code()),
                                              ": ", result.status().message()));
      // So a client can match the error to its request.
      response.mutable_infer_response()->set_id(id);
      response.mutable_infer_response()->set_model_name(model_name);
      response.mutable_infer_response()->set_model_version(model_version);
      // Where the session stands, when the request was refused for that.
      if (const std::optional<int64_t> steps = SessionStepsOf(result.status())) {
        (*response.mutable_infer_response()->mutable_parameters())["session_steps"].set_int64_param(
            *steps);
      }
    }
    const grpc::Status serialized = SerializeMessage(response, *response_bytes);
    std::move(done)(serialized.ok() ? absl::OkStatus() : ToAbslStatus(serialized));
  };
  if (!parsed.ok()) return answer(parsed);
  runner_->Run(request, deadline_, std::move(answer));
}

}  // namespace rnnserve::server::v2
