// rnnserve.v1.InferenceService on gRPC's callback API (STYLE.md): a
// StepStream reactor per stream, unary Step and RunSequence. Reactions return
// fast: steps run on StepBatcher's threads, whole sequences on a TaskPool.
// Thread-safe.
#ifndef RNNSERVE_SERVER_INFERENCE_SERVICE_H_
#define RNNSERVE_SERVER_INFERENCE_SERVICE_H_

#include "rnnserve/v1/inference.grpc.pb.h"
#include "server/metrics.h"
#include "server/step_handler.h"
#include "server/stream_drain.h"
#include "server/task_pool.h"
#include "server/token_check.h"

namespace rnnserve::server {

// Every method is raw (server/raw_message.h): requests are parsed here, so
// bytes that are not a valid message are INVALID_ARGUMENT (on a stream, an
// error response, and the stream goes on), never gRPC's UNIMPLEMENTED or a
// silently ended stream. The wire format is the typed service's.
class InferenceServiceImpl final
    : public v1::InferenceService::WithRawCallbackMethod_StreamSteps<
          v1::InferenceService::WithRawCallbackMethod_Step<
              v1::InferenceService::WithRawCallbackMethod_RunSequence<
                  v1::InferenceService::Service>>> {
 public:
  // None owned; all outlive the server. `token` null: no token needed.
  InferenceServiceImpl(const StepHandler* handler, TaskPool* sequences, ServerMetrics* metrics,
                       const TokenCheck* token = nullptr)
      : handler_(handler), sequences_(sequences), metrics_(metrics), token_(token) {}

  // A StepStream of StepRequest / StepResponse bytes.
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* StreamSteps(
      grpc::CallbackServerContext* context) override;
  // A StepRequest in, a StepResponse out.
  grpc::ServerUnaryReactor* Step(grpc::CallbackServerContext* context,
                                 const grpc::ByteBuffer* request,
                                 grpc::ByteBuffer* response) override;
  // A SequenceRequest in, a SequenceResponse out.
  grpc::ServerUnaryReactor* RunSequence(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;

  // Every open stream (those registered on stream_drain() too) answers its
  // step in flight, then finishes with UNAVAILABLE; new streams finish at
  // once. For graceful shutdown.
  void DrainStreams() { streams_.DrainAll(); }
  // Every open stream answers its step in flight and steps nothing more, but
  // stays open until DrainStreams(); for moving the sessions first.
  void HoldStreams() { streams_.HoldAll(); }
  // The drain of this service's streams, for other streaming services to
  // register theirs (the Open Inference Protocol's ModelStreamInfer).
  StreamDrain* stream_drain() { return &streams_; }

 private:
  const StepHandler* const handler_;
  TaskPool* const sequences_;
  ServerMetrics* const metrics_;
  const TokenCheck* const token_;
  StreamDrain streams_;
};

// The deadline of a call as absl::Time (InfiniteFuture when it has none).
absl::Time DeadlineOf(const grpc::CallbackServerContext& context);

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_INFERENCE_SERVICE_H_
