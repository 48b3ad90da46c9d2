// bench's wire (step_wire.h) for rnnserve.v1 InferenceService.StreamSteps.
#ifndef RNNSERVE_CLIENT_BENCH_NATIVE_STEP_WIRE_H_
#define RNNSERVE_CLIENT_BENCH_NATIVE_STEP_WIRE_H_

#include <memory>
#include <string>

#include "client/bench/step_wire.h"
#include "client/resend_window.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/client_callback.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "rnnserve/v1/models.pb.h"

namespace rnnserve::client::bench {

struct NativeStepWire {
  using Request = v1::StepRequest;
  using Response = v1::StepResponse;
  using Stub = v1::InferenceService::Stub;

  static std::unique_ptr<Stub> NewStub(const std::shared_ptr<grpc::Channel>& channel) {
    return v1::InferenceService::NewStub(channel);
  }
  static void Open(Stub& stub, grpc::ClientContext* context,
                   grpc::ClientBidiReactor<Request, Response>* reactor) {
    stub.async()->StreamSteps(context, reactor);
  }
  static void Prepare(const v1::ModelInfo& model, Request& request);
  static void Fill(const std::string& session_id, const PendingRequest& p, const StepInput& input,
                   Request& request);
  static StepOutcome Read(const Response& response);
};

}  // namespace rnnserve::client::bench

#endif  // RNNSERVE_CLIENT_BENCH_NATIVE_STEP_WIRE_H_
