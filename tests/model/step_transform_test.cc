// StepTransform: the arithmetic PyTorch runs, per feature or for all, the
// same for every element wherever it sits, and refusals of what cannot work.
#include "model/engine/step_transform.h"

#include <limits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rnnserve::model {
namespace {

using ::testing::HasSubstr;
using Side = StepTransform::Side;

TEST(StepTransformTest, InputSideIsXMinusOffsetOverScale) {
  const StepTransform t = *StepTransform::Create(Side::kInput, {1.0f, -2.0f}, {4.0f});
  const float x[] = {5.0f, 6.0f, 1.0f, -2.0f};
  float y[4];
  t.Apply(x, y, 2, 2);
  EXPECT_THAT(y, ::testing::ElementsAre(1.0f, 2.0f, 0.0f, 0.0f));
  EXPECT_EQ(t.features(), 2);
  EXPECT_TRUE(t.Fits(2));
  EXPECT_FALSE(t.Fits(3));
}

TEST(StepTransformTest, OutputSideIsYTimesScalePlusOffsetInPlace) {
  const StepTransform t = *StepTransform::Create(Side::kOutput, {10.0f}, {2.0f, -1.0f});
  float y[] = {1.0f, 1.0f, -3.0f, 4.0f};
  t.Apply(y, y, 2, 2);
  EXPECT_THAT(y, ::testing::ElementsAre(12.0f, 9.0f, 4.0f, 6.0f));
}

TEST(StepTransformTest, MatchesPytorchsRoundingBitForBit) {
  // torch computes (x - m) / s with a division and y * s + m rounded twice:
  // no reciprocal, no FMA. These values round differently under either.
  const float m = 43.7267f, s = 34.0610f;
  const StepTransform in = *StepTransform::Create(Side::kInput, {m}, {s});
  const StepTransform out = *StepTransform::Create(Side::kOutput, {m}, {s});
  std::vector<float> x(1000), z(1000), y(1000);
  for (int i = 0; i < 1000; ++i) x[i] = 0.37f * static_cast<float>(i) - 11.0f;
  in.Apply(x.data(), z.data(), 1000, 1);
  out.Apply(z.data(), y.data(), 1000, 1);
  for (int i = 0; i < 1000; ++i) {
    volatile float diff = x[i] - m;  // volatile: two separately rounded operations
    ASSERT_EQ(z[i], diff / s) << i;
    volatile float product = z[i] * s;
    ASSERT_EQ(y[i], product + m) << i;
  }
}

TEST(StepTransformTest, ResultDoesNotDependOnTheAddress) {
  const StepTransform t =
      *StepTransform::Create(Side::kOutput, {0.1f, 0.2f, 0.3f}, {1.7f, 2.9f, 3.1f});
  std::vector<float> rows(3 * 64);
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = 0.013f * static_cast<float>(i) - 1.0f;
  std::vector<float> whole(rows.size());
  t.Apply(rows.data(), whole.data(), 64, 3);
  for (int r = 0; r < 64; ++r) {  // Each row alone, at another address.
    float one[3];
    t.Apply(rows.data() + 3 * r, one, 1, 3);
    for (int j = 0; j < 3; ++j) ASSERT_EQ(one[j], whole[3 * r + j]) << r << ", " << j;
  }
}

TEST(StepTransformTest, RefusesWhatCannotBeInverted) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_THAT(StepTransform::Create(Side::kInput, {0.0f}, {1.0f, 0.0f}).status().message(),
              HasSubstr("scale[1] is 0; want a finite non-zero number"));
  EXPECT_THAT(StepTransform::Create(Side::kInput, {inf}, {1.0f}).status().message(),
              HasSubstr("offset[0] is inf"));
  EXPECT_THAT(StepTransform::Create(Side::kOutput, {1, 2}, {1, 2, 3}).status().message(),
              HasSubstr("offset has 2 values and scale 3"));
  EXPECT_FALSE(StepTransform::Create(Side::kOutput, {}, {1}).ok());
}

TEST(StepTransformTest, DescribesItself) {
  EXPECT_EQ(StepTransform::Create(Side::kInput, {43.5f}, {34.0f})->ToString(), "(x - 43.5) / 34");
  EXPECT_EQ(StepTransform::Create(Side::kOutput, {1, 2}, {3})->ToString(), "y * 3 + [1, 2]");
  EXPECT_EQ(StepTransform::Create(Side::kOutput, std::vector<float>(9, 0.0f), {1})->ToString(),
            "y * 1 + [9 values]");
}

}  // namespace
}  // namespace rnnserve::model
