// fused_gates.h on AVX-512: 16 lanes, masked loads and stores for a row's
// last lanes. Compiled with AVX-512 flags; called only when the CPU has it.
#include "model/kernels/avx512_intrinsics.h"
#include "model/kernels/fused_gate_rows.h"
#include "model/kernels/fused_gates_impl.h"

namespace rnnserve::model::internal {
namespace {

struct Avx512 {
  using Reg = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;

  static Reg Set1(float v) { return _mm512_set1_ps(v); }
  static Reg Load(const float* p) { return _mm512_loadu_ps(p); }
  static void Store(float* p, Reg v) { _mm512_storeu_ps(p, v); }
  static Mask First(int n) { return static_cast<Mask>((1u << n) - 1); }
  static Reg LoadFirst(const float* p, int n) { return _mm512_maskz_loadu_ps(First(n), p); }
  static void StoreFirst(float* p, Reg v, int n) { _mm512_mask_storeu_ps(p, First(n), v); }
  static Reg Add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  static Reg Sub(Reg a, Reg b) { return _mm512_sub_ps(a, b); }
  static Reg Mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
  static Reg Div(Reg a, Reg b) { return _mm512_div_ps(a, b); }
  static Reg Fmadd(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  static Reg Min(Reg a, Reg b) { return _mm512_min_ps(a, b); }
  static Reg Max(Reg a, Reg b) { return _mm512_max_ps(a, b); }
  static Reg Abs(Reg a) { return _mm512_abs_ps(a); }
  static Mask Less(Reg a, Reg b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static bool Any(Mask m) { return m != 0; }
  static Reg Select(Mask m, Reg if_set, Reg if_clear) {
    return _mm512_mask_blend_ps(m, if_clear, if_set);
  }
  static Reg Floor(Reg a) {
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  }
  static Reg Pow2(Reg m) {
    const __m512i biased = _mm512_add_epi32(_mm512_cvtps_epi32(m), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(biased, 23));
  }
};

}  // namespace

void LstmGatesAvx512(const LstmGateRows& rows) { LstmRows<Avx512>(rows); }
void GruGatesAvx512(const GruGateRows& rows) { GruRows<Avx512>(rows); }

}  // namespace rnnserve::model::internal
