// The demo forecaster speaks sunspots (issue 21): fed this year's sunspot
// number it answers next year's, in sunspot numbers, as its model card says;
// scored over the held-out years it has the card's RMSE and MAE. Both
// versions: the native one (config.json transform blocks) and the ONNX one
// (Sub/Div and Mul/Add in the graph, folded into the same transforms).
#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/importers/model_loader.h"
#include "tests/model/test_util.h"
#include "util/npy.h"

namespace rnnserve::model {
namespace {

using ::rnnserve::model::testing::SourcePath;
using ::rnnserve::model::testing::TestdataPath;

// models/forecast/1/MODEL_CARD.md: the held-out years 1947-2008 (the last
// 62 of 309), scored from a zero state in 1700.
constexpr int kTrainingYears = 247;
constexpr double kCardRmse = 19.78, kCardMae = 14.65;

class DemoForecastTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DemoForecastTest, AnswersRawSunspotNumbersWithTheCardsHeldOutError) {
  const absl::StatusOr<LoadedModel> model = LoadModel(SourcePath(GetParam()));
  ASSERT_TRUE(model.ok()) << model.status();
  // [309, 2]: year, sunspot number (tests/testdata/make_transform_fixtures.py).
  const absl::StatusOr<util::NpyArray> series =
      util::ReadNpy(TestdataPath("sunspots/sunspots.npy"));
  ASSERT_TRUE(series.ok()) << series.status();
  const int64_t years = series->shape[0];
  ASSERT_EQ(years, 309);
  std::vector<float> values(years);
  for (int64_t t = 0; t < years; ++t) values[t] = series->floats[2 * t + 1];

  // Stepped as a client streams it: one raw value a step, one session.
  const LayerStack& stack = *model->stack;
  std::vector<float> state(stack.state_size());
  stack.InitState(state.data());
  Workspace workspace;
  double squares = 0, absolute = 0;
  for (int64_t t = 0; t + 1 < years; ++t) {
    float prediction = 0;  // for year t + 1
    ASSERT_TRUE(
        stack.StepChunk(state.data(), StepInput::Floats(&values[t], 1), &prediction, workspace)
            .ok());
    if (t + 1 < kTrainingYears) continue;
    const double error = prediction - values[t + 1];
    squares += error * error;
    absolute += std::fabs(error);
  }
  const int held_out = static_cast<int>(years) - kTrainingYears;
  EXPECT_NEAR(std::sqrt(squares / held_out), kCardRmse, 0.005);
  EXPECT_NEAR(absolute / held_out, kCardMae, 0.005);
}

INSTANTIATE_TEST_SUITE_P(Versions, DemoForecastTest,
                         ::testing::Values("models/forecast/1", "models/forecast_onnx/1"),
                         [](const auto& info) {
                           return info.param.find("onnx") == std::string::npos ? "Native" : "Onnx";
                         });

}  // namespace
}  // namespace rnnserve::model
