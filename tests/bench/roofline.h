// What the machine allows, measured in the same run as the kernels: how fast
// one core re-reads a buffer the size of a model's weights (the B = 1 limit:
// a step streams every weight once), and its FMA peak (the large-B limit).
#ifndef RNNSERVE_TESTS_BENCH_ROOFLINE_H_
#define RNNSERVE_TESTS_BENCH_ROOFLINE_H_

#include <cstddef>
#include <cstdint>

namespace rnnserve::bench {

// Reads words[0..n) once with the widest loads the CPU has; returns a value
// that depends on every word, so the compiler cannot drop the reads.
uint64_t ReadAll(const uint64_t* words, size_t n);

// Runs `iterations` rounds of independent fused multiply-adds over the widest
// vectors the CPU has; returns the floating-point operations done (2 per
// lane per FMA) and writes a result into *sink.
double FmaLoop(int64_t iterations, float* sink);

}  // namespace rnnserve::bench

#endif  // RNNSERVE_TESTS_BENCH_ROOFLINE_H_
