// Folding ONNX Add/Sub/Mul/Div chains into per-step transforms, and the
// transform fixtures' refusals (tests/testdata/transform_bad, made by
// make_transform_fixtures.py), each naming the node.
#include "model/importers/onnx_elementwise.h"

#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/importers/model_loader.h"
#include "tests/model/test_util.h"

namespace rnnserve::model {
namespace {

using ::rnnserve::model::testing::TestdataPath;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Side = StepTransform::Side;

const Axes kSequence = {Axis::Time(), Axis::Features(2)};

OnnxConstant Floats(std::vector<int64_t> shape, std::vector<float> values) {
  return OnnxConstant{.shape = std::move(shape), .is_float = true, .floats = std::move(values)};
}

AffineFold Fold(Side side, std::vector<std::pair<std::string, OnnxConstant>> ops,
                bool data_first = true) {
  AffineFold fold{.side = side};
  for (const auto& [op, c] : ops) {
    absl::StatusOr<AffineFold> next = FoldElementwise(fold, op, c, data_first, kSequence);
    EXPECT_TRUE(next.ok()) << next.status();
    if (next.ok()) fold = *next;
  }
  return fold;
}

TEST(OnnxElementwiseTest, SubThenDivIsOffsetAndScaleExactly) {
  const AffineFold fold =
      Fold(Side::kInput, {{"Sub", Floats({2}, {43.7267f, -1.5f})}, {"Div", Floats({}, {34.061f})}});
  EXPECT_THAT(fold.offset, ElementsAre(double{43.7267f}, -1.5));
  EXPECT_THAT(fold.scale, ElementsAre(double{34.061f}));
}

TEST(OnnxElementwiseTest, MulThenAddIsScaleAndOffsetExactly) {
  const AffineFold fold =
      Fold(Side::kOutput, {{"Mul", Floats({1, 2}, {3.0f, 4.0f})}, {"Add", Floats({1}, {0.5f})}});
  EXPECT_THAT(fold.scale, ElementsAre(3.0, 4.0));
  EXPECT_THAT(fold.offset, ElementsAre(0.5, 0.5));
}

TEST(OnnxElementwiseTest, ConstantMinusDataNegatesTheScale) {
  // c - (x - 1) / 2 == (x - (1 + 2c)) / -2.
  AffineFold fold = Fold(Side::kInput, {{"Sub", Floats({}, {1})}, {"Div", Floats({}, {2})}});
  fold = *FoldElementwise(fold, "Sub", Floats({}, {5}), /*data_first=*/false, kSequence);
  EXPECT_THAT(fold.offset, ElementsAre(11.0));
  EXPECT_THAT(fold.scale, ElementsAre(-2.0));
  // On the output side: 5 - (3y + 1) == -3y + 4.
  AffineFold out = Fold(Side::kOutput, {{"Mul", Floats({}, {3})}, {"Add", Floats({}, {1})}});
  out = *FoldElementwise(out, "Sub", Floats({}, {5}), /*data_first=*/false, kSequence);
  EXPECT_THAT(out.scale, ElementsAre(-3.0));
  EXPECT_THAT(out.offset, ElementsAre(4.0));
}

TEST(OnnxElementwiseTest, RefusesWhatIsNotAPerStepAffineMap) {
  const AffineFold fold{.side = Side::kInput};
  EXPECT_THAT(FoldElementwise(fold, "Div", Floats({}, {2}), false, kSequence).status().message(),
              HasSubstr("divides a constant by the data"));
  EXPECT_THAT(FoldElementwise(fold, "Mul", Floats({}, {0}), true, kSequence).status().message(),
              HasSubstr("multiplies by zero"));
  // Varies along time: it would make step t depend on t.
  EXPECT_THAT(FoldElementwise(fold, "Sub", Floats({3, 2}, {1, 2, 3, 4, 5, 6}), true, kSequence)
                  .status()
                  .message(),
              HasSubstr("its constant operand is [3, 2]; want a float scalar "
                        "or one value per feature"));
  EXPECT_FALSE(FoldElementwise(fold, "Add", Floats({3}, {1, 2, 3}), true, kSequence).ok());
}

// tests/testdata/transform_bad/README.txt: "case: message".
std::vector<std::pair<std::string, std::string>> BadCases() {
  std::vector<std::pair<std::string, std::string>> cases;
  std::ifstream readme(TestdataPath("transform_bad/README.txt"));
  for (std::string line; std::getline(readme, line);) {
    const size_t colon = line.find(": ");
    if (line.empty() || line[0] == '#' || colon == std::string::npos) continue;
    cases.emplace_back(line.substr(0, colon), line.substr(colon + 2));
  }
  return cases;
}

TEST(OnnxElementwiseTest, TransformFixturesThatMustFailAreRefusedNamingTheNode) {
  const auto cases = BadCases();
  ASSERT_GE(cases.size(), 5u);
  for (const auto& [folder, message] : cases) {
    const absl::StatusOr<LoadedModel> model = LoadModel(TestdataPath("transform_bad/" + folder));
    ASSERT_FALSE(model.ok()) << folder;
    EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument) << folder;
    EXPECT_THAT(model.status().message(), HasSubstr(message)) << folder;
  }
}

TEST(OnnxElementwiseTest, TorchNormalisationBecomesTheModelsTransforms) {
  const absl::StatusOr<LoadedModel> model =
      LoadModel(TestdataPath("transform/onnx_gru_per_feature"));
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_TRUE(model->stack->input_transform().has_value());
  ASSERT_TRUE(model->stack->output_transform().has_value());
  EXPECT_THAT(model->stack->input_transform()->offset(), ElementsAre(10.0f, -200.0f, 0.5f));
  EXPECT_THAT(model->stack->input_transform()->scale(), ElementsAre(2.0f, 50.0f, 0.25f));
  EXPECT_THAT(model->stack->output_transform()->scale(), ElementsAre(20.0f, 3.0f));
  EXPECT_THAT(model->stack->output_transform()->offset(), ElementsAre(100.0f, -7.0f));
}

}  // namespace
}  // namespace rnnserve::model
