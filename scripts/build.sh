#!/usr/bin/env bash
# Configures and builds rnnserve into build/ (binaries in build/bin/).
# Extra arguments go to cmake's configure step, e.g. -DRNNSERVE_CPU=native.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
cmake -S . -B build -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" "$@" > build/configure.log 2>&1 \
  || { cat build/configure.log; exit 1; }
cmake --build build -j"${JOBS:-2}"
