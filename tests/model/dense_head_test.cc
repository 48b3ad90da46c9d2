#include "model/engine/dense_head.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace rnnserve::model {
namespace {

// A row's last bits must not depend on where the row sits in a batch (its
// address): the same session's step gives the same bytes whether it was
// batched first, fifth, or alone. 98 outputs (the demo charlm's), so
// successive rows start at every alignment.
class DenseHeadTest : public ::testing::TestWithParam<HeadActivation> {};

TEST_P(DenseHeadTest, RowsAreBitIdenticalWhereverTheyAreInTheBatch) {
  constexpr int kIn = 16, kOut = 98, kRows = 9;
  std::mt19937 random(3);
  std::normal_distribution<float> value(0.0f, 2.0f);
  RowMatrix weight(kIn, kOut);
  for (Eigen::Index i = 0; i < weight.size(); ++i) weight.data()[i] = value(random);
  RowVector bias(kOut);
  for (Eigen::Index i = 0; i < bias.size(); ++i) bias[i] = value(random);
  absl::StatusOr<DenseHead> head =
      DenseHead::Create(std::move(weight), std::move(bias), GetParam());
  ASSERT_TRUE(head.ok()) << head.status();
  for (int trial = 0; trial < 20; ++trial) {
    RowMatrix in(kRows, kIn);
    for (Eigen::Index c = 0; c < kIn; ++c) in(0, c) = value(random);
    for (Eigen::Index r = 1; r < kRows; ++r) in.row(r) = in.row(0);
    RowMatrix out(kRows, kOut);
    head->Apply(ConstRowMatrixMap(in.data(), kRows, kIn), RowMatrixMap(out.data(), kRows, kOut));
    for (Eigen::Index r = 1; r < kRows; ++r) {
      ASSERT_EQ(std::memcmp(out.row(r).data(), out.row(0).data(), kOut * sizeof(float)), 0)
          << "trial " << trial << " row " << r;
    }
    if (GetParam() == HeadActivation::kSoftmax) {
      EXPECT_NEAR(out.row(0).sum(), 1.0f, 1e-5);
    }
    if (GetParam() == HeadActivation::kLogSoftmax) {
      EXPECT_NEAR(out.row(0).array().exp().sum(), 1.0f, 1e-5);
    }
  }
}

// The identity head with weight I and bias b outputs act(x + b): each
// activation against its definition.
RowMatrix ApplyToRow(HeadActivation activation, const std::vector<float>& x) {
  const int n = static_cast<int>(x.size());
  absl::StatusOr<DenseHead> head =
      DenseHead::Create(RowMatrix::Identity(n, n), RowVector(), activation);
  EXPECT_TRUE(head.ok()) << head.status();
  RowMatrix out(1, n);
  head->Apply(ConstRowMatrixMap(x.data(), 1, n), RowMatrixMap(out.data(), 1, n));
  return out;
}

TEST(DenseHeadActivationTest, LogSoftmaxIsStableForLargeInputs) {
  // exp(1000) overflows: computed as x - max - log(sum(exp(x - max))).
  const RowMatrix out = ApplyToRow(HeadActivation::kLogSoftmax, {1000.0f, 999.0f, -1000.0f});
  const double log_sum = std::log(1.0 + std::exp(-1.0) + std::exp(-2000.0));
  EXPECT_NEAR(out(0, 0), -log_sum, 1e-6);
  EXPECT_NEAR(out(0, 1), -1.0 - log_sum, 1e-6);
  EXPECT_NEAR(out(0, 2), -2000.0 - log_sum, 1e-3);
  EXPECT_TRUE(out.allFinite());
}

TEST(DenseHeadActivationTest, TanhAndRelu) {
  const RowMatrix t = ApplyToRow(HeadActivation::kTanh, {-2.0f, 0.0f, 0.5f});
  EXPECT_NEAR(t(0, 0), std::tanh(-2.0), 1e-6);
  EXPECT_NEAR(t(0, 2), std::tanh(0.5), 1e-6);
  const RowMatrix r = ApplyToRow(HeadActivation::kRelu, {-2.0f, 0.0f, 0.5f});
  EXPECT_EQ(r(0, 0), 0.0f);
  EXPECT_EQ(r(0, 2), 0.5f);
}

TEST(DenseHeadActivationTest, NamesRoundTrip) {
  for (HeadActivation a :
       {HeadActivation::kIdentity, HeadActivation::kSoftmax, HeadActivation::kLogSoftmax,
        HeadActivation::kSigmoid, HeadActivation::kTanh, HeadActivation::kRelu}) {
    absl::StatusOr<HeadActivation> parsed = HeadActivationFromName(HeadActivationName(a));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, a);
  }
  EXPECT_FALSE(HeadActivationFromName("gelu").ok());
}

INSTANTIATE_TEST_SUITE_P(Activations, DenseHeadTest,
                         ::testing::Values(HeadActivation::kSoftmax, HeadActivation::kLogSoftmax,
                                           HeadActivation::kSigmoid, HeadActivation::kTanh,
                                           HeadActivation::kRelu, HeadActivation::kIdentity),
                         [](const ::testing::TestParamInfo<HeadActivation>& info) {
                           return HeadActivationName(info.param);
                         });

}  // namespace
}  // namespace rnnserve::model
