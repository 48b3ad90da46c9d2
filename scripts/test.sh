#!/usr/bin/env bash
# The README's test command: install what is missing, build, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
ctest --test-dir build --output-on-failure -j"${JOBS:-2}" --timeout 600
# The sanitizer suites (README "Sanitizers") only on request: they build
# everything twice more and take about 40 minutes on 2 cores, past .ci/run's
# 30-minute budget. RNNSERVE_SANITIZE_CI=1 scripts/test.sh runs them too.
if [[ "${RNNSERVE_SANITIZE_CI:-0}" == 1 ]]; then
  scripts/sanitize.sh asan
  scripts/sanitize.sh tsan
fi
