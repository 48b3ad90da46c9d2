// A weight matrix packed once, at load time, in the layout the GEMM kernels
// stream (DESIGN.md section 6): panels of 64 columns whose rows are
// contiguous, so a product reads the weights front to back exactly once per
// block of rows and never repacks them. The instruction set is chosen at
// packing (kernel_isa.h), and so is the weights' precision
// (weight_precision.h): bf16 and int8 matrices convert at packing and
// stream half or a quarter of the bytes; bf16 multiplies float32
// activations, int8 activations quantised per row (quantised_rows.h), into
// float32 results. Immutable after Pack(); Multiply() is thread-safe and
// allocates nothing; it uses no stack beyond its registers, except int8
// (36 KiB of quantised x) and bf16 on AVX-512 BF16 (a few hundred bytes of
// rounded x).
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
  // magnitude / 127 and rounds to nearest. int8 matrices deeper than 32768
  // rows (x's quantised rows live on the stack) are packed as slices of
  // 32768 rows, each with its own scales, and their products summed.
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
  // int8 scales and column sums.
  int64_t bytes() const;
  // The value the kernels multiply by for w[row, col]: the converted weight
  // (for the parity tests and accuracy reports). REQUIRES: in range.
  float Weight(int64_t row, int64_t col) const;

  // c[m, cols()] = x[m, rows()] * W (int8: x quantised per row, each row
  // scaled by its largest magnitude / 127). Row i of x is at x + i * ldx, of c at
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
  // tests of kernels the dispatch does not pick on this CPU. Not for int8
  // (its kernels take x quantised).
  internal::GemmArgs KernelArgs(const float* x, int64_t ldx, int64_t m, const float* addend,
                                int64_t ld_addend, float* c, int64_t ldc) const;

 private:
  // Converts row r of the matrix, columns [col, col + width) at `from`, into
  // `panel` (the int8 scales already set; adds to the column sums).
  void PackRow(const float* from, int64_t r, int64_t col, int64_t width, uint8_t* panel);
  // Quantises x a group of rows at a time and runs the int8 kernel on each.
  void MultiplyInt8(const internal::GemmArgs& args) const;

  // The panels (gemm_kernels.h's layouts), as bytes whatever the precision.
  std::vector<uint8_t, CacheAlignedAllocator<uint8_t>> panels_;
  std::vector<float, CacheAlignedAllocator<float>> scales_;  // int8 only
  // int8 only: each column's sum of its int8 weights, to take back the
  // +128 of the quantised x bytes.
  std::vector<int32_t, CacheAlignedAllocator<int32_t>> column_sums_;
  // int8 deeper than 32768 rows: the slices, and nothing above.
  std::vector<PackedMatrix> depth_slices_;
  int64_t rows_ = 0;
  int64_t cols_ = 0;
  KernelIsa isa_ = KernelIsa::kGeneric;
  WeightPrecision precision_ = WeightPrecision::kFp32;
};

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_KERNELS_PACKED_MATRIX_H_
