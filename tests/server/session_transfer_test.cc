// ExportSession / ImportSession on their own: a state leaves as model, version,
// fingerprint, step count and little-endian float32 bytes (decoded here by
// hand, not by the code under test), comes back bit for bit with every value
// at its own offset, and each refusal leaves the store as it was.
#include "server/session_transfer.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/model/test_util.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::MakeTestRepository;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

// The i-th little-endian float32 of `bytes`.
float LittleEndianFloat(const std::string& bytes, int64_t i) {
  uint32_t bits = 0;
  for (int b = 3; b >= 0; --b) bits = bits << 8 | static_cast<uint8_t>(bytes[4 * i + b]);
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

class SessionTransferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ServedModels>> models = ServedModels::Load(
        MakeTestRepository("transfer", {{"lstm_3layer", "lstm/1"}, {"gru_1layer", "gru/1"}}), 100);
    ASSERT_TRUE(models.ok()) << models.status();
    models_ = *std::move(models);
    lstm_ = *models_->Find("lstm", 1);
  }

  // A session of lstm/1 in `store` whose state is all different values
  // (value i is 0.5 + i / 64), after 7 steps.
  SessionPtr DistinctSession(SessionStore& store, const std::string& id) {
    SessionPtr session = *store.Start(id, lstm_->ref(), kT0);
    absl::MutexLock lock(&session->mu());
    for (int64_t i = 0; i < state_size(); ++i) session->state()[i] = 0.5f + i / 64.0f;
    session->AddSteps(7);
    return session;
  }

  v1::SessionState Exported(const std::string& id = "moved") {
    SessionStore store({});
    v1::SessionState state;
    EXPECT_TRUE(ExportSession(*DistinctSession(store, id), *models_, &state).ok());
    return state;
  }

  int64_t state_size() const { return lstm_->loaded.stack->state_size(); }

  std::unique_ptr<ServedModels> models_;
  ServedModelPtr lstm_;
};

TEST_F(SessionTransferTest, ExportWritesEveryFieldAndEachValueAtItsOffset) {
  const v1::SessionState state = Exported();
  EXPECT_EQ(state.session_id(), "moved");
  EXPECT_EQ(state.model().name(), "lstm");
  EXPECT_EQ(state.model().version(), 1);
  EXPECT_EQ(state.fingerprint(), lstm_->loaded.info.fingerprint);
  EXPECT_FALSE(state.fingerprint().empty());
  EXPECT_EQ(state.steps(), 7);
  ASSERT_EQ(static_cast<int64_t>(state.state().size()), 4 * state_size());
  for (int64_t i = 0; i < state_size(); ++i) {
    ASSERT_EQ(LittleEndianFloat(state.state(), i), 0.5f + i / 64.0f) << "value " << i;
  }
}

TEST_F(SessionTransferTest, ImportRestoresStateAndStepsIntoAnotherStore) {
  SessionStore store({});
  // An existing session of the same id on another model is replaced.
  ASSERT_TRUE(store.Start("moved", (*models_->Find("gru", 1))->ref(), kT0).ok());
  const absl::StatusOr<SessionPtr> imported =
      ImportSession(Exported(), *models_, store, kT0 + absl::Seconds(5));
  ASSERT_TRUE(imported.ok()) << imported.status();
  absl::MutexLock lock(&(*imported)->mu());
  EXPECT_EQ((*imported)->model().name, "lstm");
  EXPECT_EQ((*imported)->step_count(), 7);
  for (int64_t i = 0; i < state_size(); ++i) {
    ASSERT_EQ((*imported)->state()[i], 0.5f + i / 64.0f) << "value " << i;
  }
  EXPECT_EQ(store.size(), 1);
}

TEST_F(SessionTransferTest, EachRefusalLeavesTheStoreUnchanged) {
  struct Case {
    const char* what;
    absl::StatusCode code;
    void (*spoil)(v1::SessionState&);
  };
  const Case cases[] = {
      {"unknown model", absl::StatusCode::kNotFound,
       [](v1::SessionState& s) { s.mutable_model()->set_name("nope"); }},
      {"unknown version", absl::StatusCode::kNotFound,
       [](v1::SessionState& s) { s.mutable_model()->set_version(9); }},
      {"other fingerprint", absl::StatusCode::kFailedPrecondition,
       [](v1::SessionState& s) { s.set_fingerprint(s.fingerprint() + "x"); }},
      {"one byte short", absl::StatusCode::kInvalidArgument,
       [](v1::SessionState& s) { s.mutable_state()->pop_back(); }},
      {"negative steps", absl::StatusCode::kInvalidArgument,
       [](v1::SessionState& s) { s.set_steps(-1); }},
      {"NaN value", absl::StatusCode::kInvalidArgument,
       [](v1::SessionState& s) {
         const float nan = std::numeric_limits<float>::quiet_NaN();
         std::memcpy(s.mutable_state()->data() + 4 * 3, &nan, 4);  // little-endian host
       }},
      {"empty id", absl::StatusCode::kInvalidArgument,
       [](v1::SessionState& s) { s.set_session_id(""); }},
  };
  for (const Case& c : cases) {
    SessionStore store({});
    SessionPtr before = DistinctSession(store, "moved");
    v1::SessionState state = Exported();
    c.spoil(state);
    const absl::StatusOr<SessionPtr> imported = ImportSession(state, *models_, store, kT0);
    EXPECT_EQ(imported.status().code(), c.code) << c.what << ": " << imported.status();
    // The existing session with that id is untouched.
    absl::StatusOr<SessionPtr> after = store.Get("moved", kT0);
    ASSERT_TRUE(after.ok()) << c.what;
    EXPECT_EQ(*after, before) << c.what;
    absl::MutexLock lock(&before->mu());
    EXPECT_EQ(before->step_count(), 7) << c.what;
  }
}

TEST_F(SessionTransferTest, ImportAtTheSessionLimitIsResourceExhausted) {
  SessionStore store({.max_sessions = 1});
  DistinctSession(store, "already-here");
  EXPECT_EQ(ImportSession(Exported(), *models_, store, kT0).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(store.size(), 1);
}

TEST_F(SessionTransferTest, ExportOfAVersionNoLongerServedIsNotFound) {
  std::unique_ptr<StatePool> pool =
      *StatePool::Create({.slot_floats = state_size(), .max_slots = 1});
  SessionStore store({});
  ModelRef gone = lstm_->ref();
  gone.version = 9;
  gone.pool = pool.get();
  SessionPtr session = *store.Start("orphan", gone, kT0);
  v1::SessionState state;
  EXPECT_EQ(ExportSession(*session, *models_, &state).code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace rnnserve::server
