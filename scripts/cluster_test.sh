#!/usr/bin/env bash
# Every process-level scenario of the Redis session tier (tests/deploy/
# cluster_test.cc; CI runs them once) ROUNDS times in a row (default 3), to
# check they stay reliable; prints each round's result and exits 1 if any
# failed. About a minute a round. Build first (scripts/build.sh).
#   scripts/cluster_test.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
failed=0
for round in $(seq "$rounds"); do
  log=$(mktemp)
  if build/bin/deploy_test --gtest_filter='ClusterTest.*' > "$log" 2>&1; then
    echo "round $round: all passed"
  else
    failed=1
    echo "round $round: $(grep -E '^\[  FAILED  \] ClusterTest' "$log" | sort -u | tr '\n' ' ')"
    echo "  log: $log"
    continue
  fi
  rm -f "$log"
done
exit "$failed"
