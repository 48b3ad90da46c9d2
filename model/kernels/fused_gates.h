// The element-wise half of an LSTM or GRU step in one vectorised pass per
// row, for the activations nearly every model uses: sigmoid gates and tanh
// elsewhere, no clip, peepholes or coupled gates. LstmCell and GruCell pick
// them at Create when their options are those, and keep their general code
// for the rest and for the generic instruction set. Thread-safe; allocates
// nothing.
#ifndef RNNSERVE_MODEL_KERNELS_FUSED_GATES_H_
#define RNNSERVE_MODEL_KERNELS_FUSED_GATES_H_

#include <cstdint>

#include "model/kernels/fused_gate_rows.h"
#include "model/kernels/kernel_isa.h"

namespace rnnserve::model {

// True when `isa` has fused kernels (AVX2, AVX-512).
bool HasFusedGates(KernelIsa isa);

// REQUIRES: HasFusedGates(isa).
void FusedLstmGates(KernelIsa isa, const LstmGateRows& rows);
void FusedGruGates(KernelIsa isa, const GruGateRows& rows);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_KERNELS_FUSED_GATES_H_
