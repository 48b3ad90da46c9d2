// StepBatcher against the engine run directly: batched, chunked and queued
// steps give exactly the outputs of stepping each session alone, in order.
#include "server/step_batcher.h"

#include <atomic>
#include <deque>
#include <limits>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/importers/model_loader.h"
#include "tests/model/test_util.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::TestdataPath;
using ::testing::HasSubstr;

class StepBatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<model::LoadedModel> loaded = model::LoadModel(TestdataPath("model/gru_2layer"));
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    stack_ = loaded->stack;
    pool_ = *StatePool::Create({.slot_floats = stack_->state_size(), .max_slots = 1000});
  }

  ModelRef Model() const { return {"gru", 1, stack_, pool_.get()}; }

  SessionPtr NewSession(SessionStore& store, const std::string& id) {
    return *store.Start(id, Model(), absl::Now());
  }

  // The floats of steps [t, t + steps) of session k: deterministic,
  // different per session.
  std::vector<float> Values(int k, int t, int steps) const {
    std::vector<float> values;
    for (int s = 0; s < steps; ++s) {
      for (int j = 0; j < stack_->input_size(); ++j) {
        values.push_back(0.1f * ((k * 7 + (t + s) * 3 + j) % 11) - 0.5f);
      }
    }
    return values;
  }

  // Those steps checked, as StepHandler submits them: a view of values the
  // fixture keeps (a request message in the server).
  StepInputData Input(int k, int t, int steps = 1) const {
    const float* values;
    {
      absl::MutexLock lock(&mu_);
      values = kept_.emplace_back(Values(k, t, steps)).data();
    }
    StepInputData input;
    input.steps = steps;
    input.rows = *stack_->Check(model::StepInput::Floats(values, steps));
    return input;
  }

  // What stepping session k alone for `steps` steps from a fresh state gives.
  std::vector<float> Reference(int k, int steps) const {
    std::vector<float> state(stack_->state_size());
    stack_->InitState(state.data());
    const std::vector<float> input = Values(k, 0, steps);
    std::vector<float> out(steps * stack_->output_size());
    model::Workspace workspace;
    EXPECT_TRUE(stack_
                    ->StepChunk(state.data(), model::StepInput::Floats(input.data(), steps),
                                out.data(), workspace)
                    .ok());
    return out;
  }

  std::shared_ptr<const model::LayerStack> stack_;
  std::unique_ptr<StatePool> pool_;
  mutable absl::Mutex mu_;
  mutable std::deque<std::vector<float>> kept_ ABSL_GUARDED_BY(mu_);
};

// Submits and waits for the outcome.
// An outcome and the rows the batcher wrote for it.
struct Answer : StepOutcome {
  std::vector<float> outputs;
};

// Submits and waits for the outcome.
absl::StatusOr<Answer> SubmitAndWait(StepBatcher& batcher, SessionPtr session,
                                     std::shared_ptr<const model::LayerStack> stack,
                                     StepInputData input, bool last_only = false,
                                     absl::Time deadline = absl::InfiniteFuture()) {
  std::vector<float> outputs((last_only ? 1 : input.steps) * stack->output_size());
  absl::StatusOr<StepOutcome> result;
  absl::Notification done;
  batcher.Submit(std::move(session), std::move(stack), std::move(input), last_only, outputs.data(),
                 deadline, [&](absl::StatusOr<StepOutcome> r) {
                   result = std::move(r);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!result.ok()) return result.status();
  Answer answer;
  static_cast<StepOutcome&>(answer) = *result;
  answer.outputs = std::move(outputs);
  return answer;
}

TEST_F(StepBatcherTest, ManySessionsOnManyThreadsGetExactlyTheirOwnOutputs) {
  SessionStore store({});
  StepBatcher batcher({.workers = 2, .max_batch = 16});
  constexpr int kSessions = 40, kSteps = 25, kThreads = 8;
  std::vector<SessionPtr> sessions;
  for (int k = 0; k < kSessions; ++k) sessions.push_back(NewSession(store, absl::StrCat("s", k)));
  std::atomic<int> mismatches = 0, batched = 0;
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      for (int k = th; k < kSessions; k += kThreads) {
        const std::vector<float> want = Reference(k, kSteps);
        const int width = stack_->output_size();
        for (int t = 0; t < kSteps; ++t) {
          absl::StatusOr<Answer> got = SubmitAndWait(batcher, sessions[k], stack_, Input(k, t));
          if (!got.ok() || got->session_steps != t + 1) {
            ++mismatches;
            continue;
          }
          if (got->batch_size > 1) ++batched;
          for (int j = 0; j < width; ++j) {
            if (std::abs(got->outputs[j] - want[t * width + j]) > 1e-5f) ++mismatches;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches, 0);
  EXPECT_GT(batched, 0) << "eight threads at once never formed a batch";
}

TEST_F(StepBatcherTest, QueuedStepsOfOneSessionApplyInOrder) {
  SessionStore store({});
  StepBatcher batcher({.workers = 2, .max_batch = 8});
  SessionPtr session = NewSession(store, "ordered");
  constexpr int kSteps = 30;
  const std::vector<float> want = Reference(0, kSteps);
  const int width = stack_->output_size();
  std::vector<Answer> outcomes(kSteps);
  std::atomic<int> left = kSteps;
  absl::Notification all_done;
  for (int t = 0; t < kSteps; ++t) {
    // Mix chunks of 1 and 2 steps would change the input indexing; keep 1.
    outcomes[t].outputs.resize(width);
    batcher.Submit(session, stack_, Input(0, t), false, outcomes[t].outputs.data(),
                   absl::InfiniteFuture(), [&, t](absl::StatusOr<StepOutcome> r) {
                     ASSERT_TRUE(r.ok()) << r.status();
                     static_cast<StepOutcome&>(outcomes[t]) = *std::move(r);
                     if (--left == 0) all_done.Notify();
                   });
  }
  all_done.WaitForNotification();
  for (int t = 0; t < kSteps; ++t) {
    EXPECT_EQ(outcomes[t].session_steps, t + 1);
    for (int j = 0; j < width; ++j) {
      ASSERT_NEAR(outcomes[t].outputs[j], want[t * width + j], 1e-5) << "step " << t;
    }
  }
}

TEST_F(StepBatcherTest, ChunkMatchesAndLastOnlyGivesTheLastRow) {
  SessionStore store({});
  StepBatcher batcher({});
  const std::vector<float> want = Reference(3, 12);
  const int width = stack_->output_size();
  absl::StatusOr<Answer> all =
      SubmitAndWait(batcher, NewSession(store, "a"), stack_, Input(3, 0, 12));
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->rows, 12);
  EXPECT_THAT(all->outputs, ::testing::Pointwise(::testing::FloatNear(1e-5), want));
  absl::StatusOr<Answer> last =
      SubmitAndWait(batcher, NewSession(store, "b"), stack_, Input(3, 0, 12), /*last_only=*/true);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->rows, 1);
  EXPECT_EQ(last->session_steps, 12);
  EXPECT_THAT(last->outputs, ::testing::Pointwise(::testing::FloatNear(1e-5),
                                                  std::vector<float>(want.end() - width,
                                                                     want.end())));
}

// Chunks longer than the batcher's piece (4 096 steps, which keeps a
// worker's memory bounded) give what one StepChunk gives.
TEST_F(StepBatcherTest, ChunksLongerThanAPieceMatchOneStepChunk) {
  SessionStore store({});
  StepBatcher batcher({});
  constexpr int kSteps = 2 * 4096 + 5;
  const std::vector<float> want = Reference(5, kSteps);
  const int width = stack_->output_size();
  absl::StatusOr<Answer> all =
      SubmitAndWait(batcher, NewSession(store, "long"), stack_, Input(5, 0, kSteps));
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->rows, kSteps);
  EXPECT_THAT(all->outputs, ::testing::Pointwise(::testing::FloatNear(1e-5), want));
  absl::StatusOr<Answer> last = SubmitAndWait(batcher, NewSession(store, "long-last"), stack_,
                                              Input(5, 0, kSteps), /*last_only=*/true);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->session_steps, kSteps);
  EXPECT_THAT(last->outputs,
              ::testing::Pointwise(::testing::FloatNear(1e-5),
                                   std::vector<float>(want.end() - width, want.end())));
}

// The batcher takes only input its model checked (StepInputData holds a
// model::CheckedInput): bad input is refused before it can be submitted
// (StepHandlerTest.ABadRequestChangesNoSession over the whole handler), and
// leaves the session as it was.
TEST_F(StepBatcherTest, BadInputCannotBeSubmittedAndLeavesTheSession) {
  SessionStore store({});
  StepBatcher batcher({});
  SessionPtr session = NewSession(store, "bad");
  std::vector<float> values = Values(0, 0, 1);
  values.back() = std::numeric_limits<float>::quiet_NaN();
  absl::StatusOr<model::CheckedInput> checked =
      stack_->Check(model::StepInput::Floats(values.data(), 1));
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(checked.status().message(), HasSubstr("step 0, feature 2 is nan"));
  absl::StatusOr<Answer> got = SubmitAndWait(batcher, session, stack_, Input(0, 0));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->session_steps, 1);
  EXPECT_THAT(got->outputs, ::testing::Pointwise(::testing::FloatNear(1e-5), Reference(0, 1)));
}

TEST_F(StepBatcherTest, PassedDeadlineIsNotComputed) {
  SessionStore store({});
  StepBatcher batcher({});
  SessionPtr session = NewSession(store, "late");
  absl::StatusOr<Answer> got =
      SubmitAndWait(batcher, session, stack_, Input(0, 0), false, absl::Now() - absl::Seconds(1));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDeadlineExceeded);
  absl::MutexLock lock(&session->mu());
  EXPECT_EQ(session->step_count(), 0);
}

TEST_F(StepBatcherTest, RestartWithAnotherModelFailsTheQueuedStep) {
  SessionStore store({});
  StepBatcher batcher({});
  SessionPtr session = NewSession(store, "moved");
  // The step was submitted for another model object than the session's.
  absl::StatusOr<model::LoadedModel> other = model::LoadModel(TestdataPath("model/gru_2layer"));
  ASSERT_TRUE(other.ok());
  absl::StatusOr<Answer> got = SubmitAndWait(batcher, session, other->stack, Input(0, 0));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(StepBatcherTest, FullQueueAndShutdownRefuseAtOnce) {
  SessionStore store({});
  StepBatcher batcher({.workers = 1, .max_queue = 0});
  SessionPtr session = NewSession(store, "q");
  // A refused step is answered at once, on the submitting thread, through
  // the same callback as any other.
  const auto refused_with = [&] {
    absl::Status status;
    std::vector<float> outputs(stack_->output_size());
    batcher.Submit(session, stack_, Input(0, 0), false, outputs.data(), absl::InfiniteFuture(),
                   [&](absl::StatusOr<StepOutcome> r) { status = r.status(); });
    return status.code();
  };
  EXPECT_EQ(refused_with(), absl::StatusCode::kResourceExhausted);
  batcher.Shutdown();
  EXPECT_EQ(refused_with(), absl::StatusCode::kUnavailable);
}

TEST_F(StepBatcherTest, ShutdownFinishesEveryAcceptedStep) {
  SessionStore store({});
  std::atomic<int> answered = 0;
  int accepted = 0;
  std::vector<std::vector<float>> outputs(100, std::vector<float>(stack_->output_size()));
  {
    StepBatcher batcher({.workers = 2});
    for (int k = 0; k < 20; ++k) {
      SessionPtr session = NewSession(store, absl::StrCat("d", k));
      for (int t = 0; t < 5; ++t) {
        batcher.Submit(session, stack_, Input(k, t), false, outputs[accepted++].data(),
                       absl::InfiniteFuture(), [&](absl::StatusOr<StepOutcome> r) {
                         if (r.ok()) ++answered;
                       });
      }
    }
    batcher.Shutdown();
  }
  EXPECT_EQ(accepted, 100);
  EXPECT_EQ(answered, 100);
}

}  // namespace
}  // namespace rnnserve::server
