#include "model/importers/onnx_constant_eval.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "model/engine/tensor.h"
#include "model/importers/onnx_axes.h"
#include "util/status_macros.h"

namespace rnnserve::model {
namespace {

using Shape = std::vector<int64_t>;

absl::Status Invalid(absl::string_view message) { return absl::InvalidArgumentError(message); }

absl::Status DependsOnLength() {
  return Invalid(
      "computes with the sequence length, which is known only when "
      "a session runs");
}

// The element count of `shape`, refused past kMaxEvaluatedElements.
absl::StatusOr<int64_t> CountOf(const Shape& shape) {
  int64_t count = 1;
  for (int64_t d : shape) {
    if (d == kSymbolicDim) return DependsOnLength();
    if (d < 0) return Invalid(absl::StrCat("has a negative dimension ", d));
    if (d > 0 && count > kMaxEvaluatedElements / d) {
      return Invalid(
          absl::StrCat("would make a tensor of more than ", kMaxEvaluatedElements, " elements"));
    }
    count *= d;
  }
  return count;
}

Shape StridesOf(const Shape& shape) {
  Shape strides(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) {
    strides[i] = strides[i + 1] * shape[i + 1];
  }
  return strides;
}

// The tensor whose element i is element source[i] of `in`: every op that
// only moves values (Gather, Slice, Concat of one input, Transpose, Expand).
OnnxConstant Pick(const OnnxConstant& in, Shape shape, const std::vector<int64_t>& source) {
  OnnxConstant out;
  out.shape = std::move(shape);
  out.is_float = in.is_float;
  if (in.is_float) {
    out.floats.reserve(source.size());
    for (int64_t s : source) out.floats.push_back(in.floats[s]);
  } else {
    out.ints.reserve(source.size());
    for (int64_t s : source) out.ints.push_back(in.ints[s]);
  }
  return out;
}

// For each element of `out_shape`, the element of a tensor of `in_shape`
// that numpy broadcasting reads.
absl::StatusOr<std::vector<int64_t>> BroadcastSources(const Shape& in_shape,
                                                      const Shape& out_shape) {
  RNN_ASSIGN_OR_RETURN(const int64_t count, CountOf(out_shape));
  const int offset = static_cast<int>(out_shape.size() - in_shape.size());
  const Shape in_strides = StridesOf(in_shape);
  std::vector<int64_t> sources(count, 0);
  for (int64_t i = 0; i < count; ++i) {
    int64_t rest = i;
    int64_t source = 0;
    for (int d = static_cast<int>(out_shape.size()) - 1; d >= 0; --d) {
      const int64_t index = rest % out_shape[d];
      rest /= out_shape[d];
      const int in_d = d - offset;
      if (in_d >= 0 && in_shape[in_d] != 1) source += index * in_strides[in_d];
    }
    sources[i] = source;
  }
  return sources;
}

absl::StatusOr<Shape> BroadcastShape(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()), 1);
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    const int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1) {
      return Invalid(
          absl::StrCat("cannot broadcast ", ShapeToString(a), " with ", ShapeToString(b)));
    }
    out[out.size() - 1 - i] = da == 1 ? db : da;
  }
  return out;
}

// The integer values of an operand that says where or how much (axes,
// indices, a target shape): known numbers only.
absl::StatusOr<std::vector<int64_t>> KnownInts(const OnnxConstant* c, absl::string_view what) {
  if (c == nullptr || c->is_float) {
    return Invalid(absl::StrCat(what, " must be an integer tensor"));
  }
  if (std::find(c->ints.begin(), c->ints.end(), kSymbolicDim) != c->ints.end()) {
    return DependsOnLength();
  }
  return c->ints;
}

// An operand moved from attributes to inputs over the opsets.
absl::StatusOr<std::vector<int64_t>> IntsOperand(const onnx::NodeProto& node,
                                                 absl::Span<const OnnxConstant* const> inputs,
                                                 size_t index, absl::string_view attribute) {
  if (index < inputs.size() && inputs[index] != nullptr) return KnownInts(inputs[index], attribute);
  return NodeAttributes(node).Ints(attribute);
}

absl::StatusOr<OnnxConstant> EvalGather(const onnx::NodeProto& node, const OnnxConstant& data,
                                        const OnnxConstant* indices_tensor) {
  RNN_ASSIGN_OR_RETURN(const std::vector<int64_t> indices, KnownInts(indices_tensor, "indices"));
  RNN_ASSIGN_OR_RETURN(const int axis,
                       NormalizeAxis(NodeAttributes(node).Int("axis", 0), data.shape.size()));
  Shape shape(data.shape.begin(), data.shape.begin() + axis);
  shape.insert(shape.end(), indices_tensor->shape.begin(), indices_tensor->shape.end());
  shape.insert(shape.end(), data.shape.begin() + axis + 1, data.shape.end());
  RNN_ASSIGN_OR_RETURN(const int64_t count, CountOf(shape));
  const int64_t n = data.shape[axis];
  const int64_t inner = StridesOf(data.shape)[axis];
  const int64_t outer = std::accumulate(data.shape.begin(), data.shape.begin() + axis, int64_t{1},
                                        std::multiplies<int64_t>());
  std::vector<int64_t> source;
  source.reserve(count);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t index : indices) {
      if (index < -n || index >= n) {
        return Invalid(absl::StrCat("index ", index, " is outside an axis of size ", n));
      }
      const int64_t i = index < 0 ? index + n : index;
      for (int64_t k = 0; k < inner; ++k) source.push_back((o * n + i) * inner + k);
    }
  }
  return Pick(data, std::move(shape), source);
}

absl::StatusOr<OnnxConstant> EvalSlice(const onnx::NodeProto& node,
                                       absl::Span<const OnnxConstant* const> inputs,
                                       int64_t opset) {
  const OnnxConstant& data = *inputs[0];
  std::vector<int64_t> starts, ends, axes, steps;
  if (opset < 10) {
    const NodeAttributes attributes(node);
    starts = attributes.Ints("starts");
    ends = attributes.Ints("ends");
    axes = attributes.Ints("axes");
  } else {
    if (inputs.size() < 3 || inputs[1] == nullptr || inputs[2] == nullptr) {
      return Invalid("wants starts and ends inputs");
    }
    RNN_ASSIGN_OR_RETURN(starts, IntsOperand(node, inputs, 1, "starts"));
    RNN_ASSIGN_OR_RETURN(ends, IntsOperand(node, inputs, 2, "ends"));
    RNN_ASSIGN_OR_RETURN(axes, IntsOperand(node, inputs, 3, "axes"));
    RNN_ASSIGN_OR_RETURN(steps, IntsOperand(node, inputs, 4, "steps"));
  }
  if (axes.empty()) {
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(i);
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size()) {
    return Invalid("starts, ends, axes and steps differ in length");
  }
  // Per axis: the first index, the step and the count taken.
  const int rank = data.shape.size();
  Shape first(rank, 0), step(rank, 1), shape = data.shape;
  for (size_t i = 0; i < starts.size(); ++i) {
    RNN_ASSIGN_OR_RETURN(const int axis, NormalizeAxis(axes[i], rank));
    const int64_t n = data.shape[axis];
    if (steps[i] == 0 || steps[i] == std::numeric_limits<int64_t>::min()) {
      return Invalid(absl::StrCat("has a step of ", steps[i]));
    }
    // Negative indices count from the end; out-of-range ones saturate, as
    // the specification clamps them (torch writes INT64_MAX for "to the end").
    auto clamp = [n](int64_t v, int64_t lo, int64_t hi) {
      if (v < 0) v = v < -n ? -1 : v + n;
      return std::max(lo, std::min(v, hi));
    };
    const int64_t s = steps[i] > 0 ? clamp(starts[i], 0, n) : clamp(starts[i], 0, n - 1);
    const int64_t e = steps[i] > 0 ? clamp(ends[i], 0, n) : clamp(ends[i], -1, n - 1);
    const int64_t span = steps[i] > 0 ? e - s : s - e;
    const int64_t magnitude = steps[i] > 0 ? steps[i] : -steps[i];
    first[axis] = s;
    step[axis] = steps[i];
    shape[axis] = span <= 0 || n == 0 ? 0 : 1 + (span - 1) / magnitude;
  }
  RNN_ASSIGN_OR_RETURN(const int64_t count, CountOf(shape));
  const Shape strides = StridesOf(data.shape);
  std::vector<int64_t> source(count);
  for (int64_t i = 0; i < count; ++i) {
    int64_t rest = i;
    int64_t at = 0;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t index = rest % shape[d];
      rest /= shape[d];
      at += (first[d] + index * step[d]) * strides[d];
    }
    source[i] = at;
  }
  return Pick(data, std::move(shape), source);
}

absl::StatusOr<OnnxConstant> EvalConcat(const onnx::NodeProto& node,
                                        absl::Span<const OnnxConstant* const> inputs) {
  const OnnxConstant& head = *inputs[0];
  RNN_ASSIGN_OR_RETURN(const int axis,
                       NormalizeAxis(NodeAttributes(node).Int("axis", 0), head.shape.size()));
  Shape shape = head.shape;
  shape[axis] = 0;
  for (const OnnxConstant* in : inputs) {
    if (in == nullptr || in->is_float != head.is_float || in->shape.size() != head.shape.size()) {
      return Invalid("joins tensors of different types or ranks");
    }
    for (size_t d = 0; d < shape.size(); ++d) {
      if (static_cast<int>(d) != axis && in->shape[d] != head.shape[d]) {
        return Invalid(absl::StrCat("joins ", ShapeToString(head.shape), " and ",
                                    ShapeToString(in->shape), " along axis ", axis));
      }
    }
    shape[axis] += in->shape[axis];
  }
  RNN_RETURN_IF_ERROR(CountOf(shape).status());
  const int64_t outer =
      std::accumulate(shape.begin(), shape.begin() + axis, int64_t{1}, std::multiplies<int64_t>());
  OnnxConstant out{.shape = shape, .is_float = head.is_float};
  for (int64_t o = 0; o < outer; ++o) {
    for (const OnnxConstant* in : inputs) {
      const int64_t block = outer == 0 ? 0 : in->size() / outer;
      if (head.is_float) {
        out.floats.insert(out.floats.end(), in->floats.begin() + o * block,
                          in->floats.begin() + (o + 1) * block);
      } else {
        out.ints.insert(out.ints.end(), in->ints.begin() + o * block,
                        in->ints.begin() + (o + 1) * block);
      }
    }
  }
  return out;
}

absl::StatusOr<OnnxConstant> EvalTranspose(const onnx::NodeProto& node, const OnnxConstant& in) {
  std::vector<int64_t> perm = NodeAttributes(node).Ints("perm");
  const int rank = in.shape.size();
  if (perm.empty()) {
    for (int d = rank - 1; d >= 0; --d) perm.push_back(d);
  }
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (int d = 0; d < rank; ++d) {
    if (sorted.size() != in.shape.size() || sorted[d] != d) {
      return Invalid(absl::StrCat("perm is not a permutation of ", rank, " axes"));
    }
  }
  Shape shape(rank);
  for (int d = 0; d < rank; ++d) shape[d] = in.shape[perm[d]];
  const Shape in_strides = StridesOf(in.shape);
  std::vector<int64_t> source(in.size());
  for (int64_t i = 0; i < static_cast<int64_t>(source.size()); ++i) {
    int64_t rest = i;
    int64_t at = 0;
    for (int d = rank - 1; d >= 0; --d) {
      at += (rest % shape[d]) * in_strides[perm[d]];
      rest /= shape[d];
    }
    source[i] = at;
  }
  return Pick(in, std::move(shape), source);
}

// Reshape, Squeeze, Unsqueeze: the values unchanged, a new shape.
absl::StatusOr<OnnxConstant> Reshaped(const OnnxConstant& in, Shape shape) {
  RNN_ASSIGN_OR_RETURN(const int64_t count, CountOf(shape));
  if (count != in.size()) {
    return Invalid(
        absl::StrCat("reshapes ", ShapeToString(in.shape), " to ", ShapeToString(shape)));
  }
  OnnxConstant out = in;
  out.shape = std::move(shape);
  return out;
}

absl::StatusOr<OnnxConstant> EvalReshape(const onnx::NodeProto& node, const OnnxConstant& in,
                                         const OnnxConstant* target) {
  RNN_ASSIGN_OR_RETURN(Shape shape, KnownInts(target, "shape"));
  const bool allow_zero = NodeAttributes(node).Int("allowzero", 0) != 0;
  int64_t known = 1;
  int inferred = -1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0 && !allow_zero) {
      if (d >= in.shape.size()) return Invalid("copies a dimension that does not exist");
      shape[d] = in.shape[d];
    }
    if (shape[d] == -1) {
      if (inferred >= 0) return Invalid("has two -1 dimensions");
      inferred = d;
    } else if (shape[d] < 0) {
      return Invalid(absl::StrCat("has a negative dimension ", shape[d]));
    } else if (shape[d] > 0 && known > kMaxEvaluatedElements / shape[d]) {
      return Invalid(
          absl::StrCat("reshapes ", ShapeToString(in.shape), " to ", ShapeToString(shape)));
    } else {
      known *= shape[d];
    }
  }
  if (inferred >= 0) {
    if (known == 0 || in.size() % known != 0) return Invalid("cannot infer its -1 dimension");
    shape[inferred] = in.size() / known;
  }
  return Reshaped(in, std::move(shape));
}

absl::StatusOr<OnnxConstant> EvalSqueeze(const OnnxConstant& in, const std::vector<int64_t>& axes) {
  std::vector<bool> drop(in.shape.size(), axes.empty());
  for (int64_t a : axes) {
    RNN_ASSIGN_OR_RETURN(const int i, NormalizeAxis(a, in.shape.size()));
    drop[i] = true;
  }
  Shape shape;
  for (size_t d = 0; d < in.shape.size(); ++d) {
    if (drop[d] && in.shape[d] != 1 && !axes.empty()) {
      return Invalid(absl::StrCat("squeezes axis ", d, " of ", ShapeToString(in.shape)));
    }
    if (!drop[d] || in.shape[d] != 1) shape.push_back(in.shape[d]);
  }
  return Reshaped(in, std::move(shape));
}

absl::StatusOr<OnnxConstant> EvalUnsqueeze(const OnnxConstant& in,
                                           const std::vector<int64_t>& axes) {
  const int64_t rank = in.shape.size() + axes.size();
  std::vector<bool> inserted(rank, false);
  for (int64_t a : axes) {
    RNN_ASSIGN_OR_RETURN(const int i, NormalizeAxis(a, rank));
    if (inserted[i]) return Invalid("repeats an axis");
    inserted[i] = true;
  }
  Shape shape;
  size_t next = 0;
  for (int64_t d = 0; d < rank; ++d) shape.push_back(inserted[d] ? 1 : in.shape[next++]);
  return Reshaped(in, std::move(shape));
}

absl::StatusOr<OnnxConstant> EvalExpand(const OnnxConstant& in, const OnnxConstant* target) {
  RNN_ASSIGN_OR_RETURN(const Shape wanted, KnownInts(target, "shape"));
  RNN_ASSIGN_OR_RETURN(const Shape shape, BroadcastShape(in.shape, wanted));
  RNN_ASSIGN_OR_RETURN(const std::vector<int64_t> source, BroadcastSources(in.shape, shape));
  return Pick(in, shape, source);
}

absl::StatusOr<OnnxConstant> EvalConstantOfShape(const onnx::NodeProto& node,
                                                 const OnnxConstant* target) {
  RNN_ASSIGN_OR_RETURN(const Shape shape, KnownInts(target, "shape"));
  RNN_ASSIGN_OR_RETURN(const int64_t count, CountOf(shape));
  OnnxConstant fill{.shape = {1}, .floats = {0.0f}};  // The default: a float 0.
  for (const onnx::AttributeProto& a : node.attribute()) {
    if (a.name() != "value") continue;
    RNN_ASSIGN_OR_RETURN(fill, ConvertTensor(a.t()));
    if (fill.size() != 1) return Invalid("value must hold one element");
  }
  OnnxConstant out{.shape = shape, .is_float = fill.is_float};
  if (fill.is_float) {
    out.floats.assign(count, fill.floats[0]);
  } else {
    out.ints.assign(count, fill.ints[0]);
  }
  return out;
}

absl::StatusOr<OnnxConstant> EvalCast(const onnx::NodeProto& node, const OnnxConstant& in) {
  const int64_t to = NodeAttributes(node).Int("to", 0);
  const bool to_float = to == onnx::TensorProto::FLOAT || to == onnx::TensorProto::DOUBLE ||
                        to == onnx::TensorProto::FLOAT16;
  const bool to_int = to == onnx::TensorProto::INT64 || to == onnx::TensorProto::INT32 ||
                      to == onnx::TensorProto::BOOL;
  if (!to_float && !to_int) return Invalid(absl::StrCat("casts to type ", to));
  OnnxConstant out{.shape = in.shape, .is_float = to_float};
  if (to_float && in.is_float) {
    if (to == onnx::TensorProto::FLOAT16) return Invalid("rounds to float16");
    out.floats = in.floats;
  } else if (to_float) {
    RNN_RETURN_IF_ERROR(KnownInts(&in, "input").status());
    for (int64_t v : in.ints) out.floats.push_back(static_cast<float>(v));
  } else if (in.is_float) {
    for (float v : in.floats) {
      if (!(std::fabs(v) < 9e18f)) return Invalid(absl::StrCat("casts ", v, " to an integer"));
      out.ints.push_back(to == onnx::TensorProto::BOOL ? v != 0 : static_cast<int64_t>(v));
    }
  } else if (to == onnx::TensorProto::BOOL) {
    RNN_RETURN_IF_ERROR(KnownInts(&in, "input").status());
    for (int64_t v : in.ints) out.ints.push_back(v != 0);
  } else {
    out.ints = in.ints;  // Integer to integer: shape vectors keep their symbolic
                         // entries.
  }
  return out;
}

// Reciprocal and Neg of a float tensor (FloatArithmetic::kEvaluate).
absl::StatusOr<OnnxConstant> EvalFloatUnary(const std::string& op, const OnnxConstant& in,
                                            FloatArithmetic float_arithmetic) {
  if (!in.is_float || float_arithmetic != FloatArithmetic::kEvaluate) {
    return Invalid(
        "computes with floats, which is not evaluated at load "
        "(weights and initial states must be initializers or Constants)");
  }
  OnnxConstant out = in;
  for (float& v : out.floats) v = op == "Neg" ? -v : 1.0f / v;
  return out;
}

// Add, Sub, Mul, Div, Equal on integers, and Where, with numpy broadcasting;
// Add, Sub, Mul and Div of floats under FloatArithmetic::kEvaluate.
absl::StatusOr<OnnxConstant> EvalElementwise(const std::string& op,
                                             absl::Span<const OnnxConstant* const> inputs,
                                             FloatArithmetic float_arithmetic) {
  const size_t arity = op == "Where" ? 3 : 2;
  if (inputs.size() != arity) return Invalid(absl::StrCat("wants ", arity, " inputs"));
  Shape shape;
  for (const OnnxConstant* in : inputs) {
    if (in == nullptr) return Invalid("misses an input");
    RNN_ASSIGN_OR_RETURN(shape, BroadcastShape(shape, in->shape));
  }
  std::vector<std::vector<int64_t>> sources;
  for (const OnnxConstant* in : inputs) {
    RNN_ASSIGN_OR_RETURN(sources.emplace_back(), BroadcastSources(in->shape, shape));
  }
  const int64_t count = sources[0].size();
  if (op == "Where") {
    const OnnxConstant &a = *inputs[1], &b = *inputs[2];
    RNN_ASSIGN_OR_RETURN(const std::vector<int64_t> condition, KnownInts(inputs[0], "condition"));
    if (a.is_float != b.is_float) return Invalid("chooses between different types");
    OnnxConstant out{.shape = shape, .is_float = a.is_float};
    for (int64_t i = 0; i < count; ++i) {
      const bool first = condition[sources[0][i]] != 0;
      if (a.is_float) {
        out.floats.push_back(first ? a.floats[sources[1][i]] : b.floats[sources[2][i]]);
      } else {
        out.ints.push_back(first ? a.ints[sources[1][i]] : b.ints[sources[2][i]]);
      }
    }
    return out;
  }
  // Float arithmetic would compute weights or states: only for transforms.
  const bool floats = inputs[0]->is_float && inputs[1]->is_float && op != "Equal";
  if (floats && float_arithmetic == FloatArithmetic::kEvaluate) {
    OnnxConstant out{.shape = shape, .is_float = true};
    for (int64_t i = 0; i < count; ++i) {
      const float x = inputs[0]->floats[sources[0][i]], y = inputs[1]->floats[sources[1][i]];
      out.floats.push_back(op == "Add" ? x + y : op == "Sub" ? x - y : op == "Mul" ? x * y : x / y);
    }
    return out;
  }
  if (inputs[0]->is_float || inputs[1]->is_float) {
    return Invalid(
        "computes with floats, which is not evaluated at load "
        "(weights and initial states must be initializers or Constants)");
  }
  RNN_ASSIGN_OR_RETURN(const std::vector<int64_t> a, KnownInts(inputs[0], "an operand"));
  RNN_ASSIGN_OR_RETURN(const std::vector<int64_t> b, KnownInts(inputs[1], "an operand"));
  OnnxConstant out{.shape = shape, .is_float = false};
  for (int64_t i = 0; i < count; ++i) {
    const int64_t x = a[sources[0][i]], y = b[sources[1][i]];
    int64_t r = 0;
    bool overflow = false;
    if (op == "Equal") {
      r = x == y;
    } else if (op == "Div") {
      if (y == 0) return Invalid("divides by zero");
      overflow = y == -1 && x == std::numeric_limits<int64_t>::min();
      if (!overflow) r = x / y;  // Truncates, as onnxruntime does.
    } else if (op == "Add") {
      overflow = __builtin_add_overflow(x, y, &r);
    } else if (op == "Sub") {
      overflow = __builtin_sub_overflow(x, y, &r);
    } else if (op == "Mul") {
      overflow = __builtin_mul_overflow(x, y, &r);
    } else {
      return Invalid("is not evaluated at load");
    }
    if (overflow) return Invalid("overflows int64");
    out.ints.push_back(r);
  }
  return out;
}

absl::StatusOr<OnnxConstant> EvalRange(absl::Span<const OnnxConstant* const> inputs) {
  if (inputs.size() != 3) return Invalid("wants 3 inputs");
  std::vector<int64_t> scalars;
  for (const OnnxConstant* in : inputs) {
    RNN_ASSIGN_OR_RETURN(const std::vector<int64_t> v, KnownInts(in, "start, limit and delta"));
    if (v.size() != 1) return Invalid("start, limit and delta must be scalars");
    scalars.push_back(v[0]);
  }
  const int64_t start = scalars[0], limit = scalars[1], delta = scalars[2];
  if (delta == 0 || delta == std::numeric_limits<int64_t>::min()) {
    return Invalid(absl::StrCat("has a delta of ", delta));
  }
  int64_t span = 0;
  if (delta > 0 ? __builtin_sub_overflow(limit, start, &span)
                : __builtin_sub_overflow(start, limit, &span)) {
    return Invalid("spans more than int64");
  }
  const int64_t step = delta > 0 ? delta : -delta;
  const int64_t count = span <= 0 ? 0 : 1 + (span - 1) / step;
  RNN_RETURN_IF_ERROR(CountOf({count}).status());
  OnnxConstant out{.shape = {count}, .is_float = false};
  for (int64_t i = 0; i < count; ++i) out.ints.push_back(start + i * delta);
  return out;
}

absl::StatusOr<OnnxConstant> EvaluateOne(const onnx::NodeProto& node,
                                         absl::Span<const OnnxConstant* const> inputs,
                                         int64_t opset, FloatArithmetic float_arithmetic) {
  const std::string& op = node.op_type();
  auto input = [&](size_t i) { return i < inputs.size() ? inputs[i] : nullptr; };
  if (input(0) == nullptr && op != "Range") return Invalid("misses its first input");
  if (op == "Identity") return *inputs[0];
  if (op == "Shape") return ShapeOf(inputs[0]->shape, node);
  if (op == "Gather") return EvalGather(node, *inputs[0], input(1));
  if (op == "Slice") return EvalSlice(node, inputs, opset);
  if (op == "Concat") return EvalConcat(node, inputs);
  if (op == "Transpose") return EvalTranspose(node, *inputs[0]);
  if (op == "Reshape") return EvalReshape(node, *inputs[0], input(1));
  if (op == "Squeeze" || op == "Unsqueeze") {
    RNN_ASSIGN_OR_RETURN(const std::vector<int64_t> axes, opset >= 13
                                                              ? IntsOperand(node, inputs, 1, "axes")
                                                              : NodeAttributes(node).Ints("axes"));
    return op == "Squeeze" ? EvalSqueeze(*inputs[0], axes) : EvalUnsqueeze(*inputs[0], axes);
  }
  if (op == "Expand") return EvalExpand(*inputs[0], input(1));
  if (op == "ConstantOfShape") return EvalConstantOfShape(node, inputs[0]);
  if (op == "Cast") return EvalCast(node, *inputs[0]);
  if (op == "Range") return EvalRange(inputs);
  if (op == "Reciprocal" || op == "Neg") return EvalFloatUnary(op, *inputs[0], float_arithmetic);
  return EvalElementwise(op, inputs, float_arithmetic);
}

}  // namespace

bool IsConstantEvaluable(absl::string_view op) {
  static const auto* ops = new absl::flat_hash_set<std::string>{
      "Identity", "Shape",     "Gather", "Slice",           "Concat", "Transpose",  "Reshape",
      "Squeeze",  "Unsqueeze", "Expand", "ConstantOfShape", "Cast",   "Range",      "Add",
      "Sub",      "Mul",       "Div",    "Equal",           "Where",  "Reciprocal", "Neg"};
  return ops->contains(op);
}

absl::StatusOr<std::vector<OnnxConstant>> EvaluateConstantNode(
    const onnx::NodeProto& node, absl::Span<const OnnxConstant* const> inputs, int64_t opset,
    FloatArithmetic float_arithmetic) {
  if (!IsConstantEvaluable(node.op_type())) return Invalid("is not evaluated at load");
  RNN_ASSIGN_OR_RETURN(OnnxConstant out, EvaluateOne(node, inputs, opset, float_arithmetic));
  std::vector<OnnxConstant> outputs;
  outputs.push_back(std::move(out));
  return outputs;
}

OnnxConstant ShapeOf(const std::vector<int64_t>& dims, const onnx::NodeProto& node) {
  const NodeAttributes attributes(node);
  const int64_t rank = dims.size();
  auto clamp = [rank](int64_t v) { return std::clamp(v < 0 ? v + rank : v, int64_t{0}, rank); };
  const int64_t start = clamp(attributes.Int("start", 0));
  const int64_t end = clamp(attributes.Int("end", rank));
  OnnxConstant out{.is_float = false};
  if (start < end) out.ints.assign(dims.begin() + start, dims.begin() + end);
  out.shape = {static_cast<int64_t>(out.ints.size())};
  return out;
}

bool IsAllZero(const OnnxConstant& tensor) {
  return std::all_of(tensor.floats.begin(), tensor.floats.end(), [](float f) { return f == 0; }) &&
         std::all_of(tensor.ints.begin(), tensor.ints.end(), [](int64_t i) { return i == 0; });
}

}  // namespace rnnserve::model
