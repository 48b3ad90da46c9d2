// Elementwise affine work on an ONNX model's data path (issue 21): Add, Sub,
// Mul and Div of the sequence with constants (scalars or one value per
// feature, either operand order) before the first recurrent layer or after
// the head. The importer folds each chain into a StepTransform: the chain
// acts on every step's vector alone, so it streams. Anything that would mix
// steps or features is refused here, and the caller names the node.
#ifndef RNNSERVE_MODEL_IMPORTERS_ONNX_ELEMENTWISE_H_
#define RNNSERVE_MODEL_IMPORTERS_ONNX_ELEMENTWISE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/engine/step_transform.h"
#include "model/importers/onnx_axes.h"
#include "model/importers/onnx_reader.h"

namespace rnnserve::model {

// What a chain of elementwise ops has done to each feature so far, in
// double precision, in the form of the side it is on:
//   kInput   value = (x - offset) / scale
//   kOutput  value = y * scale + offset
// PyTorch's usual spellings fold with no rounding at all: (x - m) / s gives
// offset m and scale s; y * s + m gives scale s and offset m.
struct AffineFold {
  StepTransform::Side side = StepTransform::Side::kInput;
  std::vector<double> offset = {0.0};  // 1 value or one per feature
  std::vector<double> scale = {1.0};
};

// Whether `op` is one FoldElementwise() takes: Add, Sub, Mul, Div.
bool IsElementwiseAffine(const std::string& op);

// `fold` followed by node `op` whose operands are the data (of `axes`) and
// `constant`; `data_first` when the data is input 0. INVALID_ARGUMENT when
// the constant varies along any axis but the features axis (it would mix
// steps), is not float, has the wrong width, multiplies by zero, or divides
// by the data (c / x is not affine).
absl::StatusOr<AffineFold> FoldElementwise(const AffineFold& fold, const std::string& op,
                                           const OnnxConstant& constant, bool data_first,
                                           const Axes& axes);

// The engine's transform for a finished chain (rounded to float).
absl::StatusOr<StepTransform> ToStepTransform(const AffineFold& fold);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_ONNX_ELEMENTWISE_H_
