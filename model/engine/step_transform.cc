#include "model/engine/step_transform.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "glog/logging.h"

namespace rnnserve::model {
namespace {

std::string ValuesToString(const std::vector<float>& values) {
  if (values.size() == 1) return absl::StrCat(values[0]);
  if (values.size() <= 4) return absl::StrCat("[", absl::StrJoin(values, ", "), "]");
  return absl::StrCat("[", values.size(), " values]");
}

}  // namespace

absl::StatusOr<StepTransform> StepTransform::Create(Side side, std::vector<float> offset,
                                                    std::vector<float> scale) {
  if (offset.empty() || scale.empty()) {
    return absl::InvalidArgumentError("offset and scale need at least one value each");
  }
  if (offset.size() != 1 && scale.size() != 1 && offset.size() != scale.size()) {
    return absl::InvalidArgumentError(absl::StrCat("offset has ", offset.size(),
                                                   " values and scale ", scale.size(),
                                                   "; want one value each, or one per feature"));
  }
  for (size_t i = 0; i < offset.size(); ++i) {
    if (!std::isfinite(offset[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("offset[", i, "] is ", offset[i], "; want a finite number"));
    }
  }
  for (size_t i = 0; i < scale.size(); ++i) {
    if (!std::isfinite(scale[i]) || scale[i] == 0.0f) {
      return absl::InvalidArgumentError(
          absl::StrCat("scale[", i, "] is ", scale[i], "; want a finite non-zero number"));
    }
  }
  return StepTransform(side, std::move(offset), std::move(scale));
}

int StepTransform::features() const {
  return static_cast<int>(std::max(offset_.size(), scale_.size()));
}

// This file is compiled with -ffp-contract=off (model/CMakeLists.txt): an FMA
// would round y * s + o once where PyTorch rounds twice.
void StepTransform::Apply(const float* in, float* out, int64_t rows, int width) const {
  DCHECK(Fits(width));
  const float* offset = offset_.data();
  const float* scale = scale_.data();
  const int offset_stride = offset_.size() == 1 ? 0 : 1;
  const int scale_stride = scale_.size() == 1 ? 0 : 1;
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * width;
    float* y = out + r * width;
    if (side_ == Side::kInput) {
      for (int j = 0; j < width; ++j) {
        y[j] = (x[j] - offset[j * offset_stride]) / scale[j * scale_stride];
      }
    } else {
      for (int j = 0; j < width; ++j) {
        y[j] = x[j] * scale[j * scale_stride] + offset[j * offset_stride];
      }
    }
  }
}

std::string StepTransform::ToString() const {
  const std::string offset = ValuesToString(offset_);
  const std::string scale = ValuesToString(scale_);
  return side_ == Side::kInput ? absl::StrCat("(x - ", offset, ") / ", scale)
                               : absl::StrCat("y * ", scale, " + ", offset);
}

}  // namespace rnnserve::model
