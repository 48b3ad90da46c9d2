// ServedModels on its own: what a repository loads into (a pool per version
// sized by max_sessions), lookups by name and version with NOT_FOUND saying
// what exists, and hot reload: new versions added, pointers already handed
// out still valid, a broken version only reported; a version whose folder
// left retired, kept while a session or a caller uses it, then handed over
// to be freed, or served again if its folder came back first.
#include "server/served_models.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/model/test_util.h"

namespace rnnserve::server {
namespace {

using ::rnnserve::model::testing::MakeTestRepository;
using ::rnnserve::model::testing::TestdataPath;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ServedModelsTest, LoadsEveryVersionWithItsOwnPool) {
  const std::string root = MakeTestRepository(
      "served_load", {{"lstm_1layer", "lstm/1"}, {"lstm_3layer", "lstm/2"}, {"charlm", "chars/4"}});
  absl::StatusOr<std::unique_ptr<ServedModels>> models = ServedModels::Load(root, 3);
  ASSERT_TRUE(models.ok()) << models.status();
  const std::vector<ServedModelPtr> list = (*models)->List();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0]->name, "chars");
  EXPECT_EQ(list[1]->name, "lstm");
  EXPECT_EQ(list[1]->version, 1);
  EXPECT_EQ(list[2]->version, 2);
  EXPECT_THAT((*models)->Versions("lstm"), ElementsAre(1, 2));
  for (const ServedModelPtr& m : list) {
    ASSERT_NE(m->pool, nullptr);
    EXPECT_EQ(m->pool->slot_floats(), m->loaded.stack->state_size()) << m->name;
    // max_sessions states, then the pool is full.
    std::vector<float*> slots;
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<float*> slot = m->pool->Allocate();
      ASSERT_TRUE(slot.ok()) << m->name << " slot " << i;
      slots.push_back(*slot);
    }
    EXPECT_EQ(m->pool->Allocate().status().code(), absl::StatusCode::kResourceExhausted) << m->name;
    for (float* slot : slots) m->pool->Release(slot);
  }
  EXPECT_TRUE((*models)->problems().empty());
}

TEST(ServedModelsTest, FindTakesTheNewestForVersionZeroAndSaysWhatExists) {
  const std::string root =
      MakeTestRepository("served_find", {{"gru_1layer", "gru/2"}, {"gru_2layer", "gru/10"}});
  const std::unique_ptr<ServedModels> models = *ServedModels::Load(root, 1);
  const absl::StatusOr<ServedModelPtr> newest = models->Find("gru", 0);
  ASSERT_TRUE(newest.ok());
  EXPECT_EQ((*newest)->version, 10);
  EXPECT_EQ((*models->Find("gru", 2))->version, 2);
  const absl::Status no_version = models->Find("gru", 3).status();
  EXPECT_EQ(no_version.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(no_version.message(), HasSubstr("no version 3"));
  const absl::Status no_model = models->Find("lstm", 0).status();
  EXPECT_EQ(no_model.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(no_model.message(), HasSubstr("gru"));
}

TEST(ServedModelsTest, LoadRefusesAMissingRootAndARootWhereNothingLoads) {
  EXPECT_EQ(ServedModels::Load(TestdataPath("no_such_repository"), 1).status().code(),
            absl::StatusCode::kNotFound);
  const std::string root = MakeTestRepository("served_broken", {});
  std::filesystem::create_directories(root + "/broken/1");
  std::ofstream(root + "/broken/1/config.json") << "{ not json";
  const absl::Status status = ServedModels::Load(root, 1).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("broken/1"));
}

TEST(ServedModelsTest, ReloadAddsKeepsWhatIsServedAndReportsBrokenOnes) {
  const std::string root = MakeTestRepository("served_reload", {{"gru_1layer", "gru/1"}});
  const std::unique_ptr<ServedModels> models = *ServedModels::Load(root, 2);
  const ServedModelPtr v1 = *models->Find("gru", 0);
  const std::shared_ptr<const model::LayerStack> v1_stack = v1->loaded.stack;
  std::filesystem::copy(TestdataPath("model/gru_2layer"), root + "/gru/2",
                        std::filesystem::copy_options::recursive);
  std::filesystem::create_directories(root + "/gru/3");
  std::ofstream(root + "/gru/3/config.json") << "{ not json";
  const absl::StatusOr<ServedModels::Reloaded> added = models->Reload(root, 2);
  ASSERT_TRUE(added.ok()) << added.status();
  ASSERT_EQ(added->added.size(), 1u);
  EXPECT_EQ(added->added[0]->version, 2);
  EXPECT_TRUE(added->retired.empty());
  ASSERT_EQ(added->problems.size(), 1u);
  EXPECT_EQ(added->problems[0].version, "3");
  EXPECT_THAT(models->Versions("gru"), ElementsAre(1, 2));
  EXPECT_EQ((*models->Find("gru", 0))->version, 2);
  // The version handed out before is the same object, unchanged.
  EXPECT_EQ(*models->Find("gru", 1), v1);
  EXPECT_EQ(v1->loaded.stack, v1_stack);
  // Nothing new: nothing added; the broken one is retried and reported again.
  const absl::StatusOr<ServedModels::Reloaded> again = models->Reload(root, 2);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->added.empty());
  EXPECT_EQ(again->problems.size(), 1u);
}

TEST(ServedModelsTest, LoadOptionsPackEveryVersionIncludingLaterOnes) {
  // --weights: an ONNX model (no config of ours) and a native one, then a
  // version added by hot reload, all in bf16.
  const std::string root = MakeTestRepository(
      "served_weights", {{"gru_1layer", "gru/1"}, {"charlm", "chars/1"}});
  const std::unique_ptr<ServedModels> models =
      *ServedModels::Load(root, 1, nullptr, {.weights = model::WeightPrecision::kBf16});
  std::filesystem::create_directories(root + "/lstm");
  std::filesystem::copy(TestdataPath("onnx/torch_lstm_1layer"), root + "/lstm/1",
                        std::filesystem::copy_options::recursive);
  ASSERT_TRUE(models->Reload(root, 1).ok());
  const std::vector<ServedModelPtr> list = models->List();
  ASSERT_EQ(list.size(), 3u);
  for (const ServedModelPtr& m : list) {
    EXPECT_EQ(m->loaded.info.weights, model::WeightPrecision::kBf16) << m->name;
    EXPECT_EQ(m->loaded.stack->weight_precision(), model::WeightPrecision::kBf16) << m->name;
    EXPECT_EQ(m->loaded.info.weight_bytes, m->loaded.stack->weight_bytes()) << m->name;
  }
}

TEST(ServedModelsTest, AVersionWhoseFolderLeftIsRetiredThenFreedOnceNothingUsesIt) {
  const std::string root =
      MakeTestRepository("served_retire", {{"gru_1layer", "gru/1"}, {"gru_2layer", "gru/2"}});
  const std::unique_ptr<ServedModels> models = *ServedModels::Load(root, 2);
  ServedModelPtr v1 = *models->Find("gru", 1);
  const std::weak_ptr<const model::LayerStack> v1_weights = v1->loaded.stack;
  absl::StatusOr<float*> session_slot = v1->pool->Allocate();  // a live session's state
  ASSERT_TRUE(session_slot.ok());
  std::filesystem::remove_all(root + "/gru/1");

  absl::StatusOr<ServedModels::Reloaded> reloaded = models->Reload(root, 2);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  ASSERT_EQ(reloaded->retired.size(), 1u);
  EXPECT_EQ(reloaded->retired[0], v1);
  EXPECT_TRUE(reloaded->added.empty());
  // No new work finds it; its sessions still do (export, import).
  EXPECT_THAT(models->Versions("gru"), ElementsAre(2));
  EXPECT_EQ(models->List().size(), 1u);
  const absl::Status gone = models->Find("gru", 1).status();
  EXPECT_EQ(gone.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(gone.message(), HasSubstr("retired: its folder left the repository"));
  EXPECT_EQ(*models->FindForSession("gru", 1), v1);
  EXPECT_EQ((*models->FindForSession("gru", 0))->version, 2);
  EXPECT_EQ(models->retired(), 1);

  // Kept while a session draws from its pool, then while a caller holds it,
  // then until it has been seen unused for kFreeGrace.
  const absl::Time t0 = absl::UnixEpoch() + absl::Hours(1);
  const absl::Duration grace = ServedModels::kFreeGrace;
  EXPECT_TRUE(models->TakeUnused(t0).empty());
  v1->pool->Release(*session_slot);
  EXPECT_TRUE(models->TakeUnused(t0 + grace).empty());  // `v1` and `reloaded` hold it
  v1.reset();
  std::vector<ServedModelPtr> unused = models->TakeUnused(t0 + 2 * grace);
  EXPECT_TRUE(unused.empty()) << "`reloaded` still holds it";
  reloaded->retired.clear();
  EXPECT_TRUE(models->TakeUnused(t0 + 3 * grace).empty()) << "first seen unused now";
  // A session that comes and goes meanwhile starts the grace again.
  ServedModelPtr again = *models->FindForSession("gru", 1);
  again->pool->Release(*again->pool->Allocate());
  again.reset();
  EXPECT_TRUE(models->TakeUnused(t0 + 4 * grace).empty());
  EXPECT_TRUE(models->TakeUnused(t0 + 5 * grace - absl::Milliseconds(1)).empty());
  unused = models->TakeUnused(t0 + 5 * grace);
  ASSERT_EQ(unused.size(), 1u);
  EXPECT_EQ(unused[0]->version, 1);
  EXPECT_EQ(models->retired(), 0);
  EXPECT_EQ(models->FindForSession("gru", 1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(v1_weights.expired());
  unused.clear();
  EXPECT_TRUE(v1_weights.expired()) << "the caller's pointer was the last one";

  // The folder back: loaded anew, as any new version.
  std::filesystem::copy(TestdataPath("model/gru_1layer"), root + "/gru/1",
                        std::filesystem::copy_options::recursive);
  const absl::StatusOr<ServedModels::Reloaded> back = models->Reload(root, 2);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->added.size(), 1u);
  EXPECT_NE(back->added[0]->loaded.stack, nullptr);
  EXPECT_THAT(models->Versions("gru"), ElementsAre(1, 2));
}

TEST(ServedModelsTest, ARetiredVersionWhoseFolderComesBackBeforeItIsFreedIsServedAgain) {
  const std::string root =
      MakeTestRepository("served_revive", {{"gru_1layer", "gru/1"}, {"gru_2layer", "gru/2"}});
  const std::unique_ptr<ServedModels> models = *ServedModels::Load(root, 2);
  const ServedModelPtr v1 = *models->Find("gru", 1);
  std::filesystem::rename(root + "/gru/1", root + "/.gru-1-aside");
  ASSERT_EQ(models->Reload(root, 2)->retired.size(), 1u);
  std::filesystem::rename(root + "/.gru-1-aside", root + "/gru/1");
  const absl::StatusOr<ServedModels::Reloaded> back = models->Reload(root, 2);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->added.size(), 1u);
  EXPECT_EQ(back->added[0], v1) << "the same object, not a second load";
  EXPECT_EQ(*models->Find("gru", 1), v1);
  EXPECT_EQ(models->retired(), 0);
}

TEST(ServedModelsTest, ANameWhoseFolderLeftIsNoLongerServed) {
  const std::string root =
      MakeTestRepository("served_name_gone", {{"gru_1layer", "gru/1"}, {"charlm", "chars/1"}});
  const std::unique_ptr<ServedModels> models = *ServedModels::Load(root, 1);
  std::filesystem::remove_all(root + "/chars");
  const absl::StatusOr<ServedModels::Reloaded> gone = models->Reload(root, 1);
  ASSERT_TRUE(gone.ok());
  ASSERT_EQ(gone->retired.size(), 1u);
  EXPECT_EQ(gone->retired[0]->name, "chars");
  const absl::Status status = models->Find("chars", 0).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("its folder left the repository"));
  EXPECT_THAT(status.message(), HasSubstr("serving: gru"));
  const absl::Time now = absl::Now();
  EXPECT_TRUE(models->TakeUnused(now).empty());
  EXPECT_TRUE(models->TakeUnused(now + 2 * ServedModels::kFreeGrace).empty())
      << "`gone` still holds it";
}

TEST(ServedModelsTest, NewestVersionsServesThatManyAndRetiresTheOldestWhenANewOneLoads) {
  const std::string root =
      MakeTestRepository("served_newest", {{"gru_1layer", "gru/1"}, {"gru_2layer", "gru/2"}});
  const std::unique_ptr<ServedModels> models =
      *ServedModels::Load(root, 2, nullptr, {}, /*newest_versions=*/1);
  EXPECT_THAT(models->Versions("gru"), ElementsAre(2));
  EXPECT_EQ(models->FindForSession("gru", 1).status().code(), absl::StatusCode::kNotFound)
      << "an older version is not even loaded";

  // A broken newer version retires nothing: what serves keeps serving.
  std::filesystem::create_directories(root + "/gru/3");
  std::ofstream(root + "/gru/3/config.json") << "{ not json";
  absl::StatusOr<ServedModels::Reloaded> broken = models->Reload(root, 2);
  ASSERT_TRUE(broken.ok()) << broken.status();
  EXPECT_EQ(broken->problems.size(), 1u);
  EXPECT_TRUE(broken->retired.empty());
  EXPECT_THAT(models->Versions("gru"), ElementsAre(2));

  // One that loads takes over; the one before is retired, not dropped.
  std::filesystem::remove_all(root + "/gru/3");
  std::filesystem::copy(TestdataPath("model/gru_1layer"), root + "/gru/3",
                        std::filesystem::copy_options::recursive);
  absl::StatusOr<ServedModels::Reloaded> newer = models->Reload(root, 2);
  ASSERT_TRUE(newer.ok()) << newer.status();
  ASSERT_EQ(newer->added.size(), 1u);
  EXPECT_EQ(newer->added[0]->version, 3);
  ASSERT_EQ(newer->retired.size(), 1u);
  EXPECT_EQ(newer->retired[0]->version, 2);
  EXPECT_THAT(models->Versions("gru"), ElementsAre(3));
  const absl::Status retired = models->Find("gru", 2).status();
  EXPECT_EQ(retired.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(retired.message(), HasSubstr("newer versions replaced it"));
  EXPECT_TRUE(models->FindForSession("gru", 2).ok());

  // Version 3 taken out before 2 was freed: 2 serves again, as it was.
  const ServedModelPtr two = newer->retired[0];
  std::filesystem::remove_all(root + "/gru/3");
  absl::StatusOr<ServedModels::Reloaded> back = models->Reload(root, 2);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->added.size(), 1u);
  EXPECT_EQ(back->added[0], two);
  EXPECT_THAT(models->Versions("gru"), ElementsAre(2));
  // A reload with nothing new loads nothing: version 1 stays unloaded.
  absl::StatusOr<ServedModels::Reloaded> again = models->Reload(root, 2);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->added.empty());
  EXPECT_TRUE(again->retired.empty());
  EXPECT_EQ(models->FindForSession("gru", 1).status().code(), absl::StatusCode::kNotFound);
}

TEST(ServedModelsTest, AModelFolderThatCannotBeStattedKeepsItsVersionsAsTheyAre) {
  const std::string root =
      MakeTestRepository("served_unstattable", {{"gru_1layer", "gru/1"}, {"charlm", "chars/1"}});
  const std::unique_ptr<ServedModels> models = *ServedModels::Load(root, 1);
  // gru's folder becomes a symlink whose target is away (as a folder on a
  // volume with an I/O error looks): unknown, so nothing of gru changes.
  std::filesystem::rename(root + "/gru", root + "/.gru-away");
  std::filesystem::create_symlink(root + "/.gru-gone", root + "/gru");
  const absl::StatusOr<ServedModels::Reloaded> reloaded = models->Reload(root, 1);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_TRUE(reloaded->retired.empty());
  EXPECT_THAT(models->Versions("gru"), ElementsAre(1));
  // A version folder that cannot be statted is held too.
  std::filesystem::remove(root + "/gru");
  std::filesystem::rename(root + "/.gru-away", root + "/gru");
  std::filesystem::rename(root + "/gru/1", root + "/.gru-1-away");
  std::filesystem::create_symlink(root + "/.gru-1-gone", root + "/gru/1");
  ASSERT_TRUE(models->Reload(root, 1).ok());
  EXPECT_THAT(models->Versions("gru"), ElementsAre(1));
  EXPECT_EQ(models->retired(), 0);
}

TEST(ServedModelsTest, AReloadOfARepositoryHoldingNothingChangesNothing) {
  const std::string root = MakeTestRepository("served_emptied", {{"gru_1layer", "gru/1"}});
  const std::unique_ptr<ServedModels> models = *ServedModels::Load(root, 1);
  std::filesystem::remove_all(root + "/gru");  // as an unmounted volume looks
  const absl::StatusOr<ServedModels::Reloaded> reloaded = models->Reload(root, 1);
  EXPECT_EQ(reloaded.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(reloaded.status().message(), HasSubstr("holds no model version"));
  EXPECT_THAT(models->Versions("gru"), ElementsAre(1));
  EXPECT_EQ(models->retired(), 0);
}

}  // namespace
}  // namespace rnnserve::server
