#!/usr/bin/env bash
# Installs the Debian bookworm packages rnnserve builds and tests with, only
# when some are missing. Idempotent and non-interactive; run as root.
#   scripts/install_deps.sh              build + test dependencies
#   scripts/install_deps.sh --build-only only what building the binaries with
#                                        -DBUILD_TESTING=OFF needs (the
#                                        container's build stage)
#   scripts/install_deps.sh --reference  also PyTorch, ONNX and the demo data,
#                                        which only the fixture and training
#                                        scripts need
#   scripts/install_deps.sh --sanitize   also clang for the sanitizer and fuzz
#                                        builds (so does RNNSERVE_SANITIZE_CI=1)
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libeigen3-dev libabsl-dev nlohmann-json3-dev libgoogle-glog-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  prometheus-cpp-dev libonnx-dev libssl-dev
  grpc-proto  # grpc/health/v1/health.proto: the client's health check stubs
)
# Only the tests and benchmarks use these (about 140 MB installed, 96 MB of it
# the prometheus package): an image build would fetch them for nothing.
if [[ "${1:-}" != "--build-only" ]]; then
  packages+=(
    libgtest-dev libgmock-dev libbenchmark-dev
    libdnnl-dev  # oneDNN: model_bench compares the kernel with its RNN primitive
    prometheus  # promtool: the metrics test checks the exposition with it
  )
fi
# clang with its sanitizer runtimes: scripts/sanitize.sh and scripts/fuzz.sh
# (scripts/test.sh runs the first when RNNSERVE_SANITIZE_CI=1).
if [[ "${RNNSERVE_SANITIZE_CI:-0}" == 1 || "${1:-}" == "--sanitize" ]]; then
  packages+=(clang libclang-rt-14-dev)
fi
if [[ "${1:-}" == "--reference" ]]; then
  packages+=(python3-torch python3-onnx python3-numpy fortunes python3-statsmodels
             libopenblas0-openmp)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} == 0 )); then
  echo "install_deps: all ${#packages[@]} packages present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install_deps: missing ${missing[*]}; run this script as root to install them" >&2
  exit 1
fi
echo "install_deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
