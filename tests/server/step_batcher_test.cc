// StepBatcher against the engine run directly: batched, chunked and queued
// steps give exactly the outputs of stepping each session alone, in order.
#include "server/step_batcher.h"

#include <atomic>
#include <cstring>
#include <deque>
#include <limits>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/importers/model_loader.h"
#include "server/served_models.h"
#include "server/session_transfer.h"
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

  // Those steps checked, as StepHandler submits them, by the model they are
  // submitted with (the fixture's unless `model` is given): a view of values
  // the fixture keeps (a request message in the server).
  StepInputData Input(int k, int t, int steps = 1,
                      const model::LayerStack* model = nullptr) const {
    const float* values;
    {
      absl::MutexLock lock(&mu_);
      values = kept_.emplace_back(Values(k, t, steps)).data();
    }
    StepInputData input;
    input.steps = steps;
    input.rows = *(model != nullptr ? model : stack_.get())
                      ->Check(model::StepInput::Floats(values, steps));
    return input;
  }

  // Room for an answer of `rows` rows, kept by the fixture as a response
  // message keeps it in the server.
  float* Out(int64_t rows) const {
    absl::MutexLock lock(&mu_);
    return kept_.emplace_back(rows * stack_->output_size()).data();
  }

  // Keeps a batcher's one worker busy with a long chunk of a new session and
  // returns once it computes; `done` is notified when the chunk ends.
  void BlockTheWorker(StepBatcher& batcher, SessionStore& store, absl::Notification& done) {
    SessionPtr blocker = NewSession(store, "blocker");
    batcher.Submit(blocker, stack_, Input(0, 0, 100'000), true, Out(1), absl::InfiniteFuture(),
                   [&done](absl::StatusOr<StepOutcome>) { done.Notify(); });
    for (bool stepping = false; !stepping && !done.HasBeenNotified();) {
      absl::MutexLock lock(&blocker->mu());
      stepping = blocker->stepping();
    }
  }

  // What stepping session k alone for `steps` steps from a fresh state gives:
  // its outputs, and its state into `final_state` when given.
  std::vector<float> Reference(int k, int steps, std::vector<float>* final_state = nullptr) const {
    std::vector<float> state(stack_->state_size());
    stack_->InitState(state.data());
    const std::vector<float> input = Values(k, 0, steps);
    std::vector<float> out(steps * stack_->output_size());
    model::Workspace workspace;
    EXPECT_TRUE(stack_
                    ->StepChunk(state.data(), model::StepInput::Floats(input.data(), steps),
                                out.data(), workspace)
                    .ok());
    if (final_state != nullptr) *final_state = std::move(state);
    return out;
  }

  std::shared_ptr<const model::LayerStack> stack_;
  std::unique_ptr<StatePool> pool_;
  mutable absl::Mutex mu_;
  mutable std::deque<std::vector<float>> kept_ ABSL_GUARDED_BY(mu_);
};

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
  // Queued only, then with lone steps computed inline besides.
  for (const int inline_max_steps : {0, 16}) {
    SCOPED_TRACE(inline_max_steps);
    SessionStore store({});
    StepBatcher batcher({.workers = 2, .max_batch = 16, .inline_max_steps = inline_max_steps});
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
    // Inline runs leave too few steps queued for a sure batch.
    if (inline_max_steps == 0) {
      EXPECT_GT(batched, 0) << "eight threads at once never formed a batch";
    }
  }
}

TEST_F(StepBatcherTest, QueuedStepsOfOneSessionApplyInOrder) {
  SessionStore store({});
  // Not inline: they queue behind each other.
  StepBatcher batcher({.workers = 2, .max_batch = 8, .inline_max_steps = 0});
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
  absl::StatusOr<Answer> got =
      SubmitAndWait(batcher, session, other->stack, Input(0, 0, 1, other->stack.get()));
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

// Every path through Submit ends in exactly one call of `done`: refused
// (full queue, shut down), failed in the queue (closed session, passed
// deadline) or computed. (Bad input cannot reach Submit: StepInputData holds
// rows the edge checked, BadInputCannotBeSubmittedAndLeavesTheSession.)
TEST_F(StepBatcherTest, EveryPathCompletesThroughOneCallback) {
  SessionStore store({.track_changes = true});  // a tier's store: sessions can be closed
  std::atomic<int> calls = 0;
  std::vector<absl::StatusCode> codes;
  absl::Mutex codes_mu;
  const auto record = [&](absl::StatusOr<StepOutcome> r) {
    ++calls;
    absl::MutexLock lock(&codes_mu);
    codes.push_back(r.status().code());
  };
  {
    StepBatcher batcher({.workers = 1, .max_queue = 1000});
    SessionPtr closed = NewSession(store, "closed");
    {
      absl::MutexLock lock(&closed->mu());
      closed->Close(absl::UnavailableError("moved"));
    }
    batcher.Submit(closed, stack_, Input(0, 0), false, Out(1), absl::InfiniteFuture(), record);
    batcher.Submit(NewSession(store, "late"), stack_, Input(0, 0), false, Out(1),
                   absl::Now() - absl::Seconds(1), record);
    batcher.Submit(NewSession(store, "fine"), stack_, Input(0, 0), false, Out(1),
                   absl::InfiniteFuture(), record);
    batcher.Submit(NewSession(store, "chunk"), stack_, Input(0, 0, 9), true, Out(1),
                   absl::InfiniteFuture(), record);
    batcher.Shutdown();
    batcher.Submit(NewSession(store, "after"), stack_, Input(0, 0), false, Out(1),
                   absl::InfiniteFuture(), record);
  }
  {
    StepBatcher full({.workers = 1, .max_queue = 0});
    full.Submit(NewSession(store, "full"), stack_, Input(0, 0), false, Out(1),
                absl::InfiniteFuture(), record);
  }
  EXPECT_EQ(calls, 6);
  absl::MutexLock lock(&codes_mu);
  EXPECT_THAT(codes, ::testing::UnorderedElementsAre(
                         absl::StatusCode::kUnavailable, absl::StatusCode::kDeadlineExceeded,
                         absl::StatusCode::kOk, absl::StatusCode::kOk,
                         absl::StatusCode::kUnavailable, absl::StatusCode::kResourceExhausted));
}

// The session's lock guards bookkeeping, not the math: while a long chunk
// computes, the lock is free (the session is seen marked as being stepped),
// yet an export never sees a half-stepped state and a restart waits for the
// chunk, then resets the state it left.
TEST_F(StepBatcherTest, ExportAndResetWaitForAChunkButNotForItsLock) {
  absl::StatusOr<std::unique_ptr<ServedModels>> models = ServedModels::Load(
      model::testing::MakeTestRepository("batcher_export", {{"gru_2layer", "gru/1"}}), 10);
  ASSERT_TRUE(models.ok()) << models.status();
  const ServedModelPtr served = *(*models)->Find("gru", 1);
  stack_ = served->loaded.stack;
  SessionStore store({});
  SessionPtr session = *store.Start("long", served->ref(), absl::Now());
  StepBatcher batcher({.workers = 1});
  constexpr int kSteps = 100'000;
  std::vector<float> initial(stack_->state_size()), final_state;
  stack_->InitState(initial.data());
  Reference(0, kSteps, &final_state);
  const auto state_is = [&](const v1::SessionState& exported, const std::vector<float>& want) {
    for (size_t i = 0; i < want.size(); ++i) {
      float value;
      std::memcpy(&value, exported.state().data() + 4 * i, 4);  // little-endian hosts
      if (std::abs(value - want[i]) > 1e-4f) return false;
    }
    return true;
  };

  absl::Notification done;
  absl::StatusOr<StepOutcome> outcome;
  batcher.Submit(session, stack_, Input(0, 0, kSteps), true, Out(1), absl::InfiniteFuture(),
                 [&](absl::StatusOr<StepOutcome> r) {
                   outcome = std::move(r);
                   done.Notify();
                 });
  // The lock is free while the chunk computes: the mark is seen under it.
  bool seen_stepping = false;
  while (!seen_stepping && !done.HasBeenNotified()) {
    absl::MutexLock lock(&session->mu());
    seen_stepping = session->stepping();
  }
  EXPECT_TRUE(seen_stepping) << "the session's lock was held through the math";
  // An export meanwhile waits for the chunk: never a half-stepped state.
  int exports = 0;
  do {
    v1::SessionState exported;
    ASSERT_TRUE(ExportSession(*session, **models, &exported).ok());
    ++exports;
    EXPECT_EQ(exported.steps(), kSteps);
    EXPECT_TRUE(state_is(exported, final_state)) << "a half-stepped state was exported";
  } while (!done.HasBeenNotified());
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_GT(exports, 0);

  // A restart during a chunk waits for it, then resets what it left.
  absl::Notification second;
  batcher.Submit(session, stack_, Input(0, 0, kSteps), true, Out(1), absl::InfiniteFuture(),
                 [&](absl::StatusOr<StepOutcome> r) {
                   outcome = std::move(r);
                   second.Notify();
                 });
  for (bool stepping = false; !stepping && !second.HasBeenNotified();) {
    absl::MutexLock lock(&session->mu());
    stepping = session->stepping();
  }
  ASSERT_TRUE(store.Start("long", served->ref(), absl::Now()).ok());
  second.WaitForNotification();
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->session_steps, 2 * kSteps);
  v1::SessionState reset;
  ASSERT_TRUE(ExportSession(*session, **models, &reset).ok());
  EXPECT_EQ(reset.steps(), 0);
  EXPECT_TRUE(state_is(reset, initial));
}

// A queue per model version: a step's partners are found however many steps
// of other models queued between them, and batches go oldest first.
TEST_F(StepBatcherTest, PartnersAreFoundBehindManyStepsOfAnotherModel) {
  absl::StatusOr<model::LoadedModel> other = model::LoadModel(TestdataPath("model/gru_2layer"));
  ASSERT_TRUE(other.ok());
  const ModelRef b_model{"gru_b", 1, other->stack, pool_.get()};
  SessionStore store({});
  StepBatcher batcher({.workers = 1, .max_batch = 4});
  // A long chunk keeps the only worker busy while the rest queue.
  absl::Notification blocked_done;
  BlockTheWorker(batcher, store, blocked_done);
  absl::Mutex mu;
  std::vector<std::string> order;  // sessions as answered
  std::vector<int> batch_sizes;
  std::atomic<int> left = 0;
  absl::Notification all_done;
  const auto submit = [&](SessionPtr session, std::shared_ptr<const model::LayerStack> stack) {
    ++left;
    batcher.Submit(session, stack, Input(0, 0, 1, stack.get()), false, Out(1),
                   absl::InfiniteFuture(),
                   [&, id = std::string(session->id())](absl::StatusOr<StepOutcome> r) {
                     ASSERT_TRUE(r.ok()) << r.status();
                     {
                       absl::MutexLock lock(&mu);
                       order.push_back(id);
                       batch_sizes.push_back(r->batch_size);
                     }
                     if (--left == 0) all_done.Notify();
                   });
  };
  submit(NewSession(store, "a0"), stack_);
  for (int k = 0; k < 40; ++k) {
    submit(*store.Start(absl::StrCat("b", k), b_model, absl::Now()), other->stack);
  }
  for (int k = 1; k < 4; ++k) submit(NewSession(store, absl::StrCat("a", k)), stack_);
  ASSERT_FALSE(blocked_done.HasBeenNotified()) << "the chunk ended before the steps queued";
  all_done.WaitForNotification();
  absl::MutexLock lock(&mu);
  ASSERT_EQ(order.size(), 44u);
  // The oldest (a0) goes first, with its partners from behind 40 others.
  EXPECT_THAT(std::vector<std::string>(order.begin(), order.begin() + 4),
              ::testing::UnorderedElementsAre("a0", "a1", "a2", "a3"));
  EXPECT_THAT(batch_sizes, ::testing::Each(4));
}

// A lone short step, submitted while nothing is queued and a worker is free,
// is computed on the submitting thread and answered before Submit returns.
TEST_F(StepBatcherTest, LoneShortStepRunsOnTheSubmittingThread) {
  SessionStore store({});
  StepBatcher batcher({.workers = 1, .inline_max_steps = 4});
  const auto answered_on = [&](SessionPtr session, int steps) {
    std::thread::id on;
    bool before_return = false;
    absl::Notification done;
    batcher.Submit(session, stack_, Input(0, 0, steps), false, Out(steps), absl::InfiniteFuture(),
                   [&](absl::StatusOr<StepOutcome> r) {
                     EXPECT_TRUE(r.ok()) << r.status();
                     on = std::this_thread::get_id();
                     done.Notify();
                   });
    before_return = done.HasBeenNotified();
    done.WaitForNotification();
    return std::make_pair(on == std::this_thread::get_id(), before_return);
  };
  SessionPtr session = NewSession(store, "inline");
  EXPECT_EQ(answered_on(session, 1), std::make_pair(true, true));
  EXPECT_EQ(answered_on(session, 4), std::make_pair(true, true));
  // Longer than inline_max_steps: a worker's.
  EXPECT_FALSE(answered_on(session, 5).first);
  {
    absl::MutexLock lock(&session->mu());
    EXPECT_EQ(session->step_count(), 10);
  }
  StepBatcher off({.workers = 1, .inline_max_steps = 0});
  std::thread::id on;
  absl::Notification done;
  off.Submit(session, stack_, Input(0, 0), false, Out(1), absl::InfiniteFuture(),
             [&](absl::StatusOr<StepOutcome>) {
               on = std::this_thread::get_id();
               done.Notify();
             });
  done.WaitForNotification();
  EXPECT_NE(on, std::this_thread::get_id()) << "inline_max_steps = 0 still ran inline";
}

// No inline run while the workers' share is taken: a step queues behind a
// busy worker (and batches there); a `done` that submits again does not
// deadlock, its step queues.
TEST_F(StepBatcherTest, NoInlineRunWhileTheWorkerIsBusyOrFromAnInlineDone) {
  SessionStore store({});
  StepBatcher batcher({.workers = 1, .inline_max_steps = 4});
  absl::Notification blocked_done;
  BlockTheWorker(batcher, store, blocked_done);
  absl::Notification queued_done;
  std::thread::id queued_on;
  batcher.Submit(NewSession(store, "queued"), stack_, Input(0, 0), false, Out(1),
                 absl::InfiniteFuture(), [&](absl::StatusOr<StepOutcome> r) {
                   EXPECT_TRUE(r.ok());
                   queued_on = std::this_thread::get_id();
                   queued_done.Notify();
                 });
  EXPECT_FALSE(queued_done.HasBeenNotified() && queued_on == std::this_thread::get_id());
  queued_done.WaitForNotification();
  EXPECT_NE(queued_on, std::this_thread::get_id());
  blocked_done.WaitForNotification();

  // Inline, and its `done` submits the session's next step.
  SessionPtr session = NewSession(store, "again");
  absl::Notification second;
  batcher.Submit(session, stack_, Input(0, 0), false, Out(1), absl::InfiniteFuture(),
                 [&](absl::StatusOr<StepOutcome> r) {
                   EXPECT_TRUE(r.ok());
                   batcher.Submit(session, stack_, Input(0, 1), false, Out(1),
                                  absl::InfiniteFuture(), [&](absl::StatusOr<StepOutcome> r2) {
                                    EXPECT_TRUE(r2.ok());
                                    EXPECT_EQ(r2->session_steps, 2);
                                    second.Notify();
                                  });
                 });
  second.WaitForNotification();
}

// A load that kept many requests in flight is not split by inline runs: a
// lone step submitted when nothing is in flight still queues (on a busy
// core, that moment is exactly when the next batch's requests arrive); once
// lone requests have been the load for a while, they run inline again.
TEST_F(StepBatcherTest, InlineRunsOnlyOnceLoneRequestsAreTheLoad) {
  SessionStore store({});
  StepBatcher batcher({.workers = 1, .inline_max_steps = 4});
  absl::Notification blocked_done;
  BlockTheWorker(batcher, store, blocked_done);
  constexpr int kPiled = 32;
  std::atomic<int> left = kPiled;
  absl::Notification piled_done;
  for (int k = 0; k < kPiled; ++k) {
    batcher.Submit(NewSession(store, absl::StrCat("piled", k)), stack_, Input(k, 0), false, Out(1),
                   absl::InfiniteFuture(), [&](absl::StatusOr<StepOutcome> r) {
                     EXPECT_TRUE(r.ok()) << r.status();
                     if (--left == 0) piled_done.Notify();
                   });
  }
  blocked_done.WaitForNotification();
  piled_done.WaitForNotification();

  SessionPtr lone = NewSession(store, "lone");
  // Whether the step ran on this thread, answered before Submit returned.
  const auto ran_inline = [&](int t) {
    absl::Notification done;
    std::thread::id on;
    batcher.Submit(lone, stack_, Input(0, t), false, Out(1), absl::InfiniteFuture(),
                   [&](absl::StatusOr<StepOutcome> r) {
                     EXPECT_TRUE(r.ok()) << r.status();
                     on = std::this_thread::get_id();
                     done.Notify();
                   });
    const bool before_return = done.HasBeenNotified();
    done.WaitForNotification();
    // Lets the worker count its answer as no longer in flight.
    absl::SleepFor(absl::Milliseconds(1));
    return before_return && on == std::this_thread::get_id();
  };
  int first_inline = -1;
  for (int t = 0; t < 200 && first_inline < 0; ++t) {
    if (ran_inline(t)) first_inline = t;
  }
  // The average of the others in flight decays by 15/16 a request, from
  // about 13 after the pile: below one half after some 50 lone requests.
  EXPECT_GE(first_inline, 10) << "a lone step right after a batching load ran inline";
  EXPECT_GE(first_inline, 0) << "200 lone requests in a row never ran inline";
}

// Pending chunks of one model, of different lengths (and single steps), run
// as one StepChunks, and each gets what stepping it alone gives.
TEST_F(StepBatcherTest, PendingChunksOfDifferentLengthsRunTogether) {
  SessionStore store({});
  StepBatcher batcher({.workers = 1, .max_batch = 8});
  absl::Notification blocked_done;
  BlockTheWorker(batcher, store, blocked_done);
  const std::vector<int> lengths = {5, 12, 1, 7, 12, 3};
  const int width = stack_->output_size();
  std::vector<absl::StatusOr<StepOutcome>> got(lengths.size());
  std::vector<float*> outputs(lengths.size());
  std::atomic<int> left = static_cast<int>(lengths.size());
  absl::Notification all_done;
  for (size_t k = 0; k < lengths.size(); ++k) {
    const bool last_only = k % 2 == 1;
    batcher.Submit(NewSession(store, absl::StrCat("c", k)), stack_,
                   Input(static_cast<int>(k), 0, lengths[k]), last_only,
                   outputs[k] = Out(last_only ? 1 : lengths[k]), absl::InfiniteFuture(),
                   [&, k](absl::StatusOr<StepOutcome> r) {
                     got[k] = std::move(r);
                     if (--left == 0) all_done.Notify();
                   });
  }
  ASSERT_FALSE(blocked_done.HasBeenNotified()) << "the chunk ended before the others queued";
  all_done.WaitForNotification();
  for (size_t k = 0; k < lengths.size(); ++k) {
    SCOPED_TRACE(k);
    ASSERT_TRUE(got[k].ok()) << got[k].status();
    EXPECT_EQ(got[k]->batch_size, static_cast<int>(lengths.size()));
    EXPECT_EQ(got[k]->session_steps, lengths[k]);
    const std::vector<float> want = Reference(static_cast<int>(k), lengths[k]);
    if (k % 2 == 1) {
      EXPECT_EQ(got[k]->rows, 1);
      EXPECT_THAT(std::vector<float>(outputs[k], outputs[k] + width),
                  ::testing::Pointwise(::testing::FloatNear(1e-5),
                                       std::vector<float>(want.end() - width, want.end())));
    } else {
      EXPECT_EQ(got[k]->rows, lengths[k]);
      EXPECT_THAT(std::vector<float>(outputs[k], outputs[k] + want.size()),
                  ::testing::Pointwise(::testing::FloatNear(1e-5), want));
    }
  }
}

// Streams that submit their next request from their last one's `done`
// (inline runs and workers' both: one request in three is longer than
// inline_max_steps), three streams on each session, and a Shutdown at a
// different moment each round: every `done` runs once, Shutdown returns, and
// each session counts exactly the steps answered OK.
TEST_F(StepBatcherTest, ChainedStreamsAnswerEveryRequestOnceThroughAShutdown) {
  for (int round = 0; round < 30; ++round) {
    SessionStore store({});
    constexpr int kStreams = 12;
    constexpr int kSessions = 4;
    std::vector<SessionPtr> sessions;
    for (int s = 0; s < kSessions; ++s) sessions.push_back(NewSession(store, absl::StrCat("s", s)));
    std::atomic<int> ok_steps[kSessions] = {};
    std::atomic<int> submitted = 0, answered = 0;
    auto batcher =
        std::make_unique<StepBatcher>(StepBatcher::Options{.workers = 2, .max_batch = 4});
    struct Stream {
      int session;
      int left;
      std::vector<float> out;
      std::function<void()> next;
    };
    std::vector<std::unique_ptr<Stream>> streams;
    for (int k = 0; k < kStreams; ++k) {
      auto stream = std::make_unique<Stream>();
      stream->session = k % kSessions;
      stream->left = 200;
      stream->out.resize(4 * stack_->output_size());
      Stream* st = stream.get();
      StepBatcher* b = batcher.get();
      st->next = [this, st, b, &sessions, &ok_steps, &submitted, &answered, k] {
        if (st->left-- <= 0) return;
        ++submitted;
        const int steps = 1 + (st->left % 3 == 0 ? 20 : 0);  // some go to the workers
        st->out.resize(steps * stack_->output_size());
        b->Submit(sessions[st->session], stack_, Input(k, st->left, steps), false, st->out.data(),
                  absl::InfiniteFuture(),
                  [st, &ok_steps, &answered, steps](absl::StatusOr<StepOutcome> r) {
                    ++answered;
                    if (r.ok()) ok_steps[st->session] += steps;
                    st->next();
                  });
      };
      streams.push_back(std::move(stream));
    }
    std::vector<std::thread> threads;
    for (auto& s : streams) threads.emplace_back([st = s.get()] { st->next(); });
    absl::SleepFor(absl::Microseconds(round * 700));
    std::thread stopper([&] { batcher->Shutdown(); });
    stopper.join();
    for (auto& t : threads) t.join();
    EXPECT_EQ(submitted.load(), answered.load()) << round;
    batcher.reset();
    EXPECT_EQ(submitted.load(), answered.load()) << round;
    for (int s = 0; s < kSessions; ++s) {
      absl::MutexLock lock(&sessions[s]->mu());
      EXPECT_EQ(sessions[s]->step_count(), ok_steps[s].load()) << round << " session " << s;
    }
  }
}

}  // namespace
}  // namespace rnnserve::server
