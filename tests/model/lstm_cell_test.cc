// LstmCell alone: a few steps of a batch of sessions against the LSTM
// equations of DESIGN.md section 2 in double precision (gates i, f, g, o;
// both biases; peepholes with o seeing c_t; clip; coupled input-forget;
// other activations), on the fused kernel path and the general one.
#include "model/engine/lstm_cell.h"

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
using testing::SigmoidRef;

constexpr int kInput = 4;
constexpr int kHidden = 5;  // odd: the vector kernels' masked tail
constexpr int kBatch = 3;
constexpr int kSteps = 4;
constexpr double kTolerance = 2e-6;

using Function = std::function<double(double)>;

struct Reference {
  Function gate = SigmoidRef;
  Function cell = [](double x) { return std::tanh(x); };
  Function output = [](double x) { return std::tanh(x); };
  double clip = 0.0;
  bool input_forget = false;
};

double Clamp(double x, double clip) { return clip > 0.0 ? std::clamp(x, -clip, clip) : x; }

// One LSTM step of one session: (h, c) -> (h', c'), DESIGN.md section 2.
void ReferenceStep(const GateWeightsRef& w, const Reference& ref, const std::vector<double>& x,
                   std::vector<double>& h, std::vector<double>& c) {
  const int n = w.hidden;
  std::vector<double> h_next(n), c_next(n);
  for (int j = 0; j < n; ++j) {
    double a_i = w.PreActivation(x, h, j);
    double a_f = w.PreActivation(x, h, n + j);
    double a_g = w.PreActivation(x, h, 2 * n + j);
    double a_o = w.PreActivation(x, h, 3 * n + j);
    if (w.peephole.rows != 0) {  // p_i, p_f see c_{t-1}
      a_i += w.peephole.at(0, j) * c[j];
      a_f += w.peephole.at(0, n + j) * c[j];
    }
    const double i = ref.gate(Clamp(a_i, ref.clip));
    const double f = ref.input_forget ? 1.0 - i : ref.gate(Clamp(a_f, ref.clip));
    const double g = ref.cell(Clamp(a_g, ref.clip));
    c_next[j] = f * c[j] + i * g;
    if (w.peephole.rows != 0) a_o += w.peephole.at(0, 2 * n + j) * c_next[j];  // p_o sees c_t
    const double o = ref.gate(Clamp(a_o, ref.clip));
    h_next[j] = o * ref.output(c_next[j]);
  }
  h = h_next;
  c = c_next;
}

// Steps a batch kSteps times through `cell` and the reference; every h and c
// must agree.
void ExpectMatchesReference(const GateWeightsRef& w, const LstmOptions& options,
                            const Reference& ref, unsigned seed) {
  absl::StatusOr<LstmCell> cell = LstmCell::Create(w.AsGateWeights(), options);
  ASSERT_TRUE(cell.ok()) << cell.status();
  std::mt19937 rng(seed);
  CellBuffers buffers(kBatch, 4 * kHidden, kHidden, kHidden);
  std::vector<std::vector<double>> h(kBatch, std::vector<double>(kHidden, 0.0));
  std::vector<std::vector<double>> c(kBatch, std::vector<double>(kHidden, 0.0));
  buffers.recurrent_input.setZero();
  for (int t = 0; t < kSteps; ++t) {
    const std::vector<std::vector<double>> x = RandomRows(kBatch, kInput, rng);
    Project(cell->weights(), x, buffers);
    CellStep step = buffers.view();
    cell->Step(step);
    for (int b = 0; b < kBatch; ++b) {
      ReferenceStep(w, ref, x[b], h[b], c[b]);
      for (int j = 0; j < kHidden; ++j) {
        ASSERT_NEAR(buffers.output(b, j), h[b][j], kTolerance) << "step " << t << ", row " << b;
        ASSERT_NEAR(buffers.cell(b, j), c[b][j], kTolerance) << "step " << t << ", row " << b;
      }
    }
    buffers.recurrent_input = buffers.output;  // a plain layer feeds h back
  }
}

TEST(LstmCellTest, MatchesTheEquations) {
  std::mt19937 rng(1);
  ExpectMatchesReference(GateWeightsRef(4, kHidden, kInput, kHidden, rng), {}, {}, 11);
}

TEST(LstmCellTest, PeepholesSeePreviousCellStateAndOutputGateSeesTheNewOne) {
  std::mt19937 rng(2);
  const GateWeightsRef w(4, kHidden, kInput, kHidden, rng, /*with_peephole=*/true);
  ExpectMatchesReference(w, {}, {}, 12);
}

TEST(LstmCellTest, ClipClampsEveryPreActivationButNotTheCellState) {
  std::mt19937 rng(3);
  const GateWeightsRef w(4, kHidden, kInput, kHidden, rng, /*with_peephole=*/true);
  ExpectMatchesReference(w, {.clip = 0.3f}, {.clip = double{0.3f}}, 13);
}

TEST(LstmCellTest, InputForgetCouplesTheForgetGateToTheInputGate) {
  std::mt19937 rng(4);
  ExpectMatchesReference(GateWeightsRef(4, kHidden, kInput, kHidden, rng), {.input_forget = true},
                         {.input_forget = true}, 14);
}

TEST(LstmCellTest, OtherActivations) {
  std::mt19937 rng(5);
  const LstmOptions options{.gate = Activation::HardSigmoidKeras2(),
                            .cell = Activation::Relu(),
                            .output = {ActivationKind::kSoftsign}};
  const Reference ref{.gate = [](double x) { return std::clamp(double{0.2f} * x + 0.5, 0.0, 1.0); },
                      .cell = [](double x) { return std::max(x, 0.0); },
                      .output = [](double x) { return x / (1.0 + std::abs(x)); }};
  ExpectMatchesReference(GateWeightsRef(4, kHidden, kInput, kHidden, rng), options, ref, 15);
}

TEST(LstmCellTest, CreateRefusesOtherGateCountsAndShapes) {
  std::mt19937 rng(6);
  EXPECT_EQ(LstmCell::Create(GateWeightsRef(3, kHidden, kInput, kHidden, rng).AsGateWeights(), {})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  GateWeights weights = GateWeightsRef(4, kHidden, kInput, kHidden, rng).AsGateWeights();
  weights.recurrent_bias = RowVector::Zero(3 * kHidden);
  EXPECT_EQ(LstmCell::Create(std::move(weights), {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace rnnserve::model
