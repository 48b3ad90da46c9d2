// LstmCell alone: a few steps of batches of 1 to 13 sessions against the LSTM
// equations of DESIGN.md section 2 in double precision (gates i, f, g, o;
// both biases; peepholes with o seeing c_t; clip; coupled input-forget;
// other activations; a projection fed back), on the fused kernel path and
// the general one.
#include "model/engine/lstm_cell.h"

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
using testing::SigmoidRef;

constexpr int kInput = 4;
constexpr int kHidden = 5;  // odd: the vector kernels' masked tail
// 4 x 17 = 68 gate columns: two 64-column weight panels, and a whole AVX-512
// vector plus a one-lane tail per gate.
constexpr int kWideHidden = 17;

using Function = std::function<double(double)>;

struct Reference {
  Function gate = SigmoidRef;
  Function cell = [](double x) { return std::tanh(x); };
  Function output = [](double x) { return std::tanh(x); };
  double clip = 0.0;
  bool input_forget = false;
};

double Clamp(double x, double clip) { return clip > 0.0 ? std::clamp(x, -clip, clip) : x; }

// One LSTM step of one session, DESIGN.md section 2: (r, c) -> (h', c'),
// where r is what the layer fed back (h, or its projection).
std::vector<double> ReferenceStep(const GateWeightsRef& w, const Reference& ref,
                                  const std::vector<double>& x, const std::vector<double>& r,
                                  std::vector<double>& c) {
  const int n = w.hidden;
  std::vector<double> h_next(n), c_next(n);
  for (int j = 0; j < n; ++j) {
    double a_i = w.PreActivation(x, r, j);
    double a_f = w.PreActivation(x, r, n + j);
    double a_g = w.PreActivation(x, r, 2 * n + j);
    double a_o = w.PreActivation(x, r, 3 * n + j);
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
  c = c_next;
  return h_next;
}

// Steps `w` as an LstmCell with `options` and the reference side by side
// (tests/model/cell_harness.h); every h and c must agree.
void ExpectMatchesReference(const GateWeightsRef& w, const LstmOptions& options,
                            const Reference& ref, unsigned seed,
                            const testing::Feedback& feedback = {}) {
  absl::StatusOr<LstmCell> cell = LstmCell::Create(w.AsGateWeights(), options);
  ASSERT_TRUE(cell.ok()) << cell.status();
  ExpectStepsMatchReference(
      *cell,
      [&](const std::vector<double>& x, const std::vector<double>& r, std::vector<double>& c) {
        return ReferenceStep(w, ref, x, r, c);
      },
      seed, feedback);
}

TEST(LstmCellTest, MatchesTheEquations) {
  for (int hidden : {kHidden, kWideHidden}) {
    SCOPED_TRACE(::testing::Message() << "hidden " << hidden);
    std::mt19937 rng(hidden);
    ExpectMatchesReference(GateWeightsRef(4, hidden, kInput, hidden, rng), {}, {}, 11);
  }
}

TEST(LstmCellTest, PeepholesSeePreviousCellStateAndOutputGateSeesTheNewOne) {
  for (int hidden : {kHidden, kWideHidden}) {
    SCOPED_TRACE(::testing::Message() << "hidden " << hidden);
    std::mt19937 rng(2);
    const GateWeightsRef w(4, hidden, kInput, hidden, rng, /*with_peephole=*/true);
    ExpectMatchesReference(w, {}, {}, 12);
  }
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

// PyTorch proj_size: the layer feeds back r_t = h_t W_hr (DESIGN.md section
// 2), so the cell's recurrent weight takes proj_size inputs, not hidden_size.
// The projection itself is RecurrentLayer's; here each side applies it to its
// own h_t.
TEST(LstmCellTest, ProjectionFedBackInsteadOfTheHiddenState) {
  constexpr int kProj = 3;
  std::mt19937 rng(6);
  const GateWeightsRef w(4, kHidden, kInput, kProj, rng, /*with_peephole=*/true);
  const testing::RandomBlock w_hr = testing::RandomValues(kHidden, kProj, 0.8, rng);
  const testing::Feedback project = [&](const std::vector<double>& h) {
    std::vector<double> r(kProj, 0.0);
    for (int k = 0; k < kProj; ++k) {
      for (int j = 0; j < kHidden; ++j) r[k] += h[j] * w_hr.at(j, k);
    }
    return r;
  };
  ExpectMatchesReference(w, {}, {}, 16, project);
}

TEST(LstmCellTest, CreateRefusesOtherGateCountsAndShapes) {
  std::mt19937 rng(7);
  EXPECT_EQ(LstmCell::Create(GateWeightsRef(3, kHidden, kInput, kHidden, rng).AsGateWeights(), {})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  GateWeights weights = GateWeightsRef(4, kHidden, kInput, kHidden, rng).AsGateWeights();
  weights.recurrent_bias = RowVector::Zero(3 * kHidden);
  EXPECT_EQ(LstmCell::Create(std::move(weights), {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  GateWeights peephole = GateWeightsRef(4, kHidden, kInput, kHidden, rng).AsGateWeights();
  peephole.peephole = RowVector::Zero(4 * kHidden);  // want p_i, p_f, p_o: 3H
  EXPECT_EQ(LstmCell::Create(std::move(peephole), {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace rnnserve::model
