// RnnCell alone: h_t = act(clip(W_x x_t + b_x + W_r r_{t-1} + b_r)) for a
// batch of sessions over a few steps, in double precision (DESIGN.md section
// 2), with a recurrent input narrower than the hidden state (a Jordan layer
// feeds back its head output, not h).
#include "model/engine/rnn_cell.h"

#include <algorithm>
#include <functional>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "tests/model/cell_harness.h"

namespace rnnserve::model {
namespace {

using testing::CellBuffers;
using testing::GateWeightsRef;
using testing::Project;
using testing::RandomRows;

constexpr int kInput = 4;
constexpr int kHidden = 6;
constexpr int kBatch = 3;
constexpr int kSteps = 4;
constexpr double kTolerance = 2e-6;

// `recurrent` inputs per session, fed back from the first `recurrent` of h
// (what a Jordan layer's head would compute is RecurrentLayer's business).
void ExpectMatchesReference(const RnnOptions& options, std::function<double(double)> act,
                            double clip, int recurrent, unsigned seed) {
  std::mt19937 rng(seed);
  const GateWeightsRef w(1, kHidden, kInput, recurrent, rng);
  absl::StatusOr<RnnCell> cell = RnnCell::Create(w.AsGateWeights(), options);
  ASSERT_TRUE(cell.ok()) << cell.status();
  CellBuffers buffers(kBatch, kHidden, recurrent, kHidden);
  std::vector<std::vector<double>> r(kBatch, std::vector<double>(recurrent, 0.0));
  buffers.recurrent_input.setZero();
  for (int t = 0; t < kSteps; ++t) {
    const std::vector<std::vector<double>> x = RandomRows(kBatch, kInput, rng);
    Project(cell->weights(), x, buffers);
    CellStep step = buffers.view();
    cell->Step(step);
    for (int b = 0; b < kBatch; ++b) {
      std::vector<double> h(kHidden);
      for (int j = 0; j < kHidden; ++j) {
        double a = w.PreActivation(x[b], r[b], j);
        if (clip > 0.0) a = std::clamp(a, -clip, clip);
        h[j] = act(a);
        ASSERT_NEAR(buffers.output(b, j), h[j], kTolerance) << "step " << t << ", row " << b;
      }
      r[b].assign(h.begin(), h.begin() + recurrent);
      for (int j = 0; j < recurrent; ++j) buffers.recurrent_input(b, j) = buffers.output(b, j);
    }
  }
}

TEST(RnnCellTest, TanhMatchesTheEquation) {
  ExpectMatchesReference(
      {}, [](double x) { return std::tanh(x); }, 0.0, kHidden, 31);
}

TEST(RnnCellTest, ReluWithClip) {
  ExpectMatchesReference(
      {.activation = Activation::Relu(), .clip = 0.5f}, [](double x) { return std::max(x, 0.0); },
      double{0.5f}, kHidden, 32);
}

TEST(RnnCellTest, RecurrentInputNarrowerThanTheState) {
  ExpectMatchesReference(
      {}, [](double x) { return std::tanh(x); }, 0.0, 2, 33);
}

}  // namespace
}  // namespace rnnserve::model
