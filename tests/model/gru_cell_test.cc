// GruCell alone: a few steps of a batch of sessions against the GRU equations
// of DESIGN.md section 2 in double precision (gates r, z, n; update
// h = (1 - z) * n + z * h_prev), with the reset after the recurrent product
// (b_hn inside r * (.)) and before it, on the fused kernel path and the
// general one (another candidate activation, clip).
#include "model/engine/gru_cell.h"

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
constexpr int kHidden = 5;
constexpr int kBatch = 3;
constexpr int kSteps = 4;
constexpr double kTolerance = 2e-6;

struct Reference {
  GruReset reset = GruReset::kAfterProduct;
  std::function<double(double)> candidate = [](double x) { return std::tanh(x); };
  double clip = 0.0;
};

double Clamp(double x, double clip) { return clip > 0.0 ? std::clamp(x, -clip, clip) : x; }

void ReferenceStep(const GateWeightsRef& w, const Reference& ref, const std::vector<double>& x,
                   std::vector<double>& h) {
  const int n = w.hidden;
  const std::vector<double> no_input(w.input, 0.0), no_state(n, 0.0);
  std::vector<double> r(n), rh(n), h_next(n);
  for (int j = 0; j < n; ++j) r[j] = SigmoidRef(Clamp(w.PreActivation(x, h, j), ref.clip));
  for (int j = 0; j < n; ++j) rh[j] = r[j] * h[j];
  for (int j = 0; j < n; ++j) {
    const double z = SigmoidRef(Clamp(w.PreActivation(x, h, n + j), ref.clip));
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
  h = h_next;
}

void ExpectMatchesReference(const GateWeightsRef& w, const GruOptions& options,
                            const Reference& ref, unsigned seed) {
  absl::StatusOr<GruCell> cell = GruCell::Create(w.AsGateWeights(), options);
  ASSERT_TRUE(cell.ok()) << cell.status();
  std::mt19937 rng(seed);
  CellBuffers buffers(kBatch, 3 * kHidden, kHidden, kHidden);
  std::vector<std::vector<double>> h(kBatch, std::vector<double>(kHidden, 0.0));
  buffers.recurrent_input.setZero();
  for (int t = 0; t < kSteps; ++t) {
    const std::vector<std::vector<double>> x = RandomRows(kBatch, kInput, rng);
    Project(cell->weights(), x, buffers);
    CellStep step = buffers.view();
    cell->Step(step);
    for (int b = 0; b < kBatch; ++b) {
      ReferenceStep(w, ref, x[b], h[b]);
      for (int j = 0; j < kHidden; ++j) {
        ASSERT_NEAR(buffers.output(b, j), h[b][j], kTolerance) << "step " << t << ", row " << b;
      }
    }
    buffers.recurrent_input = buffers.output;
  }
}

TEST(GruCellTest, ResetAfterProductKeepsTheCandidateRecurrentBiasInsideTheReset) {
  std::mt19937 rng(1);
  ExpectMatchesReference(GateWeightsRef(3, kHidden, kInput, kHidden, rng), {}, {}, 21);
}

TEST(GruCellTest, ResetBeforeProductScalesTheStateFirst) {
  std::mt19937 rng(2);
  ExpectMatchesReference(GateWeightsRef(3, kHidden, kInput, kHidden, rng),
                         {.reset = GruReset::kBeforeProduct}, {.reset = GruReset::kBeforeProduct},
                         22);
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

TEST(GruCellTest, CreateRefusesOtherGateCounts) {
  std::mt19937 rng(4);
  EXPECT_EQ(GruCell::Create(GateWeightsRef(4, kHidden, kInput, kHidden, rng).AsGateWeights(), {})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace rnnserve::model
