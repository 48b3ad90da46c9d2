// ServedModels on its own: what a repository loads into (a pool per version
// sized by max_sessions), lookups by name and version with NOT_FOUND saying
// what exists, and hot reload: new versions added, pointers already handed
// out still valid, a broken version only reported.
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
  const std::vector<const ServedModel*> list = (*models)->List();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0]->name, "chars");
  EXPECT_EQ(list[1]->name, "lstm");
  EXPECT_EQ(list[1]->version, 1);
  EXPECT_EQ(list[2]->version, 2);
  EXPECT_THAT((*models)->Versions("lstm"), ElementsAre(1, 2));
  for (const ServedModel* m : list) {
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
  const absl::StatusOr<const ServedModel*> newest = models->Find("gru", 0);
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

TEST(ServedModelsTest, AddNewVersionsAddsKeepsWhatIsServedAndReportsBrokenOnes) {
  const std::string root = MakeTestRepository("served_reload", {{"gru_1layer", "gru/1"}});
  const std::unique_ptr<ServedModels> models = *ServedModels::Load(root, 2);
  const ServedModel* v1 = *models->Find("gru", 0);
  const std::shared_ptr<const model::LayerStack> v1_stack = v1->loaded.stack;
  std::filesystem::copy(TestdataPath("model/gru_2layer"), root + "/gru/2",
                        std::filesystem::copy_options::recursive);
  std::filesystem::create_directories(root + "/gru/3");
  std::ofstream(root + "/gru/3/config.json") << "{ not json";
  const absl::StatusOr<ServedModels::Added> added = models->AddNewVersions(root, 2);
  ASSERT_TRUE(added.ok()) << added.status();
  ASSERT_EQ(added->models.size(), 1u);
  EXPECT_EQ(added->models[0]->version, 2);
  ASSERT_EQ(added->problems.size(), 1u);
  EXPECT_EQ(added->problems[0].version, "3");
  EXPECT_THAT(models->Versions("gru"), ElementsAre(1, 2));
  EXPECT_EQ((*models->Find("gru", 0))->version, 2);
  // The version handed out before is the same object, unchanged.
  EXPECT_EQ(*models->Find("gru", 1), v1);
  EXPECT_EQ(v1->loaded.stack, v1_stack);
  // Nothing new: nothing added; the broken one is retried and reported again.
  const absl::StatusOr<ServedModels::Added> again = models->AddNewVersions(root, 2);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->models.empty());
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
  ASSERT_TRUE(models->AddNewVersions(root, 1).ok());
  const std::vector<const ServedModel*> list = models->List();
  ASSERT_EQ(list.size(), 3u);
  for (const ServedModel* m : list) {
    EXPECT_EQ(m->loaded.info.weights, model::WeightPrecision::kBf16) << m->name;
    EXPECT_EQ(m->loaded.stack->weight_precision(), model::WeightPrecision::kBf16) << m->name;
    EXPECT_EQ(m->loaded.info.weight_bytes, m->loaded.stack->weight_bytes()) << m->name;
  }
}

}  // namespace
}  // namespace rnnserve::server
