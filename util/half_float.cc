#include "util/half_float.h"

#include <bit>
#include <cmath>

namespace rnnserve::util {

float HalfToFloat(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  const uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float.
    float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign != 0 ? -magnitude : magnitude;
  }
  if (exponent == 0x1f) {
    // Infinity, or NaN keeping its payload (and so its quiet bit).
    return std::bit_cast<float>(sign | 0x7f800000u | mantissa << 13);
  }
  // Rebias the exponent from 15 to 127.
  return std::bit_cast<float>(sign | (exponent + 112) << 23 | mantissa << 13);
}

float BFloat16ToFloat(uint16_t bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

}  // namespace rnnserve::util
