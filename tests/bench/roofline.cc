#include "tests/bench/roofline.h"

#include <immintrin.h>

namespace rnnserve::bench {
namespace {

__attribute__((target("avx512f"))) uint64_t ReadAllAvx512(const uint64_t* words,
                                                           size_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    // The kernel asks for its weights 1 KiB ahead at B = 1 (gemm_avx512.cc);
    // a read without it would understate the bandwidth the kernel can get.
    const char* ahead = reinterpret_cast<const char*>(words + i) + 1024;
    for (int line = 0; line < 4; ++line) _mm_prefetch(ahead + 64 * line, _MM_HINT_T0);
    a0 = _mm512_xor_si512(a0, _mm512_loadu_si512(words + i));
    a1 = _mm512_xor_si512(a1, _mm512_loadu_si512(words + i + 8));
    a2 = _mm512_xor_si512(a2, _mm512_loadu_si512(words + i + 16));
    a3 = _mm512_xor_si512(a3, _mm512_loadu_si512(words + i + 24));
  }
  uint64_t out[8];
  _mm512_storeu_si512(out, _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3)));
  uint64_t r = 0;
  for (uint64_t v : out) r ^= v;
  for (; i < n; ++i) r ^= words[i];
  return r;
}

__attribute__((target("avx2"))) uint64_t ReadAllAvx2(const uint64_t* words, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const char* ahead = reinterpret_cast<const char*>(words + i) + 1024;
    _mm_prefetch(ahead, _MM_HINT_T0);
    _mm_prefetch(ahead + 64, _MM_HINT_T0);
    const __m256i* p = reinterpret_cast<const __m256i*>(words + i);
    a0 = _mm256_xor_si256(a0, _mm256_loadu_si256(p));
    a1 = _mm256_xor_si256(a1, _mm256_loadu_si256(p + 1));
    a2 = _mm256_xor_si256(a2, _mm256_loadu_si256(p + 2));
    a3 = _mm256_xor_si256(a3, _mm256_loadu_si256(p + 3));
  }
  uint64_t out[4];
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out),
                      _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3)));
  uint64_t r = out[0] ^ out[1] ^ out[2] ^ out[3];
  for (; i < n; ++i) r ^= words[i];
  return r;
}

// 12 independent chains: enough to cover FMA latency times two pipes.
__attribute__((target("avx512f"))) double FmaLoopAvx512(int64_t iterations, float* sink) {
  const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
  __m512 v[12];
  for (int j = 0; j < 12; ++j) v[j] = _mm512_set1_ps(static_cast<float>(j));
  for (int64_t i = 0; i < iterations; ++i) {
    for (int j = 0; j < 12; ++j) v[j] = _mm512_fmadd_ps(v[j], m, a);
  }
  __m512 s = v[0];
  for (int j = 1; j < 12; ++j) s = _mm512_add_ps(s, v[j]);
  float out[16];  // Not _mm512_reduce_add_ps: GCC 12 warns inside it.
  _mm512_storeu_ps(out, s);
  *sink = out[0] + out[15];
  return static_cast<double>(iterations) * 12 * 16 * 2;
}

__attribute__((target("avx2,fma"))) double FmaLoopAvx2(int64_t iterations, float* sink) {
  const __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
  __m256 v[12];
  for (int j = 0; j < 12; ++j) v[j] = _mm256_set1_ps(static_cast<float>(j));
  for (int64_t i = 0; i < iterations; ++i) {
    for (int j = 0; j < 12; ++j) v[j] = _mm256_fmadd_ps(v[j], m, a);
  }
  __m256 s = v[0];
  for (int j = 1; j < 12; ++j) s = _mm256_add_ps(s, v[j]);
  float out[8];
  _mm256_storeu_ps(out, s);
  *sink = out[0] + out[7];
  return static_cast<double>(iterations) * 12 * 8 * 2;
}

bool HasAvx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}

}  // namespace

uint64_t ReadAll(const uint64_t* words, size_t n) {
  static const bool avx512 = HasAvx512();
  return avx512 ? ReadAllAvx512(words, n) : ReadAllAvx2(words, n);
}

double FmaLoop(int64_t iterations, float* sink) {
  static const bool avx512 = HasAvx512();
  return avx512 ? FmaLoopAvx512(iterations, sink) : FmaLoopAvx2(iterations, sink);
}

}  // namespace rnnserve::bench
