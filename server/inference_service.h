// rnnserve.v1.InferenceService on gRPC's callback API (STYLE.md): a
// StepStream reactor per stream, unary Step and RunSequence. Reactions return
// fast; steps run on StepBatcher's threads. Thread-safe.
#ifndef RNNSERVE_SERVER_INFERENCE_SERVICE_H_
#define RNNSERVE_SERVER_INFERENCE_SERVICE_H_

#include "rnnserve/v1/inference.grpc.pb.h"
#include "server/metrics.h"
#include "server/step_handler.h"

namespace rnnserve::server {

class InferenceServiceImpl final : public v1::InferenceService::CallbackService {
 public:
  // Neither owned; both outlive the server.
  InferenceServiceImpl(const StepHandler* handler, ServerMetrics* metrics)
      : handler_(handler), metrics_(metrics) {}

  grpc::ServerBidiReactor<v1::StepRequest, v1::StepResponse>* StreamSteps(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Step(grpc::CallbackServerContext* context,
                                 const v1::StepRequest* request,
                                 v1::StepResponse* response) override;
  grpc::ServerUnaryReactor* RunSequence(grpc::CallbackServerContext* context,
                                        const v1::SequenceRequest* request,
                                        v1::SequenceResponse* response) override;

 private:
  const StepHandler* const handler_;
  ServerMetrics* const metrics_;
};

// The deadline of a call as absl::Time (InfiniteFuture when it has none).
absl::Time DeadlineOf(const grpc::CallbackServerContext& context);

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_INFERENCE_SERVICE_H_
