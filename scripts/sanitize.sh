#!/usr/bin/env bash
# The test suite under sanitizers (README "Sanitizers"):
#   scripts/sanitize.sh asan   ASan + UBSan, every test, in build-asan/
#   scripts/sanitize.sh tsan   TSan, the server tests, in build-tsan/
# Both build with clang (CC/CXX override it), -O1 -g and assertions on, and
# exit non-zero on any test failure or sanitizer report. Extra arguments go
# to ctest (e.g. -R 'SessionStore').
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-}"
shift $(( $# > 0 ? 1 : 0 ))
jobs="${JOBS:-2}"
export CC="${CC:-clang}" CXX="${CXX:-clang++}"

# Sanitizer reports go to DIR/sanitizer-reports/<tool>.<pid>, not stderr: the
# tests start rnnserve and rnnserve-cli with their output in temporary files
# that they delete, and a report from there must not vanish with them.
# no_reports prints every report and fails when there is one.
no_reports() {  # DIR
  local found=0 f
  for f in "$1"/sanitizer-reports/*; do
    [[ -s "$f" ]] || continue
    found=1
    echo "=== sanitizer report $f"
    cat "$f"
  done
  return "$found"
}

configure() {  # DIR SANITIZER
  cmake -S . -B "$1" -DRNNSERVE_SANITIZE="$2" -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" > /dev/null
}

case "$mode" in
  asan)
    configure build-asan address
    # Every test binary ctest runs (a missing one shows as a failing
    # <binary>_NOT_BUILT test); the benchmarks are not tests.
    cmake --build build-asan -j"$jobs" --target model_test proto_test util_test server_test \
      client_test deploy_test
    # Leaks count: a test that leaks fails. UBSan stops at the first report
    # (-fno-sanitize-recover); print_stacktrace says where.
    rm -rf build-asan/sanitizer-reports && mkdir -p build-asan/sanitizer-reports
    log="log_path=$PWD/build-asan/sanitizer-reports"
    export ASAN_OPTIONS="$log/asan:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    export UBSAN_OPTIONS="$log/ubsan:print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
    export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
    status=0
    ctest --test-dir build-asan --output-on-failure -j"$jobs" --timeout 1800 "$@" || status=$?
    no_reports build-asan || status=1
    exit "$status"
    ;;
  tsan)
    configure build-tsan thread
    cmake --build build-tsan -j"$jobs" --target server_test
    # gRPC, protobuf and abseil come from Debian uninstrumented: TSan sees
    # neither their memory accesses nor their locks. The preloaded shim
    # (tests/sanitizers/tsan_absl_mutex.cc) tells TSan about every
    # absl::Mutex lock and unlock, ours and gRPC's; tsan.supp names the
    # reports that remain inside those libraries.
    "$CXX" -shared -fPIC -O1 -g -o build-tsan/libtsan_absl_mutex.so \
      tests/sanitizers/tsan_absl_mutex.cc -ldl
    export LD_PRELOAD="$PWD/build-tsan/libtsan_absl_mutex.so"
    rm -rf build-tsan/sanitizer-reports && mkdir -p build-tsan/sanitizer-reports
    export TSAN_OPTIONS="log_path=$PWD/build-tsan/sanitizer-reports/tsan:halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$PWD/tests/sanitizers/tsan.supp${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
    suites="$(build-tsan/bin/server_test --gtest_list_tests | sed -n 's/^\([A-Za-z0-9_/]*\)\.$/\1/p' |
              paste -sd'|')"
    status=0
    ctest --test-dir build-tsan --output-on-failure -j"$jobs" --timeout 1800 \
      -R "^($suites)\\." "$@" || status=$?
    no_reports build-tsan || status=1
    exit "$status"
    ;;
  *)
    echo "usage: $0 asan|tsan [ctest arguments]" >&2
    exit 2
    ;;
esac
