// The axis bookkeeping that decides which ONNX glue keeps a sequence's meaning.
#include "model/importers/onnx_axes.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rnnserve::model {
namespace {

using ::testing::HasSubstr;

const Axis kT = Axis::Time();
const Axis k1 = Axis::Unit();

TEST(OnnxAxesTest, ReshapeMergesDirectionsIntoFeaturesDirectionMajor) {
  // PyTorch's bidirectional output: Y [T, 2, 1, H] -> Transpose(0, 2, 1, 3) ->
  // Reshape(0, 0, -1) gives [T, 1, 2H] = [forward, backward].
  const absl::StatusOr<Axes> transposed =
      TransposeAxes({kT, Axis::Directions(2), k1, Axis::Features(4)}, {0, 2, 1, 3});
  ASSERT_TRUE(transposed.ok());
  const absl::StatusOr<Axes> reshaped = ReshapeAxes(*transposed, {0, 0, -1}, false);
  ASSERT_TRUE(reshaped.ok()) << reshaped.status();
  EXPECT_EQ(*reshaped, (Axes{kT, k1, Axis::Features(8)}));
}

TEST(OnnxAxesTest, ReshapeRefusesMixingTimeWithFeatures) {
  const absl::StatusOr<Axes> reshaped = ReshapeAxes({kT, k1, Axis::Features(4)}, {-1}, false);
  EXPECT_FALSE(reshaped.ok());
}

TEST(OnnxAxesTest, ReshapeRefusesFeaturesBeforeDirections) {
  // [T, H, 2] flattened would interleave the directions.
  const absl::StatusOr<Axes> reshaped =
      ReshapeAxes({kT, Axis::Features(4), Axis::Directions(2)}, {0, -1}, false);
  EXPECT_FALSE(reshaped.ok());
}

TEST(OnnxAxesTest, ReshapeDropsAndInsertsUnitAxes) {
  const absl::StatusOr<Axes> reshaped = ReshapeAxes({kT, k1, Axis::Features(4)}, {0, 4}, false);
  ASSERT_TRUE(reshaped.ok()) << reshaped.status();
  EXPECT_EQ(*reshaped, (Axes{kT, Axis::Features(4)}));
  const absl::StatusOr<Axes> widened = ReshapeAxes(*reshaped, {0, 1, 4}, false);
  ASSERT_TRUE(widened.ok()) << widened.status();
  EXPECT_EQ(*widened, (Axes{kT, k1, Axis::Features(4)}));
}

TEST(OnnxAxesTest, SqueezeOnlyRemovesSizeOneAxes) {
  EXPECT_EQ(*SqueezeAxes({kT, k1, Axis::Features(3)}, {1}), (Axes{kT, Axis::Features(3)}));
  EXPECT_EQ(*SqueezeAxes({kT, k1, Axis::Features(3)}, {-2}), (Axes{kT, Axis::Features(3)}));
  const absl::StatusOr<Axes> bad = SqueezeAxes({kT, Axis::Directions(2), Axis::Features(3)}, {1});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("not size 1"));
  EXPECT_FALSE(SqueezeAxes({kT}, {3}).ok());
}

TEST(OnnxAxesTest, UnsqueezeAndTranspose) {
  EXPECT_EQ(*UnsqueezeAxes({kT, Axis::Features(3)}, {1}), (Axes{kT, k1, Axis::Features(3)}));
  EXPECT_EQ(*TransposeAxes({k1, kT, Axis::Features(3)}, {1, 0, 2}),
            (Axes{kT, k1, Axis::Features(3)}));
  EXPECT_EQ(*TransposeAxes({kT, Axis::Features(3)}, {}), (Axes{Axis::Features(3), kT}));
  EXPECT_FALSE(TransposeAxes({kT, Axis::Features(3)}, {0, 0}).ok());
}

}  // namespace
}  // namespace rnnserve::model
