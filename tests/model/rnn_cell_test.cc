// RnnCell alone: h_t = act(clip(W_x x_t + b_x + W_r r_{t-1} + b_r)) for
// batches of 1 to 13 sessions over a few steps, in double precision
// (DESIGN.md section 2: Elman with tanh or relu), with a recurrent input
// narrower than the hidden state (a Jordan layer feeds back its head output,
// not h).
#include "model/engine/rnn_cell.h"

#include <algorithm>
#include <functional>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "tests/model/cell_harness.h"

namespace rnnserve::model {
namespace {

using testing::ExpectStepsMatchReference;
using testing::GateWeightsRef;

constexpr int kInput = 4;
constexpr int kHidden = 6;
constexpr int kWideHidden = 67;  // two 64-column weight panels, the second of 3

using Function = std::function<double(double)>;

double Tanh(double x) { return std::tanh(x); }
double Relu(double x) { return std::max(x, 0.0); }

// Steps an RnnCell of `hidden` units taking `recurrent` fed-back inputs, and
// the equation beside it. The fed-back vector is the first `recurrent` values
// of h (what a Jordan layer's head would compute is RecurrentLayer's business).
void ExpectMatchesReference(const RnnOptions& options, Function act, double clip, int hidden,
                            int recurrent, unsigned seed) {
  std::mt19937 rng(seed);
  const GateWeightsRef w(1, hidden, kInput, recurrent, rng);
  absl::StatusOr<RnnCell> cell = RnnCell::Create(w.AsGateWeights(), options);
  ASSERT_TRUE(cell.ok()) << cell.status();
  ExpectStepsMatchReference(
      *cell,
      [&](const std::vector<double>& x, const std::vector<double>& r, std::vector<double>&) {
        std::vector<double> h(hidden);
        for (int j = 0; j < hidden; ++j) {
          double a = w.PreActivation(x, r, j);
          if (clip > 0.0) a = std::clamp(a, -clip, clip);
          h[j] = act(a);
        }
        return h;
      },
      seed,
      [&](const std::vector<double>& h) {
        return std::vector<double>(h.begin(), h.begin() + recurrent);
      });
}

TEST(RnnCellTest, TanhMatchesTheEquation) {
  for (int hidden : {kHidden, kWideHidden}) {
    SCOPED_TRACE(::testing::Message() << "hidden " << hidden);
    ExpectMatchesReference({}, Tanh, 0.0, hidden, hidden, 31);
  }
}

TEST(RnnCellTest, Relu) {
  for (int hidden : {kHidden, kWideHidden}) {
    SCOPED_TRACE(::testing::Message() << "hidden " << hidden);
    ExpectMatchesReference({.activation = Activation::Relu()}, Relu, 0.0, hidden, hidden, 32);
  }
}

TEST(RnnCellTest, ClipClampsThePreActivation) {
  ExpectMatchesReference({.activation = Activation::Relu(), .clip = 0.5f}, Relu, double{0.5f},
                         kHidden, kHidden, 33);
  ExpectMatchesReference({.clip = 0.5f}, Tanh, double{0.5f}, kHidden, kHidden, 34);
}

TEST(RnnCellTest, RecurrentInputNarrowerThanTheState) {
  ExpectMatchesReference({}, Tanh, 0.0, kHidden, 2, 35);
}

TEST(RnnCellTest, CreateRefusesOtherGateCountsAndShapes) {
  std::mt19937 rng(6);
  EXPECT_EQ(RnnCell::Create(GateWeightsRef(3, kHidden, kInput, kHidden, rng).AsGateWeights(), {})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  GateWeights weights = GateWeightsRef(1, kHidden, kInput, kHidden, rng).AsGateWeights();
  weights.input_bias = RowVector::Zero(kHidden + 1);
  EXPECT_EQ(RnnCell::Create(std::move(weights), {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace rnnserve::model
