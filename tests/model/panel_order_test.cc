// PanelOrder (gemm_kernels.h): a product run backward over its panels gives
// the same bits as forward, on every instruction set this CPU runs and every
// weight precision, for batches of one tile and of several.
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "model/kernels/kernel_isa.h"
#include "model/kernels/packed_matrix.h"

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
        SCOPED_TRACE(testing::Message()
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

}  // namespace
}  // namespace rnnserve::model
