#include "server/v2/grpc_inference_service.h"

#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/grpc_status.h"
#include "server/inference_service.h"
#include "server/raw_message.h"
#include "server/refused_stream.h"
#include "server/session_position.h"
#include "server/step_stream.h"
#include "server/v2/metadata.h"
#include "server/v2/stream_infer_exchange.h"

namespace rnnserve::server::v2 {
grpc::ServerUnaryReactor* GrpcInferenceService::Finish(grpc::CallbackServerContext* context,
                                                       const char* method,
                                                       const absl::Status& status) {
  return FinishUnary(context, status, method, metrics_, RequestProtocol::kOpenInference);
}

grpc::ServerUnaryReactor* GrpcInferenceService::ServerLive(
    grpc::CallbackServerContext* context, const inference::ServerLiveRequest* /*request*/,
    inference::ServerLiveResponse* response) {
  return Finish(context, "ServerLive", RunIfAllowed(token_, *context, [&] {
                  response->set_live(true);
                  return absl::OkStatus();
                }));
}

grpc::ServerUnaryReactor* GrpcInferenceService::ServerReady(
    grpc::CallbackServerContext* context, const inference::ServerReadyRequest* /*request*/,
    inference::ServerReadyResponse* response) {
  return Finish(context, "ServerReady", RunIfAllowed(token_, *context, [&] {
                  response->set_ready(serving_.load());
                  return absl::OkStatus();
                }));
}

grpc::ServerUnaryReactor* GrpcInferenceService::ModelReady(
    grpc::CallbackServerContext* context, const inference::ModelReadyRequest* request,
    inference::ModelReadyResponse* response) {
  return Finish(context, "ModelReady", RunIfAllowed(token_, *context, [&]() -> absl::Status {
                  absl::StatusOr<bool> ready =
                      v2::ModelReady(*models_, request->name(), request->version());
                  if (!ready.ok()) return ready.status();
                  response->set_ready(*ready && serving_.load());
                  return absl::OkStatus();
                }));
}

grpc::ServerUnaryReactor* GrpcInferenceService::ServerMetadata(
    grpc::CallbackServerContext* context, const inference::ServerMetadataRequest* /*request*/,
    inference::ServerMetadataResponse* response) {
  return Finish(context, "ServerMetadata", RunIfAllowed(token_, *context, [&] {
                  *response = v2::ServerMetadata();
                  return absl::OkStatus();
                }));
}

grpc::ServerUnaryReactor* GrpcInferenceService::ModelMetadata(
    grpc::CallbackServerContext* context, const inference::ModelMetadataRequest* request,
    inference::ModelMetadataResponse* response) {
  return Finish(context, "ModelMetadata", RunIfAllowed(token_, *context, [&]() -> absl::Status {
                  absl::StatusOr<inference::ModelMetadataResponse> metadata =
                      v2::ModelMetadata(*models_, request->name(), request->version());
                  if (!metadata.ok()) return metadata.status();
                  *response = *std::move(metadata);
                  return absl::OkStatus();
                }));
}

grpc::ServerUnaryReactor* GrpcInferenceService::ModelInfer(grpc::CallbackServerContext* context,
                                                           const grpc::ByteBuffer* request_bytes,
                                                           grpc::ByteBuffer* response_bytes) {
  if (absl::Status allowed = Allowed(token_, *context); !allowed.ok()) {
    return Finish(context, "ModelInfer", allowed);
  }
  inference::ModelInferRequest request;  // Run() copies what outlives it.
  if (absl::Status parsed = ParseMessage(*request_bytes, request); !parsed.ok()) {
    return Finish(context, "ModelInfer", parsed);
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  runner_->Run(request, DeadlineOf(*context),
               [this, context, reactor,
                response_bytes](absl::StatusOr<inference::ModelInferResponse> result) {
                 metrics_->CountRequest(RequestProtocol::kOpenInference, "ModelInfer",
                                        result.status().code());
                 if (!result.ok()) {
                   // Where the session stands, as the native Step says it.
                   if (const std::optional<int64_t> steps = SessionStepsOf(result.status())) {
                     context->AddTrailingMetadata(kSessionStepsTrailer, absl::StrCat(*steps));
                   }
                   return reactor->Finish(ToGrpcStatus(result.status()));
                 }
                 reactor->Finish(SerializeMessage(*result, *response_bytes));
               });
  return reactor;
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* GrpcInferenceService::ModelStreamInfer(
    grpc::CallbackServerContext* context) {
  if (absl::Status allowed = Allowed(token_, *context); !allowed.ok()) {
    metrics_->CountRequest(RequestProtocol::kOpenInference, "ModelStreamInfer", allowed.code());
    return new RefusedStream(allowed);
  }
  return new StepStream(
      std::make_unique<StreamInferExchange>(runner_, metrics_, DeadlineOf(*context)), streams_);
}

}  // namespace rnnserve::server::v2
