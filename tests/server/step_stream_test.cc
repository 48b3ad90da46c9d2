// StepStream alone on a small in-process gRPC server on 127.0.0.1:0 (only
// StreamSteps, over a real StepHandler, StepBatcher and StreamDrain): the
// stream's own contract. Requests written ahead are stepped one at a time, in
// order; a bad request, or bytes that are no StepRequest, gets its error in
// its own response and the stream goes on; a drain answers the step in flight
// and then finishes with UNAVAILABLE; a held stream steps nothing more, so a
// request it read is never applied, and stays open until the drain.
// (StepHandler's checks: step_handler_test.cc; the whole server: RnnServerTest.)
#include "server/step_stream.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "rnnserve/v1/inference.grpc.pb.h"
#include "tests/model/test_util.h"
#include "tests/server/reference_steps.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::LoadSequences;
using ::rnnserve::model::testing::MakeTestRepository;
using ::rnnserve::model::testing::ReferenceSequence;
using ::rnnserve::model::testing::TestdataPath;
using ::testing::HasSubstr;

using Stream = grpc::ClientReaderWriter<v1::StepRequest, v1::StepResponse>;

// Serves StreamSteps with a StepStream per call, nothing else.
class StreamOnlyService final : public v1::InferenceService::WithRawCallbackMethod_StreamSteps<
                                    v1::InferenceService::Service> {
 public:
  StreamOnlyService(const StepHandler* handler, ServerMetrics* metrics, StreamDrain* drain)
      : handler_(handler), metrics_(metrics), drain_(drain) {}

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* StreamSteps(
      grpc::CallbackServerContext* /*context*/) override {
    return new StepStream(handler_, metrics_, drain_, absl::InfiniteFuture());
  }

 private:
  const StepHandler* const handler_;
  ServerMetrics* const metrics_;
  StreamDrain* const drain_;
};

class StepStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(MakeTestRepository("step_stream", {{"lstm_3layer", "lstm/1"}}));
    sequences_ =
        new std::vector<ReferenceSequence>(LoadSequences(TestdataPath("model/lstm_3layer")));
  }

  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ServedModels>> models = ServedModels::Load(*root_, 100);
    ASSERT_TRUE(models.ok()) << models.status();
    models_ = *std::move(models);
    ASSERT_GE(seq().steps(), 4);
    batcher_ = std::make_unique<StepBatcher>(batcher_options_);
    handler_ = std::make_unique<StepHandler>(&store_, models_.get(), batcher_.get(), &admission_);
    service_ = std::make_unique<StreamOnlyService>(handler_.get(), &metrics_, &drain_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port, 0);
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
    stub_ = v1::InferenceService::NewStub(channel_);
  }

  void TearDown() override {
    if (server_ != nullptr) {
      drain_.DrainAll();
      server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    }
  }

  // The first reference sequence of at least 4 steps.
  const ReferenceSequence& seq() const {
    for (const ReferenceSequence& s : *sequences_) {
      if (s.steps() >= 4) return s;
    }
    return sequences_->front();
  }

  // A stream that gives up after 30 s, so a broken stream fails the test
  // instead of hanging it.
  std::unique_ptr<Stream> Open(grpc::ClientContext& context) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return stub_->StreamSteps(&context);
  }

  int64_t StepsOf(const std::string& id) {
    absl::StatusOr<SessionPtr> session = store_.Get(id, absl::Now(), SessionStore::Use::kLookOnly);
    if (!session.ok()) return -1;
    absl::MutexLock lock(&(*session)->mu());
    return (*session)->step_count();
  }

  // Spins until some request holds bytes of the in-flight budget (it was
  // admitted and is stepping or waiting to), or none does (`in_flight`
  // false: every answer handed over), or 30 s pass.
  bool WaitUntilInFlight(bool in_flight = true) {
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while ((admission_.budget().used_bytes() != 0) != in_flight) {
      if (absl::Now() > give_up) return false;
      std::this_thread::yield();
    }
    return true;
  }

  static std::string* root_;
  static std::vector<ReferenceSequence>* sequences_;
  // Destroyed bottom-up: the server, then the batcher, then the sessions,
  // then the pools their states live in.
  std::unique_ptr<ServedModels> models_;
  SessionStore store_{SessionStore::Options{}};
  Admission admission_{AdmissionLimits{}};
  prometheus::Registry registry_;
  ServerMetrics metrics_{registry_};
  StreamDrain drain_;
  StepBatcher::Options batcher_options_{.workers = 1, .max_batch = 8};
  std::unique_ptr<StepBatcher> batcher_;
  std::unique_ptr<StepHandler> handler_;
  std::unique_ptr<StreamOnlyService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::InferenceService::Stub> stub_;
};

std::string* StepStreamTest::root_ = nullptr;
std::vector<ReferenceSequence>* StepStreamTest::sequences_ = nullptr;

TEST_F(StepStreamTest, RequestsWrittenAheadAreSteppedInOrderOneAnswerEach) {
  grpc::ClientContext context;
  std::unique_ptr<Stream> stream = Open(context);
  // Every step is written before any answer is read: the stream still steps
  // them one at a time, each on the state the one before left.
  for (int64_t t = 0; t < seq().steps(); ++t) {
    v1::StepRequest request = ReferenceStep("lstm", "ahead", seq(), t);
    request.set_request_id(absl::StrCat("r", t));
    ASSERT_TRUE(stream->Write(request)) << "step " << t;
  }
  ASSERT_TRUE(stream->WritesDone());
  for (int64_t t = 0; t < seq().steps(); ++t) {
    v1::StepResponse response;
    ASSERT_TRUE(stream->Read(&response)) << "no answer to step " << t;
    EXPECT_EQ(response.request_id(), absl::StrCat("r", t));
    EXPECT_TRUE(MatchesReference(response, seq(), t))
        << "step " << t << ": " << response.ShortDebugString();
  }
  v1::StepResponse extra;
  EXPECT_FALSE(stream->Read(&extra)) << "an answer too many: " << extra.ShortDebugString();
  const grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(StepsOf("ahead"), seq().steps());
}

TEST_F(StepStreamTest, ABadRequestIsAnsweredInBandAndTheStreamGoesOn) {
  grpc::ClientContext context;
  std::unique_ptr<Stream> stream = Open(context);
  v1::StepResponse response;
  ASSERT_TRUE(stream->Write(ReferenceStep("lstm", "kept", seq(), 0)));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_TRUE(MatchesReference(response, seq(), 0)) << response.ShortDebugString();

  v1::StepRequest ragged = ReferenceStep("lstm", "kept", seq(), 1);
  ragged.mutable_floats()->add_values(0.5f);
  ragged.set_request_id("ragged");
  ASSERT_TRUE(stream->Write(ragged));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_TRUE(response.has_error()) << response.ShortDebugString();
  EXPECT_EQ(response.error().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(response.error().message(), HasSubstr("floats.values"));
  EXPECT_EQ(response.request_id(), "ragged");
  EXPECT_EQ(response.session_id(), "kept");
  EXPECT_EQ(response.outputs().values_size(), 0);

  v1::StepRequest unknown = ReferenceStep("lstm", "nobody", seq(), 1);
  unknown.set_request_id("unknown");
  ASSERT_TRUE(stream->Write(unknown));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.error().code(), grpc::StatusCode::NOT_FOUND) << response.ShortDebugString();
  EXPECT_EQ(response.request_id(), "unknown");
  EXPECT_EQ(response.session_id(), "nobody");

  // The stream goes on, and the session is where the good step left it.
  ASSERT_TRUE(stream->Write(ReferenceStep("lstm", "kept", seq(), 1)));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_TRUE(MatchesReference(response, seq(), 1)) << response.ShortDebugString();
  ASSERT_TRUE(stream->WritesDone());
  const grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// The raw half of the stream: StepStream parses the bytes itself.
TEST_F(StepStreamTest, BytesThatAreNoStepRequestAreAnsweredInBand) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  grpc::GenericStub generic(channel_);
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call =
      generic.PrepareCall(&context, "/rnnserve.v1.InferenceService/StreamSteps", &cq);
  int tags = 0;
  // Waits for the operation just started; whether it succeeded.
  auto wait = [&] {
    void* tag;
    bool ok = false;
    EXPECT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(tag, reinterpret_cast<void*>(static_cast<intptr_t>(tags)));
    return ok;
  };
  auto next_tag = [&] { return reinterpret_cast<void*>(static_cast<intptr_t>(++tags)); };
  auto read = [&](v1::StepResponse& response) {
    grpc::ByteBuffer bytes;
    call->Read(&bytes, next_tag());
    if (!wait()) return false;
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(bytes.Dump(&slices).ok());
    std::string body;
    for (const grpc::Slice& s : slices) body.append(s.begin(), s.end());
    return response.ParseFromString(body);
  };
  auto write = [&](const std::string& body) {
    grpc::Slice slice(body);
    grpc::ByteBuffer bytes(&slice, 1);
    call->Write(bytes, next_tag());
    return wait();
  };

  call->StartCall(next_tag());
  ASSERT_TRUE(wait());
  // Field 1 as a varint where a StepRequest has a string: not parseable.
  ASSERT_TRUE(write(std::string("\x08\x01\xff\xff", 4)));
  v1::StepResponse response;
  ASSERT_TRUE(read(response));
  EXPECT_EQ(response.error().code(), grpc::StatusCode::INVALID_ARGUMENT)
      << response.ShortDebugString();
  ASSERT_TRUE(write(ReferenceStep("lstm", "raw", seq(), 0).SerializeAsString()));
  ASSERT_TRUE(read(response));
  EXPECT_TRUE(MatchesReference(response, seq(), 0)) << response.ShortDebugString();
  call->WritesDone(next_tag());
  ASSERT_TRUE(wait());
  grpc::Status status;
  call->Finish(&status, next_tag());
  ASSERT_TRUE(wait());
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// A batcher that lets a lone step wait a second for company: long enough to
// drain while a step is in flight (admitted, queued), which the budget shows.
class StepStreamDrainTest : public StepStreamTest {
 protected:
  StepStreamDrainTest() { batcher_options_.max_delay = absl::Seconds(1); }
};

TEST_F(StepStreamDrainTest, ADrainAnswersTheStepInFlightThenFinishesUnavailable) {
  grpc::ClientContext context;
  std::unique_ptr<Stream> stream = Open(context);
  v1::StepResponse response;
  ASSERT_TRUE(stream->Write(ReferenceStep("lstm", "drained", seq(), 0)));
  ASSERT_TRUE(stream->Read(&response));
  // Step 0's bytes are released just after its answer: wait for that, or
  // they would pass for step 1's.
  ASSERT_TRUE(WaitUntilInFlight(false));
  ASSERT_TRUE(stream->Write(ReferenceStep("lstm", "drained", seq(), 1)));
  ASSERT_TRUE(WaitUntilInFlight());
  drain_.DrainAll();
  ASSERT_TRUE(stream->Read(&response)) << "the step in flight was not answered";
  EXPECT_TRUE(MatchesReference(response, seq(), 1)) << response.ShortDebugString();
  // Nothing more is read: a request written now is never applied.
  stream->Write(ReferenceStep("lstm", "drained", seq(), 2));
  EXPECT_FALSE(stream->Read(&response)) << response.ShortDebugString();
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(StepsOf("drained"), 2);
}

TEST_F(StepStreamTest, AnIdleStreamFinishesAtTheDrainAndANewOneAtOnce) {
  grpc::ClientContext context;
  std::unique_ptr<Stream> stream = Open(context);
  v1::StepResponse response;
  ASSERT_TRUE(stream->Write(ReferenceStep("lstm", "idle", seq(), 0)));
  ASSERT_TRUE(stream->Read(&response));
  drain_.DrainAll();
  EXPECT_FALSE(stream->Read(&response));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("shutting down"));

  grpc::ClientContext late_context;
  std::unique_ptr<Stream> late = Open(late_context);
  late->Write(ReferenceStep("lstm", "late", seq(), 0));
  EXPECT_FALSE(late->Read(&response)) << response.ShortDebugString();
  status = late->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(StepsOf("late"), -1) << "a stream turned away applied a step";
}

TEST_F(StepStreamTest, AHeldStreamStepsNothingMoreAndStaysOpenUntilTheDrain) {
  grpc::ClientContext context;
  std::unique_ptr<Stream> stream = Open(context);
  v1::StepResponse response;
  ASSERT_TRUE(stream->Write(ReferenceStep("lstm", "held", seq(), 0)));
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_TRUE(MatchesReference(response, seq(), 0));
  drain_.HoldAll();
  // Read by the stream, never applied nor answered.
  ASSERT_TRUE(stream->Write(ReferenceStep("lstm", "held", seq(), 1)));
  // A stream opened while holding holds too.
  grpc::ClientContext late_context;
  std::unique_ptr<Stream> late = Open(late_context);
  ASSERT_TRUE(late->Write(ReferenceStep("lstm", "late", seq(), 0)));
  // Nothing says when the server has read them, so give a step that should
  // not happen the time one takes many times over (the one wait here: it
  // can only make a broken hold pass, never a working one fail).
  const absl::Time until = absl::Now() + absl::Milliseconds(300);
  while (absl::Now() < until && StepsOf("held") == 1 && StepsOf("late") == -1) {
    std::this_thread::yield();
  }
  EXPECT_EQ(StepsOf("held"), 1);
  EXPECT_EQ(StepsOf("late"), -1);
  drain_.DrainAll();
  EXPECT_FALSE(stream->Read(&response))
      << "a held stream answered: " << response.ShortDebugString();
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_FALSE(late->Read(&response)) << response.ShortDebugString();
  status = late->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(StepsOf("held"), 1);
  EXPECT_EQ(StepsOf("late"), -1);
}

}  // namespace
}  // namespace rnnserve::server
