// Whole-server behaviour over loopback: session limits under both policies,
// idle expiry, a session exported from one server and imported into another
// that continues exactly as if it had never moved, graceful shutdown of open
// streams, sessions handed to another server at shutdown, and malformed
// messages.
#include "server/rnn_server.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "rnnserve/v1/sessions.grpc.pb.h"
#include "tests/model/test_util.h"
#include "tests/server/metric_value.h"
#include "tests/server/raw_call.h"
#include "tests/server/test_server.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::LoadSequences;
using ::rnnserve::model::testing::MakeTestRepository;
using ::rnnserve::model::testing::ReferenceSequence;
using ::rnnserve::model::testing::TestdataPath;
using ::testing::ElementsAre;

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
  // "oldest" was created first but used last, so the least recently used is
  // "idle": evicting by age (FIFO) would end the wrong one.
  ASSERT_TRUE(s.Step("oldest", seq, 0, true, &response).ok());
  ASSERT_TRUE(s.Step("idle", seq, 0, true, &response).ok());
  ASSERT_TRUE(s.Step("oldest", seq, 1, false, &response).ok());
  ASSERT_TRUE(s.Step("new", seq, 0, true, &response).ok());
  EXPECT_EQ(s.Step("idle", seq, 1, false, &response).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(s.Step("oldest", seq, 2, false, &response).ok());
  EXPECT_EQ(response.session_steps(), 3);
  EXPECT_EQ(s.server->sessions().evicted(), 1);
  prometheus::Registry& registry = *s.server->registry();
  EXPECT_EQ(MetricValue(registry, "rnnserve_sessions_evicted_total", {{"model", "gru"}}), 1);
  EXPECT_EQ(MetricValue(registry, "rnnserve_active_sessions", {{"model", "gru"}}), 2);
  EXPECT_EQ(MetricValue(registry, "rnnserve_sessions_max", {}), 2);
}

// 4 threads step one session 50 times each with the same input, so the
// outcome does not depend on their order: if two steps of the session ever
// ran at once (read the same state, both wrote), two answers would carry
// the same step count and the state would differ from 201 steps in a row.
TEST(RnnServerTest, ConcurrentStepsOfOneSessionRunOneAtATime) {
  TestServer s({});
  const ReferenceSequence seq = Sequence();
  v1::StepResponse response;
  ASSERT_TRUE(s.Step("shared", seq, 0, true, &response).ok());
  constexpr int kThreads = 4, kStepsEach = 50;
  std::vector<std::vector<int64_t>> counts(kThreads);
  std::vector<std::thread> threads;
  for (int c = 0; c < kThreads; ++c) {
    threads.emplace_back([&s, &seq, &counts, c] {
      for (int i = 0; i < kStepsEach; ++i) {
        v1::StepResponse answer;
        ASSERT_TRUE(s.Step("shared", seq, 0, false, &answer).ok());
        counts[c].push_back(answer.session_steps());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<int64_t> all;
  for (const std::vector<int64_t>& c : counts) all.insert(all.end(), c.begin(), c.end());
  std::sort(all.begin(), all.end());
  std::vector<int64_t> each_once(kThreads * kStepsEach);
  std::iota(each_once.begin(), each_once.end(), 2);  // after the start step
  EXPECT_EQ(all, each_once);
  // The same 201 steps one after another give the same state.
  for (int i = 0; i <= kThreads * kStepsEach; ++i) {
    ASSERT_TRUE(s.Step("alone", seq, 0, i == 0, &response).ok());
  }
  const auto state_of = [&s](const std::string& id) {
    v1::SessionRef ref;
    ref.set_session_id(id);
    v1::SessionState state;
    grpc::ClientContext context;
    EXPECT_TRUE(s.sessions_stub->ExportState(&context, ref, &state).ok());
    std::vector<float> values(state.state().size() / sizeof(float));
    std::memcpy(values.data(), state.state().data(), state.state().size());
    return values;
  };
  const std::vector<float> shared = state_of("shared"), alone = state_of("alone");
  ASSERT_EQ(shared.size(), alone.size());
  for (size_t j = 0; j < shared.size(); ++j) EXPECT_NEAR(shared[j], alone[j], 1e-5) << j;
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

TEST(RnnServerTest, IdleSessionsExpireAndTheirNextStepIsNotFound) {
  TestServer s({.idle_timeout = absl::Milliseconds(200)});
  const ReferenceSequence seq = Sequence();
  v1::StepResponse response;
  ASSERT_TRUE(s.Step("sleepy", seq, 0, true, &response).ok());
  // The sweeper runs every 100 ms here; give it up to 30 s on a busy machine.
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (s.server->sessions().size() > 0 && absl::Now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const grpc::Status next = s.Step("sleepy", seq, 1, false, &response);
  EXPECT_EQ(next.error_code(), grpc::StatusCode::NOT_FOUND) << next.error_message();
  EXPECT_EQ(MetricValue(*s.server->registry(), "rnnserve_sessions_expired_total",
                        {{"model", "gru"}, {"version", "1"}}),
            1);
  // A start brings it back, from a fresh state.
  ASSERT_TRUE(s.Step("sleepy", seq, 0, true, &response).ok());
  EXPECT_EQ(response.session_steps(), 1);
}

TEST(RnnServerTest, ShutdownAnswersTheStepsItTookThenEndsOpenStreamsWithUnavailable) {
  TestServer s({});
  const ReferenceSequence seq = Sequence();
  grpc::ClientContext context;
  auto stream = s.inference->StreamSteps(&context);
  v1::StepRequest request;
  request.set_session_id("open");
  request.set_start(true);
  request.mutable_model()->set_name("gru");
  request.mutable_floats()->mutable_values()->Assign(
      seq.input.floats.begin(), seq.input.floats.begin() + seq.input.shape[1]);
  ASSERT_TRUE(stream->Write(request));
  v1::StepResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_FALSE(response.has_error()) << response.error().message();
  // The stream now waits for its next request. Shutdown must not wait for
  // the client to close it (nor cut it at the drain deadline: CANCELLED).
  std::thread stopper([&] { s.server->Shutdown(absl::Seconds(60)); });
  EXPECT_FALSE(stream->Read(&response));
  const grpc::Status status = stream->Finish();
  stopper.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("shutting down"));
}

// Each response to a step of `seq` at its own step index equals the
// reference within 1e-5.
void ExpectReferenceOutputs(const v1::StepResponse& response, const ReferenceSequence& seq) {
  const int64_t width = seq.expected.shape[1];
  const int64_t t = response.session_steps() - 1;
  ASSERT_EQ(response.outputs().values_size(), width);
  for (int64_t j = 0; j < width; ++j) {
    ASSERT_NEAR(response.outputs().values(j), seq.expected.floats[t * width + j], 1e-5)
        << response.session_id() << " step " << t;
  }
}

TEST(RnnServerTest, HandoffMovesEverySessionBeforeTheStreamsEndAndTheyGoOnThere) {
  const ReferenceSequence seq = Sequence();  // 200 steps
  TestServer target({}, "target");
  TestServer source({}, "source", 16 << 20, absl::StrCat("127.0.0.1:", target.server->port()));
  v1::StepResponse response;
  for (int64_t t = 0; t < 30; ++t) {
    ASSERT_TRUE(source.Step("unary", seq, t, t == 0, &response).ok());
  }
  grpc::ClientContext context;
  auto stream = source.inference->StreamSteps(&context);
  for (int64_t t = 0; t < 40; ++t) {
    ASSERT_TRUE(stream->Write(TestServer::StepRequest("streamed", seq, t, t == 0)));
    ASSERT_TRUE(stream->Read(&response));
    ASSERT_FALSE(response.has_error()) << response.error().message();
  }

  std::thread stopper([&] { source.server->Shutdown(absl::Seconds(60)); });
  EXPECT_FALSE(stream->Read(&response));
  const grpc::Status ended = stream->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE) << ended.error_message();
  // The moment its stream ends, a client finds its session on the target,
  // with every step it saw answered.
  EXPECT_EQ(target.StepsOf("streamed"), 40);
  EXPECT_EQ(target.StepsOf("unary"), 30);
  stopper.join();
  EXPECT_EQ(source.server->sessions().size(), 0);  // moved, not copied

  for (int64_t t = 40; t < seq.steps(); ++t) {
    ASSERT_TRUE(target.Step("streamed", seq, t, false, &response).ok());
    ExpectReferenceOutputs(response, seq);
  }
  for (int64_t t = 30; t < seq.steps(); ++t) {
    ASSERT_TRUE(target.Step("unary", seq, t, false, &response).ok());
    ExpectReferenceOutputs(response, seq);
  }
}

TEST(RnnServerTest, ASessionTheDrainDeadlineLeavesNoTimeToMoveStaysWhereItIs) {
  const ReferenceSequence seq = Sequence();
  TestServer target({}, "late_target");
  TestServer source({}, "late_source", 16 << 20,
                    absl::StrCat("127.0.0.1:", target.server->port()));
  v1::StepResponse response;
  ASSERT_TRUE(source.Step("late", seq, 0, true, &response).ok());
  source.server->Shutdown(absl::ZeroDuration());
  // Moved or kept, never dropped: here it cannot have moved in no time.
  EXPECT_EQ(source.server->sessions().size(), 1);
  EXPECT_EQ(target.StepsOf("late"), -1);
}

TEST(RnnServerTest, SessionsThatCannotMoveStayOnTheStoppingServer) {
  const ReferenceSequence seq = Sequence();
  TestServer source({}, "lonely", 16 << 20, "127.0.0.1:1");  // nothing listens there
  v1::StepResponse response;
  ASSERT_TRUE(source.Step("stays", seq, 0, true, &response).ok());
  source.server->Shutdown(absl::Seconds(30));
  EXPECT_EQ(source.server->sessions().size(), 1);  // still here, for the snapshot
}

TEST(RnnServerTest, MalformedMessagesGetAnErrorAndTheServerGoesOn) {
  TestServer s({}, "a", /*max_message_bytes=*/64 << 10);
  const std::vector<std::string> methods = {
      "/rnnserve.v1.InferenceService/Step", "/rnnserve.v1.InferenceService/RunSequence",
      "/rnnserve.v1.SessionService/ExportState", "/rnnserve.v1.SessionService/ImportState",
      "/rnnserve.v1.ModelService/DescribeModel"};
  const std::vector<std::string> garbage = {
      std::string("\x0a\xff\xff\xff\xff\x0f", 6),  // a field longer than the message
      std::string("\x00", 1),                      // field number 0
      std::string("\x0a\x02\xc3\x28", 4),           // a string that is not UTF-8
      std::string("\x0f\x01", 2),                   // wire type 7 does not exist
  };
  for (const std::string& method : methods) {
    for (const std::string& bytes : garbage) {
      const RawReply reply = RawUnaryCall(s.channel, method, bytes);
      EXPECT_FALSE(reply.status.ok()) << method;
    }
    // Past --max_message_bytes: refused before it is parsed.
    const RawReply oversize = RawUnaryCall(s.channel, method, std::string(100 << 10, '\x0a'));
    EXPECT_EQ(oversize.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << method;
  }
  // A session id of absurd length, and of bytes that are not text.
  v1::StepResponse response;
  const ReferenceSequence seq = Sequence();
  v1::StepRequest request;
  request.set_start(true);
  request.mutable_model()->set_name("gru");
  request.mutable_floats()->mutable_values()->Assign(
      seq.input.floats.begin(), seq.input.floats.begin() + seq.input.shape[1]);
  request.set_session_id(std::string(10'000, 'x'));
  {
    grpc::ClientContext context;
    EXPECT_EQ(s.inference->Step(&context, request, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  // The server still serves well-formed requests.
  ASSERT_TRUE(s.Step("fine", seq, 0, true, &response).ok());
  EXPECT_EQ(response.session_steps(), 1);
}

TEST(RnnServerTest, AStreamThatStopsReadingStallsOnlyItselfWithBoundedMemory) {
  TestServer s({});
  const ReferenceSequence seq = Sequence();
  // Stream A sends whole-sequence chunks (2.4 KB each, 240 MB in all) and
  // never reads an answer. The server answers one request at a time per
  // stream, so once A's answers fill the HTTP/2 flow-control windows the
  // server stops reading A, and then A's own sends block: what is buffered
  // is bounded by gRPC's windows, not by what A sends.
  grpc::ClientContext slow_context;
  auto slow = s.inference->StreamSteps(&slow_context);
  std::atomic<int> sent{0};
  std::thread writer([&] {
    for (int64_t i = 0; i < 100'000; ++i) {
      v1::StepRequest request;
      request.set_session_id("slow");
      request.set_start(true);
      request.mutable_model()->set_name("gru");
      request.mutable_floats()->mutable_values()->Assign(seq.input.floats.begin(),
                                                         seq.input.floats.end());
      if (!slow->Write(request)) return;  // cancelled below
      sent.fetch_add(1);
    }
  });
  // Wait until A's writes stall AND the server has stepped what it had read
  // (neither moves for 200 ms), bounded: the client's sends block before
  // the server has worked through the requests already in its windows.
  prometheus::Registry& registry = *s.server->registry();
  const auto steps_total = [&] {
    return MetricValue(registry, "rnnserve_steps_total", {{"model", "gru"}});
  };
  std::pair<int, double> last{-1, -1};
  for (int rounds = 0; rounds < 300; ++rounds) {
    const std::pair<int, double> now{sent.load(), steps_total()};
    if (now == last) break;
    last = now;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_LT(sent.load(), 100'000) << "the server read without bound from a stream nobody reads";
  const int64_t steps_of_slow = [&] {
    absl::StatusOr<SessionPtr> session = s.server->sessions().Get("slow", absl::Now());
    if (!session.ok()) return int64_t{-1};
    absl::MutexLock lock(&(*session)->mu());
    return (*session)->step_count();
  }();
  // Every request restarts A's session with the whole sequence: it exists
  // and holds exactly one sequence's steps.
  EXPECT_EQ(steps_of_slow, seq.steps());
  EXPECT_EQ(s.server->sessions().size(), 1);
  // The server stepped A for a bounded number of its requests, far fewer than
  // A sent, and then stopped: A's requests wait unread in the windows.
  const double stalled_steps = steps_total();
  EXPECT_GT(stalled_steps, 0);
  EXPECT_LT(stalled_steps / seq.steps(), sent.load());
  // Another client is served as usual meanwhile, and A gets no step more.
  v1::StepResponse response;
  for (int64_t t = 0; t < 20; ++t) {
    ASSERT_TRUE(s.Step("fast", seq, t, t == 0, &response).ok());
    EXPECT_EQ(response.session_steps(), t + 1);
  }
  EXPECT_EQ(steps_total(), stalled_steps + 20);
  slow_context.TryCancel();
  writer.join();
  LOG(INFO) << "a stream that never reads stalled after " << sent.load() << " requests sent, "
            << steps_of_slow << " stepped";
}

TEST(RnnServerTest, NewModelVersionServesNewSessionsWhileOldSessionsGoOn) {
  TestServer s({});
  const ReferenceSequence v1 = Sequence();  // gru_2layer, served as gru/1
  const ReferenceSequence v2 = LoadSequences(TestdataPath("model/gru_1layer")).back();
  v1::StepResponse response;
  ASSERT_TRUE(s.Step("old", v1, 0, true, &response).ok());
  // Version 2 arrives, and a broken version 3 beside it.
  std::filesystem::copy(TestdataPath("model/gru_1layer"), s.models_root + "/gru/2",
                        std::filesystem::copy_options::recursive);
  std::filesystem::create_directories(s.models_root + "/gru/3");
  std::ofstream(s.models_root + "/gru/3/config.json") << "{ not json";
  s.server->ReloadModels();
  EXPECT_THAT(s.server->models().Versions("gru"), ElementsAre(1, 2));
  // The old session keeps its version and its state.
  for (int64_t t = 1; t < 5; ++t) {
    ASSERT_TRUE(s.Step("old", v1, t, false, &response).ok());
    EXPECT_EQ(response.model().version(), 1);
    for (int64_t j = 0; j < v1.expected.shape[1]; ++j) {
      ASSERT_NEAR(response.outputs().values(j), v1.expected.floats[t * v1.expected.shape[1] + j],
                  1e-5);
    }
  }
  // A new session takes the newest version that loaded.
  ASSERT_TRUE(s.Step("new", v2, 0, true, &response).ok());
  EXPECT_EQ(response.model().version(), 2);
  for (int64_t j = 0; j < v2.expected.shape[1]; ++j) {
    ASSERT_NEAR(response.outputs().values(j), v2.expected.floats[j], 1e-5);
  }
  // Reloading again changes nothing (and retries only the broken one).
  s.server->ReloadModels();
  EXPECT_THAT(s.server->models().Versions("gru"), ElementsAre(1, 2));
}

TEST(RnnServerTest, AVersionTakenOutIsFreedOnceItsLastSessionEnds) {
  TestServer s({});
  const ReferenceSequence v1 = Sequence();  // gru_2layer, served as gru/1
  v1::StepResponse response;
  ASSERT_TRUE(s.Step("old", v1, 0, true, &response).ok());
  std::filesystem::copy(TestdataPath("model/gru_1layer"), s.models_root + "/gru/2",
                        std::filesystem::copy_options::recursive);
  s.server->ReloadModels();
  std::weak_ptr<const model::LayerStack> v1_weights =
      (*s.server->models().Find("gru", 1))->loaded.stack;
  std::filesystem::remove_all(s.models_root + "/gru/1");
  s.server->ReloadModels();
  EXPECT_THAT(s.server->models().Versions("gru"), ElementsAre(2));
  // Its session steps on (through the batcher, whose jobs are recycled).
  for (int64_t t = 1; t < 5; ++t) {
    ASSERT_TRUE(s.Step("old", v1, t, false, &response).ok());
    EXPECT_EQ(response.model().version(), 1);
  }
  s.server->ReloadModels();
  EXPECT_FALSE(v1_weights.expired()) << "freed under a live session";
  EXPECT_EQ(s.server->models().retired(), 1);

  grpc::ClientContext context;
  v1::SessionRef old;
  old.set_session_id("old");
  v1::SessionInfo ended;
  ASSERT_TRUE(s.sessions_stub->EndSession(&context, old, &ended).ok());
  // Freed once seen unused for ServedModels::kFreeGrace (bounded wait).
  for (const absl::Time give_up = absl::Now() + absl::Seconds(30);
       s.server->models().retired() > 0 && absl::Now() < give_up;) {
    s.server->ReloadModels();
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(s.server->models().retired(), 0);
  EXPECT_TRUE(v1_weights.expired()) << "something still holds version 1's weights";
}

}  // namespace
}  // namespace rnnserve::server
