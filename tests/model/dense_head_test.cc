#include "model/dense_head.h"

#include <cstring>
#include <random>

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
    if (GetParam() == HeadActivation::kSoftmax) EXPECT_NEAR(out.row(0).sum(), 1.0f, 1e-5);
  }
}

INSTANTIATE_TEST_SUITE_P(Activations, DenseHeadTest,
                         ::testing::Values(HeadActivation::kSoftmax, HeadActivation::kSigmoid,
                                           HeadActivation::kIdentity),
                         [](const ::testing::TestParamInfo<HeadActivation>& info) {
                           return HeadActivationName(info.param);
                         });

}  // namespace
}  // namespace rnnserve::model
