// The element-wise functions the cells and heads apply (DESIGN.md section 2),
// with the parameters ONNX gives some of them. Shared by every cell type.
#ifndef RNNSERVE_MODEL_ENGINE_ACTIVATION_H_
#define RNNSERVE_MODEL_ENGINE_ACTIVATION_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rnnserve::model {

enum class ActivationKind {
  kIdentity,
  kSigmoid,
  kTanh,
  kRelu,
  kHardSigmoid,      // clip(alpha * x + beta, 0, 1)
  kAffine,           // alpha * x + beta
  kLeakyRelu,        // x < 0 ? alpha * x : x
  kThresholdedRelu,  // x > alpha ? x : 0
  kScaledTanh,       // alpha * tanh(beta * x)
  kElu,              // x < 0 ? alpha * (exp(x) - 1) : x
  kSoftsign,         // x / (1 + |x|)
  kSoftplus,         // log(1 + exp(x))
};

// A function and its parameters. Value type; the kind is chosen at load time
// and Apply() switches once per call, never per element.
struct Activation {
  ActivationKind kind = ActivationKind::kIdentity;
  float alpha = 0.0f;
  float beta = 0.0f;

  static Activation Identity() { return {ActivationKind::kIdentity}; }
  static Activation Sigmoid() { return {ActivationKind::kSigmoid}; }
  static Activation Tanh() { return {ActivationKind::kTanh}; }
  static Activation Relu() { return {ActivationKind::kRelu}; }
  // Keras 2 and ONNX default: clip(0.2x + 0.5, 0, 1).
  static Activation HardSigmoidKeras2() {
    return {ActivationKind::kHardSigmoid, 0.2f, 0.5f};
  }
  // Keras 3: clip(x / 6 + 0.5, 0, 1).
  static Activation HardSigmoidKeras3() {
    return {ActivationKind::kHardSigmoid, 1.0f / 6.0f, 0.5f};
  }

  // True when 1 - f(x) == f(-x) for every x, so a gate computing 1 - f(a)
  // can be rewritten as f(-a) by negating its weights (GRU "swapped" update).
  bool IsComplementSymmetric() const;

  friend bool operator==(const Activation&, const Activation&) = default;
};

// Applies `activation` to x[0..n) in place. Vectorised; allocates nothing;
// each element's result depends on its value and index only, not on x's
// address (see ForEachAlignedBlock).
void Apply(const Activation& activation, float* x, int64_t n);

// Calls f(block, m) on x[0..n) one block of at most kAlignedBlock elements at
// a time, each copied into a 64-byte-aligned buffer and back. Eigen
// vectorises an unaligned array from its first aligned element and computes
// the elements before it with scalar code, whose exp, tanh and logistic
// round differently: a session's results would then follow its row's
// address (its place in a batch, the allocator). In an aligned block the
// path an element takes depends on its index alone.
inline constexpr int64_t kAlignedBlock = 256;
template <typename F>
void ForEachAlignedBlock(float* x, int64_t n, F&& f) {
  alignas(64) float block[kAlignedBlock];
  for (int64_t start = 0; start < n; start += kAlignedBlock) {
    const int64_t m = std::min(kAlignedBlock, n - start);
    std::copy_n(x + start, m, block);
    f(block, m);
    std::copy_n(block, m, x + start);
  }
}

// Clamps x[0..n) to [-limit, limit] in place (ONNX `clip`).
void Clip(float limit, float* x, int64_t n);

// "hard_sigmoid(alpha=0.2, beta=0.5)", for inspect and messages.
std::string ActivationToString(const Activation& activation);

// Names accepted in config.json: identity (alias linear), sigmoid, tanh, relu,
// hard_sigmoid (flavour from `hard_sigmoid_flavour`: keras2 or keras3),
// softsign, softplus, elu (alpha 1). INVALID_ARGUMENT names the choices.
absl::StatusOr<Activation> ActivationFromConfigName(
    absl::string_view name, absl::string_view hard_sigmoid_flavour);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_ENGINE_ACTIVATION_H_
