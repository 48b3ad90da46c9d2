// The floor of scripts/service_bench.sh: a plain gRPC server on the callback
// API, as rnnserve's, that serves the rnnserve.v1 calls `rnnserve-cli bench`
// makes (DescribeModel, StreamSteps, Step, EndSession) and answers each step
// request with a response of exactly the size rnnserve's would have (request
// and session ids, T x output_size floats, their shape, a step count, the
// model) without computing anything or keeping sessions. What rnnserve costs
// above this server is what it adds to gRPC: validation, sessions, batching,
// the recurrent math, metrics.
//   build/bin/echo_server --listen=127.0.0.1:PORT --model_info=INFO.json
//                         [--sched_batch=false]
// INFO.json is `rnnserve-cli model NAME --json` asked of an rnnserve serving
// the model; DescribeModel answers it as it is.
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "rnnserve/v1/models.grpc.pb.h"
#include "rnnserve/v1/sessions.grpc.pb.h"
#include "util/batch_scheduling.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "address to serve on (port 0 picks one)");
ABSL_FLAG(std::string, model_info, "", "the served model's ModelInfo as proto3 JSON");
ABSL_FLAG(bool, sched_batch, true,
          "every thread under Linux's SCHED_BATCH policy, as rnnserve's --sched_batch (on by "
          "default there too), so that the floor is scheduled as rnnserve is");

namespace rnnserve::bench {
namespace {

namespace v1 = rnnserve::v1;

// Steps in `request`, counted as rnnserve counts them (floats.steps, or the
// values over input_size when it is 0).
int64_t StepsOf(const v1::StepRequest& request, const v1::ModelInfo& info) {
  if (request.has_tokens()) return request.tokens().ids_size();
  if (request.floats().steps() > 0) return request.floats().steps();
  return info.input_size() > 0 ? request.floats().values_size() / info.input_size() : 0;
}

// The response rnnserve would send, with zeros for outputs: packed floats
// take 4 bytes whatever their value, so the size on the wire is the same.
// `session_steps` is a running count, not per session: only its varint size
// matters here.
void FillResponse(const v1::StepRequest& request, const v1::ModelInfo& info, int64_t& session_steps,
                  v1::StepResponse& response) {
  const int64_t steps = StepsOf(request, info);
  const int64_t rows = request.output_mode() == v1::OUTPUT_MODE_LAST_STEP ? 1 : steps;
  session_steps += steps;
  response.set_request_id(request.request_id());
  response.set_session_id(request.session_id());
  v1::Outputs& outputs = *response.mutable_outputs();
  outputs.mutable_values()->Resize(static_cast<int>(rows * info.output_size()), 0.0f);
  outputs.clear_shape();
  outputs.add_shape(rows);
  outputs.add_shape(info.output_size());
  response.set_session_steps(session_steps);
  *response.mutable_model() = info.model();
}

grpc::ServerUnaryReactor* FinishOk(grpc::CallbackServerContext* context) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

// One StreamSteps call, read -> answer -> write -> read like rnnserve's
// StepStream, but the answer is made in the read reaction itself. One
// operation is in flight at a time, so the fields need no lock. Deletes
// itself in OnDone.
class EchoStream final : public grpc::ServerBidiReactor<v1::StepRequest, v1::StepResponse> {
 public:
  explicit EchoStream(const v1::ModelInfo* info) : info_(info) { StartRead(&request_); }

 private:
  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);  // The client half-closed: the normal end.
      return;
    }
    FillResponse(request_, *info_, session_steps_, response_);
    StartWrite(&response_);
  }
  void OnWriteDone(bool ok) override {
    if (ok) {
      StartRead(&request_);
    } else {
      Finish(grpc::Status::CANCELLED);  // The client is gone; Finish is owed.
    }
  }
  void OnDone() override { delete this; }

  const v1::ModelInfo* const info_;  // Not owned; outlives the server.
  v1::StepRequest request_;
  v1::StepResponse response_;
  int64_t session_steps_ = 0;
};

class EchoInference final : public v1::InferenceService::CallbackService {
 public:
  explicit EchoInference(const v1::ModelInfo* info) : info_(info) {}

  grpc::ServerBidiReactor<v1::StepRequest, v1::StepResponse>* StreamSteps(
      grpc::CallbackServerContext*) override {
    return new EchoStream(info_);
  }
  grpc::ServerUnaryReactor* Step(grpc::CallbackServerContext* context,
                                 const v1::StepRequest* request,
                                 v1::StepResponse* response) override {
    int64_t steps = 0;
    FillResponse(*request, *info_, steps, *response);
    return FinishOk(context);
  }

 private:
  const v1::ModelInfo* const info_;  // Not owned; outlives the server.
};

// Answers for the one model whatever is asked: bench asks only for it.
class EchoModels final : public v1::ModelService::CallbackService {
 public:
  explicit EchoModels(const v1::ModelInfo* info) : info_(info) {}

  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context,
                                       const v1::ListModelsRequest*,
                                       v1::ListModelsResponse* response) override {
    *response->add_models() = *info_;
    return FinishOk(context);
  }
  grpc::ServerUnaryReactor* DescribeModel(grpc::CallbackServerContext* context, const v1::ModelRef*,
                                          v1::ModelInfo* response) override {
    *response = *info_;
    return FinishOk(context);
  }

 private:
  const v1::ModelInfo* const info_;  // Not owned; outlives the server.
};

// EndSession, which bench calls for its sessions after the run: there is
// nothing to free.
class EchoSessions final : public v1::SessionService::CallbackService {
  grpc::ServerUnaryReactor* EndSession(grpc::CallbackServerContext* context,
                                       const v1::SessionRef* request,
                                       v1::SessionInfo* response) override {
    response->set_session_id(request->session_id());
    return FinishOk(context);
  }
};

int Run() {
  std::ifstream file(absl::GetFlag(FLAGS_model_info));
  std::stringstream json;
  json << file.rdbuf();
  v1::ModelInfo info;
  if (!file || !google::protobuf::util::JsonStringToMessage(json.str(), &info).ok() ||
      info.output_size() <= 0) {
    std::cerr << "echo_server: --model_info=" << absl::GetFlag(FLAGS_model_info)
              << " is not a ModelInfo in JSON (rnnserve-cli model NAME --json)\n";
    return 2;
  }
  EchoInference inference(&info);
  EchoModels models(&info);
  EchoSessions sessions;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen), grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&inference);
  builder.RegisterService(&models);
  builder.RegisterService(&sessions);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "echo_server: cannot listen on " << absl::GetFlag(FLAGS_listen) << "\n";
    return 1;
  }
  std::cerr << "echo_server: serving " << info.model().name() << " on port " << port << std::endl;
  server->Wait();  // Until killed: the bench script ends it with SIGTERM.
  return 0;
}

}  // namespace
}  // namespace rnnserve::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_sched_batch)) {
    if (const absl::Status status = rnnserve::util::UseBatchScheduling(); !status.ok()) {
      std::cerr << "echo_server: keeping the default scheduling policy: " << status << "\n";
    }
  }
  return rnnserve::bench::Run();
}
