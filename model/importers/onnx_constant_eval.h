// Evaluates, at load, the ONNX nodes that compute tensors not depending on
// the input's values: the shape arithmetic torch.onnx.export writes around
// its recurrent nodes (Shape -> Gather -> Unsqueeze -> Concat -> Expand for a
// zero initial state) and, without constant folding, the weights it slices,
// concatenates and unsqueezes out of the initializers. The session's input
// is a batch of one with a sequence length known only when it runs: shape
// vectors carry that length as kSymbolicDim, which data movement keeps and
// anything that would compute with it refuses. Pure functions.
#ifndef RNNSERVE_MODEL_IMPORTERS_ONNX_CONSTANT_EVAL_H_
#define RNNSERVE_MODEL_IMPORTERS_ONNX_CONSTANT_EVAL_H_

#include <cstdint>
#include <limits>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "model/importers/onnx_reader.h"

namespace rnnserve::model {

// A dimension known only when a session runs (the sequence length), as an
// entry of an integer shape vector. Not INT64_MIN, which Slice bounds use
// ("from the start"); a real value equal to this one would be refused as
// unknown, never misread.
inline constexpr int64_t kSymbolicDim = std::numeric_limits<int64_t>::min() + 1;

// The most elements one evaluated tensor may have: a bound on what a
// malformed model can make the loader allocate (Expand to a huge shape).
inline constexpr int64_t kMaxEvaluatedElements = int64_t{1} << 26;
// ... and all the tensors evaluated for one model together (weights computed
// without constant folding are several copies of the initializers).
inline constexpr int64_t kMaxEvaluatedTotal = int64_t{1} << 28;

// Whether EvaluateConstantNode computes float arithmetic: Add, Sub, Mul and
// Div of two float operands, Reciprocal, Neg. Weights and states are never
// computed so (they would round differently from the exporter's folding);
// the constants of an input or output transform are (issue 21: torch leaves
// Reciprocal(std), Neg(mean), mean / std as nodes), and the importer keeps
// those apart from the weights.
enum class FloatArithmetic { kRefuse, kEvaluate };

// True for the ops EvaluateConstantNode knows.
bool IsConstantEvaluable(absl::string_view op);

// The outputs of `node` from its `inputs` (nullptr for an omitted optional
// input), as the operator specification of `opset` defines them. Integer
// arithmetic (Add, Sub, Mul, Div, Equal, Range) is evaluated; float
// arithmetic only under FloatArithmetic::kEvaluate, in float as ONNX Runtime
// computes it. INVALID_ARGUMENT, without the node's name (the caller adds
// it), for an op not evaluated here, a result that depends on kSymbolicDim,
// malformed inputs, or a result larger than kMaxEvaluatedElements.
absl::StatusOr<std::vector<OnnxConstant>> EvaluateConstantNode(
    const onnx::NodeProto& node, absl::Span<const OnnxConstant* const> inputs, int64_t opset,
    FloatArithmetic float_arithmetic = FloatArithmetic::kRefuse);

// ONNX Shape of a tensor with dimensions `dims` (kSymbolicDim allowed),
// honouring the node's start / end attributes (opset 15).
OnnxConstant ShapeOf(const std::vector<int64_t>& dims, const onnx::NodeProto& node);

// True when every value of `tensor` is zero (an empty tensor included).
bool IsAllZero(const OnnxConstant& tensor);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_ONNX_CONSTANT_EVAL_H_
