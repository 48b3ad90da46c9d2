// The matrix-product kernels behind PackedMatrix, one per instruction set
// (kernel_isa.h). Internal: use PackedMatrix. Each kernel lives in its own
// file compiled for its instruction set, and those files include nothing
// with inline code but intrinsics, so no AVX-512 copy of a shared inline
// function can end up called on a CPU without AVX-512.
#ifndef RNNSERVE_MODEL_KERNELS_GEMM_KERNELS_H_
#define RNNSERVE_MODEL_KERNELS_GEMM_KERNELS_H_

#include <cstdint>

namespace rnnserve::model::internal {

// Columns per packed panel: four AVX-512 vectors, eight AVX2 vectors. The
// packed layout is the same for every instruction set.
inline constexpr int64_t kPanelWidth = 64;

// The order a product visits its panels in. Every column's sum runs over k
// in the same order either way, so the results are bit-identical. A product
// whose weights outgrow L2 (a wide recurrent matrix at a small batch) leaves
// the panels it read last in L2: the next step's product, run the other way,
// starts on those instead of on panels long evicted.
enum class PanelOrder { kForward, kBackward };

// c[m, n] = x[m, k] * W[k, n] (+ addend). W is packed: panel p holds columns
// [64p, 64p + 64), panels one after another, zeros past column n. Within a
// panel, by weight precision (weight_precision.h):
//   fp32: k rows of 64 floats;
//   bf16: ceil(k / 2) rows of 64 uint32, lane j holding bf16 W[2q][j] in its
//         low half and W[2q + 1][j] (zero past k) in its high half: the pair
//         vdpbf16ps multiplies, and two shifts away from two float rows;
//   int8: ceil(k / 4) rows of 64 quads, quad j of row q holding int8
//         W[4q + t][j], t = 0..3 (zero past k): the four bytes vpdpbusd
//         multiplies into one int32 lane; W[kk][j] = value * scales[j] and
//         column_sums[j] = sum over kk of value (both padded to whole panels).
// Row i of x is at x + i * ldx, of c at c + i * ldc. addend:
// nullptr for none; otherwise row i is at addend + i * ld_addend, so
// ld_addend == 0 adds one row (a bias) to every row. addend may be c itself
// (same ld); x must not overlap c.
//
// int8 kernels multiply x quantised per row (quantised_rows.h), never x
// itself: row i is xq + i * ldxq, bytes u = round(x / x_scales[i]) + 128, so
// the product is x_scales[i] * scales[j] * (sum u * W - 128 * column_sums[j]),
// exact in int32 before the scaling, whatever the instruction set.
struct GemmArgs {
  const void* packed;
  const float* scales;         // int8 only: one per column
  const int32_t* column_sums;  // int8 only: one per column
  int64_t k;
  int64_t n;
  const float* x;
  int64_t ldx;
  int64_t m;
  const float* addend;
  int64_t ld_addend;
  float* c;
  int64_t ldc;
  const uint8_t* xq = nullptr;  // int8 only: x quantised, row i at xq + i * ldxq
  int64_t ldxq = 0;
  const float* x_scales = nullptr;  // int8 only: one per row of x
  PanelOrder order = PanelOrder::kForward;
};

void GemmGeneric(const GemmArgs& args);
void GemmAvx2(const GemmArgs& args);
void GemmAvx512(const GemmArgs& args);

// bf16 weights: plain loops; AVX2 and AVX-512F widening each pair by
// shifts and multiplying in float32 (x exact); AVX-512 BF16 vdpbf16ps (x
// rounded to bf16 as well).
void GemmBf16Generic(const GemmArgs& args);
void GemmBf16Avx2(const GemmArgs& args);
void GemmBf16Avx512(const GemmArgs& args);
void GemmBf16Avx512Bf16(const GemmArgs& args);

// int8 weights, x quantised per row: plain int32 loops (the reference);
// AVX2 vpmaddubsw + vpmaddwd, 32 an instruction pair; AVX-512 VNNI
// vpdpbusd, 64 multiply-adds an instruction.
void GemmInt8Generic(const GemmArgs& args);
void GemmInt8Avx2(const GemmArgs& args);
void GemmInt8Avx512Vnni(const GemmArgs& args);

}  // namespace rnnserve::model::internal

#endif  // RNNSERVE_MODEL_KERNELS_GEMM_KERNELS_H_
