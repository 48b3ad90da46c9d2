// PackedMatrix on every instruction set this CPU runs and every weight
// precision, against a naive double-precision product of the converted
// weights (PackedMatrix::Weight) and of x as the kernel multiplies it
// (int8: quantised per row, computed here independently): sizes that fill
// no tile or panel evenly, strided rows, each kind of addend, and nothing
// written outside the result. The conversions themselves are checked
// against the float weights, and int8's products against the float32
// product within the quantisation's bound.
#include "model/kernels/packed_matrix.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "model/kernels/kernel_isa.h"

namespace rnnserve::model {
namespace {

enum class Addend { kNone, kBias, kMatrix, kInPlace };

struct Shape {
  int64_t m, k, n;
};

std::vector<float> Random(int64_t size, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> v(size);
  for (float& f : v) f = uniform(rng);
  return v;
}

struct Kernel {
  KernelIsa isa;
  WeightPrecision precision;
  // bf16 through internal::GemmBf16Avx512Bf16 (vdpbf16ps), which the
  // dispatch does not pick (packed_matrix.cc says why).
  bool bf16_dot = false;
};

// A row of x (k values) quantised as the int8 kernels multiply it (README
// "Weight precision"): steps of largest |x| / 127, round to nearest.
std::vector<double> QuantisedRow(const float* x, int64_t k) {
  float largest = 0.0f;
  for (int64_t kk = 0; kk < k; ++kk) largest = std::max(largest, std::abs(x[kk]));
  std::vector<double> row(k, 0.0);
  if (largest == 0.0f) return row;
  const float inverse = 127.0f / largest;
  const float step = largest / 127.0f;
  for (int64_t kk = 0; kk < k; ++kk) {
    row[kk] = double{std::nearbyint(x[kk] * inverse)} * double{step};
  }
  return row;
}

// A row of x as the kernel multiplies it: the vdpbf16ps kernel rounds x to
// bf16 (nearest even) too; int8 kernels quantise it per row; every other
// kernel uses it exactly.
std::vector<double> AsMultiplied(Kernel kernel, const float* x, int64_t k) {
  if (kernel.precision == WeightPrecision::kInt8) return QuantisedRow(x, k);
  std::vector<double> row(x, x + k);
  if (!kernel.bf16_dot) return row;
  for (double& value : row) {
    const float f = static_cast<float>(value);
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    bits = ((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16) << 16;
    float rounded;
    std::memcpy(&rounded, &bits, sizeof rounded);
    value = rounded;
  }
  return row;
}

// Runs one product with padded strides and checks every value and every
// padding float.
void CheckProduct(Kernel kernel, Shape s, Addend kind) {
  const KernelIsa isa = kernel.isa;
  SCOPED_TRACE(testing::Message() << KernelIsaName(isa) << " "
                                  << WeightPrecisionName(kernel.precision)
                                  << (kernel.bf16_dot ? " vdpbf16ps" : "") << " m=" << s.m << " k="
                                  << s.k << " n=" << s.n << " addend=" << static_cast<int>(kind));
  std::mt19937 rng(static_cast<unsigned>(s.m * 131 + s.k * 17 + s.n));
  const int64_t ldw = s.n + 3, ldx = s.k + 5, ldc = s.n + 7;
  const std::vector<float> w = Random(s.k * ldw, rng);
  const std::vector<float> x = Random(s.m * ldx, rng);
  const std::vector<float> bias = Random(s.n, rng);
  const std::vector<float> matrix = Random(s.m * ldc, rng);
  const float sentinel = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> c(s.m * ldc, sentinel);
  if (kind == Addend::kInPlace) {
    for (int64_t i = 0; i < s.m; ++i) {
      std::copy_n(matrix.data() + i * ldc, s.n, c.data() + i * ldc);
    }
  }

  const PackedMatrix packed = PackedMatrix::Pack(w.data(), s.k, s.n, ldw, isa, kernel.precision);
  ASSERT_EQ(packed.rows(), s.k);
  ASSERT_EQ(packed.cols(), s.n);
  if (kernel.bf16_dot) {
    const float* addend = kind == Addend::kBias      ? bias.data()
                          : kind == Addend::kMatrix  ? matrix.data()
                          : kind == Addend::kInPlace ? c.data()
                                                     : nullptr;
    const int64_t ld_addend = kind == Addend::kBias ? 0 : ldc;
    internal::GemmBf16Avx512Bf16(
        packed.KernelArgs(x.data(), ldx, s.m, addend, ld_addend, c.data(), ldc));
  } else {
    switch (kind) {
      case Addend::kNone:
        packed.Multiply(x.data(), ldx, s.m, c.data(), ldc);
        break;
      case Addend::kBias:
        packed.MultiplyAdd(x.data(), ldx, s.m, bias.data(), 0, c.data(), ldc);
        break;
      case Addend::kMatrix:
        packed.MultiplyAdd(x.data(), ldx, s.m, matrix.data(), ldc, c.data(), ldc);
        break;
      case Addend::kInPlace:
        packed.MultiplyAdd(x.data(), ldx, s.m, c.data(), ldc, c.data(), ldc);
        break;
    }
  }

  for (int64_t i = 0; i < s.m; ++i) {
    const std::vector<double> xi = AsMultiplied(kernel, x.data() + i * ldx, s.k);
    for (int64_t j = 0; j < s.n; ++j) {
      double want = 0.0, magnitude = 0.0;
      if (kind == Addend::kBias) want = bias[j];
      if (kind == Addend::kMatrix || kind == Addend::kInPlace) want = matrix[i * ldc + j];
      magnitude = std::abs(want);
      for (int64_t kk = 0; kk < s.k; ++kk) {
        const double term = xi[kk] * packed.Weight(kk, j);
        want += term;
        magnitude += std::abs(term);
      }
      // float accumulation in any order: a few ulps of the terms' magnitude.
      ASSERT_NEAR(c[i * ldc + j], want, 1e-6 * (magnitude + 1.0)) << "at " << i << ", " << j;
    }
    for (int64_t j = s.n; j < ldc; ++j) {
      ASSERT_TRUE(std::isnan(c[i * ldc + j])) << "wrote padding at " << i << ", " << j;
    }
  }
}

class PackedMatrixTest : public ::testing::TestWithParam<std::tuple<KernelIsa, WeightPrecision>> {
 protected:
  Kernel kernel() const { return {std::get<0>(GetParam()), std::get<1>(GetParam())}; }
};

TEST_P(PackedMatrixTest, MatchesNaiveProductForEveryRowCount) {
  // B = 1..17 covers every tile height and split of every kernel.
  for (int64_t m = 1; m <= 17; ++m) {
    for (int64_t k : {1, 3, 64}) {
      for (int64_t n : {20, 64, 100}) CheckProduct(kernel(), {m, k, n}, Addend::kMatrix);
    }
  }
}

TEST_P(PackedMatrixTest, MatchesNaiveProductForOddWidths) {
  // Widths below, at and past a panel (64), a half panel (32) and a strip (16).
  for (int64_t n : {1, 5, 8, 15, 16, 17, 31, 33, 63, 64, 65, 127, 130, 200}) {
    for (int64_t m : {1, 2, 7, 13}) {
      for (int64_t k : {1, 3, 37}) CheckProduct(kernel(), {m, k, n}, Addend::kBias);
    }
  }
}

TEST_P(PackedMatrixTest, EveryAddendKind) {
  for (Addend kind : {Addend::kNone, Addend::kBias, Addend::kMatrix, Addend::kInPlace}) {
    CheckProduct(kernel(), {9, 19, 72}, kind);
    CheckProduct(kernel(), {1, 256, 1024}, kind);
  }
}

TEST_P(PackedMatrixTest, RowsPastOneBlock) {
  // More rows than one L2-sized block of x (gemm_driver.h) at each depth.
  CheckProduct(kernel(), {600, 256, 80}, Addend::kMatrix);
  CheckProduct(kernel(), {1100, 64, 65}, Addend::kBias);
}

TEST_P(PackedMatrixTest, NoRowsWritesNothing) {
  const std::vector<float> w(12, 1.0f), x(4, 1.0f);
  const PackedMatrix packed =
      PackedMatrix::Pack(w.data(), 4, 3, 3, kernel().isa, kernel().precision);
  std::vector<float> c(3, -2.0f);
  packed.Multiply(x.data(), 4, 0, c.data(), 3);
  EXPECT_EQ(c, std::vector<float>(3, -2.0f));
}

TEST_P(PackedMatrixTest, ConvertsWithinThePrecisionsBound) {
  std::mt19937 rng(7);
  const int64_t k = 37, n = 70;
  std::vector<float> w = Random(k * n, rng);
  w[5] = 0.0f;
  for (int64_t r = 0; r < k; ++r) w[r * n + 69] = 0.0f;  // an all-zero column
  const PackedMatrix packed =
      PackedMatrix::Pack(w.data(), k, n, n, kernel().isa, kernel().precision);
  for (int64_t j = 0; j < n; ++j) {
    float largest = 0.0f;
    for (int64_t r = 0; r < k; ++r) largest = std::max(largest, std::abs(w[r * n + j]));
    for (int64_t r = 0; r < k; ++r) {
      const float want = w[r * n + j];
      const float got = packed.Weight(r, j);
      switch (kernel().precision) {
        case WeightPrecision::kFp32:
          ASSERT_EQ(got, want);
          break;
        case WeightPrecision::kBf16:  // 8 significant bits, rounded: half an ulp, 2^-8 relative
          ASSERT_LE(std::abs(got - want), std::abs(want) * 0x1p-8f) << r << ", " << j;
          break;
        case WeightPrecision::kInt8:  // half a step of the column's scale
          ASSERT_LE(std::abs(got - want), largest / 127.0f * 0.5001f) << r << ", " << j;
          break;
      }
    }
  }
  const int64_t panels = 2;
  const int64_t bytes_per_weight = kernel().precision == WeightPrecision::kFp32   ? 4
                                   : kernel().precision == WeightPrecision::kBf16 ? 2
                                                                                  : 1;
  // bf16 pairs rows, int8 packs them in quads; int8 adds a scale and a sum
  // per column.
  const int64_t padded_k = kernel().precision == WeightPrecision::kBf16   ? k + 1
                           : kernel().precision == WeightPrecision::kInt8 ? 40
                                                                          : k;
  const int64_t scales = kernel().precision == WeightPrecision::kInt8 ? panels * 64 * 8 : 0;
  EXPECT_EQ(packed.bytes(), panels * 64 * padded_k * bytes_per_weight + scales);
}

// int8 against the float32 product of the exported weights: each term
// x * w is off by at most |x| * s_w / 2 + |w| * s_x / 2 + s_x * s_w / 4
// (half a step of each), s_w the column's and s_x the row's step (largest
// magnitude / 127); the bound README "Weight precision" states. (Matrices
// deeper than 32768 rows quantise slices with their own, smaller, steps:
// the bound holds all the more.)
void CheckInt8Bound(KernelIsa isa, int64_t m, int64_t k, int64_t n) {
  SCOPED_TRACE(testing::Message() << KernelIsaName(isa) << " m=" << m << " k=" << k << " n=" << n);
  std::mt19937 rng(5);
  const std::vector<float> w = Random(k * n, rng);
  std::vector<float> x = Random(m * k, rng);
  for (int64_t kk = 0; kk < k; ++kk) x[(m / 2) * k + kk] *= 50.0f;  // scale doesn't matter
  const PackedMatrix packed = PackedMatrix::Pack(w.data(), k, n, n, isa, WeightPrecision::kInt8);
  std::vector<float> c(m * n);
  packed.Multiply(x.data(), k, m, c.data(), n);
  for (int64_t i = 0; i < m; ++i) {
    float x_largest = 0.0f;
    for (int64_t kk = 0; kk < k; ++kk) x_largest = std::max(x_largest, std::abs(x[i * k + kk]));
    const double s_x = x_largest / 127.0;
    for (int64_t j = 0; j < n; ++j) {
      float w_largest = 0.0f;
      for (int64_t kk = 0; kk < k; ++kk) w_largest = std::max(w_largest, std::abs(w[kk * n + j]));
      const double s_w = w_largest / 127.0;
      double want = 0.0, bound = 0.0;
      for (int64_t kk = 0; kk < k; ++kk) {
        const double xv = x[i * k + kk], wv = w[kk * n + j];
        want += xv * wv;
        bound += std::abs(xv) * s_w / 2 + std::abs(wv) * s_x / 2 + s_x * s_w / 4;
      }
      ASSERT_LE(std::abs(c[i * n + j] - want), bound * 1.0001 + 1e-6) << i << ", " << j;
    }
  }
}

// int8 only, on every instruction set this CPU runs.
TEST(PackedMatrixInt8Test, StaysWithinTheQuantisationBound) {
  for (const KernelIsa isa : SupportedKernelIsas()) {
    CheckInt8Bound(isa, 13, 300, 130);
    CheckInt8Bound(isa, 3, 2 * 32768 + 300, 20);  // three depth slices
  }
}

// A row of zeros gives the addend; a row holding NaN or Inf gives NaN, as a
// float32 product would, and leaves the other rows alone.
TEST_P(PackedMatrixTest, ZeroAndNonFiniteRows) {
  std::mt19937 rng(9);
  const int64_t k = 40, n = 70;
  const std::vector<float> w = Random(k * n, rng);
  std::vector<float> x = Random(4 * k, rng);
  std::fill_n(x.begin(), k, 0.0f);
  x[k + 7] = std::numeric_limits<float>::quiet_NaN();
  x[2 * k + 9] = std::numeric_limits<float>::infinity();
  const std::vector<float> bias = Random(n, rng);
  const PackedMatrix packed =
      PackedMatrix::Pack(w.data(), k, n, n, kernel().isa, kernel().precision);
  std::vector<float> c(4 * n);
  packed.MultiplyAdd(x.data(), k, 4, bias.data(), 0, c.data(), n);
  for (int64_t j = 0; j < n; ++j) {
    EXPECT_EQ(c[j], bias[j]) << j;
    EXPECT_TRUE(std::isnan(c[n + j])) << j;
    EXPECT_FALSE(std::isfinite(c[2 * n + j])) << j;
    EXPECT_TRUE(std::isfinite(c[3 * n + j])) << j;
  }
}

TEST(Bf16DotKernelTest, MatchesNaiveProductOfRoundedX) {
  const std::vector<KernelIsa> isas = SupportedKernelIsas();
  if (isas.back() != KernelIsa::kAvx512Bf16) {
    GTEST_SKIP() << "this CPU has no AVX-512 BF16 (kernel_isa_test says so too)";
  }
  const Kernel dot = {KernelIsa::kAvx512Bf16, WeightPrecision::kBf16, /*bf16_dot=*/true};
  for (int64_t m = 1; m <= 13; ++m) {
    for (int64_t k : {1, 3, 33, 64}) {
      for (int64_t n : {5, 64, 100}) CheckProduct(dot, {m, k, n}, Addend::kMatrix);
    }
  }
  for (Addend kind : {Addend::kNone, Addend::kBias, Addend::kMatrix, Addend::kInPlace}) {
    CheckProduct(dot, {9, 19, 72}, kind);
    CheckProduct(dot, {1, 256, 1024}, kind);
  }
  CheckProduct(dot, {600, 256, 80}, Addend::kMatrix);
}

INSTANTIATE_TEST_SUITE_P(
    Isas, PackedMatrixTest,
    ::testing::Combine(::testing::ValuesIn(SupportedKernelIsas()),
                       ::testing::Values(WeightPrecision::kFp32, WeightPrecision::kBf16,
                                         WeightPrecision::kInt8)),
    [](const ::testing::TestParamInfo<std::tuple<KernelIsa, WeightPrecision>>& info) {
      return KernelIsaName(std::get<0>(info.param)) + "_" +
             WeightPrecisionName(std::get<1>(info.param));
    });

}  // namespace
}  // namespace rnnserve::model
