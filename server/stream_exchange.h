// What one StepStream serves, one message at a time: a request's bytes in,
// its response's bytes out. The protocol lives behind this interface
// (rnnserve.v1's StepRequest/StepResponse: NativeStepExchange; the Open
// Inference Protocol's ModelInferRequest/ModelStreamInferResponse:
// server/v2/stream_infer_exchange.h); the ordering, hold and drain of the
// stream live in StepStream, once for every protocol. One exchange per
// stream; StepStream calls Serve again only after `done` has run.
#ifndef RNNSERVE_SERVER_STREAM_EXCHANGE_H_
#define RNNSERVE_SERVER_STREAM_EXCHANGE_H_

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "grpcpp/support/byte_buffer.h"

namespace rnnserve::server {

class StreamExchange {
 public:
  // OK: the response's bytes are in the buffer Serve was given. An error
  // ends the stream with it (a response that cannot be serialized); a
  // request's own failure is a response.
  using Done = absl::AnyInvocable<void(absl::Status) &&>;

  virtual ~StreamExchange() = default;
  // Serves `request`, serializing its response straight into `response`
  // (the stream's own buffer, which it leaves alone until `done`: gRPC
  // 1.51's ByteBuffer has no move, and a copy would allocate each step).
  // `done` runs exactly once, inline or on another thread. A request
  // answered means a request applied.
  virtual void Serve(const grpc::ByteBuffer& request, grpc::ByteBuffer* response, Done done) = 0;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_STREAM_EXCHANGE_H_
