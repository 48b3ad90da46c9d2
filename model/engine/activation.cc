#include "model/engine/activation.h"

#include <Eigen/Core>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/engine/tensor.h"

namespace rnnserve::model {
bool Activation::IsComplementSymmetric() const {
  switch (kind) {
    case ActivationKind::kSigmoid:
      return true;
    case ActivationKind::kHardSigmoid:
      return beta == 0.5f;
    default:
      return false;
  }
}

namespace {

// Apply() on one aligned block.
void ApplyToBlock(const Activation& activation, float* data, int64_t n) {
  Eigen::Map<Eigen::ArrayXf, Eigen::Aligned64> x(data, n);
  const float alpha = activation.alpha;
  const float beta = activation.beta;
  switch (activation.kind) {
    case ActivationKind::kIdentity:
      return;
    case ActivationKind::kSigmoid:
      x = x.logistic();
      return;
    case ActivationKind::kTanh:
      x = x.tanh();
      return;
    case ActivationKind::kRelu:
      x = x.max(0.0f);
      return;
    case ActivationKind::kHardSigmoid:
      x = (alpha * x + beta).max(0.0f).min(1.0f);
      return;
    case ActivationKind::kAffine:
      x = alpha * x + beta;
      return;
    case ActivationKind::kLeakyRelu:
      x = (x < 0.0f).select(alpha * x, x);
      return;
    case ActivationKind::kThresholdedRelu:
      x = (x > alpha).select(x, 0.0f);
      return;
    case ActivationKind::kScaledTanh:
      x = alpha * (beta * x).tanh();
      return;
    case ActivationKind::kElu:
      x = (x < 0.0f).select(alpha * (x.exp() - 1.0f), x);
      return;
    case ActivationKind::kSoftsign:
      x = x / (1.0f + x.abs());
      return;
    case ActivationKind::kSoftplus:
      // log1p(exp(x)) overflows for large x, where softplus(x) == x.
      x = (x > 20.0f).select(x, x.exp().log1p());
      return;
  }
}

}  // namespace

void Apply(const Activation& activation, float* data, int64_t n) {
  if (activation.kind == ActivationKind::kIdentity) return;
  ForEachAlignedBlock(data, n, [&activation](float* block, int64_t m) {
    ApplyToBlock(activation, block, m);
  });
}

void Clip(float limit, float* data, int64_t n) {
  ArrayMap x(data, n);
  x = x.max(-limit).min(limit);
}

std::string ActivationToString(const Activation& a) {
  switch (a.kind) {
    case ActivationKind::kIdentity:
      return "identity";
    case ActivationKind::kSigmoid:
      return "sigmoid";
    case ActivationKind::kTanh:
      return "tanh";
    case ActivationKind::kRelu:
      return "relu";
    case ActivationKind::kHardSigmoid:
      return absl::StrFormat("hard_sigmoid(alpha=%g, beta=%g)", a.alpha, a.beta);
    case ActivationKind::kAffine:
      return absl::StrFormat("affine(alpha=%g, beta=%g)", a.alpha, a.beta);
    case ActivationKind::kLeakyRelu:
      return absl::StrFormat("leaky_relu(alpha=%g)", a.alpha);
    case ActivationKind::kThresholdedRelu:
      return absl::StrFormat("thresholded_relu(alpha=%g)", a.alpha);
    case ActivationKind::kScaledTanh:
      return absl::StrFormat("scaled_tanh(alpha=%g, beta=%g)", a.alpha, a.beta);
    case ActivationKind::kElu:
      return absl::StrFormat("elu(alpha=%g)", a.alpha);
    case ActivationKind::kSoftsign:
      return "softsign";
    case ActivationKind::kSoftplus:
      return "softplus";
  }
  return "unknown";
}

absl::StatusOr<Activation> ActivationFromConfigName(
    absl::string_view name, absl::string_view hard_sigmoid_flavour) {
  if (name == "identity" || name == "linear") return Activation::Identity();
  if (name == "sigmoid") return Activation::Sigmoid();
  if (name == "tanh") return Activation::Tanh();
  if (name == "relu") return Activation::Relu();
  if (name == "softsign") return {{ActivationKind::kSoftsign}};
  if (name == "softplus") return {{ActivationKind::kSoftplus}};
  if (name == "elu") return {{ActivationKind::kElu, 1.0f}};
  if (name == "hard_sigmoid") {
    if (hard_sigmoid_flavour == "keras2") return Activation::HardSigmoidKeras2();
    if (hard_sigmoid_flavour == "keras3") return Activation::HardSigmoidKeras3();
    return absl::InvalidArgumentError(
        absl::StrCat("hard_sigmoid flavour is \"", hard_sigmoid_flavour,
                     "\", want \"keras2\" (clip(0.2x+0.5)) or \"keras3\" "
                     "(clip(x/6+0.5))"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "activation \"", name,
      "\" is not supported; want one of identity, linear, sigmoid, tanh, relu, "
      "hard_sigmoid, softsign, softplus, elu"));
}

}  // namespace rnnserve::model
