// Activations quantised per row for the int8 GEMM kernels (gemm_kernels.h),
// once per product: each row of x gets its own scale, so a session's result
// never depends on the other sessions batched with it. Portable code, the
// same bytes on every instruction set, so every int8 kernel sums the same
// integers.
#ifndef RNNSERVE_MODEL_KERNELS_QUANTISED_ROWS_H_
#define RNNSERVE_MODEL_KERNELS_QUANTISED_ROWS_H_

#include <cstdint>

namespace rnnserve::model::internal {

// Bytes per quantised row of depth k: whole quads (the kernels read four
// bytes at a time).
inline int64_t QuantisedRowStride(int64_t k) { return (k + 3) / 4 * 4; }

// Row i of x (k floats at x + i * ldx), for i in [0, m): scales[i] =
// largest |x| / 127 and out[i * ldout + kk] = nearbyint(x * (127 / largest))
// + 128, in [1, 255]; bytes [k, QuantisedRowStride(k)) are 128 (zero). An
// all-zero row has scale 0; a row holding an Inf or NaN has scale NaN, so
// its products are NaN as float32 ones would be. REQUIRES: ldout >=
// QuantisedRowStride(k).
void QuantiseRows(const float* x, int64_t ldx, int64_t m, int64_t k, uint8_t* out, int64_t ldout,
                  float* scales);

}  // namespace rnnserve::model::internal

#endif  // RNNSERVE_MODEL_KERNELS_QUANTISED_ROWS_H_
