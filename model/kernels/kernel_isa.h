// Which instruction set the packed kernels (packed_matrix.h, fused_gates.h)
// run with. The binary may be built for portable x86-64-v3 and still use
// AVX-512 where the CPU has it: each kernel is compiled once per instruction
// set and picked at model load time, never per step.
#ifndef RNNSERVE_MODEL_KERNELS_KERNEL_ISA_H_
#define RNNSERVE_MODEL_KERNELS_KERNEL_ISA_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace rnnserve::model {

enum class KernelIsa {
  kGeneric,  // plain C++ the compiler vectorises for the build's -march
  kAvx2,     // AVX2 + FMA intrinsics
  kAvx512,   // AVX-512 F/DQ/VL/BW intrinsics
  // kAvx512 plus BF16 and VNNI: the int8 weight kernel uses vpdpbusd
  // (packed_matrix.cc says why bf16 still widens rather than use
  // vdpbf16ps); float32 and bf16 weights run kAvx512's kernels.
  kAvx512Bf16,
};

// The best instruction set this CPU runs, lowered by the environment variable
// RNNSERVE_KERNEL=generic|avx2|avx512|avx512bf16 (never raised above what the CPU has;
// an unknown value is ignored with a warning). Read once per process.
KernelIsa DefaultKernelIsa();

// Every instruction set this CPU can run, generic first; for tests.
std::vector<KernelIsa> SupportedKernelIsas();

// "generic", "avx2", "avx512", "avx512bf16".
std::string KernelIsaName(KernelIsa isa);

// The instruction set the name denotes, if any; for the env variable and flags.
bool ParseKernelIsa(absl::string_view name, KernelIsa* isa);

}  // namespace rnnserve::model

#endif  // RNNSERVE_MODEL_KERNELS_KERNEL_ISA_H_
