#include "model/kernels/kernel_isa.h"

#include <cstdlib>

#include "glog/logging.h"

namespace rnnserve::model {
namespace {

KernelIsa DetectKernelIsa() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // The AVX-512 kernels use F (arithmetic, masks), DQ and BW/VL (mask moves).
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")) {
    if (__builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512vnni")) {
      return KernelIsa::kAvx512Bf16;
    }
    return KernelIsa::kAvx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return KernelIsa::kAvx2;
  }
#endif
  return KernelIsa::kGeneric;
}

KernelIsa ChooseKernelIsa() {
  const KernelIsa detected = DetectKernelIsa();
  const char* wanted = std::getenv("RNNSERVE_KERNEL");
  if (wanted == nullptr || *wanted == '\0' || absl::string_view(wanted) == "auto") {
    return detected;
  }
  KernelIsa isa;
  if (!ParseKernelIsa(wanted, &isa)) {
    LOG(WARNING) << "RNNSERVE_KERNEL=" << wanted
                 << " is not one of generic, avx2, avx512, avx512bf16, auto; using "
                 << KernelIsaName(detected);
    return detected;
  }
  if (static_cast<int>(isa) > static_cast<int>(detected)) {
    LOG(WARNING) << "RNNSERVE_KERNEL=" << wanted << ": this CPU runs at most "
                 << KernelIsaName(detected);
    return detected;
  }
  return isa;
}

}  // namespace

KernelIsa DefaultKernelIsa() {
  static const KernelIsa isa = ChooseKernelIsa();
  return isa;
}

std::vector<KernelIsa> SupportedKernelIsas() {
  std::vector<KernelIsa> isas;
  const int best = static_cast<int>(DetectKernelIsa());
  for (int i = 0; i <= best; ++i) isas.push_back(static_cast<KernelIsa>(i));
  return isas;
}

std::string KernelIsaName(KernelIsa isa) {
  switch (isa) {
    case KernelIsa::kGeneric:
      return "generic";
    case KernelIsa::kAvx2:
      return "avx2";
    case KernelIsa::kAvx512:
      return "avx512";
    case KernelIsa::kAvx512Bf16:
      return "avx512bf16";
  }
  return "unknown";
}

bool ParseKernelIsa(absl::string_view name, KernelIsa* isa) {
  for (KernelIsa candidate :
       {KernelIsa::kGeneric, KernelIsa::kAvx2, KernelIsa::kAvx512, KernelIsa::kAvx512Bf16}) {
    if (name == KernelIsaName(candidate)) {
      *isa = candidate;
      return true;
    }
  }
  return false;
}

}  // namespace rnnserve::model
