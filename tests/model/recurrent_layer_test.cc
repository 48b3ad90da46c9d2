// RecurrentLayer: what it adds to its cell. Time-major input and output
// (row t * B + b is session b at step t), each session's state read from and
// written back to its own buffer at the state offset (nothing around it
// touched), and the fed-back vector: h itself (Elman) or the head output
// (Jordan: r_t = act(h_t W_y + b_y), DESIGN.md section 2). References in
// double precision from the equations.
#include "model/engine/recurrent_layer.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "tests/model/cell_harness.h"

namespace rnnserve::model {
namespace {

using testing::GateWeightsRef;
using testing::RandomRows;
using testing::RandomValues;

constexpr int kInput = 3;
constexpr int kHidden = 5;
constexpr int kBatch = 2;
constexpr int kSteps = 6;
constexpr int kOffset = 4;  // the layer's state starts here in each buffer
constexpr double kTolerance = 2e-6;

// Runs `layer` over kSteps steps of kBatch sessions in one call and checks
// every output row against `reference(x, r) -> r'` (the fed-back vector,
// which is also the output), and each state buffer afterwards.
template <typename ReferenceStep>
void ExpectRunMatches(const RecurrentLayer& layer, ReferenceStep reference, unsigned seed) {
  std::mt19937 rng(seed);
  const int out = layer.output_size();
  std::vector<std::vector<double>> xs;  // time-major rows
  RowMatrix input(kSteps * kBatch, kInput);
  for (int t = 0; t < kSteps; ++t) {
    for (const std::vector<double>& row : RandomRows(kBatch, kInput, rng)) {
      for (int k = 0; k < kInput; ++k) input(xs.size(), k) = static_cast<float>(row[k]);
      xs.push_back(row);
    }
  }
  const float sentinel = std::numeric_limits<float>::quiet_NaN();
  std::vector<std::vector<float>> buffers(
      kBatch, std::vector<float>(kOffset + layer.state_size() + 1, sentinel));
  std::vector<float*> states;
  for (auto& buffer : buffers) {
    std::fill_n(buffer.begin() + kOffset, layer.state_size(), 0.0f);
    states.push_back(buffer.data());
  }
  RowMatrix output(kSteps * kBatch, out);
  Workspace workspace;
  layer.Run(ConstRowMatrixMap(input.data(), input.rows(), input.cols()), kSteps, states, kOffset,
            RowMatrixMap(output.data(), output.rows(), output.cols()), workspace);

  std::vector<std::vector<double>> r(kBatch, std::vector<double>(out, 0.0));
  for (int t = 0; t < kSteps; ++t) {
    for (int b = 0; b < kBatch; ++b) {
      r[b] = reference(xs[t * kBatch + b], r[b]);
      for (int j = 0; j < out; ++j) {
        ASSERT_NEAR(output(t * kBatch + b, j), r[b][j], kTolerance) << "step " << t << ", " << b;
      }
    }
  }
  for (int b = 0; b < kBatch; ++b) {
    for (int j = 0; j < out; ++j) EXPECT_NEAR(buffers[b][kOffset + j], r[b][j], kTolerance);
    for (int i = 0; i < kOffset; ++i) EXPECT_TRUE(std::isnan(buffers[b][i])) << "wrote before";
    EXPECT_TRUE(std::isnan(buffers[b].back())) << "wrote past the state";
  }
}

TEST(RecurrentLayerTest, ElmanFeedsBackItsHiddenState) {
  std::mt19937 rng(1);
  const GateWeightsRef w(1, kHidden, kInput, kHidden, rng);
  absl::StatusOr<RnnCell> cell = RnnCell::Create(w.AsGateWeights(), {});
  ASSERT_TRUE(cell.ok());
  absl::StatusOr<RecurrentLayer> layer = RecurrentLayer::Create(*std::move(cell), std::nullopt);
  ASSERT_TRUE(layer.ok()) << layer.status();
  EXPECT_EQ(layer->state_size(), kHidden);
  ExpectRunMatches(
      *layer,
      [&](const std::vector<double>& x, const std::vector<double>& r) {
        std::vector<double> h(kHidden);
        for (int j = 0; j < kHidden; ++j) h[j] = std::tanh(w.PreActivation(x, r, j));
        return h;
      },
      41);
}

TEST(RecurrentLayerTest, JordanFeedsBackItsHeadOutput) {
  constexpr int kOut = 2;
  std::mt19937 rng(2);
  const GateWeightsRef w(1, kHidden, kInput, kOut, rng);
  const testing::RandomBlock w_y = RandomValues(kHidden, kOut, 0.8, rng);
  const testing::RandomBlock b_y = RandomValues(1, kOut, 0.3, rng);
  absl::StatusOr<DenseHead> head =
      DenseHead::Create(w_y.AsFloat(), RowVector(b_y.AsFloat()), HeadActivation::kSigmoid);
  ASSERT_TRUE(head.ok());
  absl::StatusOr<RnnCell> cell = RnnCell::Create(w.AsGateWeights(), {});
  ASSERT_TRUE(cell.ok());
  absl::StatusOr<RecurrentLayer> layer = RecurrentLayer::Create(*std::move(cell), *head);
  ASSERT_TRUE(layer.ok()) << layer.status();
  EXPECT_EQ(layer->output_size(), kOut);
  ExpectRunMatches(
      *layer,
      [&](const std::vector<double>& x, const std::vector<double>& y_prev) {
        std::vector<double> h(kHidden), y(kOut);
        for (int j = 0; j < kHidden; ++j) h[j] = std::tanh(w.PreActivation(x, y_prev, j));
        for (int k = 0; k < kOut; ++k) {
          double a = b_y.at(0, k);
          for (int j = 0; j < kHidden; ++j) a += h[j] * w_y.at(j, k);
          y[k] = testing::SigmoidRef(a);
        }
        return y;
      },
      42);
}

TEST(RecurrentLayerTest, CreateRefusesFeedbackThatDoesNotFit) {
  std::mt19937 rng(3);
  const absl::StatusOr<DenseHead> head =
      DenseHead::Create(RowMatrix::Zero(kHidden, 2), RowVector(), HeadActivation::kIdentity);
  ASSERT_TRUE(head.ok());
  // A GRU mixes in its own h_{t-1}: nothing else can be fed back.
  absl::StatusOr<GruCell> gru =
      GruCell::Create(GateWeightsRef(3, kHidden, kInput, kHidden, rng).AsGateWeights(), {});
  ASSERT_TRUE(gru.ok());
  EXPECT_EQ(RecurrentLayer::Create(*std::move(gru), *head).status().code(),
            absl::StatusCode::kInvalidArgument);
  // The recurrent weight must take what is fed back (2 here, not hidden).
  absl::StatusOr<RnnCell> rnn =
      RnnCell::Create(GateWeightsRef(1, kHidden, kInput, kHidden, rng).AsGateWeights(), {});
  ASSERT_TRUE(rnn.ok());
  EXPECT_EQ(RecurrentLayer::Create(*std::move(rnn), *head).status().code(),
            absl::StatusCode::kInvalidArgument);
  // The head must take hidden_size inputs.
  const absl::StatusOr<DenseHead> narrow =
      DenseHead::Create(RowMatrix::Zero(kHidden - 1, 2), RowVector(), HeadActivation::kIdentity);
  absl::StatusOr<RnnCell> jordan =
      RnnCell::Create(GateWeightsRef(1, kHidden, kInput, 2, rng).AsGateWeights(), {});
  ASSERT_TRUE(narrow.ok() && jordan.ok());
  EXPECT_EQ(RecurrentLayer::Create(*std::move(jordan), *narrow).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace rnnserve::model
