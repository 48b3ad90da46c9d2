// GruCell alone: a few steps of batches of 1 to 13 sessions against the GRU
// equations of DESIGN.md section 2 in double precision (gates r, z, n; update
// h = (1 - z) * n + z * h_prev), with the reset after the recurrent product
// (b_hn inside r * (.)) and before it, on the fused kernel path and the
// general one (other gate and candidate activations, clip).
#include "model/engine/gru_cell.h"

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
constexpr int kHidden = 5;
// 3 x 22 = 66 gate columns: two 64-column weight panels, and gates that
// straddle a panel boundary.
constexpr int kWideHidden = 22;

using Function = std::function<double(double)>;

struct Reference {
  GruReset reset = GruReset::kAfterProduct;
  Function gate = SigmoidRef;
  Function candidate = [](double x) { return std::tanh(x); };
  double clip = 0.0;
};

double Clamp(double x, double clip) { return clip > 0.0 ? std::clamp(x, -clip, clip) : x; }

// One GRU step of one session, DESIGN.md section 2: h -> h'.
std::vector<double> ReferenceStep(const GateWeightsRef& w, const Reference& ref,
                                  const std::vector<double>& x, const std::vector<double>& h) {
  const int n = w.hidden;
  const std::vector<double> no_input(w.input, 0.0), no_state(n, 0.0);
  std::vector<double> r(n), rh(n), h_next(n);
  for (int j = 0; j < n; ++j) r[j] = ref.gate(Clamp(w.PreActivation(x, h, j), ref.clip));
  for (int j = 0; j < n; ++j) rh[j] = r[j] * h[j];
  for (int j = 0; j < n; ++j) {
    const double z = ref.gate(Clamp(w.PreActivation(x, h, n + j), ref.clip));
    // The candidate's input part (W_nx x + b_nx) and recurrent part
    // (W_nh h + b_nh), each from PreActivation with the other side zeroed.
    const double from_x = w.PreActivation(x, no_state, 2 * n + j) - w.b_r.at(0, 2 * n + j);
    double a_n;
    if (ref.reset == GruReset::kAfterProduct) {
      const double from_h = w.PreActivation(no_input, h, 2 * n + j) - w.b_x.at(0, 2 * n + j);
      a_n = from_x + r[j] * from_h;
    } else {
      const double from_rh = w.PreActivation(no_input, rh, 2 * n + j) - w.b_x.at(0, 2 * n + j);
      a_n = from_x + from_rh;
    }
    const double candidate = ref.candidate(Clamp(a_n, ref.clip));
    h_next[j] = (1.0 - z) * candidate + z * h[j];
  }
  return h_next;
}

// Steps `w` as a GruCell with `options` and the reference side by side
// (tests/model/cell_harness.h); every h must agree.
void ExpectMatchesReference(const GateWeightsRef& w, const GruOptions& options,
                            const Reference& ref, unsigned seed) {
  absl::StatusOr<GruCell> cell = GruCell::Create(w.AsGateWeights(), options);
  ASSERT_TRUE(cell.ok()) << cell.status();
  ExpectStepsMatchReference(
      *cell,
      [&](const std::vector<double>& x, const std::vector<double>& h, std::vector<double>&) {
        return ReferenceStep(w, ref, x, h);
      },
      seed);
}

TEST(GruCellTest, ResetAfterProductKeepsTheCandidateRecurrentBiasInsideTheReset) {
  for (int hidden : {kHidden, kWideHidden}) {
    SCOPED_TRACE(::testing::Message() << "hidden " << hidden);
    std::mt19937 rng(1);
    ExpectMatchesReference(GateWeightsRef(3, hidden, kInput, hidden, rng), {}, {}, 21);
  }
}

TEST(GruCellTest, ResetBeforeProductScalesTheStateFirst) {
  for (int hidden : {kHidden, kWideHidden}) {
    SCOPED_TRACE(::testing::Message() << "hidden " << hidden);
    std::mt19937 rng(2);
    ExpectMatchesReference(GateWeightsRef(3, hidden, kInput, hidden, rng),
                           {.reset = GruReset::kBeforeProduct}, {.reset = GruReset::kBeforeProduct},
                           22);
  }
}

TEST(GruCellTest, OtherCandidateActivationAndClip) {
  std::mt19937 rng(3);
  for (GruReset reset : {GruReset::kAfterProduct, GruReset::kBeforeProduct}) {
    const GruOptions options{
        .candidate = {ActivationKind::kScaledTanh, 0.9f, 1.3f}, .clip = 0.4f, .reset = reset};
    const Reference ref{
        .reset = reset,
        .candidate = [](double x) { return double{0.9f} * std::tanh(double{1.3f} * x); },
        .clip = double{0.4f}};
    ExpectMatchesReference(GateWeightsRef(3, kHidden, kInput, kHidden, rng), options, ref, 23);
  }
}

// ONNX GRU's f (Keras recurrent_activation): r and z both take it.
TEST(GruCellTest, OtherGateActivation) {
  std::mt19937 rng(4);
  for (GruReset reset : {GruReset::kAfterProduct, GruReset::kBeforeProduct}) {
    const GruOptions options{.gate = Activation::HardSigmoidKeras3(), .reset = reset};
    const Reference ref{.reset = reset, .gate = [](double x) {
                          return std::clamp(double{1.0f / 6.0f} * x + 0.5, 0.0, 1.0);
                        }};
    ExpectMatchesReference(GateWeightsRef(3, kHidden, kInput, kHidden, rng), options, ref, 24);
  }
}

TEST(GruCellTest, CreateRefusesOtherGateCountsAndANarrowerRecurrentInput) {
  std::mt19937 rng(5);
  EXPECT_EQ(GruCell::Create(GateWeightsRef(4, kHidden, kInput, kHidden, rng).AsGateWeights(), {})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  // A GRU mixes in its own h_{t-1} (z * h_prev): nothing narrower can be fed back.
  EXPECT_EQ(GruCell::Create(GateWeightsRef(3, kHidden, kInput, 2, rng).AsGateWeights(), {})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace rnnserve::model
