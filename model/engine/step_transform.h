// A per-step elementwise affine map on one side of a model (issue 21): raw
// values in, raw values out, for models trained on normalised data.
//   input side   x' = (x - offset) / scale   before the first recurrent layer
//   output side  y' = y * scale + offset     after the head (or the top layer)
// offset and scale each hold one value for every feature or one per feature.
// The transform lives outside the trained model: a Jordan RNN feeds back its
// head output BEFORE the output transform, and session states never see it.
// Immutable after Create(); Apply() is thread-safe and allocates nothing.
#ifndef RNNSERVE_MODEL_ENGINE_STEP_TRANSFORM_H_
#define RNNSERVE_MODEL_ENGINE_STEP_TRANSFORM_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace rnnserve::model {

class StepTransform {
 public:
  enum class Side { kInput, kOutput };

  // INVALID_ARGUMENT unless offset and scale each hold 1 or n values (the
  // same n for both when neither is a scalar), every offset is finite and
  // every scale finite and non-zero.
  static absl::StatusOr<StepTransform> Create(Side side, std::vector<float> offset,
                                              std::vector<float> scale);

  Side side() const { return side_; }
  // As given: 1 value or one per feature.
  const std::vector<float>& offset() const { return offset_; }
  const std::vector<float>& scale() const { return scale_; }
  // 1 when both offset and scale are scalars, else their per-feature count.
  int features() const;
  // Whether it applies to rows of `width` features.
  bool Fits(int width) const { return features() == 1 || features() == width; }

  // out[r][j] = transform of in[r][j] for `rows` rows of `width` floats; `in`
  // and `out` may be the same buffer. Every element goes through the same
  // scalar arithmetic (the same as PyTorch's `(x - m) / s` and `y * s + m`:
  // a division, and a multiply then an add rounded apart, never an FMA), so
  // a result depends on its value and feature only, never on its address or
  // its row's place in a batch. REQUIRES: Fits(width).
  void Apply(const float* in, float* out, int64_t rows, int width) const;

  // "(x - 43.7267) / 34.061" or "y * [3 values] + [3 values]", for inspect.
  std::string ToString() const;

 private:
  StepTransform(Side side, std::vector<float> offset, std::vector<float> scale)
      : side_(side), offset_(std::move(offset)), scale_(std::move(scale)) {}

  Side side_;
  std::vector<float> offset_;
  std::vector<float> scale_;
};

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_ENGINE_STEP_TRANSFORM_H_
