// A weight matrix packed once, at load time, in the layout the GEMM kernels
// stream (DESIGN.md section 6): panels of 64 columns whose rows are
// contiguous, so a product reads the weights front to back exactly once per
// block of rows and never repacks them. The instruction set is chosen at
// packing (kernel_isa.h). Immutable after Pack(); Multiply() is thread-safe,
// allocates nothing and uses no stack beyond its registers.
#ifndef RNNSERVE_MODEL_KERNELS_PACKED_MATRIX_H_
#define RNNSERVE_MODEL_KERNELS_PACKED_MATRIX_H_

#include <cstdint>
#include <vector>

#include "model/kernels/cache_aligned_allocator.h"
#include "model/kernels/kernel_isa.h"
#include "model/kernels/matrix.h"

namespace rnnserve::model {

class PackedMatrix {
 public:
  PackedMatrix() = default;  // 0 x 0

  // Packs w[rows, cols], row r at w + r * ld.
  static PackedMatrix Pack(const float* w, int64_t rows, int64_t cols, int64_t ld,
                           KernelIsa isa = DefaultKernelIsa());
  static PackedMatrix Pack(const RowMatrix& w, KernelIsa isa = DefaultKernelIsa()) {
    return Pack(w.data(), w.rows(), w.cols(), w.cols(), isa);
  }

  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  KernelIsa isa() const { return isa_; }

  // c[m, cols()] = x[m, rows()] * W. Row i of x is at x + i * ldx, of c at
  // c + i * ldc. REQUIRES: x and c do not overlap.
  void Multiply(const float* x, int64_t ldx, int64_t m, float* c, int64_t ldc) const;

  // c = x * W + addend, addend row i at addend + i * ld_addend: ld_addend ==
  // 0 adds one row (a bias) to every row. addend may be c (same ld). The
  // addend starts the accumulation: it costs no extra pass over c.
  void MultiplyAdd(const float* x, int64_t ldx, int64_t m, const float* addend,
                   int64_t ld_addend, float* c, int64_t ldc) const;

 private:
  std::vector<float, CacheAlignedAllocator<float>> panels_;
  int64_t rows_ = 0;
  int64_t cols_ = 0;
  KernelIsa isa_ = KernelIsa::kGeneric;
};

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_KERNELS_PACKED_MATRIX_H_
