// Issue 20 against build/bin/rnnserve as a real process serving the demo
// models: a request that asks for too much is refused before any work, at
// once, with the session unchanged and the server's peak memory far below the
// answer it would have built; legal but large requests stay within the
// budget for work in flight; and where an error can still follow an applied
// step (the client cancelled, or its deadline passed, while the step ran)
// the step was applied whole or not at all and the next call's session_steps
// says which.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/config.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "glog/logging.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "tests/common/http_get.h"
#include "tests/common/server_process.h"
#include "tests/model/test_util.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::SourcePath;
using ::rnnserve::testing::HttpGet;
using ::rnnserve::testing::ProcStatusBytes;
using ::rnnserve::testing::ServerProcess;
using ::testing::AnyOf;
using ::testing::HasSubstr;

constexpr int64_t kHuge = int64_t{1} << 20;  // the 1 MB request
constexpr int kVocabulary = 98;              // the demo charlm's
constexpr int64_t kCharlmWidth = 98;
// The largest all-steps chunk for charlm at the default 16 MiB, with ids of
// a few bytes: (16 MiB - envelope) / (98 x 4).
constexpr int64_t kLargestChunk = 42'798;
// Refused "at once": the issue measured 25-59 s of work before the error.
// Generous, as this machine is shared; the measured time is printed.
constexpr absl::Duration kAtOnce = absl::Seconds(5);
// What refusing 2^20-token requests may add to the server's peak RSS: under
// a third of one would-be answer (411 MB).
constexpr int64_t kPeakGrowthBound = 128 << 20;

std::unique_ptr<ServerProcess> StartServer(std::vector<std::string> flags = {}) {
  flags.push_back("--models=" + SourcePath("models"));
  flags.push_back("--workers=2");
  absl::StatusOr<std::unique_ptr<ServerProcess>> process = ServerProcess::Start(flags);
  CHECK(process.ok()) << process.status();
  return *std::move(process);
}

// A channel that takes answers of any size: the server's limit is under test.
std::unique_ptr<v1::InferenceService::Stub> StubOf(const ServerProcess& server) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  return v1::InferenceService::NewStub(
      grpc::CreateCustomChannel(server.address(), grpc::InsecureChannelCredentials(), args));
}

// The value of an unlabelled gauge in the server's /metrics, -1 if absent.
double ScrapeGauge(const ServerProcess& server, const std::string& name) {
  const std::string text = HttpGet(server.metrics_port(), "/metrics");
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, name + " ")) continue;
    double value = -1;
    if (absl::SimpleAtod(line, &value)) return value;
  }
  return -1;
}

std::vector<int64_t> Ids(int64_t count, int64_t seed = 0) {
  std::vector<int64_t> ids(count);
  for (int64_t i = 0; i < count; ++i) ids[i] = (i * 31 + seed) % kVocabulary;
  return ids;
}

v1::StepRequest StepOf(const std::string& session, const std::vector<int64_t>& ids,
                       bool start = false, bool last_only = false) {
  v1::StepRequest request;
  request.set_session_id(session);
  request.set_start(start);
  request.mutable_model()->set_name("charlm");
  request.mutable_tokens()->mutable_ids()->Assign(ids.begin(), ids.end());
  if (last_only) request.set_output_mode(v1::OUTPUT_MODE_LAST_STEP);
  return request;
}

grpc::Status Step(v1::InferenceService::Stub& stub, const v1::StepRequest& request,
                  v1::StepResponse* response) {
  grpc::ClientContext context;
  return stub.Step(&context, request, response);
}

// Steps `session` and `control`, which must have had the same history, once
// more with the same token: both must report `steps` and answer the same.
void ExpectSameState(v1::InferenceService::Stub& stub, const std::string& session,
                     const std::string& control, int64_t steps) {
  v1::StepResponse asked, reference;
  ASSERT_TRUE(Step(stub, StepOf(session, {7}), &asked).ok());
  ASSERT_TRUE(Step(stub, StepOf(control, {7}), &reference).ok());
  EXPECT_EQ(asked.session_steps(), steps);
  EXPECT_EQ(reference.session_steps(), steps);
  ASSERT_EQ(asked.outputs().values_size(), kCharlmWidth);
  for (int j = 0; j < kCharlmWidth; ++j) {
    ASSERT_EQ(asked.outputs().values(j), reference.outputs().values(j)) << "output " << j;
  }
}

TEST(AsksForTooMuchTest, AStepOf2Pow20TokensIsRefusedAtOnceAndTheSessionIsUnchanged) {
  std::unique_ptr<ServerProcess> server = StartServer();
  auto stub = StubOf(*server);
  v1::StepResponse response;
  ASSERT_TRUE(Step(*stub, StepOf("asked", Ids(3), true), &response).ok());
  ASSERT_TRUE(Step(*stub, StepOf("control", Ids(3), true), &response).ok());
  const int64_t peak_before = ProcStatusBytes(server->pid(), "VmHWM:");

  // All outputs (the case), a start that would reset the session,
  // and the last output only (past --max_steps_per_request).
  const std::vector<int64_t> huge = Ids(kHuge);
  struct Asked {
    v1::StepRequest request;
    std::string message;
  };
  const std::vector<Asked> cases = {
      {StepOf("asked", huge), absl::StrCat("send at most ", kLargestChunk,
                                           " steps per request to model charlm, or ask for "
                                           "OUTPUT_MODE_LAST_STEP")},
      {StepOf("asked", huge, /*start=*/true), "nothing was computed or applied"},
      {StepOf("asked", huge, false, /*last_only=*/true),
       "this server takes at most 262144 per request (--max_steps_per_request)"}};
  for (const Asked& c : cases) {
    const absl::Time start = absl::Now();
    const grpc::Status status = Step(*stub, c.request, &response);
    const absl::Duration took = absl::Now() - start;
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message));
    EXPECT_LT(took, kAtOnce);
    std::cout << "refused in " << took << ": " << status.error_message() << "\n";
  }
  const int64_t growth = ProcStatusBytes(server->pid(), "VmHWM:") - peak_before;
  std::cout << "peak RSS grew by " << growth / 1024 << " KiB\n";
  // The would-be answer was 411 MB (and the server peaked at 3.1 GB). Each
  // refusal parses 8 MB of ids and copies them; glibc may keep a freed copy
  // per thread's arena, hence the room (27-51 MB measured).
  EXPECT_LT(growth, kPeakGrowthBound);
  ASSERT_NO_FATAL_FAILURE(ExpectSameState(*stub, "asked", "control", 4));

  // The chunk the refusal names is answered, whole.
  const grpc::Status largest = Step(*stub, StepOf("asked", Ids(kLargestChunk)), &response);
  ASSERT_TRUE(largest.ok()) << largest.error_message();
  EXPECT_EQ(response.outputs().values_size(), kLargestChunk * kCharlmWidth);
  EXPECT_EQ(response.session_steps(), 4 + kLargestChunk);
}

TEST(AsksForTooMuchTest, OnAStreamTheRefusalIsInBandAndTheOtherSessionGoesOn) {
  std::unique_ptr<ServerProcess> server = StartServer();
  auto stub = StubOf(*server);
  grpc::ClientContext context;
  auto stream = stub->StreamSteps(&context);
  v1::StepResponse response;
  for (const char* session : {"asked", "neighbour"}) {
    ASSERT_TRUE(stream->Write(StepOf(session, Ids(3), true)));
    ASSERT_TRUE(stream->Read(&response));
    ASSERT_FALSE(response.has_error()) << response.error().message();
  }
  const int64_t peak_before = ProcStatusBytes(server->pid(), "VmHWM:");
  v1::StepRequest huge = StepOf("asked", Ids(kHuge));
  huge.set_request_id("huge");
  const absl::Time start = absl::Now();
  ASSERT_TRUE(stream->Write(huge));
  ASSERT_TRUE(stream->Read(&response));
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(response.has_error());
  EXPECT_EQ(response.request_id(), "huge");
  EXPECT_EQ(response.error().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(response.error().message(),
              HasSubstr(absl::StrCat("send at most ", kLargestChunk, " steps")));
  EXPECT_LT(took, kAtOnce);
  std::cout << "refused in-band in " << took << "\n";
  EXPECT_LT(ProcStatusBytes(server->pid(), "VmHWM:") - peak_before, kPeakGrowthBound);
  // The stream goes on, for both sessions, each exactly one step further.
  for (const char* session : {"asked", "neighbour"}) {
    ASSERT_TRUE(stream->Write(StepOf(session, {7})));
    ASSERT_TRUE(stream->Read(&response));
    ASSERT_FALSE(response.has_error()) << response.error().message();
    EXPECT_EQ(response.session_steps(), 4) << session;
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  ASSERT_NO_FATAL_FAILURE(ExpectSameState(*stub, "asked", "neighbour", 5));
}

TEST(AsksForTooMuchTest, FourConcurrentSequencesOf2Pow20TokensAreRefusedAtOnce) {
  std::unique_ptr<ServerProcess> server = StartServer();
  auto stub = StubOf(*server);
  v1::SequenceRequest request;
  request.mutable_model()->set_name("charlm");
  const std::vector<int64_t> huge = Ids(kHuge);
  request.mutable_tokens()->mutable_ids()->Assign(huge.begin(), huge.end());
  const int64_t peak_before = ProcStatusBytes(server->pid(), "VmHWM:");
  const absl::Time start = absl::Now();
  std::vector<grpc::Status> statuses(4);
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&, i] {
      grpc::ClientContext context;
      v1::SequenceResponse response;
      statuses[i] = stub->RunSequence(&context, request, &response);
    });
  }
  for (std::thread& client : clients) client.join();
  const absl::Duration took = absl::Now() - start;
  for (const grpc::Status& status : statuses) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr("send at most"));
  }
  EXPECT_LT(took, kAtOnce);
  const int64_t growth = ProcStatusBytes(server->pid(), "VmHWM:") - peak_before;
  std::cout << "4 refused in " << took << "; peak RSS grew by " << growth / 1024 << " KiB\n";
  // The issue saw +7.2 GB; four parsed requests and their copies are 68 MB.
  EXPECT_LT(growth, kPeakGrowthBound);
}

TEST(AsksForTooMuchTest, ManyLargeLegalRequestsStayWithinTheBudgetForWorkInFlight) {
  constexpr int64_t kBudget = 64 << 20;
  std::unique_ptr<ServerProcess> server =
      StartServer({absl::StrCat("--max_inflight_bytes=", kBudget)});
  auto stub = StubOf(*server);
  EXPECT_EQ(ScrapeGauge(*server, "rnnserve_inflight_bytes_limit"), kBudget);
  v1::StepResponse warm;
  ASSERT_TRUE(Step(*stub, StepOf("warm", Ids(8000), true), &warm).ok());
  const int64_t peak_before = ProcStatusBytes(server->pid(), "VmHWM:");
  // 8 clients, each alternating whole sequences (~32 MB of work each) and
  // chunks on its own session (~10 MB): ~340 MB if all ran at once.
  constexpr int kClients = 8;
  constexpr int64_t kSteps = 8000;
  std::atomic<int> answered{0}, busy{0}, other{0};
  std::atomic<bool> done{false};
  std::atomic<double> most_in_flight{0};
  std::thread scraper([&] {
    while (!done) {
      const double now = ScrapeGauge(*server, "rnnserve_inflight_bytes");
      if (now > most_in_flight) most_in_flight = now;
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  std::vector<std::thread> clients;
  const absl::Time stop = absl::Now() + absl::Seconds(3);
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      const std::string session = absl::StrCat("client-", c);
      for (int i = 0; i < 12 && absl::Now() < stop; ++i) {
        grpc::Status status;
        if (i % 2 == 0) {
          v1::SequenceRequest request;
          request.mutable_model()->set_name("charlm");
          const std::vector<int64_t> ids = Ids(kSteps, c);
          request.mutable_tokens()->mutable_ids()->Assign(ids.begin(), ids.end());
          grpc::ClientContext context;
          v1::SequenceResponse response;
          status = stub->RunSequence(&context, request, &response);
        } else {
          v1::StepResponse response;
          status = Step(*stub, StepOf(session, Ids(kSteps, c), /*start=*/true), &response);
        }
        if (status.ok()) {
          ++answered;
        } else if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
          ++busy;
        } else {
          ++other;
          ADD_FAILURE() << status.error_message();
        }
      }
    });
  }
  for (std::thread& client : clients) client.join();
  done = true;
  scraper.join();
  const int64_t growth = ProcStatusBytes(server->pid(), "VmHWM:") - peak_before;
  std::cout << answered << " answered, " << busy << " refused RESOURCE_EXHAUSTED; at most "
            << most_in_flight << " bytes in flight seen; peak RSS grew by " << growth / 1024
            << " KiB\n";
  EXPECT_GT(answered, 0);
  EXPECT_EQ(other, 0);
  EXPECT_LE(most_in_flight, kBudget);
  // The budget, plus the answers gRPC still holds while it sends them. Not
  // under AddressSanitizer (scripts/sanitize.sh asan), whose quarantine keeps
  // up to 256 MiB of freed memory resident on purpose; the bound on bytes in
  // flight above holds there too.
#ifndef ABSL_HAVE_ADDRESS_SANITIZER
  EXPECT_LT(growth, 2 * kBudget);
#endif
  // Every reservation is given back once its answer is out.
  double left = -1;
  for (int i = 0; i < 100 && left != 0; ++i) {
    left = ScrapeGauge(*server, "rnnserve_inflight_bytes");
    if (left != 0) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(left, 0);
}

// The paths where an error can still follow an applied step: the step was
// running when the client gave up. The session took it whole or not at all,
// and the next call's session_steps says which (README, "Limits and
// overload").
class AppliedThenLostTest : public ::testing::Test {
 protected:
  static constexpr int64_t kChunk = 10'000;  // ~0.25 s of charlm on an idle core

  void SetUp() override {
    server_ = StartServer();
    stub_ = StubOf(*server_);
    v1::StepResponse response;
    ASSERT_TRUE(Step(*stub_, StepOf("lost", Ids(1), true), &response).ok());
  }

  // Whether the chunk was applied (as the next call's session_steps tells);
  // a control session with that history must then answer the same.
  void ExpectAllOrNothing() {
    v1::StepResponse response;
    ASSERT_TRUE(Step(*stub_, StepOf("lost", {5}), &response).ok());
    ASSERT_THAT(response.session_steps(), AnyOf(2, 2 + kChunk));
    const bool applied = response.session_steps() == 2 + kChunk;
    std::cout << "the lost chunk was " << (applied ? "" : "not ") << "applied\n";
    ASSERT_TRUE(Step(*stub_, StepOf("control", Ids(1), true), &response).ok());
    if (applied) {
      ASSERT_TRUE(Step(*stub_, StepOf("control", Ids(kChunk), false, true), &response).ok());
    }
    ASSERT_TRUE(Step(*stub_, StepOf("control", {5}), &response).ok());
    ExpectSameState(*stub_, "lost", "control", response.session_steps() + 1);
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<v1::InferenceService::Stub> stub_;
};

TEST_F(AppliedThenLostTest, ADeadlinePassingDuringTheStepLeavesItWholeOrNotAtAll) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(50));
  v1::StepResponse response;
  const grpc::Status status =
      stub_->Step(&context, StepOf("lost", Ids(kChunk), false, true), &response);
  EXPECT_THAT(status.error_code(),
              AnyOf(grpc::StatusCode::DEADLINE_EXCEEDED, grpc::StatusCode::OK));
  ASSERT_NO_FATAL_FAILURE(ExpectAllOrNothing());
}

TEST_F(AppliedThenLostTest, AStreamCancelledDuringTheStepLeavesItWholeOrNotAtAll) {
  grpc::ClientContext context;
  auto stream = stub_->StreamSteps(&context);
  ASSERT_TRUE(stream->Write(StepOf("lost", Ids(kChunk), false, true)));
  absl::SleepFor(absl::Milliseconds(50));  // into the step, most likely
  context.TryCancel();
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  ASSERT_NO_FATAL_FAILURE(ExpectAllOrNothing());
}

}  // namespace
}  // namespace rnnserve::server
