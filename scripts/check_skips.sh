#!/usr/bin/env bash
# Fails when a ctest test was skipped for any reason but a designed one. A skip
# by design (the case does not apply, e.g. streaming a whole-sequence model)
# carries "[skip by design]" in its message (tests/common/skip_by_design.h);
# any other skip, above all one for a missing program or package, is a test
# that would otherwise pass CI without running. README "Tests" lists both.
#   scripts/check_skips.sh RESULTS.xml   (written by ctest --output-junit)
set -euo pipefail
results=${1:?usage: scripts/check_skips.sh RESULTS.xml}

# ctest's JUnit file: one <testcase> per test, a <skipped .../> element in a
# skipped one, its output in <system-out>, where GoogleTest prints the
# message on the line after "FILE:LINE: Skipped".
awk -v marker='[skip by design]' '
  /<testcase / {
    name = $0; sub(/.*<testcase name="/, "", name); sub(/".*/, "", name)
    skipped = 0; by_design = 0; reason = ""; reason_next = 0
  }
  /<skipped / { skipped = 1 }
  reason_next {
    reason = $0; reason_next = 0
    gsub(/&quot;/, "\"", reason); gsub(/&apos;/, "'"'"'", reason)
    gsub(/&lt;/, "<", reason); gsub(/&gt;/, ">", reason); gsub(/&amp;/, "\\&", reason)
  }
  /: Skipped$/ { reason_next = 1 }
  index($0, marker) { by_design = 1 }
  /<\/testcase>/ && skipped {
    if (by_design) designed++
    else unexplained[++n] = name (reason == "" ? "" : ": " reason)
  }
  END {
    printf "check_skips: %d tests skipped by design (README \"Tests\")\n", designed
    if (n == 0) exit 0
    printf "check_skips: %d tests skipped, not by design: a program or package they need is missing (scripts/install_deps.sh installs every one):\n", n
    for (i = 1; i <= n; i++) printf "  %s\n", unexplained[i]
    exit 1
  }
' "$results"
