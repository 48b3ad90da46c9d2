#include "util/half_float.h"

#include <Eigen/Core>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "gtest/gtest.h"

namespace rnnserve::util {
namespace {

// Every half against the definition of binary16, computed in double.
TEST(HalfFloatTest, HalfToFloatIsExactForEveryHalf) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const int sign = bits >> 15;
    const int exponent = (bits >> 10) & 0x1f;
    const int mantissa = bits & 0x3ff;
    const float got = HalfToFloat(static_cast<uint16_t>(bits));
    ASSERT_EQ(std::signbit(got), sign == 1) << bits;
    if (exponent == 0x1f) {
      ASSERT_EQ(std::isinf(got), mantissa == 0) << bits;
      ASSERT_EQ(std::isnan(got), mantissa != 0) << bits;
      continue;
    }
    const double magnitude =
        exponent == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024 + mantissa, exponent - 25);
    ASSERT_EQ(static_cast<double>(got), sign ? -magnitude : magnitude) << bits;
  }
}

TEST(HalfFloatTest, BFloat16ToFloatKeepsInfinityAndNaN) {
  EXPECT_EQ(BFloat16ToFloat(0x7f80), std::numeric_limits<float>::infinity());
  EXPECT_EQ(BFloat16ToFloat(0xff80), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(BFloat16ToFloat(0x7fc0)));
}

// Eigen's types as a second reference: the conversions could be theirs, were
// util/ allowed to link Eigen (util/half_float.h).
TEST(HalfFloatTest, AgreesWithEigenForEveryInput) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const uint16_t b = static_cast<uint16_t>(bits);
    const float half = static_cast<float>(std::bit_cast<Eigen::half>(b));
    const float bf16 = static_cast<float>(std::bit_cast<Eigen::bfloat16>(b));
    if (std::isnan(half)) {
      ASSERT_TRUE(std::isnan(HalfToFloat(b))) << bits;
    } else {
      ASSERT_EQ(std::bit_cast<uint32_t>(HalfToFloat(b)), std::bit_cast<uint32_t>(half)) << bits;
    }
    if (std::isnan(bf16)) {
      ASSERT_TRUE(std::isnan(BFloat16ToFloat(b))) << bits;
    } else {
      ASSERT_EQ(std::bit_cast<uint32_t>(BFloat16ToFloat(b)), std::bit_cast<uint32_t>(bf16)) << bits;
    }
  }
}

}  // namespace
}  // namespace rnnserve::util
