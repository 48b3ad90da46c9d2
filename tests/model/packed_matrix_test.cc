// PackedMatrix on every instruction set this CPU runs, against a naive
// double-precision product: sizes that fill no tile or panel evenly, strided
// rows, each kind of addend, and nothing written outside the result.
#include "model/kernels/packed_matrix.h"

#include <cmath>
#include <limits>
#include <random>
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

// Runs one product with padded strides and checks every value and every
// padding float.
void CheckProduct(KernelIsa isa, Shape s, Addend kind) {
  SCOPED_TRACE(testing::Message() << KernelIsaName(isa) << " m=" << s.m << " k=" << s.k
                                  << " n=" << s.n << " addend=" << static_cast<int>(kind));
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

  const PackedMatrix packed = PackedMatrix::Pack(w.data(), s.k, s.n, ldw, isa);
  ASSERT_EQ(packed.rows(), s.k);
  ASSERT_EQ(packed.cols(), s.n);
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

  for (int64_t i = 0; i < s.m; ++i) {
    for (int64_t j = 0; j < s.n; ++j) {
      double want = 0.0, magnitude = 0.0;
      if (kind == Addend::kBias) want = bias[j];
      if (kind == Addend::kMatrix || kind == Addend::kInPlace) want = matrix[i * ldc + j];
      magnitude = std::abs(want);
      for (int64_t kk = 0; kk < s.k; ++kk) {
        const double term = double{x[i * ldx + kk]} * w[kk * ldw + j];
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

class PackedMatrixTest : public ::testing::TestWithParam<KernelIsa> {};

TEST_P(PackedMatrixTest, MatchesNaiveProductForEveryRowCount) {
  // B = 1..17 covers every tile height and split of every kernel.
  for (int64_t m = 1; m <= 17; ++m) {
    for (int64_t k : {1, 3, 64}) {
      for (int64_t n : {20, 64, 100}) CheckProduct(GetParam(), {m, k, n}, Addend::kMatrix);
    }
  }
}

TEST_P(PackedMatrixTest, MatchesNaiveProductForOddWidths) {
  // Widths below, at and past a panel (64), a half panel (32) and a strip (16).
  for (int64_t n : {1, 5, 8, 15, 16, 17, 31, 33, 63, 64, 65, 127, 130, 200}) {
    for (int64_t m : {1, 2, 7, 13}) {
      for (int64_t k : {1, 3, 37}) CheckProduct(GetParam(), {m, k, n}, Addend::kBias);
    }
  }
}

TEST_P(PackedMatrixTest, EveryAddendKind) {
  for (Addend kind : {Addend::kNone, Addend::kBias, Addend::kMatrix, Addend::kInPlace}) {
    CheckProduct(GetParam(), {9, 19, 72}, kind);
    CheckProduct(GetParam(), {1, 256, 1024}, kind);
  }
}

TEST_P(PackedMatrixTest, RowsPastOneBlock) {
  // More rows than one L2-sized block of x (gemm_driver.h) at each depth.
  CheckProduct(GetParam(), {600, 256, 80}, Addend::kMatrix);
  CheckProduct(GetParam(), {1100, 64, 65}, Addend::kBias);
}

TEST_P(PackedMatrixTest, NoRowsWritesNothing) {
  const std::vector<float> w(12, 1.0f), x(4, 1.0f);
  const PackedMatrix packed = PackedMatrix::Pack(w.data(), 4, 3, 3, GetParam());
  std::vector<float> c(3, -2.0f);
  packed.Multiply(x.data(), 4, 0, c.data(), 3);
  EXPECT_EQ(c, std::vector<float>(3, -2.0f));
}

INSTANTIATE_TEST_SUITE_P(Isas, PackedMatrixTest, ::testing::ValuesIn(SupportedKernelIsas()),
                         [](const ::testing::TestParamInfo<KernelIsa>& info) {
                           return KernelIsaName(info.param);
                         });

}  // namespace
}  // namespace rnnserve::model
