// rnnserve.v1's StreamSteps protocol for a StepStream: parses StepRequest
// bytes (bytes that are no StepRequest get an INVALID_ARGUMENT response),
// steps through the StepHandler and writes StepResponse bytes, an error in
// its own response. Counts each message in rnnserve_requests_total under
// StreamSteps. One per stream; used by one StepStream at a time.
#ifndef RNNSERVE_SERVER_NATIVE_STEP_EXCHANGE_H_
#define RNNSERVE_SERVER_NATIVE_STEP_EXCHANGE_H_

#include <cstdint>

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

  // What a stream keeps of its last request's capacity between steps.
  static constexpr int64_t kKeptBytes = 64 << 10;

 private:
  // Frees request_ when it holds more than kKeptBytes.
  void Trim();

  const StepHandler* const handler_;
  ServerMetrics* const metrics_;
  const absl::Time deadline_;
  // The request being served (Serve to `respond`); between steps, empty
  // with the capacity of the last one, up to kKeptBytes.
  v1::StepRequest request_;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_NATIVE_STEP_EXCHANGE_H_
