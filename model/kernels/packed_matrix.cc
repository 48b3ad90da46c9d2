#include "model/kernels/packed_matrix.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/kernels/gemm_kernels.h"

namespace rnnserve::model {
namespace {

using internal::kPanelWidth;

void RunFp32(KernelIsa isa, const internal::GemmArgs& args) {
  switch (isa) {
    case KernelIsa::kAvx512:
    case KernelIsa::kAvx512Bf16:
      return internal::GemmAvx512(args);
    case KernelIsa::kAvx2:
      return internal::GemmAvx2(args);
    case KernelIsa::kGeneric:
      return internal::GemmGeneric(args);
  }
}

// No AVX2 low-precision kernels yet: AVX2 machines run the generic ones.
// AVX-512 BF16 machines run the widening kernel too: on the Xeon this was
// measured on (model_bench precision/, same run) vdpbf16ps was slower at
// B = 1 (30.6 against 22.6 us per step, LSTM 64->256x2) and at B = 64
// (1.51x against 1.03x fp32), and it rounds x to bf16 as well.
// GemmBf16Avx512Bf16 stays for CPUs where that changes, tested alike.
void RunBf16(KernelIsa isa, const internal::GemmArgs& args) {
  switch (isa) {
    case KernelIsa::kAvx512Bf16:
    case KernelIsa::kAvx512:
      return internal::GemmBf16Avx512(args);
    case KernelIsa::kAvx2:
    case KernelIsa::kGeneric:
      return internal::GemmBf16Generic(args);
  }
}

void RunInt8(KernelIsa isa, const internal::GemmArgs& args) {
  switch (isa) {
    case KernelIsa::kAvx512Bf16:
    case KernelIsa::kAvx512:
      return internal::GemmInt8Avx512(args);
    case KernelIsa::kAvx2:
    case KernelIsa::kGeneric:
      return internal::GemmInt8Generic(args);
  }
}

uint32_t Bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

float FromBits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// float32 to bfloat16 bits, round to nearest even (NaN stays a quiet NaN).
uint32_t ToBf16(float f) {
  const uint32_t bits = Bits(f);
  if (std::isnan(f)) return (bits >> 16) | 0x40u;
  return (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
}

int64_t PanelCount(int64_t cols) { return (cols + kPanelWidth - 1) / kPanelWidth; }

// Bytes of one panel's weights for `rows` rows (gemm_kernels.h).
int64_t PanelBytes(WeightPrecision precision, int64_t rows) {
  switch (precision) {
    case WeightPrecision::kFp32:
      return rows * kPanelWidth * 4;
    case WeightPrecision::kBf16:
      return (rows + 1) / 2 * kPanelWidth * 4;
    case WeightPrecision::kInt8:
      return rows * kPanelWidth;
  }
  return 0;
}

}  // namespace

PackedMatrix PackedMatrix::Pack(const float* w, int64_t rows, int64_t cols, int64_t ld,
                                KernelIsa isa, WeightPrecision precision) {
  PackedMatrix packed;
  packed.rows_ = rows;
  packed.cols_ = cols;
  packed.isa_ = isa;
  packed.precision_ = precision;
  const int64_t panels = PanelCount(cols);
  const int64_t panel_bytes = PanelBytes(precision, rows);
  packed.panels_.assign(panels * panel_bytes, 0);
  if (precision == WeightPrecision::kInt8) {
    // Symmetric per output column (a row of the exported [out, in] matrix).
    packed.scales_.assign(panels * kPanelWidth, 0.0f);
    for (int64_t j = 0; j < cols; ++j) {
      float largest = 0.0f;
      for (int64_t r = 0; r < rows; ++r) largest = std::max(largest, std::abs(w[r * ld + j]));
      packed.scales_[j] = largest / 127.0f;
    }
  }
  for (int64_t p = 0; p < panels; ++p) {
    uint8_t* panel = packed.panels_.data() + p * panel_bytes;
    const int64_t col = p * kPanelWidth;
    const int64_t width = std::min(cols - col, kPanelWidth);
    for (int64_t r = 0; r < rows; ++r) {
      const float* from = w + r * ld + col;
      switch (precision) {
        case WeightPrecision::kFp32:
          std::memcpy(panel + r * kPanelWidth * 4, from, width * sizeof(float));
          break;
        case WeightPrecision::kBf16: {
          // Row r is the low (even r) or high (odd r) half of pair r / 2.
          auto* pair = reinterpret_cast<uint32_t*>(panel) + r / 2 * kPanelWidth;
          const int shift = r % 2 == 0 ? 0 : 16;
          for (int64_t j = 0; j < width; ++j) pair[j] |= ToBf16(from[j]) << shift;
          break;
        }
        case WeightPrecision::kInt8: {
          auto* row = reinterpret_cast<int8_t*>(panel) + r * kPanelWidth;
          for (int64_t j = 0; j < width; ++j) {
            const float scale = packed.scales_[col + j];
            const float q = scale == 0.0f ? 0.0f : std::nearbyint(from[j] / scale);
            row[j] = static_cast<int8_t>(std::clamp(q, -127.0f, 127.0f));
          }
          break;
        }
      }
    }
  }
  return packed;
}

int64_t PackedMatrix::bytes() const {
  return static_cast<int64_t>(panels_.size() + scales_.size() * sizeof(float));
}

float PackedMatrix::Weight(int64_t row, int64_t col) const {
  const int64_t panel_bytes = PanelBytes(precision_, rows_);
  const uint8_t* panel = panels_.data() + col / kPanelWidth * panel_bytes;
  const int64_t j = col % kPanelWidth;
  switch (precision_) {
    case WeightPrecision::kFp32: {
      float value;
      std::memcpy(&value, panel + (row * kPanelWidth + j) * 4, sizeof value);
      return value;
    }
    case WeightPrecision::kBf16: {
      uint32_t pair;
      std::memcpy(&pair, panel + (row / 2 * kPanelWidth + j) * 4, sizeof pair);
      return FromBits(row % 2 == 0 ? pair << 16 : pair & 0xFFFF0000u);
    }
    case WeightPrecision::kInt8:
      return static_cast<float>(reinterpret_cast<const int8_t*>(panel)[row * kPanelWidth + j]) *
             scales_[col];
  }
  return 0.0f;
}

void PackedMatrix::Multiply(const float* x, int64_t ldx, int64_t m, float* c,
                            int64_t ldc) const {
  MultiplyAdd(x, ldx, m, nullptr, 0, c, ldc);
}

internal::GemmArgs PackedMatrix::KernelArgs(const float* x, int64_t ldx, int64_t m,
                                            const float* addend, int64_t ld_addend, float* c,
                                            int64_t ldc) const {
  return {.packed = panels_.data(),
          .scales = scales_.empty() ? nullptr : scales_.data(),
          .k = rows_,
          .n = cols_,
          .x = x,
          .ldx = ldx,
          .m = m,
          .addend = addend,
          .ld_addend = ld_addend,
          .c = c,
          .ldc = ldc};
}

void PackedMatrix::MultiplyAdd(const float* x, int64_t ldx, int64_t m, const float* addend,
                               int64_t ld_addend, float* c, int64_t ldc,
                               internal::PanelOrder order) const {
  if (m <= 0 || cols_ == 0) return;
  internal::GemmArgs args = KernelArgs(x, ldx, m, addend, ld_addend, c, ldc);
  args.order = order;
  switch (precision_) {
    case WeightPrecision::kFp32:
      return RunFp32(isa_, args);
    case WeightPrecision::kBf16:
      return RunBf16(isa_, args);
    case WeightPrecision::kInt8:
      return RunInt8(isa_, args);
  }
}

}  // namespace rnnserve::model
