// Whole-server behaviour over loopback: session limits under both policies,
// and a session exported from one server and imported into another that
// continues exactly as if it had never moved.
#include "server/rnn_server.h"

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "rnnserve/v1/sessions.grpc.pb.h"
#include "tests/model/test_util.h"
#include "tests/server/metric_value.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::LoadSequences;
using ::rnnserve::model::testing::MakeTestRepository;
using ::rnnserve::model::testing::ReferenceSequence;
using ::rnnserve::model::testing::TestdataPath;

// A server on 127.0.0.1:<free port> over a one-model repository, and stubs.
struct TestServer {
  explicit TestServer(SessionStore::Options sessions, const std::string& tag = "a") {
    ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.models = MakeTestRepository(
        "rnn_server_" + tag + "_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()),
        {{"gru_2layer", "gru/1"}});
    options.sessions = sessions;
    absl::StatusOr<std::unique_ptr<RnnServer>> started = RnnServer::Start(options);
    CHECK(started.ok()) << started.status();
    server = *std::move(started);
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server->port()),
                                       grpc::InsecureChannelCredentials());
    inference = v1::InferenceService::NewStub(channel);
    sessions_stub = v1::SessionService::NewStub(channel);
  }

  // One step of `seq` at `t` for session `id`.
  grpc::Status Step(const std::string& id, const ReferenceSequence& seq, int64_t t, bool start,
                    v1::StepResponse* response) {
    v1::StepRequest request;
    request.set_session_id(id);
    request.set_start(start);
    request.mutable_model()->set_name("gru");
    const int64_t width = seq.input.shape[1];
    request.mutable_floats()->mutable_values()->Assign(
        seq.input.floats.begin() + t * width, seq.input.floats.begin() + (t + 1) * width);
    grpc::ClientContext context;
    return inference->Step(&context, request, response);
  }

  std::unique_ptr<RnnServer> server;
  std::unique_ptr<v1::InferenceService::Stub> inference;
  std::unique_ptr<v1::SessionService::Stub> sessions_stub;
};

ReferenceSequence Sequence() { return LoadSequences(TestdataPath("model/gru_2layer")).back(); }

TEST(RnnServerTest, RefusePolicyRefusesTheSessionPastTheLimit) {
  TestServer s({.max_sessions = 2, .full_policy = SessionStore::FullPolicy::kRefuse});
  const ReferenceSequence seq = Sequence();
  v1::StepResponse response;
  ASSERT_TRUE(s.Step("a", seq, 0, true, &response).ok());
  ASSERT_TRUE(s.Step("b", seq, 0, true, &response).ok());
  const grpc::Status third = s.Step("c", seq, 0, true, &response);
  EXPECT_EQ(third.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // The two live sessions go on.
  EXPECT_TRUE(s.Step("a", seq, 1, false, &response).ok());
  EXPECT_EQ(response.session_steps(), 2);
}

TEST(RnnServerTest, EvictPolicyEndsTheLeastRecentlyUsedSession) {
  TestServer s({.max_sessions = 2,
                .full_policy = SessionStore::FullPolicy::kEvictLeastRecentlyUsed});
  const ReferenceSequence seq = Sequence();
  v1::StepResponse response;
  ASSERT_TRUE(s.Step("old", seq, 0, true, &response).ok());
  ASSERT_TRUE(s.Step("recent", seq, 0, true, &response).ok());
  ASSERT_TRUE(s.Step("recent", seq, 1, false, &response).ok());
  ASSERT_TRUE(s.Step("new", seq, 0, true, &response).ok());
  EXPECT_EQ(s.Step("old", seq, 1, false, &response).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(s.Step("recent", seq, 2, false, &response).ok());
  EXPECT_EQ(s.server->sessions().evicted(), 1);
}

TEST(RnnServerTest, ExportedSessionContinuesOnAnotherServerAsIfItNeverMoved) {
  const ReferenceSequence seq = Sequence();  // 200 steps
  TestServer first({}, "first");
  TestServer second({}, "second");
  v1::StepResponse response;
  for (int64_t t = 0; t < 50; ++t) {
    ASSERT_TRUE(first.Step("mover", seq, t, t == 0, &response).ok());
  }
  v1::SessionRef ref;
  ref.set_session_id("mover");
  v1::SessionState state;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(first.sessions_stub->ExportState(&context, ref, &state).ok());
  }
  {
    grpc::ClientContext context;
    v1::SessionInfo info;
    ASSERT_TRUE(second.sessions_stub->ImportState(&context, state, &info).ok());
    EXPECT_EQ(info.steps(), 50);
  }
  EXPECT_EQ(MetricValue(*first.server->registry(), "rnnserve_requests_total",
                        {{"method", "ExportState"}, {"code", "OK"}}),
            1);
  EXPECT_EQ(MetricValue(*second.server->registry(), "rnnserve_requests_total",
                        {{"method", "ImportState"}, {"code", "OK"}}),
            1);
  const int64_t width = seq.expected.shape[1];
  for (int64_t t = 50; t < seq.steps(); ++t) {
    ASSERT_TRUE(second.Step("mover", seq, t, false, &response).ok());
    ASSERT_EQ(response.session_steps(), t + 1);
    for (int64_t j = 0; j < width; ++j) {
      ASSERT_NEAR(response.outputs().values(j), seq.expected.floats[t * width + j], 1e-5)
          << "step " << t;
    }
  }
}

}  // namespace
}  // namespace rnnserve::server
