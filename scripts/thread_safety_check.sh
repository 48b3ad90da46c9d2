#!/usr/bin/env bash
# Clang's thread-safety analysis over rnnserve's own sources (STYLE.md: every
# guarded member carries ABSL_GUARDED_BY, every function that needs a lock
# says so). GCC, which builds rnnserve, ignores the annotations; this runs
# clang with -fsyntax-only and the build's own flags (compile_commands.json)
# on every server/, model/, client/ and util/ file, and fails on any
# -Wthread-safety warning. ctest runs it as `thread_safety_check`.
#   scripts/thread_safety_check.sh [BUILD_DIR]     (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
clang=$(command -v clang++ || command -v clang++-14 || true)
if [[ -z $clang ]]; then
  echo "thread_safety_check: clang++ is missing (scripts/install_deps.sh installs it)" >&2
  exit 1
fi
[[ -f $build/compile_commands.json ]] || {
  echo "thread_safety_check: no $build/compile_commands.json; configure first" >&2
  exit 1
}
# One line per file: the directory, then the compiler's arguments without the
# compiler, the output and GCC-only flags.
/usr/bin/python3 - "$build/compile_commands.json" "$PWD" >"$build/thread_safety_commands" <<'EOF'
import json, shlex, sys
entries, root = json.load(open(sys.argv[1])), sys.argv[2] + "/"
for e in entries:
    path = e["file"]
    if not any(path.startswith(root + d + "/") for d in ("server", "model", "client", "util")):
        continue
    args = e["arguments"] if "arguments" in e else shlex.split(e["command"])
    kept, skip = [], False
    for a in args[1:]:
        if skip:
            skip = False
            continue
        if a == "-o":
            skip = True
            continue
        if a in ("-c", "-fno-semantic-interposition") or a.startswith("-march=native"):
            continue
        kept.append(a)
    print(shlex.quote(e["directory"]), " ".join(shlex.quote(a) for a in kept))
EOF
check() {
  local dir=$1
  shift
  cd "$dir" && "$clang" "$@" -fsyntax-only -Wno-everything -Wthread-safety -Werror=thread-safety
}
export -f check
export clang
count=$(wc -l <"$build/thread_safety_commands")
# shellcheck disable=SC2016  # expanded by the inner bash
if xargs -P "${JOBS:-2}" -L 1 bash -c 'check "$@"' _ <"$build/thread_safety_commands"; then
  echo "thread_safety_check: $count files, no thread-safety warning"
else
  echo "thread_safety_check: clang's thread-safety analysis failed (above)" >&2
  exit 1
fi
