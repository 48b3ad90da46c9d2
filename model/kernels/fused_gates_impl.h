// The row loops of fused_gates.h as templates over a register type V (see
// vector_math.h for what V provides, plus kLanes, Load, Store and the
// partial LoadFirst(p, n) / StoreFirst(p, v, n) for a row's last lanes).
// Included only by the per-instruction-set files.
#ifndef RNNSERVE_MODEL_KERNELS_FUSED_GATES_IMPL_H_
#define RNNSERVE_MODEL_KERNELS_FUSED_GATES_IMPL_H_

#include <cstdint>

#include "model/kernels/fused_gate_rows.h"
#include "model/kernels/vector_math.h"

namespace rnnserve::model::internal {

// Loads and stores `n` lanes: all of them unless kPartial.
template <typename V, bool kPartial>
struct Lanes {
  static typename V::Reg Load(const float* p, int n) {
    return kPartial ? V::LoadFirst(p, n) : V::Load(p);
  }
  static void Store(float* p, typename V::Reg v, int n) {
    if (kPartial) {
      V::StoreFirst(p, v, n);
    } else {
      V::Store(p, v);
    }
  }
};

// Lanes [j, j + n) of one LSTM row.
template <typename V, bool kPartial>
void LstmLanes(const float* gates, float* cell, float* out, int64_t h, int64_t j, int n) {
  using L = Lanes<V, kPartial>;
  const auto i = Sigmoid<V>(L::Load(gates + j, n));
  const auto f = Sigmoid<V>(L::Load(gates + h + j, n));
  const auto g = Tanh<V>(L::Load(gates + 2 * h + j, n));
  const auto o = Sigmoid<V>(L::Load(gates + 3 * h + j, n));
  const auto c = V::Fmadd(f, L::Load(cell + j, n), V::Mul(i, g));
  L::Store(cell + j, c, n);
  L::Store(out + j, V::Mul(o, Tanh<V>(c)), n);
}

template <typename V>
void LstmRows(const LstmGateRows& rows) {
  const int64_t h = rows.hidden;
  for (int64_t b = 0; b < rows.batch; ++b) {
    const float* gates = rows.gates + b * 4 * h;
    float* cell = rows.cell + b * h;
    float* out = rows.out + b * h;
    int64_t j = 0;
    for (; j + V::kLanes <= h; j += V::kLanes) {
      LstmLanes<V, false>(gates, cell, out, h, j, V::kLanes);
    }
    if (j < h) LstmLanes<V, true>(gates, cell, out, h, j, static_cast<int>(h - j));
  }
}

// Lanes [j, j + n) of one GRU row.
template <typename V, bool kPartial>
void GruLanes(const float* s, const float* p, const float* h_prev, float* out, int64_t h,
              int64_t j, int n) {
  using L = Lanes<V, kPartial>;
  const auto r = Sigmoid<V>(V::Add(L::Load(s + j, n), L::Load(p + j, n)));
  const auto z = Sigmoid<V>(V::Add(L::Load(s + h + j, n), L::Load(p + h + j, n)));
  const auto n_gate =
      Tanh<V>(V::Fmadd(r, L::Load(s + 2 * h + j, n), L::Load(p + 2 * h + j, n)));
  // (1 - z) * n + z * h_prev, one rounding fewer.
  const auto prev = L::Load(h_prev + j, n);
  L::Store(out + j, V::Fmadd(z, V::Sub(prev, n_gate), n_gate), n);
}

template <typename V>
void GruRows(const GruGateRows& rows) {
  const int64_t h = rows.hidden;
  for (int64_t b = 0; b < rows.batch; ++b) {
    const float* s = rows.recurrent + b * 3 * h;
    const float* p = rows.projected + b * 3 * h;
    const float* prev = rows.h_prev + b * h;
    float* out = rows.out + b * h;
    int64_t j = 0;
    for (; j + V::kLanes <= h; j += V::kLanes) {
      GruLanes<V, false>(s, p, prev, out, h, j, V::kLanes);
    }
    if (j < h) GruLanes<V, true>(s, p, prev, out, h, j, static_cast<int>(h - j));
  }
}

}  // namespace rnnserve::model::internal

#endif  // RNNSERVE_MODEL_KERNELS_FUSED_GATES_IMPL_H_
