// rnnserve.v1's StreamSteps protocol for a StepStream: parses StepRequest
// bytes (bytes that are no StepRequest get an INVALID_ARGUMENT response),
// steps through the StepHandler and writes StepResponse bytes, an error in
// its own response. Counts each message in rnnserve_requests_total under
// StreamSteps. One per stream; used by one StepStream at a time.
#ifndef RNNSERVE_SERVER_NATIVE_STEP_EXCHANGE_H_
#define RNNSERVE_SERVER_NATIVE_STEP_EXCHANGE_H_

#include <cstddef>
#include <memory>

#include "absl/time/time.h"
#include "google/protobuf/arena.h"
#include "server/metrics.h"
#include "server/step_handler.h"
#include "server/step_in_flight.h"
#include "server/stream_exchange.h"

namespace rnnserve::server {

class NativeStepExchange final : public StreamExchange {
 public:
  // None owned; all outlive the server. `deadline`: the stream's.
  NativeStepExchange(const StepHandler* handler, ServerMetrics* metrics, absl::Time deadline);

  void Serve(const grpc::ByteBuffer& request, grpc::ByteBuffer* response, Done done) override;

  // The memory a stream keeps between steps for its request and response:
  // a step that fits allocates none of its own.
  static constexpr size_t kFirstBlockBytes = 8 << 10;

 private:
  // Counts the answer of request_ (response_, or `status`) and serializes
  // it into response_bytes_.
  void Answer(const absl::Status& status);
  static google::protobuf::ArenaOptions FirstBlock(char* block);

  const StepHandler* const handler_;
  ServerMetrics* const metrics_;
  const absl::Time deadline_;
  // The request being served and its answer, from Serve to `respond`: the
  // step reads its rows from request_ and writes its outputs into
  // response_. Both live on arena_, reset for each request; its first
  // block is kept (larger steps take more, freed once answered).
  std::unique_ptr<char[]> first_block_;
  google::protobuf::Arena arena_;
  v1::StepRequest* request_ = nullptr;
  v1::StepResponse* response_ = nullptr;
  // The handler's state of request_, reused for each request.
  StepInFlight in_flight_;
  // From Serve to `done`: where the answer's bytes go, and `done`.
  grpc::ByteBuffer* response_bytes_ = nullptr;  // Not owned; the stream's.
  Done done_;
};

}  // namespace rnnserve::server

#endif  // RNNSERVE_SERVER_NATIVE_STEP_EXCHANGE_H_
