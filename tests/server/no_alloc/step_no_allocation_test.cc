// A step over real gRPC allocates nothing on rnnserve's own path (issue 16,
// DESIGN.md section 6) once a stream's buffers have grown to its step size:
// counted on every thread of the process (tests/model/allocation_counter.h)
// while clients step streams served by a StepStream over a real StepHandler
// (with its gate and model metrics, as RnnServer runs it) and StepBatcher,
// and compared with the same clients stepping an echo service that answers
// the same bytes, parsed and made on an arena as NativeStepExchange's and
// written from the thread rnnserve's answer comes from (what gRPC and
// protobuf cost, and nothing else). A single step computed inline, one
// computed on a worker, and a batched one.
// Its own binary: the counter replaces malloc.
#include <atomic>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/arena.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "server/native_step_exchange.h"
#include "server/operation_gate.h"
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

// Names and ids past std::string's short-string size (15 bytes), as real
// ones are: a copy of one on the step path would allocate. (Protobuf's
// strings allocate their bytes even on an arena: parsing the three, and
// echoing them in the response, costs the echo as much as rnnserve.)
constexpr char kModel[] = "lstm-three-layers-for-steps";
// What ExpectNothingBeyondTheEcho allows: gRPC's own allocations a step
// differ between two runs of the same clients (its combiner allocates a
// status for some closures, more or fewer as writes race its threads): the
// difference measured within +-0.06 a step for one stream and from -0.3 to
// +0.5 for four, with the stack of each allocation recorded showing nothing
// of rnnserve's beyond the echo's. An allocation a step on rnnserve's path adds a whole
// 1.0 (before issue 16's step path: 13; before the StepInFlight, the
// in-place response bytes and StepBatcher's Job free list: 6).
constexpr double kGrpcNoiseOneStream = 0.5;
constexpr double kGrpcNoiseFourStreams = 1.0;

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

class EchoStream;

// Where the echo starts its writes: where rnnserve's answers come from (the
// callback thread for a step StepBatcher computes inline, else a worker).
enum class EchoWrites { kInline, kFromAThread };

// Starts the echo's writes from a thread of its own, as rnnserve's come from
// a batcher worker, gathering them as the batcher gathers steps (up to
// `max_batch`, waiting at most `max_delay` for them once one is pending):
// gRPC allocates differently for a write started off its callback threads
// (about one a step more, on its executor), and the floor must pay what
// rnnserve pays there. Allocates nothing per write.
class EchoWriter {
 public:
  EchoWriter(int max_batch, absl::Duration max_delay)
      : max_batch_(max_batch), max_delay_(max_delay) {
    pending_.reserve(kCapacity);
    thread_ = std::thread([this] { Loop(); });
  }
  ~EchoWriter() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    thread_.join();
  }
  void Post(EchoStream* stream) {
    absl::MutexLock lock(&mu_);
    CHECK_LT(pending_.size(), kCapacity);
    pending_.push_back(stream);
  }

 private:
  static constexpr size_t kCapacity = 64;  // far more than the tests' streams
  void Loop();

  const size_t max_batch_;
  const absl::Duration max_delay_;
  absl::Mutex mu_;
  std::vector<EchoStream*> pending_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// The floor: the same raw bytes in and out as StepStream, the answer made in
// the read reaction and written there, or by `writer` when given. Its
// request and response live on an arena reset for each request, with the
// first block NativeStepExchange keeps: what protobuf's parsing costs on the
// heap for a reused message (a oneof member and a submessage freed by
// Clear() and made again) is then not in the floor, as it is not in
// rnnserve's step. Deletes itself in OnDone.
class EchoStream final : public RawBidi {
 public:
  EchoStream(int output_size, EchoWriter* writer)
      : output_size_(output_size),
        writer_(writer),
        first_block_(new char[NativeStepExchange::kFirstBlockBytes]),
        arena_(FirstBlock(first_block_.get())) {
    StartRead(&request_bytes_);
  }

  // Serializes the answer and writes it, as NativeStepExchange and
  // StepStream do on the thread that answers.
  void Write() {
    CHECK(SerializeMessage(*response_, response_bytes_).ok());
    StartWrite(&response_bytes_);
  }

 private:
  static google::protobuf::ArenaOptions FirstBlock(char* block) {
    google::protobuf::ArenaOptions options;
    options.initial_block = block;
    options.initial_block_size = NativeStepExchange::kFirstBlockBytes;
    return options;
  }

  void OnReadDone(bool ok) override {
    if (!ok) return Finish(grpc::Status::OK);
    arena_.Reset();
    auto* request = google::protobuf::Arena::CreateMessage<v1::StepRequest>(&arena_);
    response_ = google::protobuf::Arena::CreateMessage<v1::StepResponse>(&arena_);
    v1::StepResponse* response = response_;
    CHECK(ParseMessage(request_bytes_, *request).ok());
    response->set_request_id(request->request_id());
    response->set_session_id(request->session_id());
    response->mutable_outputs()->mutable_values()->Resize(output_size_, 0.0f);
    response->mutable_outputs()->add_shape(1);
    response->mutable_outputs()->add_shape(output_size_);
    response->set_session_steps(++steps_);
    // From a std::string, as rnnserve's (a char* would cost a copy more).
    response->mutable_model()->set_name(request->model().name());
    response->mutable_model()->set_version(1);
    if (writer_ == nullptr) return Write();
    writer_->Post(this);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) return Finish(grpc::Status::CANCELLED);
    StartRead(&request_bytes_);
  }
  void OnDone() override { delete this; }

  const int output_size_;
  EchoWriter* const writer_;  // Not owned; null: writes inline.
  grpc::ByteBuffer request_bytes_;
  grpc::ByteBuffer response_bytes_;
  std::unique_ptr<char[]> first_block_;
  google::protobuf::Arena arena_;
  v1::StepResponse* response_ = nullptr;  // On arena_, from the read to the write.
  int64_t steps_ = 0;
};

void EchoWriter::Loop() {
  std::vector<EchoStream*> taken;
  taken.reserve(kCapacity);
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto any = [this]()
                     ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || !pending_.empty(); };
      mu_.Await(absl::Condition(&any));
      auto full = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || pending_.size() >= max_batch_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&full), max_delay_);
      if (stopping_) return;
      taken.swap(pending_);  // Both keep kCapacity: no allocation.
    }
    for (EchoStream* stream : taken) stream->Write();
    taken.clear();
  }
}

class EchoService final : public v1::InferenceService::WithRawCallbackMethod_StreamSteps<
                              v1::InferenceService::Service> {
 public:
  // Writes from a thread of its own (gathering as `options` say) when
  // `writes` is kFromAThread.
  EchoService(int output_size, EchoWrites writes, const StepBatcher::Options& options)
      : output_size_(output_size),
        writer_(writes == EchoWrites::kFromAThread
                    ? std::make_unique<EchoWriter>(options.max_batch, options.max_delay)
                    : nullptr) {}
  RawBidi* StreamSteps(grpc::CallbackServerContext*) override {
    return new EchoStream(output_size_, writer_.get());
  }

 private:
  const int output_size_;
  const std::unique_ptr<EchoWriter> writer_;
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
        {{"lstm_3layer", absl::StrCat(kModel, "/1")}});
    // With metrics and (in Serve) a gate, as RnnServer runs it.
    absl::StatusOr<std::unique_ptr<ServedModels>> models = ServedModels::Load(root, 100, &metrics_);
    ASSERT_TRUE(models.ok()) << models.status();
    models_ = *std::move(models);
    stack_ = (*models_->Find(kModel, 0))->loaded.stack.get();
  }

  void Serve(const StepBatcher::Options& options, EchoWrites writes) {
    batcher_ = std::make_unique<StepBatcher>(options);
    handler_ =
        std::make_unique<StepHandler>(&store_, models_.get(), batcher_.get(), &admission_, &gate_);
    rnnserve_service_ = std::make_unique<StepStreamService>(handler_.get(), &metrics_, &drain_);
    echo_service_ = std::make_unique<EchoService>(stack_->output_size(), writes, options);
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
      request.set_session_id(absl::StrCat("0f8e4c2a-6d1b-4f3e-9a7c-", 100000000000 + ++sessions_));
      request.set_request_id("request-id-of-a-client-step");
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

  // rnnserve's allocations per step beyond the echo's, each stepped the
  // same: none, within gRPC's `noise`.
  void ExpectNothingBeyondTheEcho(int streams, double noise) {
    constexpr int kSteps = 400;
    const long echo = AllocationsWhileStepping(*echo_.stub, streams, kSteps);
    const long rnnserve = AllocationsWhileStepping(*rnnserve_.stub, streams, kSteps);
    ASSERT_GE(echo, 0);
    ASSERT_GE(rnnserve, 0) << "a step failed";
    const double per_step = static_cast<double>(rnnserve - echo) / (streams * kSteps);
    std::cout << streams << " streams: " << rnnserve << " allocations against the echo's " << echo
              << " for " << streams * kSteps << " steps: " << per_step
              << " per step beyond gRPC and protobuf\n";
    EXPECT_LT(per_step, noise);
  }

  prometheus::Registry registry_;
  ServerMetrics metrics_{registry_};
  std::unique_ptr<ServedModels> models_;
  const model::LayerStack* stack_ = nullptr;
  SessionStore store_{SessionStore::Options{}};
  Admission admission_{AdmissionLimits{}};
  OperationGate gate_;
  StreamDrain drain_;
  std::unique_ptr<StepBatcher> batcher_;
  std::unique_ptr<StepHandler> handler_;
  std::unique_ptr<StepStreamService> rnnserve_service_;
  std::unique_ptr<EchoService> echo_service_;
  Listening rnnserve_;
  Listening echo_;
  int sessions_ = 0;
};

TEST_F(StepNoAllocationTest, ALoneStepAllocatesNothingBeyondGrpc) {
  // Computed on gRPC's callback thread (StepBatcher's inline_max_steps, on
  // by default) and answered there.
  Serve({.workers = 1, .max_batch = 8}, EchoWrites::kInline);
  ExpectNothingBeyondTheEcho(/*streams=*/1, kGrpcNoiseOneStream);
}

TEST_F(StepNoAllocationTest, ALoneStepOnAWorkerAllocatesNothingBeyondGrpc) {
  Serve({.workers = 1, .max_batch = 8, .inline_max_steps = 0}, EchoWrites::kFromAThread);
  ExpectNothingBeyondTheEcho(/*streams=*/1, kGrpcNoiseOneStream);
}

TEST_F(StepNoAllocationTest, ABatchedStepAllocatesNothingBeyondGrpc) {
  // Four streams in lockstep, a batch of four: each step waits (at most
  // max_delay) for the other three.
  Serve({.workers = 1, .max_batch = 4, .max_delay = absl::Milliseconds(50)},
        EchoWrites::kFromAThread);
  ExpectNothingBeyondTheEcho(/*streams=*/4, kGrpcNoiseFourStreams);
}

}  // namespace
}  // namespace rnnserve::server
