// The server's limits over gRPC, each at its documented value: the whole-
// sequence queue refuses the 1025th waiting sequence, a step whose deadline
// passes while it waits in the step queue is refused and never computed,
// and a client that pings more often than the server allows is sent away.
// A long chunk of the demo charlm model keeps the one worker busy.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "rnnserve/v1/sessions.grpc.pb.h"
#include "server/rnn_server.h"
#include "tests/model/test_util.h"
#include "tests/server/metric_value.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::SourcePath;

// Steps of charlm that keep a worker busy for a good while (about 100 µs a
// step here) yet end within seconds.
constexpr int kBusySteps = 20'000;

std::string TestName() { return ::testing::UnitTest::GetInstance()->current_test_info()->name(); }

// A fresh repository holding the demo charlm model as charlm/1.
std::string CharlmRepository() {
  const std::string root =
      absl::StrCat(::testing::TempDir(), "limits_", TestName(), "_", getpid(), "/repo");
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root + "/charlm");
  std::filesystem::copy(SourcePath("models/charlm/1"), root + "/charlm/1");
  return root;
}

// rnnserve_queue_depth as a scrape reads it (a gauge computed at scrape time).
double QueueDepth(const RnnServer& server) {
  for (const auto& gauge : server.scrape_gauges()) {
    const double value = MetricValue(*gauge, "rnnserve_queue_depth", {});
    if (value >= 0) return value;
  }
  return -1;
}

std::unique_ptr<RnnServer> StartServer(ServerOptions options) {
  options.listen = "127.0.0.1:0";
  if (options.models.empty()) options.models = CharlmRepository();
  absl::StatusOr<std::unique_ptr<RnnServer>> server = RnnServer::Start(options);
  CHECK(server.ok()) << server.status();
  return *std::move(server);
}

std::shared_ptr<grpc::Channel> ChannelTo(const RnnServer& server,
                                         const grpc::ChannelArguments& args = {}) {
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server.port()),
                                   grpc::InsecureChannelCredentials(), args);
}

// `steps` tokens of charlm, last output only.
v1::TokenSteps Tokens(int steps) {
  v1::TokenSteps tokens;
  for (int t = 0; t < steps; ++t) tokens.add_ids(t % 98);
  return tokens;
}

// An asynchronous call's context, request, response and outcome.
template <typename Request, typename Response>
struct AsyncCall {
  grpc::ClientContext context;
  Request request;
  Response response;
  grpc::Status status;
  bool answered_while_busy = false;  // before `busy` (below) was answered
  absl::Notification done;
};
using SequenceCall = AsyncCall<v1::SequenceRequest, v1::SequenceResponse>;

// RunSequence of `steps` charlm tokens; notes whether `busy` (if given) was
// still unanswered when this call was answered.
void StartSequence(v1::InferenceService::Stub& stub, SequenceCall& call, int steps,
                   const SequenceCall* busy = nullptr) {
  call.request.mutable_model()->set_name("charlm");
  call.request.set_output_mode(v1::OUTPUT_MODE_LAST_STEP);
  *call.request.mutable_tokens() = Tokens(steps);
  stub.async()->RunSequence(
      &call.context, &call.request, &call.response, [&call, busy](grpc::Status status) {
        call.answered_while_busy = busy != nullptr && !busy->done.HasBeenNotified();
        call.status = std::move(status);
        call.done.Notify();
      });
}

// What became of 1024 + `refused` one-step sequences sent while a
// sequence of `busy_steps` occupied the one sequence worker.
struct QueueOutcome {
  int refused = 0;
  int served = 0;
  int refused_after_busy = 0;     // refusals answered only after the long one ended
  bool busy_ended_first = false;  // before every refusal was in: inconclusive
};

QueueOutcome FillTheSequenceQueue(v1::InferenceService::Stub& stub, int busy_steps, int queued,
                                  int refused) {
  SequenceCall busy;
  StartSequence(stub, busy, busy_steps);
  // Its request is larger than HTTP/2's first flow-control window, so the
  // short ones sent at once would overtake it; the server gives no sign that
  // it started, so give it a moment.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::vector<std::unique_ptr<SequenceCall>> waiting;
  for (int i = 0; i < queued + refused; ++i) {
    waiting.push_back(std::make_unique<SequenceCall>());
    StartSequence(stub, *waiting.back(), 1, &busy);
  }
  const auto refusals = [&] {
    int n = 0;
    for (const auto& call : waiting) {
      n += call->done.HasBeenNotified() &&
           call->status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
    }
    return n;
  };
  QueueOutcome outcome;
  for (const absl::Time give_up = absl::Now() + absl::Seconds(120);
       absl::Now() < give_up && refusals() < refused && !busy.done.HasBeenNotified();) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  outcome.busy_ended_first = busy.done.HasBeenNotified() && refusals() < refused;
  busy.done.WaitForNotification();
  EXPECT_TRUE(busy.status.ok()) << busy.status.error_message();
  for (const auto& call : waiting) {
    call->done.WaitForNotification();
    if (call->status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++outcome.refused;
      outcome.refused_after_busy += !call->answered_while_busy;
    } else {
      EXPECT_TRUE(call->status.ok()) << call->status.error_message();
      outcome.served += call->status.ok();
    }
  }
  return outcome;
}

TEST(ServerLimitsTest, WholeSequencesPastTheQueuedThousandTwentyFourAreRefusedAtOnce) {
  const ServerOptions defaults;
  ASSERT_EQ(defaults.max_queued_sequences, 1024);  // the README's figure
  std::unique_ptr<RnnServer> server = StartServer({.sequence_workers = 1});
  auto stub = v1::InferenceService::NewStub(ChannelTo(*server));
  // One long sequence occupies the one sequence worker; 1024 short ones can
  // wait behind it, the rest are refused without waiting for it. On a
  // machine so loaded that the long one ends before the others are all in,
  // once more with a longer one.
  constexpr int kQueued = 1024, kRefused = 16;
  // 1040 calls take a while to arrive, hence 4x.
  QueueOutcome outcome = FillTheSequenceQueue(*stub, 4 * kBusySteps, kQueued, kRefused);
  double refused_before = 0;
  if (outcome.busy_ended_first) {
    LOG(WARNING) << "the long sequence ended before the queue was full; again, 4x longer";
    refused_before = outcome.refused;
    outcome = FillTheSequenceQueue(*stub, 16 * kBusySteps, kQueued, kRefused);
  }
  EXPECT_FALSE(outcome.busy_ended_first);
  EXPECT_EQ(outcome.refused, kRefused);
  EXPECT_EQ(outcome.refused_after_busy, 0) << "a refusal waited for the worker";
  EXPECT_EQ(outcome.served, kQueued);
  EXPECT_EQ(MetricValue(*server->registry(), "rnnserve_requests_total",
                        {{"method", "RunSequence"}, {"code", "RESOURCE_EXHAUSTED"}}),
            refused_before + kRefused);
}

TEST(ServerLimitsTest, AStepWhoseDeadlinePassesInTheQueueIsRefusedAndNeverComputed) {
  std::unique_ptr<RnnServer> server = StartServer({.batcher = {.workers = 1}});
  auto channel = ChannelTo(*server);
  auto stub = v1::InferenceService::NewStub(channel);
  // A long chunk occupies the one step worker...
  grpc::ClientContext busy_context;
  v1::StepRequest busy;
  busy.set_session_id("busy");
  busy.set_start(true);
  busy.mutable_model()->set_name("charlm");
  busy.set_output_mode(v1::OUTPUT_MODE_LAST_STEP);
  *busy.mutable_tokens() = Tokens(kBusySteps);
  v1::StepResponse busy_response;
  absl::Notification busy_done;
  grpc::Status busy_status;
  stub->async()->Step(&busy_context, &busy, &busy_response, [&](grpc::Status status) {
    busy_status = std::move(status);
    busy_done.Notify();
  });
  // ...once it has left the queue for the worker...
  for (const absl::Time give_up = absl::Now() + absl::Seconds(30);
       absl::Now() < give_up &&
       !(server->sessions().size() == 1 &&
         QueueDepth(*server) == 0);) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  // ...so a step with a short deadline waits in the queue past it.
  v1::StepRequest late;
  late.set_session_id("late");
  late.set_start(true);
  late.mutable_model()->set_name("charlm");
  late.mutable_tokens()->add_ids(1);
  grpc::ClientContext late_context;
  late_context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(100));
  v1::StepResponse late_response;
  EXPECT_EQ(stub->Step(&late_context, late, &late_response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  busy_done.WaitForNotification();
  ASSERT_TRUE(busy_status.ok()) << busy_status.error_message();
  // The client gives up at its deadline whatever the server does: the
  // server's own answer is in its metrics, and its step count shows the late
  // step was never computed.
  const auto refused_late = [&] {
    return MetricValue(*server->registry(), "rnnserve_requests_total",
                       {{"method", "Step"}, {"code", "DEADLINE_EXCEEDED"}});
  };
  for (const absl::Time give_up = absl::Now() + absl::Seconds(30);
       absl::Now() < give_up && refused_late() < 1;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(refused_late(), 1);
  EXPECT_EQ(MetricValue(*server->registry(), "rnnserve_requests_total",
                        {{"method", "Step"}, {"code", "OK"}}),
            1);
  EXPECT_EQ(MetricValue(*server->registry(), "rnnserve_steps_total", {{"model", "charlm"}}),
            kBusySteps);
}

// Starts Step `request` on `stub`; `done` is notified with its status.
void StartStep(v1::InferenceService::Stub& stub, grpc::ClientContext& context,
               const v1::StepRequest& request, v1::StepResponse& response, grpc::Status& status,
               absl::Notification& done) {
  stub.async()->Step(&context, &request, &response, [&status, &done](grpc::Status s) {
    status = std::move(s);
    done.Notify();
  });
}

TEST(ServerLimitsTest, QueueDepthCountsTheStepsWaitingBehindABusyWorker) {
  std::unique_ptr<RnnServer> server = StartServer({.batcher = {.workers = 1}});
  auto stub = v1::InferenceService::NewStub(ChannelTo(*server));
  const auto depth = [&] {
    return QueueDepth(*server);
  };
  EXPECT_EQ(depth(), 0);
  constexpr int kWaiting = 3;
  // Request 0 is a long chunk that occupies the worker; 1..3 wait for it.
  std::vector<v1::StepRequest> requests(kWaiting + 1);
  std::vector<grpc::ClientContext> contexts(kWaiting + 1);
  std::vector<v1::StepResponse> responses(kWaiting + 1);
  std::vector<grpc::Status> statuses(kWaiting + 1);
  std::vector<absl::Notification> done(kWaiting + 1);
  for (int i = 0; i <= kWaiting; ++i) {
    requests[i].set_session_id(absl::StrCat("s", i));
    requests[i].set_start(true);
    requests[i].mutable_model()->set_name("charlm");
    requests[i].set_output_mode(v1::OUTPUT_MODE_LAST_STEP);
    *requests[i].mutable_tokens() = Tokens(i == 0 ? kBusySteps : 1);
    StartStep(*stub, contexts[i], requests[i], responses[i], statuses[i], done[i]);
    if (i == 0) {
      // The chunk has left the queue for the worker before the others come.
      for (const absl::Time give_up = absl::Now() + absl::Seconds(30);
           absl::Now() < give_up && !(server->sessions().size() == 1 && depth() == 0);) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  }
  for (const absl::Time give_up = absl::Now() + absl::Seconds(30);
       absl::Now() < give_up && depth() < kWaiting;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(depth(), kWaiting);
  EXPECT_FALSE(done[0].HasBeenNotified()) << "make kBusySteps larger";
  for (int i = 0; i <= kWaiting; ++i) {
    done[i].WaitForNotification();
    EXPECT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_message();
  }
  EXPECT_EQ(depth(), 0);
}

// A channel whose client pings every `period`, with or without calls, and
// never stops for lack of data.
std::shared_ptr<grpc::Channel> PingingChannel(const RnnServer& server, absl::Duration period) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(absl::ToInt64Milliseconds(period)));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_HTTP2_MIN_SENT_PING_INTERVAL_WITHOUT_DATA_MS, 0);
  return ChannelTo(server, args);
}

v1::StepRequest OneToken(bool start) {
  v1::StepRequest request;
  request.set_session_id("pinger");
  request.set_start(start);
  request.mutable_model()->set_name("charlm");
  request.mutable_tokens()->add_ids(7);
  return request;
}

TEST(ServerLimitsTest, AClientPingingMoreOftenThanEveryTenSecondsLosesItsConnection) {
  ASSERT_EQ(KeepaliveOptions().min_client_ping,
            absl::Seconds(10));  // the README's figure
  std::unique_ptr<RnnServer> server = StartServer({});
  auto stub = v1::InferenceService::NewStub(PingingChannel(*server, absl::Milliseconds(100)));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto stream = stub->StreamSteps(&context);
  v1::StepResponse response;
  ASSERT_TRUE(stream->Write(OneToken(true)) && stream->Read(&response));
  // The stream stays quiet; the pings go on until the server has had enough
  // of them (gRPC: GOAWAY "too_many_pings") and closes the connection.
  EXPECT_FALSE(stream->Read(&response));
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST(ServerLimitsTest, AClientPingingAsOftenAsTheServerAllowsKeepsItsStream) {
  std::unique_ptr<RnnServer> server =
      StartServer({.keepalive = {.min_client_ping = absl::Milliseconds(50)}});
  auto stub = v1::InferenceService::NewStub(PingingChannel(*server, absl::Milliseconds(100)));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto stream = stub->StreamSteps(&context);
  v1::StepResponse response;
  ASSERT_TRUE(stream->Write(OneToken(true)) && stream->Read(&response));
  // Pings on a quiet stream for longer than the server above took to send
  // a client pinging as often away (about 4 s here).
  std::this_thread::sleep_for(std::chrono::seconds(6));
  ASSERT_TRUE(stream->Write(OneToken(false)) && stream->Read(&response));
  EXPECT_EQ(response.session_steps(), 2);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

}  // namespace
}  // namespace rnnserve::server
