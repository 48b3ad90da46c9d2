// Issue 17: a model keeps only its packed weights, at every precision: an
// fp32 model holds its weights once, a bf16 model about half of that and an
// int8 model a quarter. Measured as the heap a LayerStack holds (glibc's
// mallinfo2), so any copy left behind shows up, wherever it hides.
#include <malloc.h>

#include <iostream>
#include <memory>
#include <random>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "model/engine/layer_stack.h"
#include "tests/model/random_stack.h"

namespace rnnserve::model {
namespace {

using testing::RandomStack;

int64_t HeapBytes() {
  const struct mallinfo2 info = mallinfo2();
  return static_cast<int64_t>(info.uordblks + info.hblkhd);
}

// Heap bytes held by the stack `make` returns, once its temporaries are gone.
template <typename Make>
int64_t HeldBytes(Make make) {
  const int64_t before = HeapBytes();
  const std::unique_ptr<LayerStack> stack = make();
  return HeapBytes() - before;
}

TEST(WeightMemoryTest, EveryPrecisionHoldsOnlyItsPackedWeights) {
  // LSTM 256 -> 512 x 2 with a projection-free head: 14.7 MB of fp32 weights.
  const LayerStack fp32 = RandomStack<LstmCell>(256, 512, 2);
  const int64_t fp32_weights = fp32.weight_bytes();
  const int64_t fp32_held = HeldBytes([&] { return std::make_unique<LayerStack>(fp32); });
  const int64_t bf16_held = HeldBytes(
      [&] { return std::make_unique<LayerStack>(fp32.WithWeights(WeightPrecision::kBf16)); });
  const int64_t int8_held = HeldBytes(
      [&] { return std::make_unique<LayerStack>(fp32.WithWeights(WeightPrecision::kInt8)); });
  std::cout << absl::StrFormat(
      "held: fp32 %d B (%.3f of its packed %d B), bf16 %d B (%.3f), int8 %d B (%.3f)\n", fp32_held,
      static_cast<double>(fp32_held) / fp32_weights, fp32_weights, bf16_held,
      static_cast<double>(bf16_held) / fp32_weights, int8_held,
      static_cast<double>(int8_held) / fp32_weights);
  // The fp32 weights once, half and a quarter of them, plus biases, scales
  // and padding (a float32 copy beside fp32's packed one would be 2x).
  EXPECT_LT(fp32_held, 1.02 * fp32_weights);
  EXPECT_LT(bf16_held, 0.52 * fp32_weights);
  EXPECT_LT(int8_held, 0.27 * fp32_weights);
}

// A GRU layer with the reset before the product: its cell packs the r, z and
// n columns apart, so they are unpacked side by side again.
LayerStack ResetBeforeGru(int input, int hidden) {
  std::mt19937 rng(9);
  GateWeights weights{.gates = 3,
                      .hidden_size = hidden,
                      .input = testing::RandomMatrix(input, 3 * hidden, rng),
                      .recurrent = testing::RandomMatrix(hidden, 3 * hidden, rng),
                      .input_bias = testing::RandomMatrix(1, 3 * hidden, rng),
                      .recurrent_bias = testing::RandomMatrix(1, 3 * hidden, rng)};
  GruCell cell = *GruCell::Create(std::move(weights), {.reset = GruReset::kBeforeProduct});
  std::vector<LayerLevel> levels;
  levels.push_back({*RecurrentLayer::Create(std::move(cell), std::nullopt), std::nullopt});
  return *LayerStack::Create(std::nullopt, std::move(levels), std::nullopt, false);
}

TEST(WeightMemoryTest, RepackingReducedWeightsStartsFromTheirValues) {
  const LayerStack stacks[] = {RandomStack<LstmCell>(16, 32, 2), RandomStack<GruCell>(16, 32, 2),
                               RandomStack<RnnCell>(16, 32, 2), ResetBeforeGru(16, 32)};
  std::mt19937 rng(3);
  const RowMatrix x = testing::RandomMatrix(8, 16, rng);
  const StepInput input = StepInput::Floats(x.data(), x.rows());
  for (const LayerStack& fp32 : stacks) {
    const LayerStack bf16 = fp32.WithWeights(WeightPrecision::kBf16);
    // bf16 values are exact in bf16: packing them again changes nothing.
    const LayerStack again =
        bf16.WithWeights(WeightPrecision::kFp32).WithWeights(WeightPrecision::kBf16);
    const absl::StatusOr<RowMatrix> want = bf16.RunSequence(input);
    const absl::StatusOr<RowMatrix> got = again.RunSequence(input);
    ASSERT_TRUE(want.ok() && got.ok());
    EXPECT_EQ(*want, *got);
    EXPECT_NE(*want, *fp32.RunSequence(input));  // bf16 did round
  }
}

}  // namespace
}  // namespace rnnserve::model
