// How close an engine output must be to its PyTorch / ONNX reference, for
// every test that compares the two.
#ifndef RNNSERVE_TESTS_COMMON_PARITY_TOLERANCE_H_
#define RNNSERVE_TESTS_COMMON_PARITY_TOLERANCE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "model/layer_stack.h"

namespace rnnserve::testing {

inline constexpr float kParityTolerance = 1e-5f;

// kParityTolerance in the model's own units. An output transform y * s + o
// (issue 21; the demo forecaster answers sunspot numbers, s = 34.06) scales
// the engine's and the reference's rounding alike, so output j may differ by
// kParityTolerance * |s_j|; never less than kParityTolerance.
inline float ParityTolerance(const model::LayerStack& stack, int64_t j) {
  const auto& transform = stack.output_transform();
  if (!transform.has_value()) return kParityTolerance;
  const auto& scale = transform->scale();
  return kParityTolerance * std::max(1.0f, std::fabs(scale[scale.size() == 1 ? 0 : j]));
}

}  // namespace rnnserve::testing

#endif  // RNNSERVE_TESTS_COMMON_PARITY_TOLERANCE_H_
