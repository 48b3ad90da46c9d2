// LayerStack's input checks and its state contract.
#include "model/layer_stack.h"

#include <cmath>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/model_loader.h"
#include "tests/model/test_util.h"

namespace rnnserve::model {
namespace {

using ::rnnserve::model::testing::TestdataPath;
using ::testing::HasSubstr;

std::shared_ptr<const LayerStack> Load(const std::string& fixture) {
  absl::StatusOr<LoadedModel> model = LoadModel(TestdataPath("model/" + fixture));
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? model->stack : nullptr;
}

TEST(LayerStackTest, RefusesNonFiniteInput) {
  const auto stack = Load("lstm_1layer");
  std::vector<float> x(2 * 4, 0.5f);
  x[6] = std::numeric_limits<float>::quiet_NaN();
  const absl::Status status = stack->CheckInput(StepInput::Floats(x.data(), 2));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("step 1, feature 2 is nan"));
}

TEST(LayerStackTest, RefusesTokensOutsideTheVocabulary) {
  const auto stack = Load("charlm");
  const int64_t ids[] = {3, 11};
  const absl::Status status = stack->CheckInput(StepInput::Tokens(ids, 2));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("step 1: token id 11 is outside the vocabulary [0, 11)"));
  const int64_t negative[] = {-1};
  EXPECT_FALSE(stack->CheckInput(StepInput::Tokens(negative, 1)).ok());
}

TEST(LayerStackTest, RefusesTheWrongInputKindAndEmptyInput) {
  const auto tokens_model = Load("charlm");
  const float x[5] = {};
  EXPECT_THAT(tokens_model->CheckInput(StepInput::Floats(x, 1)).message(),
              HasSubstr("want token ids"));
  const auto floats_model = Load("lstm_1layer");
  const int64_t ids[] = {1};
  EXPECT_THAT(floats_model->CheckInput(StepInput::Tokens(ids, 1)).message(),
              HasSubstr("takes 4 floats per step"));
  EXPECT_THAT(floats_model->CheckInput(StepInput::Floats(x, 0)).message(),
              HasSubstr("input is empty"));
}

TEST(LayerStackTest, StepRefusesABatchSizeMismatchAndLeavesStatesAlone) {
  const auto stack = Load("gru_1layer");
  std::vector<float> a(stack->state_size(), 0.125f), b(stack->state_size(), 0.125f);
  float* states[] = {a.data(), b.data()};
  const float x[4] = {1, 2, 3, 4};
  std::vector<float> out(2 * stack->output_size());
  Workspace workspace;
  const absl::Status status =
      stack->Step(states, StepInput::Floats(x, 1), out.data(), workspace);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(a, ::testing::Each(0.125f));
}

TEST(LayerStackTest, StateIsTheTopLayerOutputForPlainStacks) {
  // The state layout is [r][c] per layer: for a GRU, r is h, the output.
  const auto stack = Load("gru_2layer");
  ASSERT_EQ(stack->state_size(), 2 * 6);
  std::vector<float> state(stack->state_size(), 0.0f);
  const float x[3] = {0.1f, -0.2f, 0.3f};
  std::vector<float> out(stack->output_size());
  Workspace workspace;
  ASSERT_TRUE(stack->StepChunk(state.data(), StepInput::Floats(x, 1), out.data(), workspace).ok());
  for (int j = 0; j < 6; ++j) EXPECT_EQ(state[6 + j], out[j]);
}

}  // namespace
}  // namespace rnnserve::model
