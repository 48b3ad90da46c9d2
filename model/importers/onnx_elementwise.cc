#include "model/importers/onnx_elementwise.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "model/engine/tensor.h"
#include "util/status_macros.h"

namespace rnnserve::model {
namespace {

// The constant's values per feature (1 value for a scalar) after checking
// that it broadcasts over the data along the features axis only.
absl::StatusOr<std::vector<double>> PerFeature(const OnnxConstant& c, const Axes& axes) {
  const std::string want = absl::StrCat(
      "; want a float scalar or one value per feature along the "
      "features axis of ",
      AxesToString(axes));
  if (!c.is_float || c.floats.empty() || c.shape.size() > axes.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("its constant operand is ", ShapeToString(c.shape), want));
  }
  const size_t first = axes.size() - c.shape.size();  // NumPy aligns trailing axes.
  for (size_t i = 0; i < c.shape.size(); ++i) {
    const Axis& axis = axes[first + i];
    const bool fits = c.shape[i] == 1 || (axis.kind == AxisKind::kFeatures &&
                                          (axis.size == c.shape[i] || axis.size == -1));
    if (!fits) {
      return absl::InvalidArgumentError(
          absl::StrCat("its constant operand is ", ShapeToString(c.shape), want));
    }
  }
  for (float f : c.floats) {
    if (!std::isfinite(f)) {
      return absl::InvalidArgumentError("its constant operand is not finite");
    }
  }
  return std::vector<double>(c.floats.begin(), c.floats.end());
}

// a[j] op= b[j], broadcasting a single value on either side.
template <typename F>
std::vector<double> Combine(const std::vector<double>& a, const std::vector<double>& b, F f) {
  const size_t n = std::max(a.size(), b.size());
  std::vector<double> out(n);
  for (size_t j = 0; j < n; ++j) out[j] = f(a[a.size() == 1 ? 0 : j], b[b.size() == 1 ? 0 : j]);
  return out;
}

}  // namespace

bool IsElementwiseAffine(const std::string& op) {
  return op == "Add" || op == "Sub" || op == "Mul" || op == "Div";
}

absl::StatusOr<AffineFold> FoldElementwise(const AffineFold& fold, const std::string& op,
                                           const OnnxConstant& constant, bool data_first,
                                           const Axes& axes) {
  RNN_ASSIGN_OR_RETURN(const std::vector<double> c, PerFeature(constant, axes));
  if (op == "Div" && !data_first) {
    return absl::InvalidArgumentError(
        "divides a constant by the data: c / x "
        "is not an affine map of the input, "
        "so it cannot be a per-step transform");
  }
  if ((op == "Mul" || op == "Div") &&
      std::any_of(c.begin(), c.end(), [](double v) { return v == 0.0; })) {
    return absl::InvalidArgumentError(
        absl::StrCat(op == "Mul" ? "multiplies" : "divides", " by zero"));
  }
  const auto add = [](double a, double b) { return a + b; };
  const auto sub = [](double a, double b) { return a - b; };
  const auto mul = [](double a, double b) { return a * b; };
  const auto div = [](double a, double b) { return a / b; };
  const auto negate = [](std::vector<double> v) {
    for (double& d : v) d = -d;
    return v;
  };
  AffineFold out = fold;
  if (fold.side == StepTransform::Side::kInput) {
    // value = (x - o) / s.  value + c = (x - (o - c s)) / s;
    // c - value = (x - (o + c s)) / -s; value * k = (x - o) / (s / k).
    const std::vector<double> cs = Combine(c, fold.scale, mul);
    if (op == "Add") out.offset = Combine(fold.offset, cs, sub);
    if (op == "Sub") out.offset = Combine(fold.offset, cs, add);
    if (op == "Sub" && !data_first) out.scale = negate(fold.scale);
    if (op == "Mul") out.scale = Combine(fold.scale, c, div);
    if (op == "Div") out.scale = Combine(fold.scale, c, mul);
  } else {
    // value = y s + o.  value + c = y s + (o + c); c - value = y (-s) + (c -
    // o).
    if (op == "Add") out.offset = Combine(fold.offset, c, add);
    if (op == "Sub" && data_first) out.offset = Combine(fold.offset, c, sub);
    if (op == "Sub" && !data_first) {
      out.offset = Combine(c, fold.offset, sub);
      out.scale = negate(fold.scale);
    }
    if (op == "Mul") {
      out.offset = Combine(fold.offset, c, mul);
      out.scale = Combine(fold.scale, c, mul);
    }
    if (op == "Div") {
      out.offset = Combine(fold.offset, c, div);
      out.scale = Combine(fold.scale, c, div);
    }
  }
  return out;
}

absl::StatusOr<StepTransform> ToStepTransform(const AffineFold& fold) {
  auto to_float = [](const std::vector<double>& v) {
    return std::vector<float>(v.begin(), v.end());
  };
  return StepTransform::Create(fold.side, to_float(fold.offset), to_float(fold.scale));
}

}  // namespace rnnserve::model
