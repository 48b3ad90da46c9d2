#include "model/kernels/fused_gates.h"

#include "glog/logging.h"

namespace rnnserve::model {

bool HasFusedGates(KernelIsa isa) { return isa != KernelIsa::kGeneric; }

void FusedLstmGates(KernelIsa isa, const LstmGateRows& rows) {
  switch (isa) {
    case KernelIsa::kAvx512:
    case KernelIsa::kAvx512Bf16:
      return internal::LstmGatesAvx512(rows);
    case KernelIsa::kAvx2:
      return internal::LstmGatesAvx2(rows);
    case KernelIsa::kGeneric:
      break;
  }
  LOG(FATAL) << "no fused LSTM gates for " << KernelIsaName(isa);
}

void FusedGruGates(KernelIsa isa, const GruGateRows& rows) {
  switch (isa) {
    case KernelIsa::kAvx512:
    case KernelIsa::kAvx512Bf16:
      return internal::GruGatesAvx512(rows);
    case KernelIsa::kAvx2:
      return internal::GruGatesAvx2(rows);
    case KernelIsa::kGeneric:
      break;
  }
  LOG(FATAL) << "no fused GRU gates for " << KernelIsaName(isa);
}

}  // namespace rnnserve::model
