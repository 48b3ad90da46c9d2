// The fused LSTM and GRU gate kernels on every instruction set that has them,
// against the equations in double precision: odd hidden sizes (a row's last
// lanes masked), pre-activations from far negative (the exp branch of the
// sigmoid) to far positive (the clamps), and nothing written past the rows.
#include "model/kernels/fused_gates.h"

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "model/kernels/kernel_isa.h"

namespace rnnserve::model {
namespace {

constexpr float kTolerance = 2e-6f;

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Random pre-activations with the edge values mixed in.
std::vector<float> PreActivations(int64_t size, std::mt19937& rng) {
  static constexpr float kEdges[] = {-100.0f, -87.5f, -20.0f, -9.5f, -9.0f, -8.99f, -1e-5f,
                                     0.0f,    3e-4f,  5e-4f,  7.99f, 8.5f,  15.8f,  100.0f};
  std::uniform_real_distribution<float> uniform(-6.0f, 6.0f);
  std::vector<float> v(size);
  for (int64_t i = 0; i < size; ++i) {
    v[i] = i % 5 == 0 ? kEdges[(i / 5) % std::size(kEdges)] : uniform(rng);
  }
  return v;
}

std::vector<KernelIsa> FusedIsas() {
  std::vector<KernelIsa> isas;
  for (KernelIsa isa : SupportedKernelIsas()) {
    if (HasFusedGates(isa)) isas.push_back(isa);
  }
  return isas;
}

class FusedGatesTest : public ::testing::TestWithParam<KernelIsa> {};

TEST_P(FusedGatesTest, LstmMatchesTheEquations) {
  for (int64_t hidden : {1, 7, 8, 16, 17, 33, 256}) {
    for (int64_t batch : {1, 3}) {
      SCOPED_TRACE(testing::Message() << "hidden " << hidden << ", batch " << batch);
      std::mt19937 rng(static_cast<unsigned>(hidden * 7 + batch));
      const std::vector<float> gates = PreActivations(batch * 4 * hidden, rng);
      std::vector<float> cell = PreActivations(batch * hidden + 1, rng);
      const std::vector<float> cell_in = cell;
      const float sentinel = std::numeric_limits<float>::quiet_NaN();
      std::vector<float> out(batch * hidden + 1, sentinel);
      cell.back() = sentinel;
      FusedLstmGates(GetParam(), {gates.data(), cell.data(), out.data(), batch, hidden});
      for (int64_t b = 0; b < batch; ++b) {
        const float* g = gates.data() + b * 4 * hidden;
        for (int64_t j = 0; j < hidden; ++j) {
          const double c = Sigmoid(g[hidden + j]) * cell_in[b * hidden + j] +
                           Sigmoid(g[j]) * std::tanh(double{g[2 * hidden + j]});
          const double h = Sigmoid(g[3 * hidden + j]) * std::tanh(c);
          // The sigmoid is accurate to ~1e-7 absolute (Eigen's rational for
          // sigmoid - 0.5), and cells start anywhere up to 100 here.
          const double c_in = std::abs(cell_in[b * hidden + j]);
          ASSERT_NEAR(cell[b * hidden + j], c, kTolerance + 2e-7 * c_in) << b << ", " << j;
          ASSERT_NEAR(out[b * hidden + j], h, kTolerance + 2e-7 * c_in) << b << ", " << j;
        }
      }
      EXPECT_TRUE(std::isnan(out.back())) << "wrote past the last row";
      EXPECT_TRUE(std::isnan(cell.back())) << "wrote past the last row";
    }
  }
}

TEST_P(FusedGatesTest, GruMatchesTheEquations) {
  for (int64_t hidden : {1, 7, 8, 16, 17, 33, 256}) {
    for (int64_t batch : {1, 3}) {
      SCOPED_TRACE(testing::Message() << "hidden " << hidden << ", batch " << batch);
      std::mt19937 rng(static_cast<unsigned>(hidden * 11 + batch));
      const std::vector<float> recurrent = PreActivations(batch * 3 * hidden, rng);
      const std::vector<float> projected = PreActivations(batch * 3 * hidden, rng);
      std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
      std::vector<float> h_prev(batch * hidden);
      for (float& v : h_prev) v = unit(rng);
      std::vector<float> out(batch * hidden + 1, std::numeric_limits<float>::quiet_NaN());
      FusedGruGates(GetParam(), {recurrent.data(), projected.data(), h_prev.data(),
                                 out.data(), batch, hidden});
      for (int64_t b = 0; b < batch; ++b) {
        const float* s = recurrent.data() + b * 3 * hidden;
        const float* p = projected.data() + b * 3 * hidden;
        for (int64_t j = 0; j < hidden; ++j) {
          const double r = Sigmoid(double{s[j]} + p[j]);
          const double z = Sigmoid(double{s[hidden + j]} + p[hidden + j]);
          const double n = std::tanh(p[2 * hidden + j] + r * s[2 * hidden + j]);
          const double h = (1.0 - z) * n + z * h_prev[b * hidden + j];
          ASSERT_NEAR(out[b * hidden + j], h, kTolerance) << b << ", " << j;
        }
      }
      EXPECT_TRUE(std::isnan(out.back())) << "wrote past the last row";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, FusedGatesTest, ::testing::ValuesIn(FusedIsas()),
                         [](const ::testing::TestParamInfo<KernelIsa>& info) {
                           return KernelIsaName(info.param);
                         });
// A CPU without AVX2 has no fused kernels: nothing to instantiate there, and
// KernelIsaTest.EveryKernelVariantIsTestedOnThisMachine says so (and fails
// when RNNSERVE_REQUIRE_KERNELS names the variant).
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(FusedGatesTest);

TEST(FusedGatesTest, GenericHasNone) { EXPECT_FALSE(HasFusedGates(KernelIsa::kGeneric)); }

}  // namespace
}  // namespace rnnserve::model
