#include "model/kernels/weight_precision.h"

namespace rnnserve::model {

std::string WeightPrecisionName(WeightPrecision precision) {
  switch (precision) {
    case WeightPrecision::kFp32:
      return "fp32";
    case WeightPrecision::kBf16:
      return "bf16";
    case WeightPrecision::kInt8:
      return "int8";
  }
  return "unknown";
}

bool ParseWeightPrecision(absl::string_view name, WeightPrecision* precision) {
  for (WeightPrecision candidate :
       {WeightPrecision::kFp32, WeightPrecision::kBf16, WeightPrecision::kInt8}) {
    if (name == WeightPrecisionName(candidate)) {
      *precision = candidate;
      return true;
    }
  }
  return false;
}

}  // namespace rnnserve::model
