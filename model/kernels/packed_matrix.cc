#include "model/kernels/packed_matrix.h"

#include <algorithm>

#include "model/kernels/gemm_kernels.h"

namespace rnnserve::model {
namespace {

using internal::kPanelWidth;

void RunKernel(KernelIsa isa, const internal::GemmArgs& args) {
  switch (isa) {
    case KernelIsa::kAvx512:
      return internal::GemmAvx512(args);
    case KernelIsa::kAvx2:
      return internal::GemmAvx2(args);
    case KernelIsa::kGeneric:
      return internal::GemmGeneric(args);
  }
}

}  // namespace

PackedMatrix PackedMatrix::Pack(const float* w, int64_t rows, int64_t cols, int64_t ld,
                                KernelIsa isa) {
  PackedMatrix packed;
  packed.rows_ = rows;
  packed.cols_ = cols;
  packed.isa_ = isa;
  const int64_t panels = (cols + kPanelWidth - 1) / kPanelWidth;
  packed.panels_.assign(panels * rows * kPanelWidth, 0.0f);
  for (int64_t p = 0; p < panels; ++p) {
    float* panel = packed.panels_.data() + p * rows * kPanelWidth;
    const int64_t col = p * kPanelWidth;
    const int64_t width = cols - col < kPanelWidth ? cols - col : kPanelWidth;
    for (int64_t r = 0; r < rows; ++r) {
      std::copy_n(w + r * ld + col, width, panel + r * kPanelWidth);
    }
  }
  return packed;
}

void PackedMatrix::Multiply(const float* x, int64_t ldx, int64_t m, float* c,
                            int64_t ldc) const {
  MultiplyAdd(x, ldx, m, nullptr, 0, c, ldc);
}

void PackedMatrix::MultiplyAdd(const float* x, int64_t ldx, int64_t m, const float* addend,
                               int64_t ld_addend, float* c, int64_t ldc) const {
  if (m <= 0 || cols_ == 0) return;
  RunKernel(isa_, {.packed = panels_.data(),
                   .k = rows_,
                   .n = cols_,
                   .x = x,
                   .ldx = ldx,
                   .m = m,
                   .addend = addend,
                   .ld_addend = ld_addend,
                   .c = c,
                   .ldc = ldc});
}

}  // namespace rnnserve::model
