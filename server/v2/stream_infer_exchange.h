// The Open Inference Protocol's ModelStreamInfer for a StepStream: parses
// ModelInferRequest bytes, runs them through the InferRunner and writes
// ModelStreamInferResponse bytes. A failed request (bytes that are no
// ModelInferRequest included) gets `error_message` ("CODE: message", the
// gRPC code's name first, as a stream has no status per message) with
// `infer_response` naming the model and echoing the id, and the stream goes
// on. Counts each message in rnnserve_requests_total{protocol="inference",
// method="ModelStreamInfer"}. One per stream.
#ifndef RNNSERVE_SERVER_V2_STREAM_INFER_EXCHANGE_H_
#define RNNSERVE_SERVER_V2_STREAM_INFER_EXCHANGE_H_

#include "absl/time/time.h"
#include "server/metrics.h"
#include "server/stream_exchange.h"
#include "server/v2/infer_runner.h"

namespace rnnserve::server::v2 {

class StreamInferExchange final : public StreamExchange {
 public:
  // None owned; all outlive the server. `deadline`: the stream's.
  StreamInferExchange(const InferRunner* runner, ServerMetrics* metrics, absl::Time deadline)
      : runner_(runner), metrics_(metrics), deadline_(deadline) {}

  void Serve(const grpc::ByteBuffer& request, grpc::ByteBuffer* response, Done done) override;

 private:
  const InferRunner* const runner_;
  ServerMetrics* const metrics_;
  const absl::Time deadline_;
};

}  // namespace rnnserve::server::v2

#endif  // RNNSERVE_SERVER_V2_STREAM_INFER_EXCHANGE_H_
