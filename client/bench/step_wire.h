// What bench's load engine needs of a streaming step protocol, in protocol
// neutral terms: the input of one request, and what its answer said. Each
// protocol (native_step_wire.h: rnnserve.v1 StreamSteps; v2_step_wire.h: the
// Open Inference Protocol's ModelStreamInfer with Triton's sequence
// extension) is a "wire": a struct of types and static functions the
// engine's stream reactor is instantiated with, so the load logic (pacing,
// recovery, counting) is written once.
//
// A wire W provides:
//   using Request, Response;  the stream's messages
//   using Stub;               its generated stub
//   static std::unique_ptr<Stub> NewStub(std::shared_ptr<grpc::Channel>);
//   static void Open(Stub&, grpc::ClientContext*,
//                    grpc::ClientBidiReactor<Request, Response>*);
//   static void Prepare(const v1::ModelInfo&, Request&);  once per stream
//   static void Fill(const std::string& session_id, const PendingRequest&,
//                    const StepInput&, Request&);          per request
//   static StepOutcome Read(const Response&);
#ifndef RNNSERVE_CLIENT_BENCH_STEP_WIRE_H_
#define RNNSERVE_CLIENT_BENCH_STEP_WIRE_H_

#include <cstdint>
#include <string>

#include "absl/types/span.h"

namespace rnnserve::client::bench {

// The steps of one request: token ids, or `steps` rows of floats.
struct StepInput {
  absl::Span<const int64_t> tokens;  // a token model's; empty otherwise
  absl::Span<const float> floats;    // steps * input_size values otherwise
  int64_t steps = 0;
  int64_t input_size = 0;  // floats per step
};

// What the answer to one request said.
struct StepOutcome {
  int code = 0;  // google.rpc.Code; 0: answered
  std::string message;
  // Where the session stands: after the request when answered; when refused
  // (ABORTED), before it, 0 when the server did not say.
  int64_t session_steps = 0;
  int64_t durable_steps = 0;  // checkpointed steps; 0 when the protocol has no such figure
};

}  // namespace rnnserve::client::bench

#endif  // RNNSERVE_CLIENT_BENCH_STEP_WIRE_H_
