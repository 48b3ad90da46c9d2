// How a packed weight matrix stores its values (issue 17). Conversion
// happens once, at packing; state and cell arithmetic stay float32 whatever
// the weights are, and so do activations, except that int8 products
// quantise their input rows (quantised_rows.h).
#ifndef RNNSERVE_MODEL_KERNELS_WEIGHT_PRECISION_H_
#define RNNSERVE_MODEL_KERNELS_WEIGHT_PRECISION_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace rnnserve::model {

enum class WeightPrecision {
  kFp32,  // as exported: today's exact numerics
  kBf16,  // bfloat16, round to nearest even: half the bytes
  kInt8,  // symmetric int8, one float scale per output column, x quantised per
          // row: a quarter
};

// "fp32", "bf16", "int8".
std::string WeightPrecisionName(WeightPrecision precision);

// The precision `name` denotes, if any; for config.json and flags.
bool ParseWeightPrecision(absl::string_view name, WeightPrecision* precision);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_KERNELS_WEIGHT_PRECISION_H_
