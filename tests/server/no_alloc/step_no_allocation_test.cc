// A step over real gRPC allocates (almost: see the TODO below) nothing on
// rnnserve's own path (issue 16, DESIGN.md section 6) once a stream's
// buffers have grown to its step size:
// counted on every thread of the process (tests/model/allocation_counter.h)
// while clients step streams served by a StepStream over a real StepHandler
// and StepBatcher, and compared with the same clients stepping an echo
// service that answers the same bytes from the callback thread with messages
// it reuses (what gRPC and protobuf cost, and nothing else). A single step
// and a batched one. Its own binary: the counter replaces malloc.
#include <atomic>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "server/raw_message.h"
#include "server/step_stream.h"
#include "tests/model/allocation_counter.h"
#include "tests/model/test_util.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::MakeTestRepository;
using ::rnnserve::model::testing::ProcessAllocationCounter;

using RawBidi = grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>;
using Stream = grpc::ClientReaderWriter<v1::StepRequest, v1::StepResponse>;

constexpr char kModel[] = "lstm";
// What ExpectFewAllocationsBeyondTheEcho allows today (see the TODO there):
// measured 2.0 (one stream) and 0.2 to 2.7 (four) a step, with gRPC's noise.
constexpr double kAllocationsPerStepToday = 4.0;

// rnnserve's StreamSteps: a StepStream per call.
class StepStreamService final : public v1::InferenceService::WithRawCallbackMethod_StreamSteps<
                                    v1::InferenceService::Service> {
 public:
  StepStreamService(const StepHandler* handler, ServerMetrics* metrics, StreamDrain* drain)
      : handler_(handler), metrics_(metrics), drain_(drain) {}
  RawBidi* StreamSteps(grpc::CallbackServerContext*) override {
    return new StepStream(handler_, metrics_, drain_, absl::InfiniteFuture());
  }

 private:
  const StepHandler* const handler_;
  ServerMetrics* const metrics_;
  StreamDrain* const drain_;
};

// The floor: the same raw bytes in and out as StepStream (parse into a
// reused request, an answer of rnnserve's size in a reused response,
// serialize), answered in the read reaction. Deletes itself in OnDone.
class EchoStream final : public RawBidi {
 public:
  explicit EchoStream(int output_size) : output_size_(output_size) { StartRead(&request_bytes_); }

 private:
  void OnReadDone(bool ok) override {
    if (!ok) return Finish(grpc::Status::OK);
    CHECK(ParseMessage(request_bytes_, request_).ok());
    response_.set_request_id(request_.request_id());
    response_.set_session_id(request_.session_id());
    response_.mutable_outputs()->mutable_values()->Resize(output_size_, 0.0f);
    response_.mutable_outputs()->clear_shape();
    response_.mutable_outputs()->add_shape(1);
    response_.mutable_outputs()->add_shape(output_size_);
    response_.set_session_steps(++steps_);
    response_.mutable_model()->set_name(kModel);
    response_.mutable_model()->set_version(1);
    CHECK(SerializeMessage(response_, response_bytes_).ok());
    StartWrite(&response_bytes_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status::CANCELLED);
    StartRead(&request_bytes_);
  }
  void OnDone() override { delete this; }

  const int output_size_;
  grpc::ByteBuffer request_bytes_;
  grpc::ByteBuffer response_bytes_;
  v1::StepRequest request_;
  v1::StepResponse response_;
  int64_t steps_ = 0;
};

class EchoService final : public v1::InferenceService::WithRawCallbackMethod_StreamSteps<
                              v1::InferenceService::Service> {
 public:
  explicit EchoService(int output_size) : output_size_(output_size) {}
  RawBidi* StreamSteps(grpc::CallbackServerContext*) override {
    return new EchoStream(output_size_);
  }

 private:
  const int output_size_;
};

struct Listening {
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<v1::InferenceService::Stub> stub;
};

Listening Listen(grpc::Service* service) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service);
  Listening listening;
  listening.server = builder.BuildAndStart();
  CHECK(listening.server != nullptr && port != 0);
  listening.stub = v1::InferenceService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  return listening;
}

class StepNoAllocationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string root = MakeTestRepository(
        absl::StrCat("no_alloc_", ::testing::UnitTest::GetInstance()->current_test_info()->name()),
        {{"lstm_3layer", "lstm/1"}});
    absl::StatusOr<std::unique_ptr<ServedModels>> models = ServedModels::Load(root, 100);
    ASSERT_TRUE(models.ok()) << models.status();
    models_ = *std::move(models);
    stack_ = (*models_->Find(kModel, 0))->loaded.stack.get();
  }

  void Serve(const StepBatcher::Options& options) {
    batcher_ = std::make_unique<StepBatcher>(options);
    handler_ = std::make_unique<StepHandler>(&store_, models_.get(), batcher_.get(), &admission_);
    rnnserve_service_ = std::make_unique<StepStreamService>(handler_.get(), &metrics_, &drain_);
    echo_service_ = std::make_unique<EchoService>(stack_->output_size());
    rnnserve_ = Listen(rnnserve_service_.get());
    echo_ = Listen(echo_service_.get());
  }

  void TearDown() override {
    drain_.DrainAll();
    for (Listening* listening : {&rnnserve_, &echo_}) {
      if (listening->server != nullptr) {
        listening->server->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
      }
    }
  }

  // Allocations in the whole process while `streams` clients (a thread
  // each) step a session each over `stub`, `steps` steps per stream, after
  // as many warm-up steps. -1 when a step fails.
  long AllocationsWhileStepping(v1::InferenceService::Stub& stub, int streams, int steps) {
    std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
    std::vector<std::unique_ptr<Stream>> opened;
    std::vector<v1::StepRequest> requests(streams);
    for (int s = 0; s < streams; ++s) {
      contexts.push_back(std::make_unique<grpc::ClientContext>());
      contexts.back()->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
      opened.push_back(stub.StreamSteps(contexts.back().get()));
      v1::StepRequest& request = requests[s];
      request.set_session_id(absl::StrCat("no-alloc-", ++sessions_));
      request.set_request_id("r");
      request.mutable_model()->set_name(kModel);
      for (int j = 0; j < stack_->input_size(); ++j) {
        request.mutable_floats()->add_values(0.01f * j - 0.2f * s);
      }
    }
    std::atomic<bool> failed = false;
    // Runs `count` steps on every stream at once.
    auto step_all = [&](int count, bool first) {
      std::vector<std::thread> threads;
      for (int s = 0; s < streams; ++s) {
        threads.emplace_back([&, s] {
          v1::StepRequest& request = requests[s];
          v1::StepResponse response;
          for (int t = 0; t < count; ++t) {
            request.set_start(first && t == 0);
            if (!opened[s]->Write(request) || !opened[s]->Read(&response) || response.has_error()) {
              failed = true;
              return;
            }
          }
        });
      }
      for (std::thread& thread : threads) thread.join();
    };
    step_all(steps, /*first=*/true);  // Warm-up: every buffer grows to its size.
    long counted;
    {
      ProcessAllocationCounter counter;
      step_all(steps, /*first=*/false);
      counted = counter.count();
    }
    for (auto& stream : opened) {
      stream->WritesDone();
      stream->Finish().IgnoreError();
    }
    return failed ? -1 : counted;
  }

  // rnnserve's allocations per step beyond the echo's, each stepped the same.
  void ExpectFewAllocationsBeyondTheEcho(int streams) {
    constexpr int kSteps = 400;
    const long echo = AllocationsWhileStepping(*echo_.stub, streams, kSteps);
    const long rnnserve = AllocationsWhileStepping(*rnnserve_.stub, streams, kSteps);
    ASSERT_GE(echo, 0);
    ASSERT_GE(rnnserve, 0) << "a step failed";
    const double per_step = static_cast<double>(rnnserve - echo) / (streams * kSteps);
    std::cout << streams << " streams: " << rnnserve << " allocations against the echo's " << echo
              << " for " << streams * kSteps << " steps: " << per_step
              << " per step beyond gRPC and protobuf\n";
    // TODO(issue 16): zero, and the tests' names with it. What remains on
    // rnnserve's own path (found by recording the stack of each allocation
    // before the per-version queues replaced TakeBatch's scan): the reply
    // closure StepHandler::Submit hands the batcher (an AnyInvocable too
    // large to be stored inline), StepBatcher's Job (and its queue's node);
    // and StreamExchange::Respond takes a grpc::ByteBuffer by value, which
    // gRPC 1.51 copies (it has no move). gRPC's own allocations
    // differ by about one a step between a reply from a batcher thread and
    // the echo's inline one. Before issue 16's step path: 13 a step.
    EXPECT_LT(per_step, kAllocationsPerStepToday);
  }

  std::unique_ptr<ServedModels> models_;
  const model::LayerStack* stack_ = nullptr;
  SessionStore store_{SessionStore::Options{}};
  Admission admission_{AdmissionLimits{}};
  prometheus::Registry registry_;
  ServerMetrics metrics_{registry_};
  StreamDrain drain_;
  std::unique_ptr<StepBatcher> batcher_;
  std::unique_ptr<StepHandler> handler_;
  std::unique_ptr<StepStreamService> rnnserve_service_;
  std::unique_ptr<EchoService> echo_service_;
  Listening rnnserve_;
  Listening echo_;
  int sessions_ = 0;
};

TEST_F(StepNoAllocationTest, ALoneStepAllocatesUnderFourBeyondGrpc) {
  Serve({.workers = 1, .max_batch = 8});
  ExpectFewAllocationsBeyondTheEcho(/*streams=*/1);
}

TEST_F(StepNoAllocationTest, ABatchedStepAllocatesUnderFourBeyondGrpc) {
  // Four streams in lockstep, a batch of four: each step waits (at most
  // max_delay) for the other three.
  Serve({.workers = 1, .max_batch = 4, .max_delay = absl::Milliseconds(50)});
  ExpectFewAllocationsBeyondTheEcho(/*streams=*/4);
}

}  // namespace
}  // namespace rnnserve::server
