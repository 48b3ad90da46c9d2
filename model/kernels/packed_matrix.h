// A weight matrix packed once, at load time, in the layout the GEMM kernels
// stream (DESIGN.md section 6): panels of 64 columns whose rows are
// contiguous, so a product reads the weights front to back exactly once per
// block of rows and never repacks them. The instruction set is chosen at
// packing (kernel_isa.h), and so is the weights' precision
// (weight_precision.h): bf16 and int8 matrices convert at packing, stream
// half or a quarter of the bytes and multiply float32 activations into
// float32 results. Immutable after Pack(); Multiply() is thread-safe,
// allocates nothing and uses no stack beyond its registers and (bf16 on
// AVX-512 BF16) a few hundred bytes of rounded x.
#ifndef RNNSERVE_MODEL_KERNELS_PACKED_MATRIX_H_
#define RNNSERVE_MODEL_KERNELS_PACKED_MATRIX_H_

#include <cstdint>
#include <vector>

#include "model/kernels/cache_aligned_allocator.h"
#include "model/kernels/gemm_kernels.h"
#include "model/kernels/kernel_isa.h"
#include "model/kernels/matrix.h"
#include "model/kernels/weight_precision.h"

namespace rnnserve::model {

class PackedMatrix {
 public:
  PackedMatrix() = default;  // 0 x 0

  // Packs w[rows, cols], row r at w + r * ld, converted to `precision`:
  // bf16 rounds to nearest even; int8 scales each column by its largest
  // magnitude / 127 and rounds to nearest.
  static PackedMatrix Pack(const float* w, int64_t rows, int64_t cols, int64_t ld,
                           KernelIsa isa = DefaultKernelIsa(),
                           WeightPrecision precision = WeightPrecision::kFp32);
  static PackedMatrix Pack(const RowMatrix& w, KernelIsa isa = DefaultKernelIsa(),
                           WeightPrecision precision = WeightPrecision::kFp32) {
    return Pack(w.data(), w.rows(), w.cols(), w.cols(), isa, precision);
  }

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  KernelIsa isa() const { return isa_; }
  WeightPrecision precision() const { return precision_; }
  // What a product streams: the packed weights (padding included) and the
  // int8 scales.
  int64_t bytes() const;
  // The value the kernels multiply by for w[row, col]: the converted weight
  // (for the parity tests and accuracy reports). REQUIRES: in range.
  float Weight(int64_t row, int64_t col) const;

  // c[m, cols()] = x[m, rows()] * W. Row i of x is at x + i * ldx, of c at
  // c + i * ldc. REQUIRES: x and c do not overlap.
  void Multiply(const float* x, int64_t ldx, int64_t m, float* c, int64_t ldc) const;

  // c = x * W + addend, addend row i at addend + i * ld_addend: ld_addend ==
  // 0 adds one row (a bias) to every row. addend may be c (same ld). The
  // addend starts the accumulation: it costs no extra pass over c. `order`
  // changes only which weights are in cache (gemm_kernels.h's PanelOrder).
  void MultiplyAdd(const float* x, int64_t ldx, int64_t m, const float* addend, int64_t ld_addend,
                   float* c, int64_t ldc,
                   internal::PanelOrder order = internal::PanelOrder::kForward) const;

  // MultiplyAdd()'s arguments for a kernel of gemm_kernels.h, for the parity
  // tests of kernels the dispatch does not pick on this CPU.
  internal::GemmArgs KernelArgs(const float* x, int64_t ldx, int64_t m, const float* addend,
                                int64_t ld_addend, float* c, int64_t ldc) const;

 private:
  // The panels (gemm_kernels.h's layouts), as bytes whatever the precision.
  std::vector<uint8_t, CacheAlignedAllocator<uint8_t>> panels_;
  std::vector<float, CacheAlignedAllocator<float>> scales_;  // int8 only
  int64_t rows_ = 0;
  int64_t cols_ = 0;
  KernelIsa isa_ = KernelIsa::kGeneric;
  WeightPrecision precision_ = WeightPrecision::kFp32;
};

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_KERNELS_PACKED_MATRIX_H_
