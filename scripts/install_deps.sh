#!/usr/bin/env bash
# Installs the Debian bookworm packages rnnserve builds and tests with, only
# when some are missing. Idempotent and non-interactive; run as root.
#   scripts/install_deps.sh              build + test dependencies: the
#                                        Debian packages, and the npm tools
#                                        under RNNSERVE_TOOLS_PREFIX
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
  libcivetweb-dev  # the REST listener (server/v2/http_server.h); prometheus-cpp links it too
  grpc-proto  # grpc/health/v1/health.proto: the client's health check stubs
  libhiredis-dev  # the Redis session tier (--session_store, server/cluster/)
  libzstd-dev  # the tier's checkpoints, packed (server/cluster/checkpoint_codec.h)
  libhdf5-dev libzip-dev  # Keras .h5 / .keras files (model/importers/hdf5_file.h, zip_archive.h)
)
# Only the tests and benchmarks use these (about 140 MB installed, 96 MB of it
# the prometheus package): an image build would fetch them for nothing.
if [[ "${1:-}" != "--build-only" ]]; then
  packages+=(
    libgtest-dev libgmock-dev libbenchmark-dev
    libdnnl-dev  # oneDNN: model_bench compares the kernel with its RNN primitive
    prometheus  # promtool: the metrics test checks the exposition with it
    nginx  # deploy.AffinityTest runs it with deploy/proxy/nginx.conf (core modules only)
    redis-server  # the session tier's tests start their own on free loopback ports
    # examples/v2_stream_client.py, run by the v2 gRPC tests with /usr/bin/python3 on
    # stubs protoc and grpc_python_plugin (protobuf-compiler-grpc) generate
    python3-grpcio python3-protobuf
    curl  # examples/v2_rest_session.sh, run by the v2 REST tests
    clang  # the thread_safety_check test: clang's lock analysis, which GCC lacks
    # server_test's KerasDemoTest writes the demo models as .keras / .h5 at test time
    # (tests/testdata/make_keras_fixtures.py --resave-demos)
    python3-h5py python3-numpy
  )
  # npm brings buf (below); the machines come with Node.js, Debian's npm is
  # the fallback.
  command -v npm > /dev/null || packages+=(npm)
fi
# clang with its sanitizer runtimes: scripts/sanitize.sh and scripts/fuzz.sh
# (scripts/test.sh runs the first when RNNSERVE_SANITIZE_CI=1).
if [[ "${RNNSERVE_SANITIZE_CI:-0}" == 1 || "${1:-}" == "--sanitize" ]]; then
  packages+=(clang libclang-rt-14-dev)
fi
if [[ "${1:-}" == "--reference" ]]; then
  packages+=(python3-torch python3-onnx python3-numpy fortunes python3-statsmodels
             libopenblas0-openmp
             python3-h5py hdf5-tools)  # make_keras_fixtures.py; h5dump -H -A -p to compare layouts
fi

need_root() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "install_deps: missing $1; run this script as root to install it" >&2
    exit 1
  fi
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} == 0 )); then
  echo "install_deps: all ${#packages[@]} packages present"
else
  need_root "${missing[*]}"
  echo "install_deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  # The package starts the system's nginx where an init system runs; the
  # affinity test starts its own on free loopback ports and needs no other.
  if [[ " ${missing[*]} " == *" nginx "* ]]; then
    invoke-rc.d nginx stop > /dev/null 2>&1 || true
  fi
  # Likewise the system's Redis: the tests start their own.
  if [[ " ${missing[*]} " == *" redis-server "* ]]; then
    invoke-rc.d redis-server stop > /dev/null 2>&1 || true
  fi
fi

# buf, the gRPC command-line client the reflection test runs
# (tests/server/reflection_test.cc), pinned. It goes under a fixed prefix
# outside the checkout (tests/CMakeLists.txt's RNNSERVE_TOOLS_PREFIX), so
# worktrees and fresh clones share one install. --ignore-scripts: the package's
# postinstall only checks that the platform binary arrived with its optional
# dependency (@bufbuild/buf-linux-x64, from the registry like any package)
# and otherwise runs npm again; we check the version ourselves.
if [[ "${1:-}" != "--build-only" ]]; then
  buf_version=1.75.0
  tools_prefix=${RNNSERVE_TOOLS_PREFIX:-/opt/rnnserve-tools}
  if [[ "$("$tools_prefix/bin/buf" --version 2>/dev/null)" != "$buf_version" ]]; then
    need_root "buf $buf_version in $tools_prefix"
    echo "install_deps: installing buf $buf_version (npm) in $tools_prefix"
    npm install --global --prefix "$tools_prefix" --ignore-scripts --no-audit --no-fund \
      --loglevel=error "@bufbuild/buf@$buf_version"
    [[ "$("$tools_prefix/bin/buf" --version)" == "$buf_version" ]]
  else
    echo "install_deps: buf $buf_version present in $tools_prefix"
  fi
fi
