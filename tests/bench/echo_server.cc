// The floor of scripts/service_bench.sh: a plain gRPC server on the callback
// API, as rnnserve's, that serves the rnnserve.v1 calls `rnnserve-cli bench`
// makes (DescribeModel, StreamSteps, Step, EndSession) and answers each step
// request with a response of exactly the size rnnserve's would have (request
// and session ids, T x output_size floats, their shape, a step count, the
// model) without computing anything or keeping sessions. What rnnserve costs
// above this server is what it adds to gRPC: validation, sessions, batching,
// the recurrent math, metrics.
//   build/bin/echo_server --listen=127.0.0.1:PORT --model_info=INFO.json
//                         [--sched_batch=false] [--read_bytes_per_step=N]
// INFO.json is `rnnserve-cli model NAME --json` asked of an rnnserve serving
// the model; DescribeModel answers it as it is.
//
// With --read_bytes_per_step it also reads N bytes of memory for every step
// it answers, as a lone step of rnnserve reads the model's weights (each
// time in the order opposite to the time before, as rnnserve's panels): the
// floor of a server whose core's caches must also hold the weights
// (service_bench's `echo-weights`, N = the model's weight_bytes). Meaningful
// for one session's lone steps only: a batch reads the weights once for many.
// On SIGTERM it logs the reads' average time, then exits.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "rnnserve/v1/models.grpc.pb.h"
#include "rnnserve/v1/sessions.grpc.pb.h"
#include "util/batch_scheduling.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "address to serve on (port 0 picks one)");
ABSL_FLAG(std::string, model_info, "", "the served model's ModelInfo as proto3 JSON");
ABSL_FLAG(bool, sched_batch, false,
          "every thread under Linux's SCHED_BATCH policy, as rnnserve's --sched_batch (off by "
          "default there too), so that the floor is scheduled as rnnserve is");
ABSL_FLAG(int64_t, read_bytes_per_step, 0,
          "bytes of memory read for every step answered, as rnnserve reads a model's weights "
          "for a lone step (0: none)");

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

// The weights of --read_bytes_per_step: read whole, in alternating order,
// by any number of threads at once (reads only; the counts are atomics, and
// odd reads go backwards).
class WeightReads {
 public:
  explicit WeightReads(int64_t bytes) : weights_(bytes / sizeof(uint32_t), 1) {}

  // Reads every weight once per step, as fast as the core streams them (an
  // XOR reduction, which the compiler vectorizes); the result goes to
  // `sink_` so that it keeps the loads.
  void Read(int64_t steps) {
    if (weights_.empty()) return;
    for (int64_t step = 0; step < steps; ++step) {
      const absl::Time start = absl::Now();
      uint32_t bits = 0;
      if (reads_.fetch_add(1) % 2 == 1) {
        for (auto w = weights_.rbegin(); w != weights_.rend(); ++w) bits ^= *w;
      } else {
        for (uint32_t w : weights_) bits ^= w;
      }
      sink_.store(bits, std::memory_order_relaxed);
      nanoseconds_.fetch_add(absl::ToInt64Nanoseconds(absl::Now() - start));
    }
  }
  // "N bytes read K times, X µs each" for the log.
  std::string Summary() const {
    const int64_t reads = reads_.load();
    return absl::StrCat(weights_.size() * sizeof(uint32_t), " bytes read ", reads, " times, ",
                        reads > 0 ? nanoseconds_.load() / 1e3 / reads : 0.0, " us each");
  }

 private:
  const std::vector<uint32_t> weights_;
  std::atomic<uint32_t> sink_{0};
  std::atomic<int64_t> nanoseconds_{0};
  std::atomic<int64_t> reads_{0};
};

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
  EchoStream(const v1::ModelInfo* info, WeightReads* weights) : info_(info), weights_(weights) {
    StartRead(&request_);
  }

 private:
  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);  // The client half-closed: the normal end.
      return;
    }
    weights_->Read(StepsOf(request_, *info_));
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
  WeightReads* const weights_;       // Likewise.
  v1::StepRequest request_;
  v1::StepResponse response_;
  int64_t session_steps_ = 0;
};

class EchoInference final : public v1::InferenceService::CallbackService {
 public:
  EchoInference(const v1::ModelInfo* info, WeightReads* weights) : info_(info), weights_(weights) {}

  grpc::ServerBidiReactor<v1::StepRequest, v1::StepResponse>* StreamSteps(
      grpc::CallbackServerContext*) override {
    return new EchoStream(info_, weights_);
  }
  grpc::ServerUnaryReactor* Step(grpc::CallbackServerContext* context,
                                 const v1::StepRequest* request,
                                 v1::StepResponse* response) override {
    int64_t steps = 0;
    weights_->Read(StepsOf(*request, *info_));
    FillResponse(*request, *info_, steps, *response);
    return FinishOk(context);
  }

 private:
  const v1::ModelInfo* const info_;  // Not owned; outlives the server.
  WeightReads* const weights_;       // Likewise.
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

// SIGTERM and SIGINT: blocked in every thread, taken by Run's sigwait.
sigset_t EndSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

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
  WeightReads weights(absl::GetFlag(FLAGS_read_bytes_per_step));
  EchoInference inference(&info, &weights);
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
  // The bench script ends it with SIGTERM (blocked in every thread by main).
  const sigset_t signals = EndSignals();
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  std::cerr << "echo_server: " << weights.Summary() << std::endl;
  server->Shutdown(std::chrono::system_clock::now());
  return 0;
}

}  // namespace
}  // namespace rnnserve::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_read_bytes_per_step) < 0) {
    std::cerr << "echo_server: --read_bytes_per_step must not be negative\n";
    return 2;
  }
  // Before the first thread starts, which inherits both.
  const sigset_t signals = rnnserve::bench::EndSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  if (absl::GetFlag(FLAGS_sched_batch)) {
    if (const absl::Status status = rnnserve::util::UseBatchScheduling(); !status.ok()) {
      std::cerr << "echo_server: --sched_batch: keeping the scheduling policy: " << status << "\n";
    }
  }
  return rnnserve::bench::Run();
}
