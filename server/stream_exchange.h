// What one StepStream serves, one message at a time: a request's bytes in,
// its response's bytes out. The protocol lives behind this interface
// (rnnserve.v1's StepRequest/StepResponse: NativeStepExchange; the Open
// Inference Protocol's ModelInferRequest/ModelStreamInferResponse:
// server/v2/stream_infer_exchange.h); the ordering, hold and drain of the
// stream live in StepStream, once for every protocol. One exchange per
// stream; StepStream calls Serve again only after `respond` has run.
#ifndef RNNSERVE_SERVER_STREAM_EXCHANGE_H_
#define RNNSERVE_SERVER_STREAM_EXCHANGE_H_

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "grpcpp/support/byte_buffer.h"

namespace rnnserve::server {

class StreamExchange {
 public:
  // The bytes to write; an error ends the stream with it (a response that
  // cannot be serialized). A request's own failure is a response.
  using Respond = absl::AnyInvocable<void(absl::StatusOr<grpc::ByteBuffer>) &&>;

  virtual ~StreamExchange() = default;
  // Serves `request`; `respond` runs exactly once, inline or on another
  // thread. A request answered means a request applied.
  virtual void Serve(const grpc::ByteBuffer& request, Respond respond) = 0;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_STREAM_EXCHANGE_H_
