// End to end over loopback: a real RnnServer on 127.0.0.1:<free port> and
// gRPC clients. Outputs are checked against the PyTorch reference fixtures.
#include "server/inference_service.h"

#include <filesystem>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/rnn_server.h"
#include "tests/model/test_util.h"
#include "tests/server/metric_value.h"
#include "tests/server/raw_call.h"
#include "util/npy.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::LoadSequences;
using ::rnnserve::model::testing::OutputRowNear;
using ::rnnserve::model::testing::OutputRowsNear;
using ::rnnserve::model::testing::ReferenceSequence;
using ::rnnserve::model::testing::TestdataPath;
using ::testing::HasSubstr;

class InferenceServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // A repository of three fixtures: lstm (floats), charlm (tokens), and a
    // bidirectional model that only RunSequence serves.
    root_ = new std::string(model::testing::MakeTestRepository(
        "e2e", {{"lstm_3layer", "lstm/1"}, {"charlm", "charlm/1"}, {"gru_bidir", "bidir/1"}}));
  }

  void SetUp() override {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.models = *root_;
    options.batcher.workers = 2;
    absl::StatusOr<std::unique_ptr<RnnServer>> server = RnnServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::InferenceService::NewStub(channel_);
  }

  static v1::StepRequest FloatStep(const std::string& session, const ReferenceSequence& seq,
                                   int64_t first, int64_t count, bool start) {
    v1::StepRequest request;
    request.set_session_id(session);
    request.mutable_model()->set_name("lstm");
    request.set_start(start);
    const int64_t width = seq.input.shape[1];
    request.mutable_floats()->mutable_values()->Assign(
        seq.input.floats.begin() + first * width, seq.input.floats.begin() + (first + count) * width);
    request.mutable_floats()->set_steps(static_cast<int32_t>(count));
    request.set_request_id(absl::StrCat(session, ":", first));
    return request;
  }

  static void ExpectRows(const v1::Outputs& got, const ReferenceSequence& seq, int64_t first) {
    const int64_t width = seq.expected.shape[1];
    ASSERT_EQ(got.shape_size(), 2);
    ASSERT_EQ(got.shape(1), width);
    ASSERT_EQ(got.values_size(), got.shape(0) * width);
    ASSERT_TRUE(OutputRowsNear(got.values().data(), seq.expected.floats.data() + first * width,
                               got.shape(0), width))
        << "from step " << first;
  }

  static std::string* root_;
  std::unique_ptr<RnnServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::InferenceService::Stub> stub_;
};

std::string* InferenceServiceTest::root_ = nullptr;

// Parity of streaming, chunks, whole sequences and the tool: parity_e2e_test.cc.

TEST_F(InferenceServiceTest, TwoHundredSessionsOverTwentyStreamsEachGetTheirOwnOutputs) {
  const std::vector<ReferenceSequence> sequences =
      LoadSequences(TestdataPath("model/lstm_3layer"));
  constexpr int kStreams = 20, kSessionsPerStream = 10, kSteps = 7;
  std::vector<std::thread> clients;
  std::atomic<int> failures = 0;
  for (int s = 0; s < kStreams; ++s) {
    clients.emplace_back([&, s] {
      grpc::ClientContext context;
      auto stream = stub_->StreamSteps(&context);
      for (int t = 0; t < kSteps; ++t) {
        // Interleaved: every session of this stream advances one step a round.
        for (int k = 0; k < kSessionsPerStream; ++k) {
          const ReferenceSequence& seq = sequences[(s + k) % sequences.size()];
          if (t >= seq.steps()) continue;
          const std::string id = absl::StrCat("s", s, "-", k);
          if (!stream->Write(FloatStep(id, seq, t, 1, t == 0))) return void(++failures);
          v1::StepResponse response;
          if (!stream->Read(&response) || response.has_error() ||
              response.session_id() != id) {
            return void(++failures);
          }
          const int64_t width = seq.expected.shape[1];
          if (response.outputs().values_size() != width ||
              !OutputRowNear(response.outputs().values().data(),
                             seq.expected.floats.data() + t * width, width)) {
            ++failures;
          }
        }
      }
      stream->WritesDone();
      if (!stream->Finish().ok()) ++failures;
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(failures, 0);
}

TEST_F(InferenceServiceTest, ABadRequestGetsItsErrorAndTheStreamGoesOn) {
  const std::vector<ReferenceSequence> sequences =
      LoadSequences(TestdataPath("model/lstm_3layer"));
  const ReferenceSequence& seq = sequences[1];
  grpc::ClientContext context;
  auto stream = stub_->StreamSteps(&context);
  struct Case {
    v1::StepRequest request;
    grpc::StatusCode code;
    std::string message;
  };
  std::vector<Case> cases;
  {
    v1::StepRequest r = FloatStep("never-started", seq, 0, 1, false);
    cases.push_back({r, grpc::StatusCode::NOT_FOUND, "send start=true"});
  }
  {
    v1::StepRequest r = FloatStep("bad-shape", seq, 0, 1, true);
    r.mutable_floats()->add_values(1.0f);
    cases.push_back({r, grpc::StatusCode::INVALID_ARGUMENT, "want steps x 3"});
  }
  {
    v1::StepRequest r = FloatStep("no-model", seq, 0, 1, true);
    r.mutable_model()->set_name("nope");
    cases.push_back({r, grpc::StatusCode::NOT_FOUND, "model \"nope\" is not served"});
  }
  {
    v1::StepRequest r = FloatStep("tokens", seq, 0, 1, true);
    r.mutable_model()->set_name("charlm");
    cases.push_back({r, grpc::StatusCode::INVALID_ARGUMENT, "takes token ids"});
  }
  {
    v1::StepRequest r = FloatStep("backwards", seq, 0, 1, true);
    r.mutable_model()->set_name("bidir");
    cases.push_back({r, grpc::StatusCode::FAILED_PRECONDITION, "send the whole sequence"});
  }
  {
    v1::StepRequest r = FloatStep("", seq, 0, 1, true);
    cases.push_back({r, grpc::StatusCode::INVALID_ARGUMENT, "session id"});
  }
  {
    v1::StepRequest r = FloatStep("nan", seq, 0, 1, true);
    r.mutable_floats()->set_values(0, std::nanf(""));
    cases.push_back({r, grpc::StatusCode::INVALID_ARGUMENT, "finite"});
  }
  for (const Case& c : cases) {
    ASSERT_TRUE(stream->Write(c.request));
    v1::StepResponse response;
    ASSERT_TRUE(stream->Read(&response));
    ASSERT_TRUE(response.has_error()) << c.message;
    EXPECT_EQ(response.error().code(), c.code) << response.error().message();
    EXPECT_THAT(response.error().message(), HasSubstr(c.message));
  }
  // The same stream still serves good steps.
  ASSERT_TRUE(stream->Write(FloatStep("good", seq, 0, 1, true)));
  v1::StepResponse good;
  ASSERT_TRUE(stream->Read(&good));
  EXPECT_FALSE(good.has_error()) << good.error().message();
  ExpectRows(good.outputs(), seq, 0);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(InferenceServiceTest, EndFreesTheSessionAndStartResetsIt) {
  const std::vector<ReferenceSequence> sequences =
      LoadSequences(TestdataPath("model/lstm_3layer"));
  const ReferenceSequence& seq = sequences[2];
  auto step = [&](v1::StepRequest request) {
    grpc::ClientContext context;
    v1::StepResponse response;
    const grpc::Status status = stub_->Step(&context, request, &response);
    return std::pair{status, response};
  };
  ASSERT_TRUE(step(FloatStep("e", seq, 0, 5, true)).first.ok());
  // A restart begins again from the initial state: step 0's outputs again.
  auto [restarted_status, restarted] = step(FloatStep("e", seq, 0, 1, true));
  ASSERT_TRUE(restarted_status.ok());
  EXPECT_EQ(restarted.session_steps(), 1);
  ExpectRows(restarted.outputs(), seq, 0);
  v1::StepRequest last = FloatStep("e", seq, 1, 1, false);
  last.set_end(true);
  ASSERT_TRUE(step(last).first.ok());
  EXPECT_EQ(step(FloatStep("e", seq, 2, 1, false)).first.error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(InferenceServiceTest, AFailedStartLeavesTheSessionAsItWas) {
  const std::vector<ReferenceSequence> sequences =
      LoadSequences(TestdataPath("model/lstm_3layer"));
  const ReferenceSequence& seq = sequences[2];
  auto step = [&](const v1::StepRequest& request) {
    grpc::ClientContext context;
    v1::StepResponse response;
    const grpc::Status status = stub_->Step(&context, request, &response);
    return std::pair{status, response};
  };
  ASSERT_TRUE(step(FloatStep("keep", seq, 0, 3, true)).first.ok());
  v1::StepRequest bad_restart = FloatStep("keep", seq, 0, 1, true);
  bad_restart.mutable_floats()->set_values(0, std::nanf(""));
  EXPECT_EQ(step(bad_restart).first.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto [status, next] = step(FloatStep("keep", seq, 3, 1, false));
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(next.session_steps(), 4);
  ExpectRows(next.outputs(), seq, 3);
}

TEST_F(InferenceServiceTest, LastStepModeAndTokensAndWholeSequenceOnlyModels) {
  const std::vector<ReferenceSequence> charlm = LoadSequences(TestdataPath("model/charlm"));
  const ReferenceSequence& text = charlm[1];
  v1::StepRequest request;
  request.set_session_id("chars");
  request.set_start(true);
  request.mutable_model()->set_name("charlm");
  request.mutable_tokens()->mutable_ids()->Assign(text.input.integers.begin(),
                                                  text.input.integers.end());
  request.set_output_mode(v1::OUTPUT_MODE_LAST_STEP);
  grpc::ClientContext context;
  v1::StepResponse response;
  ASSERT_TRUE(stub_->Step(&context, request, &response).ok());
  ASSERT_EQ(response.outputs().shape(0), 1);
  ExpectRows(response.outputs(), text, text.steps() - 1);

  const std::vector<ReferenceSequence> bidir = LoadSequences(TestdataPath("model/gru_bidir"));
  v1::SequenceRequest whole;
  whole.mutable_model()->set_name("bidir");
  whole.mutable_floats()->mutable_values()->Assign(bidir[2].input.floats.begin(),
                                                   bidir[2].input.floats.end());
  grpc::ClientContext whole_context;
  v1::SequenceResponse sequence;
  ASSERT_TRUE(stub_->RunSequence(&whole_context, whole, &sequence).ok());
  ExpectRows(sequence.outputs(), bidir[2], 0);
}

TEST_F(InferenceServiceTest, MetricsCountEveryStepAndRequest) {
  const std::vector<ReferenceSequence> sequences =
      LoadSequences(TestdataPath("model/lstm_3layer"));
  const ReferenceSequence& seq = sequences[2];
  constexpr int kRequests = 13, kChunk = 3;
  for (int r = 0; r < kRequests; ++r) {
    grpc::ClientContext context;
    v1::StepResponse response;
    ASSERT_TRUE(
        stub_->Step(&context, FloatStep("m", seq, r * kChunk, kChunk, r == 0), &response).ok());
  }
  grpc::ClientContext context;
  v1::StepResponse response;
  EXPECT_FALSE(stub_->Step(&context, FloatStep("never", seq, 0, 1, false), &response).ok());
  prometheus::Registry& registry = *server_->registry();
  const std::map<std::string, std::string> lstm = {{"model", "lstm"}, {"version", "1"}};
  EXPECT_EQ(MetricValue(registry, "rnnserve_steps_total", lstm), kRequests * kChunk);
  EXPECT_EQ(MetricValue(registry, "rnnserve_step_latency_seconds", lstm), kRequests);
  EXPECT_EQ(MetricValue(registry, "rnnserve_queue_wait_seconds", lstm), kRequests);
  EXPECT_EQ(MetricValue(registry, "rnnserve_batch_size", lstm), kRequests);  // alone each time
  EXPECT_EQ(MetricValue(registry, "rnnserve_requests_total", {{"method", "Step"}, {"code", "OK"}}),
            kRequests);
  EXPECT_EQ(MetricValue(registry, "rnnserve_requests_total",
                        {{"method", "Step"}, {"code", "NOT_FOUND"}}),
            1);
  EXPECT_EQ(MetricValue(registry, "rnnserve_model_info", {{"model", "charlm"}}), 1);
  EXPECT_EQ(MetricValue(registry, "rnnserve_sessions_created_total", lstm), 1);
  EXPECT_EQ(MetricValue(registry, "rnnserve_sessions_ended_total", lstm), 0);
  EXPECT_EQ(MetricValue(registry, "rnnserve_active_sessions", lstm), 1);
  ASSERT_TRUE(server_->sessions().End("m").ok());
  EXPECT_EQ(MetricValue(registry, "rnnserve_sessions_ended_total", lstm), 1);
  // Up to date at once, not at the next idle sweep.
  EXPECT_EQ(MetricValue(registry, "rnnserve_active_sessions", lstm), 0);
  // Every method has its OK series before its first call, so rate() sees
  // that call.
  EXPECT_EQ(MetricValue(registry, "rnnserve_requests_total",
                        {{"method", "ImportState"}, {"code", "OK"}}),
            0);
}

TEST_F(InferenceServiceTest, HealthIsServingForTheServerAndEachModel) {
  // The standard health service answers over the wire; the generated health
  // stubs are not in Debian's packages, so check through a raw call.
  auto check = [&](const std::string& service) {
    // grpc.health.v1.HealthCheckRequest{service = 1: string}: tag 0x0a, length.
    const RawReply reply =
        RawUnaryCall(channel_, "/grpc.health.v1.Health/Check",
                     "\x0a" + std::string(1, static_cast<char>(service.size())) + service);
    // HealthCheckResponse{status = 1: enum}; SERVING = 1.
    return std::pair{reply.status, reply.body == std::string("\x08\x01", 2)};
  };
  EXPECT_TRUE(check("").second);
  EXPECT_TRUE(check("lstm").second);
  EXPECT_EQ(check("unknown-model").first.error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace rnnserve::server
