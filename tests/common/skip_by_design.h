// The marker of a test skipped by design: the case does not apply (streaming
// a whole-sequence model), which is no gap in coverage. scripts/test.sh fails
// on any skip whose message lacks it, such as one for a missing program or
// package, which CI would otherwise report green without running. README
// "Tests" lists the skips by design. Use:
//   if (!stack.streamable()) GTEST_SKIP() << kSkipByDesign << "whole-sequence model";
#ifndef RNNSERVE_TESTS_COMMON_SKIP_BY_DESIGN_H_
#define RNNSERVE_TESTS_COMMON_SKIP_BY_DESIGN_H_

namespace rnnserve::testing {

// scripts/check_skips.sh looks for exactly this text.
inline constexpr char kSkipByDesign[] = "[skip by design] ";

}  // namespace rnnserve::testing

#endif  // RNNSERVE_TESTS_COMMON_SKIP_BY_DESIGN_H_
