// StepHandler in process, over a real SessionStore, StepBatcher and
// Admission: answers equal the PyTorch reference of lstm_3layer, and every
// refused request (bad input, admission, unknown session or model, a failed
// start) is answered inline and leaves the session as it was, which the next
// reference step proves. (Over gRPC: InferenceServiceTest, StepStreamTest.)
#include "server/step_handler.h"

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/model/test_util.h"
#include "tests/server/reference_steps.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::LoadSequences;
using ::rnnserve::model::testing::MakeTestRepository;
using ::rnnserve::model::testing::OutputRowsNear;
using ::rnnserve::model::testing::ReferenceSequence;
using ::rnnserve::model::testing::TestdataPath;
using ::testing::HasSubstr;

class StepHandlerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(
        MakeTestRepository("step_handler", {{"lstm_3layer", "lstm/1"}, {"gru_bidir", "bidir/1"}}));
    sequences_ =
        new std::vector<ReferenceSequence>(LoadSequences(TestdataPath("model/lstm_3layer")));
  }

  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ServedModels>> models = ServedModels::Load(*root_, 100);
    ASSERT_TRUE(models.ok()) << models.status();
    models_ = *std::move(models);
    ASSERT_FALSE(sequences_->empty());
    ASSERT_GE(seq().steps(), 6);
  }

  // The first reference sequence of at least 6 steps.
  const ReferenceSequence& seq() const {
    for (const ReferenceSequence& s : *sequences_) {
      if (s.steps() >= 6) return s;
    }
    return sequences_->front();
  }
  const model::LayerStack& lstm() const { return *(*models_->Find("lstm", 0))->loaded.stack; }

  void SetLimits(const AdmissionLimits& limits) {
    admission_ = std::make_unique<Admission>(limits);
  }

  StepHandler Handler() {
    return StepHandler(&store_, models_.get(), &batcher_, admission_.get(), gate_.get());
  }

  // Handles `request` and waits for its reply; `inline_reply` says whether
  // the reply ran before Handle() returned. Every call of a test reuses one
  // StepInFlight, as a stream does, refused requests included.
  absl::StatusOr<v1::StepResponse> Call(const v1::StepRequest& request,
                                        bool* inline_reply = nullptr) {
    absl::Status status = absl::UnknownError("no reply");
    v1::StepResponse response;
    absl::Notification done;
    const StepHandler handler = Handler();
    handler.Handle(request, response, absl::InfiniteFuture(), in_flight_, [&](absl::Status s) {
      status = s;
      done.Notify();
    });
    if (inline_reply != nullptr) *inline_reply = done.HasBeenNotified();
    done.WaitForNotification();
    if (!status.ok()) return status;
    return response;
  }

  // Steps `count` reference steps from `first` for session `id`.
  v1::StepRequest Chunk(const std::string& id, int64_t first, int64_t count, bool start) const {
    v1::StepRequest request = ReferenceStep("lstm", id, seq(), first);
    const int64_t width = seq().input.shape[1];
    request.mutable_floats()->mutable_values()->Assign(
        seq().input.floats.begin() + first * width,
        seq().input.floats.begin() + (first + count) * width);
    request.set_start(start);
    return request;
  }

  // Steps `id` through reference steps [first, first + count), one by one.
  void StepReference(const std::string& id, int64_t first, int64_t count) {
    for (int64_t t = first; t < first + count; ++t) {
      v1::StepRequest request = ReferenceStep("lstm", id, seq(), t);
      absl::StatusOr<v1::StepResponse> got = Call(request);
      ASSERT_TRUE(got.ok()) << "step " << t << ": " << got.status();
      ASSERT_TRUE(MatchesReference(*got, seq(), t))
          << "step " << t << " of " << id << ": " << got->ShortDebugString();
    }
  }

  // A request refused before it queues: answered inline with `code`.
  void ExpectRefused(const v1::StepRequest& request, absl::StatusCode code,
                     const std::string& says = "") {
    bool inline_reply = false;
    absl::StatusOr<v1::StepResponse> got = Call(request, &inline_reply);
    ASSERT_FALSE(got.ok()) << request.ShortDebugString();
    EXPECT_EQ(got.status().code(), code) << got.status();
    EXPECT_THAT(std::string(got.status().message()), HasSubstr(says));
    EXPECT_TRUE(inline_reply) << "refused after queueing: " << got.status();
  }

  static std::string* root_;
  static std::vector<ReferenceSequence>* sequences_;
  // Declared in this order so the batcher stops before the sessions go, and
  // the sessions before the pools their states live in.
  std::unique_ptr<ServedModels> models_;
  SessionStore store_{SessionStore::Options{}};
  std::unique_ptr<Admission> admission_ = std::make_unique<Admission>(AdmissionLimits{});
  std::unique_ptr<OperationGate> gate_;
  StepBatcher batcher_{{.workers = 1, .max_batch = 8}};
  StepInFlight in_flight_;
};

std::string* StepHandlerTest::root_ = nullptr;
std::vector<ReferenceSequence>* StepHandlerTest::sequences_ = nullptr;

TEST_F(StepHandlerTest, StepsGiveTheReferenceOutputsAndEchoTheRequest) {
  for (size_t k = 0; k < sequences_->size(); ++k) {
    const ReferenceSequence& s = (*sequences_)[k];
    const std::string id = absl::StrCat("ref-", k);
    for (int64_t t = 0; t < s.steps(); ++t) {
      v1::StepRequest request = ReferenceStep("lstm", id, s, t);
      request.set_request_id(absl::StrCat("r", t));
      absl::StatusOr<v1::StepResponse> got = Call(request);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_TRUE(MatchesReference(*got, s, t)) << "sequence " << k << " step " << t;
      EXPECT_EQ(got->request_id(), absl::StrCat("r", t));
      EXPECT_EQ(got->session_id(), id);
      EXPECT_EQ(got->model().name(), "lstm");
      EXPECT_EQ(got->model().version(), 1);
    }
  }
}

TEST_F(StepHandlerTest, AChunkAnswersEveryStepOrOnlyTheLast) {
  const int64_t width = seq().expected.shape[1];
  absl::StatusOr<v1::StepResponse> all = Call(Chunk("chunk", 0, 4, /*start=*/true));
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->outputs().shape_size(), 2);
  EXPECT_EQ(all->outputs().shape(0), 4);
  EXPECT_EQ(all->outputs().shape(1), width);
  ASSERT_EQ(all->outputs().values_size(), 4 * width);
  EXPECT_TRUE(
      OutputRowsNear(all->outputs().values().data(), seq().expected.floats.data(), 4, width));
  EXPECT_EQ(all->session_steps(), 4);

  v1::StepRequest last = Chunk("chunk", 4, 2, /*start=*/false);
  last.set_output_mode(v1::OUTPUT_MODE_LAST_STEP);
  absl::StatusOr<v1::StepResponse> got = Call(last);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->outputs().values_size(), width);
  EXPECT_EQ(got->outputs().shape(0), 1);
  EXPECT_TRUE(OutputRowsNear(got->outputs().values().data(),
                             seq().expected.floats.data() + 5 * width, 1, width));
  EXPECT_EQ(got->session_steps(), 6);
}

TEST_F(StepHandlerTest, AnUnknownSessionIsNotFoundAndNotCreated) {
  v1::StepRequest request = ReferenceStep("lstm", "nobody", seq(), 1);  // start=false
  ExpectRefused(request, absl::StatusCode::kNotFound, "start=true");
  EXPECT_EQ(store_.size(), 0);
  ExpectRefused(ReferenceStep("", "nobody", seq(), 1), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_.size(), 0);
}

TEST_F(StepHandlerTest, ABadSessionIdIsRefusedBeforeAnything) {
  ExpectRefused(ReferenceStep("lstm", "", seq(), 0), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_.size(), 0);
}

TEST_F(StepHandlerTest, ABadRequestChangesNoSession) {
  StepReference("kept", 0, 2);
  std::vector<std::pair<std::string, v1::StepRequest>> bad;
  v1::StepRequest ragged = ReferenceStep("lstm", "kept", seq(), 2);
  ragged.mutable_floats()->add_values(0.5f);  // not whole steps
  bad.emplace_back("ragged", ragged);
  v1::StepRequest miscounted = ReferenceStep("lstm", "kept", seq(), 2);
  miscounted.mutable_floats()->set_steps(2);
  bad.emplace_back("miscounted", miscounted);
  v1::StepRequest negative = ReferenceStep("lstm", "kept", seq(), 2);
  negative.mutable_floats()->set_steps(-1);
  bad.emplace_back("negative", negative);
  v1::StepRequest nan = ReferenceStep("lstm", "kept", seq(), 2);
  nan.mutable_floats()->set_values(0, std::nanf(""));
  bad.emplace_back("nan", nan);
  v1::StepRequest tokens = ReferenceStep("lstm", "kept", seq(), 2);
  tokens.mutable_tokens()->add_ids(1);  // the oneof: floats are gone
  bad.emplace_back("tokens", tokens);
  v1::StepRequest empty = ReferenceStep("lstm", "kept", seq(), 2);
  empty.mutable_floats()->clear_values();
  bad.emplace_back("empty", empty);
  v1::StepRequest mode = ReferenceStep("lstm", "kept", seq(), 2);
  mode.set_output_mode(static_cast<v1::OutputMode>(7));
  bad.emplace_back("mode", mode);
  for (const auto& [name, request] : bad) {
    SCOPED_TRACE(name);
    ExpectRefused(request, absl::StatusCode::kInvalidArgument);
  }
  v1::StepRequest other_model = ReferenceStep("bidir", "kept", seq(), 2);
  ExpectRefused(other_model, absl::StatusCode::kFailedPrecondition, "runs model lstm");
  v1::StepRequest other_version = ReferenceStep("lstm", "kept", seq(), 2);
  other_version.mutable_model()->set_version(2);
  ExpectRefused(other_version, absl::StatusCode::kFailedPrecondition, "runs model lstm");
  StepReference("kept", 2, 2);  // as if nothing had come in between
}

TEST_F(StepHandlerTest, AFailedStartDoesNotReset) {
  StepReference("kept", 0, 3);
  v1::StepRequest ragged = ReferenceStep("lstm", "kept", seq(), 0);  // start=true
  ragged.mutable_floats()->add_values(0.5f);
  ExpectRefused(ragged, absl::StatusCode::kInvalidArgument);
  v1::StepRequest nan = ReferenceStep("lstm", "kept", seq(), 0);
  nan.mutable_floats()->set_values(0, std::numeric_limits<float>::infinity());
  ExpectRefused(nan, absl::StatusCode::kInvalidArgument);
  ExpectRefused(ReferenceStep("", "kept", seq(), 0), absl::StatusCode::kInvalidArgument,
                "model.name");
  ExpectRefused(ReferenceStep("missing", "kept", seq(), 0), absl::StatusCode::kNotFound);
  // A model that cannot be stepped.
  ExpectRefused(ReferenceStep("bidir", "kept", seq(), 0), absl::StatusCode::kFailedPrecondition,
                "RunSequence");
  StepReference("kept", 3, 2);
}

TEST_F(StepHandlerTest, AdmissionRefusesTooManyStepsAndLeavesTheSession) {
  SetLimits({.max_steps_per_request = 2});
  StepReference("kept", 0, 1);
  ExpectRefused(Chunk("kept", 1, 3, /*start=*/false), absl::StatusCode::kInvalidArgument);
  // A start past the cap resets nothing either.
  ExpectRefused(Chunk("kept", 0, 3, /*start=*/true), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<v1::StepResponse> two = Call(Chunk("kept", 1, 2, /*start=*/false));
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->session_steps(), 3);
  StepReference("kept", 3, 1);
}

TEST_F(StepHandlerTest, AdmissionRefusesAnAnswerTooLargeAndLeavesTheSession) {
  // Room for the answer of two steps, not of four; the last step of four fits.
  const RequestedWork two{.steps = 2, .echoed_bytes = 16};
  SetLimits(
      {.max_message_bytes = Admission::AnswerBytes(lstm(), two), .max_steps_per_request = 100});
  StepReference("kept", 0, 1);
  ExpectRefused(Chunk("kept", 1, 4, /*start=*/false), absl::StatusCode::kInvalidArgument,
                "OUTPUT_MODE_LAST_STEP");
  ExpectRefused(Chunk("kept", 0, 4, /*start=*/true), absl::StatusCode::kInvalidArgument);
  StepReference("kept", 1, 1);
  v1::StepRequest last = Chunk("kept", 2, 4, /*start=*/false);
  last.set_output_mode(v1::OUTPUT_MODE_LAST_STEP);
  absl::StatusOr<v1::StepResponse> got = Call(last);
  ASSERT_TRUE(got.ok()) << got.status();
  const int64_t width = seq().expected.shape[1];
  EXPECT_TRUE(OutputRowsNear(got->outputs().values().data(),
                             seq().expected.floats.data() + 5 * width, 1, width));
  EXPECT_EQ(got->session_steps(), 6);
  // Released once the reply has returned, on the batcher's thread.
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (admission_->budget().used_bytes() != 0 && absl::Now() < give_up) {
    std::this_thread::yield();
  }
  EXPECT_EQ(admission_->budget().used_bytes(), 0) << "a reservation outlived its reply";
}

TEST_F(StepHandlerTest, StartResetsTheSessionAndEndEndsItAfterTheStep) {
  StepReference("again", 0, 3);
  StepReference("again", 0, 2);  // step 0 starts it afresh
  v1::StepRequest end = ReferenceStep("lstm", "again", seq(), 2);
  end.set_end(true);
  absl::StatusOr<v1::StepResponse> got = Call(end);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(MatchesReference(*got, seq(), 2)) << "the ending step is applied and answered";
  EXPECT_EQ(store_.size(), 0);
  ExpectRefused(ReferenceStep("lstm", "again", seq(), 3), absl::StatusCode::kNotFound);
  // start=true and end=true at once: one step of a session that is then gone.
  v1::StepRequest once = ReferenceStep("lstm", "once", seq(), 0);
  once.set_end(true);
  got = Call(once);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(MatchesReference(*got, seq(), 0));
  EXPECT_EQ(store_.size(), 0);
}

TEST_F(StepHandlerTest, AClosedGateRefusesWithUnavailable) {
  gate_ = std::make_unique<OperationGate>();
  StepReference("gated", 0, 1);
  ASSERT_TRUE(gate_->CloseAndWait(absl::Now() + absl::Seconds(5)));
  ExpectRefused(ReferenceStep("lstm", "gated", seq(), 1), absl::StatusCode::kUnavailable);
  ExpectRefused(ReferenceStep("lstm", "other", seq(), 0), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store_.size(), 1);
}

}  // namespace
}  // namespace rnnserve::server
