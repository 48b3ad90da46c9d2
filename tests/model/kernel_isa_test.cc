// Which instruction sets the kernels run with, and whether this machine tests
// them all. Every kernel variant (generic, AVX2, AVX-512) is compiled into
// every x86-64 build, but packed_matrix_test and fused_gates_test can only
// run the ones the CPU has: a variant this CPU lacks is announced loudly
// (a skipped test naming it, on stderr too). The machines this project's CI
// runs on differ (some have AVX-512, some AVX2 only), so a missing variant is a
// skip by design; a run that must cover a variant names it in
// RNNSERVE_REQUIRE_KERNELS (e.g. "avx512"), and then its absence fails.
#include "model/kernels/kernel_isa.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "model/kernels/fused_gates.h"
#include "tests/common/skip_by_design.h"

namespace rnnserve::model {
namespace {

constexpr KernelIsa kAllIsas[] = {KernelIsa::kGeneric, KernelIsa::kAvx2, KernelIsa::kAvx512,
                                  KernelIsa::kAvx512Bf16};

// The variants RNNSERVE_REQUIRE_KERNELS names (comma-separated), if any.
std::vector<std::string> RequiredKernels() {
  const char* required = std::getenv("RNNSERVE_REQUIRE_KERNELS");
  if (required == nullptr) return {};
  return absl::StrSplit(required, ',', absl::SkipEmpty());
}

TEST(KernelIsaTest, NamesRoundTrip) {
  for (KernelIsa isa : kAllIsas) {
    KernelIsa parsed = KernelIsa::kGeneric;
    ASSERT_TRUE(ParseKernelIsa(KernelIsaName(isa), &parsed));
    EXPECT_EQ(parsed, isa);
  }
  KernelIsa parsed;
  EXPECT_FALSE(ParseKernelIsa("sse9", &parsed));
}

TEST(KernelIsaTest, DefaultIsSupported) {
  const std::vector<KernelIsa> supported = SupportedKernelIsas();
  ASSERT_FALSE(supported.empty());
  EXPECT_EQ(supported.front(), KernelIsa::kGeneric);
  EXPECT_LE(static_cast<int>(DefaultKernelIsa()), static_cast<int>(supported.back()));
}

TEST(KernelIsaTest, EveryKernelVariantIsTestedOnThisMachine) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "not x86-64: only the generic kernels exist";
#endif
  const std::vector<KernelIsa> supported = SupportedKernelIsas();
  const std::vector<std::string> required = RequiredKernels();
  std::vector<std::string> untested;
  for (KernelIsa isa : kAllIsas) {
    if (std::find(supported.begin(), supported.end(), isa) == supported.end()) {
      EXPECT_EQ(std::find(required.begin(), required.end(), KernelIsaName(isa)), required.end())
          << "RNNSERVE_REQUIRE_KERNELS names " << KernelIsaName(isa) << ", which this CPU lacks";
      untested.push_back(KernelIsaName(isa) + (HasFusedGates(isa) ? " (packed matrix, fused gates)"
                                                                  : " (packed matrix)"));
    }
  }
  if (untested.empty()) return;
  const std::string message =
      "KERNEL VARIANTS NOT TESTED on this CPU: " + absl::StrJoin(untested, ", ") +
      ". Their PackedMatrixTest and FusedGatesTest cases were not instantiated; run the suite on "
      "a CPU with AVX-512 F/DQ/BW/VL, BF16 and VNNI to test them.";
  std::cerr << "\n*** " << message << " ***\n\n";
  GTEST_SKIP() << ::rnnserve::testing::kSkipByDesign << message;
}

}  // namespace
}  // namespace rnnserve::model
