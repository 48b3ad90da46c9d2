// bench's wire (step_wire.h) for the Open Inference Protocol (KServe v2):
// inference.GRPCInferenceService.ModelStreamInfer with Triton's sequence
// extension, as a Triton client sends it. Each request is a ModelInferRequest
// with the input `input` in raw_input_contents (FP32 [T, input_size], or
// INT64 [T] token ids) and the parameters sequence_id (the session's string
// id), sequence_start (the session's first request, or a replay's) and
// rnnserve's expected_session_steps; sessions are ended after the run (the
// engine's EndSessions), not by a sequence_end that would cost a step. An
// error comes back in error_message as "CODE: message" with the session's
// standing in the session_steps response parameter (server/v2/
// stream_infer_exchange.h).
#ifndef RNNSERVE_CLIENT_BENCH_V2_STEP_WIRE_H_
#define RNNSERVE_CLIENT_BENCH_V2_STEP_WIRE_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "client/bench/step_wire.h"
#include "client/resend_window.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/client_callback.h"
#include "inference/grpc_service.grpc.pb.h"
#include "rnnserve/v1/models.pb.h"

namespace rnnserve::client::bench {

struct V2StepWire {
  using Request = inference::ModelInferRequest;
  using Response = inference::ModelStreamInferResponse;
  using Stub = inference::GRPCInferenceService::Stub;

  static std::unique_ptr<Stub> NewStub(const std::shared_ptr<grpc::Channel>& channel) {
    return inference::GRPCInferenceService::NewStub(channel);
  }
  static void Open(Stub& stub, grpc::ClientContext* context,
                   grpc::ClientBidiReactor<Request, Response>* reactor) {
    stub.async()->ModelStreamInfer(context, reactor);
  }
  static void Prepare(const v1::ModelInfo& model, Request& request);
  static void Fill(const std::string& session_id, const PendingRequest& p, const StepInput& input,
                   Request& request);
  static StepOutcome Read(const Response& response);
};

// The google.rpc.Code an error_message names by its first word ("ABORTED:
// ..."); UNKNOWN (2) when it names none.
int CodeOfErrorMessage(absl::string_view error_message);

}  // namespace rnnserve::client::bench

#endif  // RNNSERVE_CLIENT_BENCH_V2_STEP_WIRE_H_
