// What the axes of a tensor mean, for proving that the glue between the
// recurrent nodes of an ONNX graph (Squeeze, Unsqueeze, Transpose, Reshape)
// keeps the data meaning what the engine computes. Pure functions.
#ifndef RNNSERVE_MODEL_IMPORTERS_ONNX_AXES_H_
#define RNNSERVE_MODEL_IMPORTERS_ONNX_AXES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace rnnserve::model {

// kUnit is any axis of size 1: a batch of one, an inserted axis, or the
// direction axis of a one-direction node.
enum class AxisKind { kTime, kUnit, kDirections, kFeatures };

struct Axis {
  AxisKind kind;
  int64_t size = 1;  // features or directions; -1 when not known yet

  static Axis Time() { return {AxisKind::kTime, -1}; }
  static Axis Unit() { return {AxisKind::kUnit, 1}; }
  static Axis Features(int64_t n) { return {AxisKind::kFeatures, n}; }
  static Axis Directions(int64_t n) { return n == 1 ? Unit() : Axis{AxisKind::kDirections, n}; }
  friend bool operator==(const Axis&, const Axis&) = default;
};

using Axes = std::vector<Axis>;

// "[time, 1, features 5]".
std::string AxesToString(const Axes& axes);

// Normalises a possibly negative axis index for a tensor of `rank`.
absl::StatusOr<int> NormalizeAxis(int64_t axis, int64_t rank);

// ONNX Squeeze: every removed axis must be of size 1; no `axes` removes all.
absl::StatusOr<Axes> SqueezeAxes(const Axes& in, const std::vector<int64_t>& axes);
// ONNX Unsqueeze: inserts size-1 axes at positions of the output.
absl::StatusOr<Axes> UnsqueezeAxes(const Axes& in, const std::vector<int64_t>& axes);
// ONNX Transpose; an empty perm reverses the axes.
absl::StatusOr<Axes> TransposeAxes(const Axes& in, const std::vector<int64_t>& perm);
// ONNX Reshape, accepted when it only drops or inserts size-1 axes and merges
// [directions, features] into features (direction-major: [forward, backward],
// PyTorch's bidirectional output).
absl::StatusOr<Axes> ReshapeAxes(const Axes& in, const std::vector<int64_t>& shape,
                                 bool allow_zero);

// The axes once size-1 axes are dropped.
Axes NonUnit(const Axes& axes);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_IMPORTERS_ONNX_AXES_H_
