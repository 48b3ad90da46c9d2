// How close an engine output must be to its PyTorch / ONNX reference, for
// every test that compares the two.
#ifndef RNNSERVE_TESTS_COMMON_PARITY_TOLERANCE_H_
#define RNNSERVE_TESTS_COMMON_PARITY_TOLERANCE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "model/engine/layer_stack.h"

namespace rnnserve::testing {

inline constexpr float kParityTolerance = 1e-5f;

// How much output j of `stack` is scaled by its output transform y * s + o
// (issue 21; the demo forecaster answers sunspot numbers, s = 34.06): the
// transform scales the engine's and the reference's rounding alike, so a
// tolerance in the model's units is the plain one times this; never below 1.
inline float OutputScale(const model::LayerStack& stack, int64_t j) {
  const auto& transform = stack.output_transform();
  if (!transform.has_value()) return 1.0f;
  const auto& scale = transform->scale();
  return std::max(1.0f, std::fabs(scale[scale.size() == 1 ? 0 : j]));
}

// kParityTolerance in the model's own units.
inline float ParityTolerance(const model::LayerStack& stack, int64_t j) {
  return kParityTolerance * OutputScale(stack, j);
}

}  // namespace rnnserve::testing

#endif  // RNNSERVE_TESTS_COMMON_PARITY_TOLERANCE_H_
