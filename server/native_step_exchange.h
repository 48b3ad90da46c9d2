// rnnserve.v1's StreamSteps protocol for a StepStream: parses StepRequest
// bytes (bytes that are no StepRequest get an INVALID_ARGUMENT response),
// steps through the StepHandler and writes StepResponse bytes, an error in
// its own response. Counts each message in rnnserve_requests_total under
// StreamSteps. One per stream; used by one StepStream at a time.
#ifndef RNNSERVE_SERVER_NATIVE_STEP_EXCHANGE_H_
#define RNNSERVE_SERVER_NATIVE_STEP_EXCHANGE_H_

#include "absl/time/time.h"
#include "server/metrics.h"
#include "server/step_handler.h"
#include "server/stream_exchange.h"

namespace rnnserve::server {

class NativeStepExchange final : public StreamExchange {
 public:
  // None owned; all outlive the server. `deadline`: the stream's.
  NativeStepExchange(const StepHandler* handler, ServerMetrics* metrics, absl::Time deadline)
      : handler_(handler), metrics_(metrics), deadline_(deadline) {}

  void Serve(const grpc::ByteBuffer& request, Respond respond) override;

 private:
  const StepHandler* const handler_;
  ServerMetrics* const metrics_;
  const absl::Time deadline_;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_NATIVE_STEP_EXCHANGE_H_
