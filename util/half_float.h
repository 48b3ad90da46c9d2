// The 16-bit float formats of weight files (safetensors F16/BF16, ONNX
// float16/bfloat16, .npy <f2), widened to float. Hand-written rather than
// Eigen::half / Eigen::bfloat16 because util/ links Abseil only (the client
// links it and may not link Eigen); tests/util/half_float_test.cc checks
// every input against Eigen's conversions.
#ifndef RNNSERVE_UTIL_HALF_FLOAT_H_
#define RNNSERVE_UTIL_HALF_FLOAT_H_

#include <cstdint>

namespace rnnserve::util {

// IEEE 754 binary16 bits to float, exact for every input (subnormals, signed
// zeros, infinities; NaN stays NaN).
float HalfToFloat(uint16_t bits);
// bfloat16 bits (the top half of a float32) to float, exact.
float BFloat16ToFloat(uint16_t bits);

}  // namespace rnnserve::util

#endif  // RNNSERVE_UTIL_HALF_FLOAT_H_
