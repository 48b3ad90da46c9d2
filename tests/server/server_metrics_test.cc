// The server's metrics against what the server did, through gRPC: every
// message of a stream counts once under its own code, the step histograms
// and counters follow the steps computed, and rnnserve_active_sessions
// follows every start, end, expiry and eviction. (metrics_test.cc covers
// ServerMetrics alone: buckets, families, the exposition.)
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "rnnserve/v1/sessions.grpc.pb.h"
#include "server/rnn_server.h"
#include "tests/model/test_util.h"
#include "tests/server/metric_value.h"
#include "tests/server/reference_steps.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::LoadSequences;
using ::rnnserve::model::testing::MakeTestRepository;
using ::rnnserve::model::testing::ReferenceSequence;
using ::rnnserve::model::testing::TestdataPath;

const std::map<std::string, std::string> kGru = {{"model", "gru"}, {"version", "1"}};

class ServerMetricsThroughGrpcTest : public ::testing::Test {
 protected:
  void Start(const SessionStore::Options& sessions) {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.models =
        MakeTestRepository(std::string("server_metrics_") +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                           {{"gru_2layer", "gru/1"}});
    options.sessions = sessions;
    absl::StatusOr<std::unique_ptr<RnnServer>> server = RnnServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                       grpc::InsecureChannelCredentials());
    inference_ = v1::InferenceService::NewStub(channel);
    sessions_ = v1::SessionService::NewStub(channel);
  }

  double Value(const std::string& family, const std::map<std::string, std::string>& labels) {
    return MetricValue(*server_->registry(), family, labels);
  }
  double Requests(const std::string& method, const std::string& code) {
    return Value("rnnserve_requests_total", {{"method", method}, {"code", code}});
  }
  grpc::Status Step(const std::string& id, int64_t t) {
    grpc::ClientContext context;
    v1::StepResponse response;
    return inference_->Step(&context, ReferenceStep("gru", id, seq_, t), &response);
  }

  const ReferenceSequence seq_ = LoadSequences(TestdataPath("model/gru_2layer")).back();
  std::unique_ptr<RnnServer> server_;
  std::unique_ptr<v1::InferenceService::Stub> inference_;
  std::unique_ptr<v1::SessionService::Stub> sessions_;
};

TEST_F(ServerMetricsThroughGrpcTest, EachMessageOfAStreamCountsOnceUnderItsOwnCode) {
  Start({});
  grpc::ClientContext context;
  auto stream = inference_->StreamSteps(&context);
  // Three rounds of: 5 single steps, a step of an unknown session, a chunk
  // of 4 steps, a request of the wrong width.
  int computed_requests = 0, computed_steps = 0, not_found = 0, invalid = 0;
  int64_t t = 0;
  v1::StepResponse response;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 5; ++i, ++t) {
      ASSERT_TRUE(stream->Write(ReferenceStep("gru", "s", seq_, t)) && stream->Read(&response));
      ASSERT_TRUE(MatchesReference(response, seq_, t));
      ++computed_requests;
      ++computed_steps;
    }
    v1::StepRequest unknown = ReferenceStep("gru", "nobody", seq_, 1);
    ASSERT_TRUE(stream->Write(unknown) && stream->Read(&response));
    EXPECT_EQ(response.error().code(), grpc::StatusCode::NOT_FOUND);
    ++not_found;
    v1::StepRequest chunk = ReferenceStep("gru", "s", seq_, t);
    for (int k = 1; k < 4; ++k) {
      const v1::StepRequest next = ReferenceStep("gru", "s", seq_, t + k);
      chunk.mutable_floats()->mutable_values()->MergeFrom(next.floats().values());
    }
    ASSERT_TRUE(stream->Write(chunk) && stream->Read(&response));
    EXPECT_EQ(response.session_steps(), t + 4);
    t += 4;
    ++computed_requests;
    computed_steps += 4;
    v1::StepRequest wrong_width = ReferenceStep("gru", "s", seq_, t);
    wrong_width.mutable_floats()->add_values(1.0f);
    ASSERT_TRUE(stream->Write(wrong_width) && stream->Read(&response));
    EXPECT_EQ(response.error().code(), grpc::StatusCode::INVALID_ARGUMENT);
    ++invalid;
  }
  stream->WritesDone();
  ASSERT_TRUE(stream->Finish().ok());

  EXPECT_EQ(Requests("StreamSteps", "OK"), computed_requests);
  EXPECT_EQ(Requests("StreamSteps", "NOT_FOUND"), not_found);
  EXPECT_EQ(Requests("StreamSteps", "INVALID_ARGUMENT"), invalid);
  EXPECT_EQ(Value("rnnserve_steps_total", kGru), computed_steps);
  for (const char* histogram : {"rnnserve_step_latency_seconds", "rnnserve_queue_wait_seconds",
                                "rnnserve_compute_seconds", "rnnserve_batch_size"}) {
    EXPECT_EQ(Value(histogram, kGru), computed_requests) << histogram;
  }
  EXPECT_EQ(Value("rnnserve_sessions_created_total", kGru), 1);
  EXPECT_EQ(Value("rnnserve_active_sessions", kGru), 1);
}

TEST_F(ServerMetricsThroughGrpcTest, ActiveSessionsFollowStartsEndsExpiriesAndEvictions) {
  Start({.max_sessions = 3,
         .idle_timeout = absl::Hours(1),
         .full_policy = SessionStore::FullPolicy::kEvictLeastRecentlyUsed});
  EXPECT_EQ(Value("rnnserve_sessions_max", {}), 3);
  for (const char* id : {"a", "b", "c", "d", "e"}) ASSERT_TRUE(Step(id, 0).ok());
  // Five started, three fit: "a" and "b" were evicted.
  EXPECT_EQ(Value("rnnserve_sessions_created_total", kGru), 5);
  EXPECT_EQ(Value("rnnserve_sessions_evicted_total", kGru), 2);
  EXPECT_EQ(Value("rnnserve_active_sessions", kGru), 3);
  {
    grpc::ClientContext context;
    v1::SessionRef ref;
    ref.set_session_id("c");
    v1::SessionInfo info;
    ASSERT_TRUE(sessions_->EndSession(&context, ref, &info).ok());
  }
  EXPECT_EQ(Value("rnnserve_sessions_ended_total", kGru), 1);
  EXPECT_EQ(Value("rnnserve_active_sessions", kGru), 2);
  // The idle sweep two hours on: "d" and "e" expire.
  EXPECT_EQ(server_->sessions().ReapIdle(absl::Now() + absl::Hours(2)), 2);
  EXPECT_EQ(Value("rnnserve_sessions_expired_total", kGru), 2);
  EXPECT_EQ(Value("rnnserve_active_sessions", kGru), 0);
  EXPECT_EQ(Step("d", 1).error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace rnnserve::server
