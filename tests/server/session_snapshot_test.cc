// The session snapshot file: a round trip keeps every session's state and
// step count; a truncated or foreign file is refused whole; sessions whose
// model changed are skipped and reported.
#include "server/session_snapshot.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/model/test_util.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::MakeTestRepository;
using ::testing::HasSubstr;

class SessionSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    root_ = MakeTestRepository("snapshot_" + name, {{"gru_2layer", "gru/1"}});
    path_ = absl::StrCat(::testing::TempDir(), "sessions_", name, "_", getpid(), ".snap");
    models_ = Load(root_);
  }
  void TearDown() override { std::remove(path_.c_str()); }

  static std::unique_ptr<ServedModels> Load(const std::string& root) {
    absl::StatusOr<std::unique_ptr<ServedModels>> models = ServedModels::Load(root, 1000, nullptr);
    EXPECT_TRUE(models.ok()) << models.status();
    return *std::move(models);
  }

  // State value j of a session AddSession gave `value`: a different value
  // at every offset, so a state read or written shifted or in the wrong
  // order would not match.
  static float StateValue(float value, int64_t j) { return value + 0.25f * static_cast<float>(j); }

  // Session `id` of model gru, its state value j StateValue(value, j), at
  // `steps`.
  void AddSession(SessionStore& store, const std::string& id, float value, int64_t steps) {
    const ServedModelPtr gru = *models_->Find("gru", 0);
    SessionPtr session = *store.Start(id, gru->ref(), absl::Now());
    absl::MutexLock lock(&session->mu());
    for (int64_t j = 0; j < gru->loaded.stack->state_size(); ++j) {
      session->state()[j] = StateValue(value, j);
    }
    session->AddSteps(steps);
  }

  std::string root_;
  std::string path_;
  std::unique_ptr<ServedModels> models_;
};

TEST_F(SessionSnapshotTest, RoundTripKeepsEveryStateAndStepCount) {
  SessionStore before({});
  for (int i = 0; i < 100; ++i) AddSession(before, absl::StrCat("s", i), 0.5f + i, 7 * i);
  const absl::StatusOr<int64_t> written = WriteSnapshot(path_, before, *models_);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*written, 100);
  // No temp file is left beside it.
  for (const auto& entry : std::filesystem::directory_iterator(::testing::TempDir())) {
    EXPECT_THAT(entry.path().string(), ::testing::Not(HasSubstr(path_ + ".tmp")));
  }

  SessionStore after({});
  const absl::StatusOr<RestoreResult> restored =
      RestoreSnapshot(path_, *models_, after, absl::Now());
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->restored, 100);
  EXPECT_EQ(restored->skipped, 0);
  for (int i = 0; i < 100; ++i) {
    const absl::StatusOr<SessionPtr> session = after.Get(absl::StrCat("s", i), absl::Now());
    ASSERT_TRUE(session.ok()) << session.status();
    absl::MutexLock lock(&(*session)->mu());
    EXPECT_EQ((*session)->step_count(), 7 * i);
    const int64_t size = (*session)->model().stack->state_size();
    ASSERT_GT(size, 1);
    for (int64_t j = 0; j < size; ++j) {
      ASSERT_EQ((*session)->state()[j], StateValue(0.5f + i, j)) << "s" << i << " value " << j;
    }
  }
}

TEST_F(SessionSnapshotTest, EmptyStoreGivesAnEmptySnapshot) {
  SessionStore empty({});
  const absl::StatusOr<int64_t> written = WriteSnapshot(path_, empty, *models_);
  ASSERT_TRUE(written.ok()) << written.status();
  SessionStore after({});
  const absl::StatusOr<RestoreResult> restored =
      RestoreSnapshot(path_, *models_, after, absl::Now());
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->restored, 0);
}

TEST_F(SessionSnapshotTest, MissingTruncatedOrForeignFilesAreRefusedWhole) {
  SessionStore store({});
  EXPECT_TRUE(absl::IsNotFound(RestoreSnapshot(path_, *models_, store, absl::Now()).status()));
  SessionStore before({});
  for (int i = 0; i < 10; ++i) AddSession(before, absl::StrCat("s", i), 1.0f, 1);
  ASSERT_TRUE(WriteSnapshot(path_, before, *models_).ok());
  const uintmax_t size = std::filesystem::file_size(path_);
  // Every cut, from inside the header to one byte short of the trailer.
  for (uintmax_t cut : {uintmax_t{5}, uintmax_t{25}, size / 2, size - 9, size - 1}) {
    std::filesystem::copy_file(path_, path_ + ".cut",
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(path_ + ".cut", cut);
    const absl::StatusOr<RestoreResult> restored =
        RestoreSnapshot(path_ + ".cut", *models_, store, absl::Now());
    EXPECT_TRUE(absl::IsDataLoss(restored.status())) << cut << ": " << restored.status();
    EXPECT_EQ(store.size(), 0) << "cut at " << cut << " imported sessions";
  }
  std::ofstream(path_ + ".cut", std::ios::binary | std::ios::trunc) << "not a snapshot at all";
  EXPECT_TRUE(absl::IsDataLoss(RestoreSnapshot(path_ + ".cut", *models_, store, absl::Now()).status()));
  std::remove((path_ + ".cut").c_str());
}

TEST_F(SessionSnapshotTest, SessionsOfAChangedModelAreSkippedAndReported) {
  SessionStore before({});
  AddSession(before, "old", 1.0f, 3);
  ASSERT_TRUE(WriteSnapshot(path_, before, *models_).ok());
  // The restarted server serves other weights under the same name: the
  // fingerprint differs, so the saved state would be meaningless.
  const std::unique_ptr<ServedModels> changed =
      Load(MakeTestRepository("snapshot_changed", {{"gru_1layer", "gru/1"}}));
  SessionStore after({});
  const absl::StatusOr<RestoreResult> restored =
      RestoreSnapshot(path_, *changed, after, absl::Now());
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->restored, 0);
  EXPECT_EQ(restored->skipped, 1);
  ASSERT_EQ(restored->problems.size(), 1u);
  EXPECT_THAT(restored->problems[0], HasSubstr("FAILED_PRECONDITION"));
  EXPECT_EQ(after.size(), 0);
}

}  // namespace
}  // namespace rnnserve::server
