// The arguments of the fused gate kernels (fused_gates.h) and the kernels
// per instruction set. Includes nothing with inline code, so the files
// compiled for AVX2 or AVX-512 can include it (see gemm_kernels.h).
#ifndef RNNSERVE_MODEL_KERNELS_FUSED_GATE_ROWS_H_
#define RNNSERVE_MODEL_KERNELS_FUSED_GATE_ROWS_H_

#include <cstdint>

namespace rnnserve::model {

// One LSTM step for `batch` rows: gates row b (ld 4 * hidden) holds the i, f,
// g, o pre-activations (x W_x + h W_h + b); cell row b (ld hidden) is c_{t-1}
// in and c_t out; out row b (ld hidden) gets h_t = o * tanh(c_t).
struct LstmGateRows {
  const float* gates;
  float* cell;
  float* out;
  int64_t batch;
  int64_t hidden;
};

// One GRU step, reset after the product, for `batch` rows (row strides
// 3 * hidden, except h_prev and out: hidden): recurrent row b holds h W_h with
// b_hn added to its n part, projected row b holds x W_x + b_x (+ b_h for r, z).
// r = sig(p_r + s_r), z = sig(p_z + s_z), n = tanh(p_n + r * s_n),
// h_t = (1 - z) * n + z * h_{t-1} into out (may not alias h_prev).
struct GruGateRows {
  const float* recurrent;
  const float* projected;
  const float* h_prev;
  float* out;
  int64_t batch;
  int64_t hidden;
};

namespace internal {
void LstmGatesAvx2(const LstmGateRows& rows);
void LstmGatesAvx512(const LstmGateRows& rows);
void GruGatesAvx2(const GruGateRows& rows);
void GruGatesAvx512(const GruGateRows& rows);
}  // namespace internal

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_KERNELS_FUSED_GATE_ROWS_H_
