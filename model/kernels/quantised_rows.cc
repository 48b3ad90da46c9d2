#include "model/kernels/quantised_rows.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace rnnserve::model::internal {
namespace {

// The largest |x| of a row, as float bits: for non-negative floats integer
// order is float order and Inf and NaN come above every finite value, and
// an integer max vectorises where a float one with NaN checks would not.
uint32_t LargestMagnitudeBits(const float* x, int64_t k) {
  uint32_t largest = 0;
  for (int64_t kk = 0; kk < k; ++kk) {
    uint32_t bits;
    std::memcpy(&bits, x + kk, sizeof bits);
    bits &= 0x7FFFFFFFu;
    largest = bits > largest ? bits : largest;
  }
  return largest;
}

}  // namespace

void QuantiseRows(const float* x, int64_t ldx, int64_t m, int64_t k, uint8_t* out, int64_t ldout,
                  float* scales) {
  constexpr uint32_t kInfinityBits = 0x7F800000u;
  const int64_t stride = QuantisedRowStride(k);
  for (int64_t i = 0; i < m; ++i) {
    const float* row = x + i * ldx;
    uint8_t* q = out + i * ldout;
    const uint32_t largest_bits = LargestMagnitudeBits(row, k);
    float largest;
    std::memcpy(&largest, &largest_bits, sizeof largest);
    if (largest_bits == 0 || largest_bits >= kInfinityBits) {
      scales[i] = largest_bits == 0 ? 0.0f : std::numeric_limits<float>::quiet_NaN();
      std::memset(q, 128, stride);
      continue;
    }
    scales[i] = largest / 127.0f;
    const float inverse = 127.0f / largest;
    for (int64_t kk = 0; kk < k; ++kk) {
      q[kk] = static_cast<uint8_t>(static_cast<int32_t>(std::nearbyint(row[kk] * inverse)) + 128);
    }
    for (int64_t kk = k; kk < stride; ++kk) q[kk] = 128;
  }
}

}  // namespace rnnserve::model::internal
