#include "model/kernels/packed_matrix.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/kernels/gemm_kernels.h"
#include "model/kernels/quantised_rows.h"

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
      return internal::GemmBf16Avx2(args);
    case KernelIsa::kGeneric:
      return internal::GemmBf16Generic(args);
  }
}

// int8 multiplies x quantised per row (one scale a row) on every
// instruction set and shape, not float32 x. Measured on the Xeon of README
// "Performance" (model_bench precision/, medians of 3 runs, ratios to fp32
// in each run): with vpdpbusd int8 ran 0.40-0.48x fp32 at B = 64 and
// 0.09-0.14x at B = 1, where widening the weights to multiply float32 x (the
// kernel this replaced) ran 0.84-0.92x and 0.22-0.35x; on AVX2
// (vpmaddubsw) 0.65-0.68x and 0.13-0.17x. The price is accuracy: the
// largest output difference from fp32 over the fixtures went from 1.45e-2
// to 1.69e-2, within the documented 0.02. One kind of product for every
// shape keeps a session's numerics independent of the batch it runs in,
// and the integer sums are exact, so every instruction set agrees.
void RunInt8(KernelIsa isa, const internal::GemmArgs& args) {
  switch (isa) {
    case KernelIsa::kAvx512Bf16:
      return internal::GemmInt8Avx512Vnni(args);
    case KernelIsa::kAvx512:  // AVX-512 without VNNI has no better int8 product
    case KernelIsa::kAvx2:
      return internal::GemmInt8Avx2(args);
    case KernelIsa::kGeneric:
      return internal::GemmInt8Generic(args);
  }
}

// Quantised x for one group of rows lives on the stack: rows of depth k
// take QuantisedRowStride(k) bytes each.
constexpr int64_t kQuantisedBytes = 32 * 1024;
constexpr int64_t kQuantisedRows = 1024;

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
      return (rows + 3) / 4 * 4 * kPanelWidth;
  }
  return 0;
}

// Where int8 w[row, j] of a panel is: quads of rows, column by column.
int64_t Int8Offset(int64_t row, int64_t j) { return row / 4 * 4 * kPanelWidth + 4 * j + row % 4; }

}  // namespace

PackedMatrix PackedMatrix::Pack(const float* w, int64_t rows, int64_t cols, int64_t ld,
                                KernelIsa isa, WeightPrecision precision) {
  PackedMatrix packed;
  packed.rows_ = rows;
  packed.cols_ = cols;
  packed.isa_ = isa;
  packed.precision_ = precision;
  if (precision == WeightPrecision::kInt8 && rows > kQuantisedBytes) {
    // Deeper than one quantised row fits the stack buffer: slices of
    // kQuantisedBytes rows, each its own int8 matrix (own scales), summed.
    for (int64_t r = 0; r < rows; r += kQuantisedBytes) {
      packed.depth_slices_.push_back(
          Pack(w + r * ld, std::min(kQuantisedBytes, rows - r), cols, ld, isa, precision));
    }
    return packed;
  }
  const int64_t panels = PanelCount(cols);
  const int64_t panel_bytes = PanelBytes(precision, rows);
  packed.panels_.assign(panels * panel_bytes, 0);
  if (precision == WeightPrecision::kInt8) {
    // Symmetric per output column (a row of the exported [out, in] matrix).
    packed.scales_.assign(panels * kPanelWidth, 0.0f);
    packed.column_sums_.assign(panels * kPanelWidth, 0);
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
      packed.PackRow(w + r * ld + col, r, col, width, panel);
    }
  }
  return packed;
}

void PackedMatrix::PackRow(const float* from, int64_t r, int64_t col, int64_t width,
                           uint8_t* panel) {
  switch (precision_) {
    case WeightPrecision::kFp32:
      std::memcpy(panel + r * kPanelWidth * 4, from, width * sizeof(float));
      return;
    case WeightPrecision::kBf16: {
      // Row r is the low (even r) or high (odd r) half of pair r / 2.
      auto* pair = reinterpret_cast<uint32_t*>(panel) + r / 2 * kPanelWidth;
      const int shift = r % 2 == 0 ? 0 : 16;
      for (int64_t j = 0; j < width; ++j) pair[j] |= ToBf16(from[j]) << shift;
      return;
    }
    case WeightPrecision::kInt8: {
      auto* weights = reinterpret_cast<int8_t*>(panel);
      for (int64_t j = 0; j < width; ++j) {
        const float scale = scales_[col + j];
        const float q = scale == 0.0f ? 0.0f : std::nearbyint(from[j] / scale);
        const auto value = static_cast<int8_t>(std::clamp(q, -127.0f, 127.0f));
        weights[Int8Offset(r, j)] = value;
        column_sums_[col + j] += value;
      }
      return;
    }
  }
}

int64_t PackedMatrix::bytes() const {
  int64_t bytes = static_cast<int64_t>(panels_.size() + scales_.size() * sizeof(float) +
                                       column_sums_.size() * sizeof(int32_t));
  for (const PackedMatrix& slice : depth_slices_) bytes += slice.bytes();
  return bytes;
}

float PackedMatrix::Weight(int64_t row, int64_t col) const {
  if (!depth_slices_.empty()) {
    return depth_slices_[row / kQuantisedBytes].Weight(row % kQuantisedBytes, col);
  }
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
      return static_cast<float>(reinterpret_cast<const int8_t*>(panel)[Int8Offset(row, j)]) *
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
          .column_sums = column_sums_.empty() ? nullptr : column_sums_.data(),
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
      return MultiplyInt8(args);
  }
}

void PackedMatrix::MultiplyInt8(const internal::GemmArgs& args) const {
  if (!depth_slices_.empty()) {
    // The first slice starts from the addend, the others add to c.
    int64_t row = 0;
    for (const PackedMatrix& slice : depth_slices_) {
      const bool first = row == 0;
      slice.MultiplyAdd(args.x + row, args.ldx, args.m, first ? args.addend : args.c,
                        first ? args.ld_addend : args.ldc, args.c, args.ldc, args.order);
      row += slice.rows();
    }
    return;
  }
  const int64_t ldxq = internal::QuantisedRowStride(rows_);
  const int64_t group = std::min(kQuantisedRows, kQuantisedBytes / ldxq);
  alignas(64) uint8_t xq[kQuantisedBytes];
  float x_scales[kQuantisedRows];
  for (int64_t r0 = 0; r0 < args.m; r0 += group) {
    internal::GemmArgs rows = args;
    rows.m = std::min(group, args.m - r0);
    rows.x = args.x + r0 * args.ldx;
    if (args.addend != nullptr) rows.addend = args.addend + r0 * args.ld_addend;
    rows.c = args.c + r0 * args.ldc;
    internal::QuantiseRows(rows.x, rows.ldx, rows.m, rows_, xq, ldxq, x_scales);
    rows.xq = xq;
    rows.ldxq = ldxq;
    rows.x_scales = x_scales;
    RunInt8(isa_, rows);
  }
}

}  // namespace rnnserve::model
