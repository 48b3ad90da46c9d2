#!/usr/bin/env bash
# The README's test command: install what is missing, build, run every test,
# and fail if a test was skipped for anything but a reason by design (a
# missing program or package: scripts/check_skips.sh). Arguments go to ctest,
# e.g. scripts/test.sh -R deploy.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
results="$PWD/build/Testing/results.xml"
rm -f "$results"
ctest --test-dir build --output-on-failure -j"${JOBS:-2}" --timeout 600 \
      --output-junit "$results" "$@"
scripts/check_skips.sh "$results"
# The sanitizer suites (README "Sanitizers") only on request: they build
# everything twice more and take about 40 minutes on 2 cores, past .ci/run's
# 30-minute budget. RNNSERVE_SANITIZE_CI=1 scripts/test.sh runs them too.
if [[ "${RNNSERVE_SANITIZE_CI:-0}" == 1 ]]; then
  scripts/sanitize.sh asan
  scripts/sanitize.sh tsan
fi
