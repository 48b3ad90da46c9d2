// fused_gates.h on AVX2 + FMA: 8 lanes, maskload/maskstore for a row's last
// lanes. Compiled with AVX2 flags; used when the CPU lacks AVX-512.
#include <immintrin.h>

#include "model/kernels/fused_gate_rows.h"
#include "model/kernels/fused_gates_impl.h"

namespace rnnserve::model::internal {
namespace {

struct Avx2 {
  using Reg = __m256;
  using Mask = __m256;
  static constexpr int kLanes = 8;

  static Reg Set1(float v) { return _mm256_set1_ps(v); }
  static Reg Load(const float* p) { return _mm256_loadu_ps(p); }
  static void Store(float* p, Reg v) { _mm256_storeu_ps(p, v); }
  static __m256i First(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Reg LoadFirst(const float* p, int n) { return _mm256_maskload_ps(p, First(n)); }
  static void StoreFirst(float* p, Reg v, int n) { _mm256_maskstore_ps(p, First(n), v); }
  static Reg Add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
  static Reg Sub(Reg a, Reg b) { return _mm256_sub_ps(a, b); }
  static Reg Mul(Reg a, Reg b) { return _mm256_mul_ps(a, b); }
  static Reg Div(Reg a, Reg b) { return _mm256_div_ps(a, b); }
  static Reg Fmadd(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  static Reg Min(Reg a, Reg b) { return _mm256_min_ps(a, b); }
  static Reg Max(Reg a, Reg b) { return _mm256_max_ps(a, b); }
  static Reg Abs(Reg a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static Mask Less(Reg a, Reg b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static bool Any(Mask m) { return _mm256_movemask_ps(m) != 0; }
  static Reg Select(Mask m, Reg if_set, Reg if_clear) {
    return _mm256_blendv_ps(if_clear, if_set, m);
  }
  static Reg Floor(Reg a) { return _mm256_floor_ps(a); }
  static Reg Pow2(Reg m) {
    const __m256i biased = _mm256_add_epi32(_mm256_cvtps_epi32(m), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(biased, 23));
  }
};

}  // namespace

void LstmGatesAvx2(const LstmGateRows& rows) { LstmRows<Avx2>(rows); }
void GruGatesAvx2(const GruGateRows& rows) { GruRows<Avx2>(rows); }

}  // namespace rnnserve::model::internal
