// inference.GRPCInferenceService (the Open Inference Protocol over gRPC,
// with Triton's sequence extension) on gRPC's callback API, registered on
// the same port as rnnserve.v1 and sharing its engine, sessions, batcher,
// limits, token check, drain and metrics: a session started on one protocol
// continues on the other. ModelInfer and ModelStreamInfer are raw
// (server/raw_message.h: bytes that are no ModelInferRequest are
// INVALID_ARGUMENT with a reason); the metadata calls are typed. Each call
// counts in rnnserve_requests_total{protocol="inference"}. Thread-safe.
#ifndef RNNSERVE_SERVER_V2_GRPC_INFERENCE_SERVICE_H_
#define RNNSERVE_SERVER_V2_GRPC_INFERENCE_SERVICE_H_

#include <atomic>

#include "inference/grpc_service.grpc.pb.h"
#include "server/metrics.h"
#include "server/served_models.h"
#include "server/stream_drain.h"
#include "server/token_check.h"
#include "server/v2/infer_runner.h"

namespace rnnserve::server::v2 {

// The generated service's method mixins: typed callbacks for the metadata
// calls, raw ones for the two that parse their requests themselves.
using GeneratedService = inference::GRPCInferenceService;
using GrpcInferenceServiceBase = GeneratedService::WithCallbackMethod_ServerLive<
    GeneratedService::WithCallbackMethod_ServerReady<
        GeneratedService::WithCallbackMethod_ModelReady<
            GeneratedService::WithCallbackMethod_ServerMetadata<
                GeneratedService::WithCallbackMethod_ModelMetadata<
                    GeneratedService::WithRawCallbackMethod_ModelInfer<
                        GeneratedService::WithRawCallbackMethod_ModelStreamInfer<
                            GeneratedService::Service>>>>>>>;

class GrpcInferenceService final : public GrpcInferenceServiceBase {
 public:
  // None owned; all outlive the server. `token` null: no token needed.
  // `streams`: the drain the server's shutdown holds and drains (shared
  // with rnnserve.v1's streams).
  GrpcInferenceService(const InferRunner* runner, const ServedModels* models,
                       ServerMetrics* metrics, StreamDrain* streams,
                       const TokenCheck* token = nullptr)
      : runner_(runner), models_(models), metrics_(metrics), streams_(streams), token_(token) {}

  // ServerReady (and ModelReady) answer false from now on: the server is
  // shutting down.
  void StopServing() { serving_.store(false); }

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* context,
                                       const inference::ServerLiveRequest* request,
                                       inference::ServerLiveResponse* response) override;
  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* context,
                                        const inference::ServerReadyRequest* request,
                                        inference::ServerReadyResponse* response) override;
  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* context,
                                       const inference::ModelReadyRequest* request,
                                       inference::ModelReadyResponse* response) override;
  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* context,
                                           const inference::ServerMetadataRequest* request,
                                           inference::ServerMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* context,
                                          const inference::ModelMetadataRequest* request,
                                          inference::ModelMetadataResponse* response) override;
  // A ModelInferRequest in, a ModelInferResponse out.
  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  // A StepStream of ModelInferRequest / ModelStreamInferResponse bytes.
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ModelStreamInfer(
      grpc::CallbackServerContext* context) override;

 private:
  // Finishes a unary call with `status`, counting it under `method`.
  grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context, const char* method,
                                   const absl::Status& status);

  const InferRunner* const runner_;
  const ServedModels* const models_;
  ServerMetrics* const metrics_;
  StreamDrain* const streams_;
  const TokenCheck* const token_;
  std::atomic<bool> serving_{true};
};

}  // namespace rnnserve::server::v2

#endif  // RNNSERVE_SERVER_V2_GRPC_INFERENCE_SERVICE_H_
