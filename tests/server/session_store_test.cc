#include "server/session_store.h"

#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/engine/lstm_cell.h"
#include "model/engine/workspace.h"
#include "model/importers/model_loader.h"
#include "tests/model/random_stack.h"

namespace rnnserve::server {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

std::vector<float> InitialState(const model::LayerStack& stack) {
  std::vector<float> state(stack.state_size());
  stack.InitState(state.data());
  return state;
}

std::vector<float> StateOf(Session& session) {
  absl::MutexLock lock(&session.mu());
  const float* state = session.state();
  return std::vector<float>(state, state + session.model().stack->state_size());
}

// Two models with their pools: the LSTM fixture and a random 2-layer LSTM.
class SessionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<model::LoadedModel> loaded =
        model::LoadModel(RNNSERVE_TESTDATA_DIR "/model/lstm_1layer");
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    lstm_ = MakeRef("lstm", 1, loaded->stack, lstm_pool_);
    other_ = MakeRef("random", 2,
                     std::make_shared<const model::LayerStack>(
                         model::testing::RandomStack<model::LstmCell>(3, 7, 2)),
                     other_pool_);
  }

  ModelRef MakeRef(std::string name, int version,
                   std::shared_ptr<const model::LayerStack> stack,
                   std::unique_ptr<StatePool>& pool) {
    pool = *StatePool::Create({.slot_floats = stack->state_size(), .max_slots = 10'000});
    return {std::move(name), version, std::move(stack), pool.get()};
  }

  // Declared first so they outlive every store (and session) of a test.
  std::unique_ptr<StatePool> lstm_pool_;
  std::unique_ptr<StatePool> other_pool_;
  ModelRef lstm_;
  ModelRef other_;
};

TEST_F(SessionStoreTest, StartCreatesAndGetFinds) {
  SessionStore store({.max_sessions = 10});
  absl::StatusOr<SessionPtr> started = store.Start("a", lstm_, kT0);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ((*started)->id(), "a");
  EXPECT_THAT(StateOf(**started), ElementsAreArray(InitialState(*lstm_.stack)));
  {
    absl::MutexLock lock(&(*started)->mu());
    EXPECT_EQ((*started)->step_count(), 0);
    EXPECT_EQ((*started)->model().name, "lstm");
  }
  absl::StatusOr<SessionPtr> got = store.Get("a", kT0 + absl::Seconds(1));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, *started);
  EXPECT_EQ((*got)->last_used(), kT0 + absl::Seconds(1));
  EXPECT_EQ(store.Get("b", kT0).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store.size(), 1);
  EXPECT_EQ(store.created(), 1);
  EXPECT_EQ(lstm_pool_->live(), 1);
}

TEST_F(SessionStoreTest, EndRemovesAndReleasesTheState) {
  SessionStore store({.max_sessions = 10});
  ASSERT_TRUE(store.Start("a", lstm_, kT0).ok());
  EXPECT_TRUE(store.End("a").ok());
  EXPECT_EQ(store.Get("a", kT0).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store.End("a").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store.size(), 0);
  EXPECT_EQ(store.ended(), 1);
  EXPECT_EQ(lstm_pool_->live(), 0);
}

TEST_F(SessionStoreTest, StartOnExistingSessionResetsIt) {
  SessionStore store({.max_sessions = 10});
  SessionPtr session = *store.Start("a", lstm_, kT0);
  {
    absl::MutexLock lock(&session->mu());
    const std::vector<float> input = {0.5f, -1.0f, 2.0f, 0.25f};
    std::vector<float> output(lstm_.stack->output_size());
    model::Workspace workspace;
    ASSERT_TRUE(lstm_.stack
                    ->StepChunk(session->state(), model::StepInput::Floats(input.data(), 1),
                                output.data(), workspace)
                    .ok());
    session->AddSteps(1);
  }
  ASSERT_THAT(StateOf(*session),
              ::testing::Not(ElementsAreArray(InitialState(*lstm_.stack))));

  SessionPtr reset = *store.Start("a", lstm_, kT0 + absl::Seconds(1));
  EXPECT_EQ(reset, session);
  EXPECT_THAT(StateOf(*reset), ElementsAreArray(InitialState(*lstm_.stack)));
  {
    absl::MutexLock lock(&reset->mu());
    EXPECT_EQ(reset->step_count(), 0);
  }
  EXPECT_EQ(store.created(), 1);
  EXPECT_EQ(store.size(), 1);
  EXPECT_EQ(lstm_pool_->live(), 1);
}

TEST_F(SessionStoreTest, StartCanSwitchModel) {
  SessionStore store({.max_sessions = 10});
  SessionPtr session = *store.Start("a", lstm_, kT0);
  ASSERT_TRUE(store.Start("a", other_, kT0).ok());
  {
    absl::MutexLock lock(&session->mu());
    EXPECT_EQ(session->model().name, "random");
    EXPECT_EQ(session->model().version, 2);
  }
  EXPECT_THAT(StateOf(*session), ElementsAreArray(InitialState(*other_.stack)));
  EXPECT_EQ(lstm_pool_->live(), 0);
  EXPECT_EQ(other_pool_->live(), 1);
}

TEST_F(SessionStoreTest, RefusePolicyAtMaxSessions) {
  SessionStore store({.max_sessions = 2, .full_policy = SessionStore::FullPolicy::kRefuse});
  ASSERT_TRUE(store.Start("a", lstm_, kT0).ok());
  ASSERT_TRUE(store.Start("b", lstm_, kT0).ok());
  absl::StatusOr<SessionPtr> third = store.Start("c", lstm_, kT0);
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(third.status().message(), HasSubstr("2"));
  EXPECT_TRUE(store.Start("a", lstm_, kT0).ok()) << "a reset needs no new place";
  EXPECT_EQ(store.size(), 2);
  EXPECT_EQ(store.evicted(), 0);
  ASSERT_TRUE(store.End("b").ok());
  EXPECT_TRUE(store.Start("c", lstm_, kT0).ok());
  EXPECT_EQ(lstm_pool_->live(), 2);
}

TEST_F(SessionStoreTest, EvictPolicyDropsTheLeastRecentlyUsed) {
  SessionStore store(
      {.max_sessions = 3, .full_policy = SessionStore::FullPolicy::kEvictLeastRecentlyUsed});
  ASSERT_TRUE(store.Start("a", lstm_, kT0).ok());
  ASSERT_TRUE(store.Start("b", lstm_, kT0 + absl::Seconds(1)).ok());
  ASSERT_TRUE(store.Start("c", lstm_, kT0 + absl::Seconds(2)).ok());
  ASSERT_TRUE(store.Get("a", kT0 + absl::Seconds(3)).ok());  // b is now the oldest

  ASSERT_TRUE(store.Start("d", lstm_, kT0 + absl::Seconds(4)).ok());
  EXPECT_EQ(store.evicted(), 1);
  EXPECT_EQ(store.size(), 3);
  EXPECT_EQ(store.Get("b", kT0 + absl::Seconds(5)).status().code(),
            absl::StatusCode::kNotFound);
  for (const char* id : {"a", "c", "d"}) {
    EXPECT_TRUE(store.Get(id, kT0 + absl::Seconds(5)).ok()) << id;
  }
  EXPECT_EQ(lstm_pool_->live(), 3);
}

// One scan serves many evictions (EvictionCandidates), and they stay exact:
// a candidate used since the scan is no longer among the oldest, a session
// started since is newer than all of them, and one started with an older
// use time (a clock that went back) makes the store scan again.
TEST_F(SessionStoreTest, EvictionsAfterOneScanStayExactlyLeastRecentlyUsed) {
  SessionStore store(
      {.max_sessions = 4, .full_policy = SessionStore::FullPolicy::kEvictLeastRecentlyUsed});
  const auto at = [](int s) { return kT0 + absl::Seconds(s); };
  for (int k = 0; k < 4; ++k) ASSERT_TRUE(store.Start(absl::StrCat("s", k), lstm_, at(k)).ok());
  const auto live = [&](absl::string_view id) {
    return store.Get(id, at(0), SessionStore::Use::kLookOnly).ok();
  };
  ASSERT_TRUE(store.Start("n4", lstm_, at(4)).ok());  // the scan; s0 goes
  EXPECT_FALSE(live("s0"));
  ASSERT_TRUE(store.Get("s1", at(5)).ok());           // s1 used since the scan
  ASSERT_TRUE(store.Start("n6", lstm_, at(6)).ok());  // so s2 goes, not s1
  EXPECT_FALSE(live("s2"));
  EXPECT_TRUE(live("s1"));
  ASSERT_TRUE(store.End("s3").ok());                  // a candidate ended meanwhile
  ASSERT_TRUE(store.Start("n7", lstm_, at(7)).ok());  // a free place: nobody goes
  ASSERT_TRUE(store.Start("n8", lstm_, at(8)).ok());  // rescan: n4 (4) before s1 (5)
  EXPECT_FALSE(live("n4"));
  EXPECT_TRUE(live("s1"));
  // Older than every candidate: a clock that went back. It goes first.
  ASSERT_TRUE(store.Start("old", lstm_, at(1)).ok());  // evicts s1, the oldest then
  EXPECT_FALSE(live("s1"));
  ASSERT_TRUE(store.Start("n9", lstm_, at(9)).ok());
  EXPECT_FALSE(live("old"));
  for (const char* id : {"n6", "n7", "n8", "n9"}) EXPECT_TRUE(live(id)) << id;
  EXPECT_EQ(store.evicted(), 5);
  EXPECT_EQ(store.size(), 4);
}

TEST_F(SessionStoreTest, FullPoolRefusesWithoutLeakingAPlace) {
  auto small_pool = *StatePool::Create({.slot_floats = lstm_.stack->state_size(), .max_slots = 1});
  ModelRef small = {"lstm", 1, lstm_.stack, small_pool.get()};
  {
    SessionStore store({.max_sessions = 10});
    ASSERT_TRUE(store.Start("a", small, kT0).ok());
    EXPECT_EQ(store.Start("b", small, kT0).status().code(),
              absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(store.size(), 1);
    EXPECT_EQ(store.created(), 1);
  }
  EXPECT_EQ(small_pool->live(), 0);
}

TEST_F(SessionStoreTest, ReapIdleEndsSessionsPastTheTimeout) {
  SessionStore store({.max_sessions = 10, .idle_timeout = absl::Seconds(10)});
  ASSERT_TRUE(store.Start("a", lstm_, kT0).ok());
  ASSERT_TRUE(store.Start("b", lstm_, kT0 + absl::Seconds(5)).ok());
  EXPECT_EQ(store.ReapIdle(kT0 + absl::Seconds(10)), 0);  // exactly the timeout: kept
  EXPECT_EQ(store.ReapIdle(kT0 + absl::Seconds(12)), 1);
  EXPECT_EQ(store.expired(), 1);
  EXPECT_EQ(store.Get("a", kT0 + absl::Seconds(12)).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(store.Get("b", kT0 + absl::Seconds(12)).ok());  // and touched
  EXPECT_EQ(store.ReapIdle(kT0 + absl::Seconds(20)), 0);
  EXPECT_EQ(store.ReapIdle(kT0 + absl::Seconds(23)), 1);
  EXPECT_EQ(store.size(), 0);
  EXPECT_EQ(store.expired(), 2);
  EXPECT_EQ(lstm_pool_->live(), 0);
}

TEST_F(SessionStoreTest, GetExpiresAnIdleSessionBeforeTheSweep) {
  SessionStore store({.max_sessions = 10, .idle_timeout = absl::Seconds(10)});
  ASSERT_TRUE(store.Start("a", lstm_, kT0).ok());
  absl::StatusOr<SessionPtr> got = store.Get("a", kT0 + absl::Seconds(11));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(got.status().message(), HasSubstr("expired"));
  EXPECT_EQ(store.expired(), 1);
  EXPECT_EQ(store.size(), 0);
  // A start after expiry creates a new session.
  ASSERT_TRUE(store.Start("a", lstm_, kT0 + absl::Seconds(12)).ok());
  EXPECT_EQ(store.created(), 2);
}

TEST_F(SessionStoreTest, HeldSessionOutlivesEndAndEviction) {
  SessionStore store(
      {.max_sessions = 1, .full_policy = SessionStore::FullPolicy::kEvictLeastRecentlyUsed});
  SessionPtr held = *store.Start("a", lstm_, kT0);
  ASSERT_TRUE(store.End("a").ok());
  SessionPtr evicted_held = *store.Start("b", lstm_, kT0);
  ASSERT_TRUE(store.Start("c", lstm_, kT0 + absl::Seconds(1)).ok());  // evicts b
  EXPECT_EQ(store.evicted(), 1);
  EXPECT_EQ(lstm_pool_->live(), 3);  // a and b are held by "running steps"
  for (Session* session : {held.get(), evicted_held.get()}) {
    EXPECT_THAT(StateOf(*session), ElementsAreArray(InitialState(*lstm_.stack)));
    absl::MutexLock lock(&session->mu());
    session->state()[0] = 1.0f;  // still ours to write
    session->AddSteps(1);
  }
  held.reset();
  evicted_held.reset();
  EXPECT_EQ(lstm_pool_->live(), 1);
}

TEST_F(SessionStoreTest, ValidatesSessionIds) {
  SessionStore store({.max_sessions = 10});
  const std::string too_long(SessionStore::kMaxIdBytes + 1, 'x');
  for (const std::string& id : {std::string(), too_long}) {
    absl::StatusOr<SessionPtr> started = store.Start(id, lstm_, kT0);
    EXPECT_EQ(started.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(started.status().message(), HasSubstr("256 bytes"));
    EXPECT_EQ(store.Get(id, kT0).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(store.End(id).code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(store.Start(std::string(SessionStore::kMaxIdBytes, 'x'), lstm_, kT0).ok());
  EXPECT_EQ(store.size(), 1);
}

TEST_F(SessionStoreTest, RejectsAPoolOfTheWrongSize) {
  SessionStore store({.max_sessions = 10});
  ModelRef mismatched = {"lstm", 1, lstm_.stack, other_pool_.get()};
  EXPECT_EQ(store.Start("a", mismatched, kT0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Start("a", {"lstm", 1, nullptr, nullptr}, kT0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.size(), 0);
}

// Gets of one id from many threads hand out the one session, so its mutex
// orders every change to its state. (That the server steps one session one
// request at a time is RnnServerTest.ConcurrentStepsOfOneSessionRunOneAtATime.)
TEST_F(SessionStoreTest, GetsFromManyThreadsShareTheOneSession) {
  SessionStore store({.max_sessions = 10});
  SessionPtr session = *store.Start("a", lstm_, kT0);
  std::vector<std::thread> threads;
  std::atomic<int> others{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&store, &session, &others] {
      for (int i = 0; i < 1000; ++i) {
        SessionPtr s = *store.Get("a", kT0);
        others.fetch_add(s != session);
        absl::MutexLock lock(&s->mu());
        // A read-modify-write of the state: a second copy would lose updates.
        s->state()[0] += 1.0f;
        s->AddSteps(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(others.load(), 0);
  absl::MutexLock lock(&session->mu());
  EXPECT_EQ(session->step_count(), 4000);
  EXPECT_EQ(session->state()[0], InitialState(*lstm_.stack)[0] + 4000.0f);
}

// 8 threads start, get, step and end overlapping ids; afterwards every
// counter and the pools agree with what is left in the store.
void RunConcurrentChurn(SessionStore& store, const ModelRef& a, const ModelRef& b) {
  std::atomic<int64_t> clock{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 3000; ++i) {
        const std::string id = absl::StrCat("s", rng() % 24);
        const absl::Time now = kT0 + absl::Nanoseconds(clock.fetch_add(1));
        switch (rng() % 4) {
          case 0: {
            absl::StatusOr<SessionPtr> s = store.Start(id, rng() % 2 ? a : b, now);
            ASSERT_TRUE(s.ok() || absl::IsResourceExhausted(s.status())) << s.status();
            break;
          }
          case 1:
          case 2: {
            absl::StatusOr<SessionPtr> s = store.Get(id, now);
            if (!s.ok()) {
              ASSERT_TRUE(absl::IsNotFound(s.status())) << s.status();
              break;
            }
            absl::MutexLock lock(&(*s)->mu());
            (*s)->state()[(*s)->model().stack->state_size() - 1] += 1.0f;
            (*s)->AddSteps(1);
            break;
          }
          case 3: {
            absl::Status ended = store.End(id);
            ASSERT_TRUE(ended.ok() || absl::IsNotFound(ended)) << ended;
            break;
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
}

void ExpectConsistent(SessionStore& store, const StatePool& a, const StatePool& b) {
  EXPECT_EQ(store.size(),
            store.created() - store.ended() - store.expired() - store.evicted());
  EXPECT_LE(store.size(), store.options().max_sessions);
  int64_t found = 0;
  for (int i = 0; i < 24; ++i) {
    found += store.Get(absl::StrCat("s", i), kT0 + absl::Seconds(1)).ok() ? 1 : 0;
  }
  EXPECT_EQ(found, store.size());
  EXPECT_EQ(a.live() + b.live(), store.size());
}

TEST_F(SessionStoreTest, ConcurrentChurnKeepsCountsConsistent) {
  SessionStore store({.max_sessions = 100});
  RunConcurrentChurn(store, lstm_, other_);
  EXPECT_GT(store.created(), 0);
  EXPECT_GT(store.ended(), 0);
  ExpectConsistent(store, *lstm_pool_, *other_pool_);
}

TEST_F(SessionStoreTest, ConcurrentChurnWithEvictionKeepsCountsConsistent) {
  SessionStore store(
      {.max_sessions = 6, .full_policy = SessionStore::FullPolicy::kEvictLeastRecentlyUsed});
  RunConcurrentChurn(store, lstm_, other_);
  EXPECT_GT(store.evicted(), 0);
  ExpectConsistent(store, *lstm_pool_, *other_pool_);
}

// With a session tier the checkpoint writer visits only the sessions the
// feed names: each must be named once per change since its checkpoint.
TEST_F(SessionStoreTest, TrackedSessionsReportEachFirstChangeOnce) {
  SessionStore untracked({.max_sessions = 10});
  ASSERT_TRUE(untracked.Start("quiet", lstm_, kT0).ok());
  EXPECT_THAT(untracked.changes().Take(), IsEmpty());

  SessionStore store({.max_sessions = 10, .track_changes = true});
  absl::StatusOr<SessionPtr> a = store.Start("a", lstm_, kT0);
  ASSERT_TRUE(a.ok() && store.Start("b", lstm_, kT0).ok());
  EXPECT_THAT(store.changes().Take(), ElementsAre("a", "b"));  // New states.
  Session& session = **a;
  absl::MutexLock lock(&session.mu());
  session.AddSteps(1);  // Not checkpointed yet: already named.
  EXPECT_THAT(store.changes().Take(), IsEmpty());
  const int64_t since = session.TakeChanges();  // A checkpoint is written...
  session.AddSteps(1);                          // ...and the session steps on.
  session.AddSteps(1);
  EXPECT_THAT(store.changes().Take(), ElementsAre("a"));
  session.MarkCheckpointed(3);
  session.GiveBackChanges(since);  // A failed write gives its changes back.
  EXPECT_THAT(store.changes().Take(), ElementsAre("a"));
  session.GiveBackChanges(since);  // Still changed: not named twice.
  EXPECT_THAT(store.changes().Take(), IsEmpty());
}

// Issue 16: a session's bookkeeping beside its state is about 120 bytes,
// because what every session of a version shares is kept once.
TEST_F(SessionStoreTest, SessionsOfAVersionShareOneBinding) {
  SessionStore store({.max_sessions = 10});
  SessionPtr a = *store.Start("a", lstm_, kT0);
  SessionPtr b = *store.Start("b", ModelRef(lstm_), kT0);  // an equal copy
  SessionPtr c = *store.Start("c", other_, kT0);
  absl::MutexLock lock_a(&a->mu());
  absl::MutexLock lock_b(&b->mu());
  absl::MutexLock lock_c(&c->mu());
  EXPECT_EQ(&a->model(), &b->model());
  EXPECT_NE(&a->model(), &c->model());
  EXPECT_EQ(a->model().stack, lstm_.stack);
  EXPECT_EQ(a->model().pool, lstm_pool_.get());
}

TEST_F(SessionStoreTest, IdsOfAnyBytesFindTheirOwnSession) {
  SessionStore store({.max_sessions = 10});
  const std::vector<std::string> ids = {"x", std::string("x\0y", 3), std::string("x\0z", 3),
                                        std::string(SessionStore::kMaxIdBytes, 'x'),
                                        std::string(SessionStore::kMaxIdBytes - 1, 'x')};
  for (const std::string& id : ids) ASSERT_TRUE(store.Start(id, lstm_, kT0).ok()) << id;
  EXPECT_EQ(store.size(), static_cast<int64_t>(ids.size()));
  for (const std::string& id : ids) {
    absl::StatusOr<SessionPtr> got = store.Get(id, kT0);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ((*got)->id(), id);
  }
  ASSERT_TRUE(store.End(ids[1]).ok());
  EXPECT_EQ(store.Get(ids[1], kT0).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store.Get(ids[2], kT0).ok());
  EXPECT_EQ(store.Sessions().size(), ids.size() - 1);
}

TEST_F(SessionStoreTest, TheLastSessionPtrReleasesTheState) {
  SessionStore store({.max_sessions = 10});
  SessionPtr first = *store.Start("a", lstm_, kT0);
  SessionPtr copy = first;
  SessionPtr moved = std::move(copy);
  EXPECT_EQ(copy, nullptr);
  EXPECT_EQ(moved, first);
  EXPECT_TRUE(moved);
  ASSERT_TRUE(store.End("a").ok());
  first.reset();
  EXPECT_FALSE(first);
  EXPECT_EQ(lstm_pool_->live(), 1);  // `moved` still holds it
  EXPECT_EQ(moved->id(), "a");
  moved = nullptr;
  EXPECT_EQ(lstm_pool_->live(), 0);
}

// Without a session tier a session keeps none of the tier's fields, and
// reads as the tier would see a session it never claimed.
TEST_F(SessionStoreTest, AnUntrackedSessionReadsAsNeverClaimedAndOpen) {
  SessionStore store({.max_sessions = 10});
  SessionPtr session = *store.Start("a", lstm_, kT0);
  absl::MutexLock lock(&session->mu());
  session->AddSteps(2);
  session->AnswerPending();
  session->AnswerHandedOver();
  EXPECT_EQ(session->step_count(), 2);
  EXPECT_EQ(session->epoch(), 0);
  EXPECT_TRUE(session->claim_due());
  EXPECT_TRUE(session->closed().ok());
  EXPECT_FALSE(session->restored_behind());
  EXPECT_EQ(session->changed_since_ns(), 0);
  EXPECT_EQ(session->unanswered(), 0);
  EXPECT_EQ(session->durable_steps(), 0);
  EXPECT_EQ(session->stale_since_ns(), 0);
  EXPECT_EQ(session->verified_ns(), 0);
}

TEST_F(SessionStoreTest, ATrackedSessionKeepsTheTiersFieldsUntilItsNextIncarnation) {
  SessionStore store({.max_sessions = 10, .track_changes = true});
  SessionPtr session = *store.Start("a", lstm_, kT0);
  session->RaiseEpoch(7);
  session->RaiseEpoch(5);  // claims only raise it
  session->set_claimed();
  session->set_verified_ns(11);
  {
    absl::MutexLock lock(&session->mu());
    EXPECT_NE(session->changed_since_ns(), 0);  // a new state
    session->AnswerPending();
    EXPECT_EQ(session->unanswered(), 1);
    session->AnswerHandedOver();
    session->MarkCheckpointed(3);
    session->set_restored_behind(true);
    session->CloseAsStale(absl::UnavailableError("moved"));
  }
  EXPECT_EQ(session->epoch(), 7);
  EXPECT_FALSE(session->claim_due());
  EXPECT_EQ(session->verified_ns(), 11);
  EXPECT_EQ(session->durable_steps(), 3);
  EXPECT_EQ(session->unanswered(), 0);
  EXPECT_NE(session->stale_since_ns(), 0);
  {
    absl::MutexLock lock(&session->mu());
    EXPECT_EQ(session->changed_since_ns(), 0);
    EXPECT_TRUE(session->restored_behind());
    EXPECT_EQ(session->closed().code(), absl::StatusCode::kUnavailable);
  }
  // A restart: a new incarnation, to be claimed anew; the epoch stays.
  ASSERT_TRUE(store.Start("a", lstm_, kT0).ok());
  EXPECT_TRUE(session->claim_due());
  EXPECT_EQ(session->durable_steps(), 0);
  EXPECT_EQ(session->epoch(), 7);
  absl::MutexLock lock(&session->mu());
  EXPECT_FALSE(session->restored_behind());
  EXPECT_NE(session->changed_since_ns(), 0);
}

}  // namespace
}  // namespace rnnserve::server
