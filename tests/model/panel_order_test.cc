// PanelOrder (gemm_kernels.h): a product run backward over its panels gives
// the same bits as forward, on every instruction set this CPU runs and every
// weight precision, for batches of one tile and of several; and a stack's
// steps alternate it from one call to the next (Workspace::backwards_next).
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "model/engine/lstm_cell.h"
#include "model/engine/workspace.h"
#include "model/kernels/kernel_isa.h"
#include "model/kernels/packed_matrix.h"
#include "tests/model/random_stack.h"

namespace rnnserve::model {
namespace {

using internal::PanelOrder;

TEST(PanelOrderTest, BackwardGivesTheSameBitsAsForward) {
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (KernelIsa isa : SupportedKernelIsas()) {
    for (WeightPrecision precision :
         {WeightPrecision::kFp32, WeightPrecision::kBf16, WeightPrecision::kInt8}) {
      for (int64_t m : {1, 5, 13, 40}) {
        SCOPED_TRACE(::testing::Message()
                     << KernelIsaName(isa) << " " << WeightPrecisionName(precision) << " m=" << m);
        const int64_t k = 70, n = 300;  // five panels, the last partial
        std::vector<float> w(k * n), x(m * k), bias(n);
        for (float& v : w) v = uniform(rng);
        for (float& v : x) v = uniform(rng);
        for (float& v : bias) v = uniform(rng);
        const PackedMatrix packed = PackedMatrix::Pack(w.data(), k, n, n, isa, precision);
        std::vector<float> forward(m * n), backward(m * n);
        packed.MultiplyAdd(x.data(), k, m, bias.data(), 0, forward.data(), n);
        packed.MultiplyAdd(x.data(), k, m, bias.data(), 0, backward.data(), n,
                           PanelOrder::kBackward);
        EXPECT_EQ(forward, backward);
      }
    }
  }
}

// Each call starts on the order its previous call did not end with: one
// step flips it, two keep it, three flip it again.
TEST(PanelOrderTest, StepsAlternateTheOrderFromOneCallToTheNext) {
  const LayerStack stack = testing::RandomStack<LstmCell>(8, 16, 2);
  std::vector<float> state(stack.state_size());
  stack.InitState(state.data());
  std::vector<float> x(3 * 8, 0.25f), out(3 * stack.output_size());
  Workspace workspace;
  EXPECT_FALSE(workspace.backwards_next());
  for (const auto& [steps, backwards_after] :
       std::vector<std::pair<int, bool>>{{1, true}, {2, true}, {3, false}, {1, true}}) {
    SCOPED_TRACE(steps);
    ASSERT_TRUE(
        stack.StepChunk(state.data(), StepInput::Floats(x.data(), steps), out.data(), workspace)
            .ok());
    EXPECT_EQ(workspace.backwards_next(), backwards_after);
  }
}

}  // namespace
}  // namespace rnnserve::model
