#!/usr/bin/env bash
# deploy/container-test.sh: builds the root Dockerfile's image and checks it end to end
# with podman, on a Debian bookworm machine without a Docker engine or a registry.
# Opt-in (run as root; not part of CI): it installs packages and compiles the project
# inside the image build, 15-30 min on 2 busy cores, a minute or two with a warm cache.
#
#   deploy/container-test.sh [--build-only] [--no-build] [--vfs] [-t TAG]
#
#   1. apt-installs podman buildah runc debootstrap slirp4netns curl when missing;
#   2. brings the host's build/bin/rnnserve and rnnserve-cli up to date (BIN_DIR=DIR
#      uses DIR's as they are): the host server is the reference the container must
#      match, the host CLI is the client;
#   3. makes a local debian:bookworm base with debootstrap once, tagged also as
#      debian:bookworm-slim, so the Dockerfile's FROM lines resolve without a registry;
#   4. podman build --isolation=chroot --pull=never --format docker, prints the size;
#   5. checks the image alone: the offline tool loads the bundled /models, uid 10001 cannot
#      write them, the ENTRYPOINT's --tryfromenv list is exactly the server's flags;
#   6. runs it (runc, slirp4netns publishing gRPC and metrics on 127.0.0.1 only, the repo's
#      models mounted read-only, read-only root, no capabilities, a named volume for the
#      session snapshot; one flag from the environment, one from arguments), waits for
#      `podman healthcheck run` and the host CLI's health, then: demo sequences streamed
#      and generated through the host CLI are byte-identical to a host rnnserve's answers,
#      /metrics has rnnserve_ series and the values set, the server runs as uid 10001
#      with every thread under SCHED_BATCH (FLAGS_sched_batch), /models is read-only inside;
#   7. podman stop (SIGTERM): exit code 0, the drain log lines, the snapshot saved; a new
#      container on the same volume restores it and continues a session exactly as the
#      host server does. Containers and volume are removed on exit (trap); the image and
#      the build stage's cache (about 0.9 GB: `podman image prune` frees it) are kept.
#
# Options: --build-only stops after step 4; --no-build reuses TAG as it is; --vfs uses
# the vfs storage driver under $CACHE (only if overlay fails); -t TAG (default
# localhost/rnnserve:latest). Exit: 0 all passed, 1 a check failed, 2 usage or setup,
# 3 the image build failed.
# shellcheck disable=SC2317  # cleanup is called through trap
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tag=localhost/rnnserve:latest
build_image=1 run_checks=1 vfs=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-only) run_checks=0 ;;
    --no-build) build_image=0 ;;
    --vfs) vfs=1 ;;
    -t) tag=${2:?-t needs a tag}; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

CACHE=${CACHE:-/var/tmp/rnnserve-container-test}
base=localhost/debian:bookworm
grpc_cport=50051 metrics_cport=9464  # the image's EXPOSEd ports
t_start=$SECONDS
timings=()
step_start=$SECONDS
log() { printf '[container-test %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
# timed NAME: records how long the step that just ended took, for the summary.
timed() { timings+=("$(printf '%-24s %5d s' "$1" $((SECONDS - step_start)))"); step_start=$SECONDS; }
fail() { log "FAIL: $*"; exit 1; }

[[ $(id -u) == 0 ]] || { echo "run as root: podman builds and runs as root here" >&2; exit 2; }

# ---- 1. tools -----------------------------------------------------------------
missing=()
for tool in podman buildah runc debootstrap slirp4netns curl; do
  command -v "$tool" > /dev/null || missing+=("$tool")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  log "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi
podman=(podman)
[[ $vfs == 0 ]] || podman+=(--storage-driver vfs --root "$CACHE/vfs/root" --runroot "$CACHE/vfs/run")
# crun, podman's default, fails on this kind of host ("cgroups in hybrid mode not supported").
prun=("${podman[@]}" --runtime runc)
# Every container gets explicit rlimits: podman's defaults can exceed the host's hard
# limits ("error setting rlimit").
nofile=$(ulimit -Hn) nproc=$(ulimit -Hu) pid_max=$(cat /proc/sys/kernel/pid_max)
[[ $nofile == unlimited ]] && nofile=65536
[[ $nproc == unlimited || $nproc -gt $pid_max ]] && nproc=$pid_max
timed "tools"

# ---- 2. host binaries -----------------------------------------------------------
if [[ $run_checks == 1 ]]; then
  if [[ -n ${BIN_DIR:-} ]]; then
    bin=$BIN_DIR
  else
    bin=$root/build/bin
    log "host binaries: bringing $bin/rnnserve and rnnserve-cli up to date"
    if [[ -f $root/build/CMakeCache.txt ]]; then
      cmake --build "$root/build" -j"${JOBS:-2}" --target rnnserve rnnserve-cli > /dev/null
    else
      "$root/scripts/install_deps.sh" --build-only
      "$root/scripts/build.sh" -DBUILD_TESTING=OFF > /dev/null
    fi
  fi
  for b in rnnserve rnnserve-cli; do
    [[ -x $bin/$b ]] || { echo "missing $bin/$b" >&2; exit 2; }
  done
  cli=$bin/rnnserve-cli
  timed "host binaries"
fi

# ---- 3. local base image --------------------------------------------------------
debian_mirror() {  # the host's own Debian mirror, which apt here is known to reach
  local m=""
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [[ -z $m && -f /etc/apt/sources.list ]]; then
    m=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}
if [[ $build_image == 1 ]]; then
  if ! "${podman[@]}" image exists "$base"; then
    rootfs=$CACHE/debian-bookworm-rootfs
    if [[ ! -x $rootfs/bin/bash ]]; then
      mirror=$(debian_mirror)
      log "debootstrap --variant=minbase bookworm from $mirror (a few minutes)"
      rm -rf "$rootfs" && mkdir -p "$CACHE"
      debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$CACHE/debootstrap.log" 2>&1 ||
        { tail -20 "$CACHE/debootstrap.log" >&2; exit 2; }
      # The official image's suites (bookworm, -updates, -security) when the host has them.
      if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
        cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/"
        rm -f "$rootfs/etc/apt/sources.list"
      fi
      rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    fi
    log "podman import $rootfs as $base"
    tar -C "$rootfs" -c . | "${podman[@]}" import --change 'CMD ["/bin/bash"]' - "$base" > /dev/null
  fi
  # One minbase serves both stages: the real bookworm-slim is the same minbase with docs
  # and locales trimmed, so the size printed below is somewhat larger than with Docker Hub's.
  for alias in docker.io/library/debian:bookworm docker.io/library/debian:bookworm-slim; do
    "${podman[@]}" image exists "$alias" || "${podman[@]}" tag "$base" "$alias"
  done
  timed "base image"
fi

# ---- 4. build -------------------------------------------------------------------
if [[ $build_image == 1 ]]; then
  log "podman build -t $tag (the project compiles inside: 15-30 min on 2 busy cores)"
  # chroot isolation: the default OCI isolation needs crun, see above.
  "${podman[@]}" build --isolation=chroot --pull=never --format docker \
    -t "$tag" -f "$root/Dockerfile" "$root" || { log "image build failed"; exit 3; }
  timed "image build"
fi
"${podman[@]}" image exists "$tag" || { echo "no image $tag (drop --no-build)" >&2; exit 2; }
size_bytes=$("${podman[@]}" image inspect -f '{{.Size}}' "$tag")
base_bytes=$("${podman[@]}" image inspect -f '{{.Size}}' "$base" 2> /dev/null || echo 0)
size_mb=$(((size_bytes + 500000) / 1000000))
log "image $tag: $size_mb MB (local bookworm minbase $(((base_bytes + 500000) / 1000000)) MB of it)"
if [[ $run_checks == 0 ]]; then
  printf '%s\n' "${timings[@]}"
  exit 0
fi

# ---- 5. the image alone ---------------------------------------------------------
in_image() {  # in_image ENTRYPOINT ARGS...: a throwaway container without a network
  "${prun[@]}" run --rm --network none --no-healthcheck \
    --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc" --entrypoint "$1" "$tag" "${@:2}"
}
in_image /usr/local/bin/rnnserve-model inspect /models > /dev/null 2>&1 ||
  fail "rnnserve-model inspect /models fails in the image: $(in_image /usr/local/bin/rnnserve-model inspect /models 2>&1 | tail -5)"
# shellcheck disable=SC2016  # $0 is the folder argument of each sh -c below
checksums='cd "$0" && find . -type f -exec sha256sum {} + | LC_ALL=C sort -k 2'
[[ $(in_image /bin/sh -c "$checksums" /models) == "$(sh -c "$checksums" "$root/models")" ]] ||
  fail "the image's /models is not a copy of $root/models"
in_image /bin/sh -c 'touch /models/forecast/probe' 2> /dev/null &&
  fail "uid 10001 can write the image's own /models"
# The ENTRYPOINT's --tryfromenv list against the flags --helpfull lists under server/main.cc
# (a flag's line is indented by 4 spaces; its help's continuation lines, which may name
# other flags, by 6).
entry_flags=$("${podman[@]}" image inspect -f '{{json .Config.Entrypoint}}' "$tag" |
  sed -n 's/.*--tryfromenv=\([a-z_,]*\).*/\1/p' | tr ',' '\n' | sort)
server_flags=$(in_image /usr/local/bin/rnnserve --helpfull 2>&1 |
  sed -n '/Flags from .*server\/main\.cc:/,/Flags from/s/^    --\([a-z_]*\) .*/\1/p' | sort || true)
[[ -n $server_flags && $entry_flags == "$server_flags" ]] ||
  fail "ENTRYPOINT --tryfromenv list != rnnserve's flags: $(diff <(echo "$entry_flags") <(echo "$server_flags") | grep '^[<>]' | tr '\n' ' ')"
log "image alone: rnnserve-model loads /models, /models not writable, --tryfromenv = all $(wc -l <<< "$server_flags") server flags"
timed "image checks"

# ---- 6. run ---------------------------------------------------------------------
tmp=$(mktemp -d /tmp/rnnserve-container-test.XXXXXX)
name=rnnserve-container-test-$$
volume=$name-state  # a named volume at /var/lib/rnnserve holds the session snapshot
snapshot=/var/lib/rnnserve/sessions.snap
host_pid=""
cleanup() {
  for c in "$name" "$name-restart"; do "${prun[@]}" rm -f -t 0 --ignore "$c" > /dev/null 2>&1; done
  "${podman[@]}" volume rm -f "$volume" > /dev/null 2>&1 || true
  if [[ -n $host_pid ]]; then kill -TERM "$host_pid" 2> /dev/null; wait "$host_pid" 2> /dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"${podman[@]}" volume create "$volume" > /dev/null

current=""  # the running container, for fail_run's logs
container_logs() { "${podman[@]}" logs "$current" 2>&1 | tail -"${1:-30}" | sed 's/^/    | /' >&2; }
fail_run() { log "FAIL: $*"; log "logs of $current:"; container_logs; exit 1; }

# start_container NAME [podman run options] IMAGE [server flags]: runs it the way compose
# and Kubernetes do (read-only root, no capabilities, models mounted read-only), on free
# 127.0.0.1 ports podman picks (grpc_addr, metrics_addr), and waits until it is healthy
# by its own HEALTHCHECK and from the host.
start_container() {
  current=$1; shift
  "${prun[@]}" run -d --name "$current" \
    --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc" \
    --network slirp4netns:port_handler=slirp4netns \
    -p "127.0.0.1::$grpc_cport" -p "127.0.0.1::$metrics_cport" \
    -v "$root/models:/models:ro" -v "$volume:/var/lib/rnnserve" \
    --read-only --cap-drop=ALL --security-opt=no-new-privileges \
    -e FLAGS_snapshot="$snapshot" "$@" > /dev/null 2> "$tmp/run.err" ||
    { cat "$tmp/run.err" >&2; fail "podman run failed"; }
  grpc_addr=$("${podman[@]}" port "$current" "$grpc_cport/tcp")
  metrics_addr=$("${podman[@]}" port "$current" "$metrics_cport/tcp")
  # HEALTHCHECK timers need systemd (without it podman run only complains into run.err),
  # so run the image's check by hand.
  local healthy=0
  for _ in $(seq 1 120); do
    [[ $("${podman[@]}" inspect -f '{{.State.Running}}' "$current") == true ]] || fail_run "the container exited"
    if "${prun[@]}" healthcheck run "$current" > /dev/null 2>&1; then healthy=1; break; fi
    sleep 0.5
  done
  [[ $healthy == 1 ]] || fail_run "its HEALTHCHECK never passed within 60 s"
  # slirp4netns accepts on the host port before the server listens: only an answer counts.
  "$cli" health --server="$grpc_addr" > /dev/null || fail_run "rnnserve-cli health from the host fails"
  log "$current healthy (podman healthcheck run; rnnserve-cli health at $grpc_addr)"
}
# stop_container DRAIN: SIGTERM, then exit code 0 and the drain lines (DRAIN: the
# --drain_timeout it must report).
stop_container() {
  # More time than --drain_timeout, so podman never has to SIGKILL.
  "${podman[@]}" stop -t 30 "$current" > /dev/null
  local code; code=$("${podman[@]}" inspect -f '{{.State.ExitCode}}' "$current")
  [[ $code == 0 ]] || fail_run "exit code $code after SIGTERM, want 0"
  "${podman[@]}" logs "$current" > "$tmp/stopped.log" 2>&1
  grep -q "shutting down: draining for at most $1\$" "$tmp/stopped.log" ||
    fail_run "no drain line with --drain_timeout $1 in the logs"
  grep -q 'stopped; .* steps computed since start' "$tmp/stopped.log" || fail_run "no 'stopped;' line in the logs"
}

# FLAGS_max_sessions shows that the environment reaches the server (rnnserve_sessions_max);
# --drain_timeout as an argument beats FLAGS_drain_timeout (the drain line says 7s).
start_container "$name" -e FLAGS_max_sessions=4242 -e FLAGS_drain_timeout=3s \
  -e FLAGS_sched_batch=true "$tag" --drain_timeout=7s
timed "start to healthy"

# The reference: the host's rnnserve on the same models, on loopback ports it picks.
"$bin/rnnserve" --models="$root/models" --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  > "$tmp/host-server.log" 2>&1 &
host_pid=$!
host_grpc=""
for _ in $(seq 1 300); do
  host_grpc=$(sed -n 's/.*serving gRPC on .*(port \([0-9]*\)).*/\1/p' "$tmp/host-server.log")
  if [[ -n $host_grpc ]] || ! kill -0 "$host_pid" 2> /dev/null; then break; fi
  sleep 0.1
done
[[ -n $host_grpc ]] || { cat "$tmp/host-server.log" >&2; fail "the host's rnnserve did not start"; }

# answers HOW WHAT CLI-ARGS...: runs the CLI against the container and against the host
# server. HOW exact: byte-identical output (same sources, compiler and libraries give the
# same floats). HOW close: the same but for numbers within 1e-5 relative, for a softmax
# head: its sum is vectorised from the first 32-byte aligned element of a buffer whose
# alignment differs between processes, so the last bits of charlm's outputs do too.
answers() {
  local how=$1 what=$2; shift 2
  "$cli" "$@" --server="$grpc_addr" > "$tmp/container.out" 2>&1 ||
    { cat "$tmp/container.out" >&2; fail_run "$what: rnnserve-cli $* against the container failed"; }
  "$cli" "$@" --server="127.0.0.1:$host_grpc" > "$tmp/host.out" 2>&1 ||
    { cat "$tmp/host.out" >&2; fail "$what: rnnserve-cli $* against the host server failed"; }
  [[ -s $tmp/host.out ]] || fail "$what: no output"
  local lines; lines=$(wc -l < "$tmp/host.out")
  if cmp -s "$tmp/container.out" "$tmp/host.out"; then
    log "same answers: $what ($lines lines, byte-identical)"
  elif [[ $how == close ]] && largest=$(numbers_close "$tmp/container.out" "$tmp/host.out"); then
    log "same answers: $what ($lines lines, numbers within 1e-5: largest relative difference $largest)"
  else
    fail "$what: the container's answers differ from the host's: $(diff "$tmp/container.out" "$tmp/host.out" | head -4 | cut -c1-200 | tr '\n' ' ')"
  fi
}
# numbers_close A B: same lines and words, numbers within 1e-5 relative; prints the
# largest relative difference.
numbers_close() {
  awk 'function abs(x) { return x < 0 ? -x : x }
    NR == FNR { want[FNR] = $0; lines = FNR; next }
    {
      n = split(want[FNR], a, /[][{}:, "]+/)
      if (split($0, b, /[][{}:, "]+/) != n) bad = 1
      for (i = 1; i <= n; i++) {
        if (a[i] == b[i]) continue
        if (a[i] !~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/) { bad = 1; continue }
        scale = abs(a[i]) > abs(b[i]) ? abs(a[i]) : abs(b[i])
        if (scale == 0) continue  # 0 and -0
        rel = abs(a[i] - b[i]) / scale
        if (rel > largest) largest = rel
      }
    }
    END { printf "%.2g\n", largest; exit bad || FNR != lines || largest > 1e-5 }' "$2" "$1"
}
m=$root/models
answers exact "models" models
answers exact "forecast, sample, per step" stream --model forecast --input "$m/forecast/1/sample_input.npy" --format=jsonl
answers exact "forecast_onnx, sample, chunks of 7" stream --model forecast_onnx --input "$m/forecast_onnx/1/sample_input.npy" --chunk 7 --format=jsonl
answers close "charlm, sample, per step" stream --model charlm --input "$m/charlm/1/sample_input.npy" --format=jsonl
answers close "charlm_onnx, sample, one chunk" stream --model charlm_onnx --input "$m/charlm/1/sample_input.npy" --chunk 64 --format=jsonl
answers exact "charlm generate, seed 1" generate --model charlm --prompt 'Q: What is a computer?' --length 200 --seed 1
answers exact "charlm_onnx generate, greedy" generate --model charlm_onnx --prompt 'The ' --length 80 --temperature 0
# A named session left open: the snapshot must carry it over the restart below.
printf '190.2\n184.8\n' > "$tmp/first.csv" && printf '159.0\n' > "$tmp/next.csv"  # sunspots 1957-59
answers exact "forecast, session kept" stream --model forecast --session kept --input "$tmp/first.csv" --format=jsonl

metrics=$(curl -sf --max-time 10 "http://$metrics_addr/metrics") || fail_run "no /metrics at $metrics_addr"
grep -q '^rnnserve_sessions_max 4242$' <<< "$metrics" ||
  fail_run "rnnserve_sessions_max is not 4242 (FLAGS_max_sessions): $(grep '^rnnserve_sessions_max' <<< "$metrics")"
grep -Eq '^rnnserve_steps_total\{[^}]*model="forecast"[^}]*\} [1-9]' <<< "$metrics" ||
  fail_run "rnnserve_steps_total for forecast is not above 0"
log "/metrics: $(grep -c '^rnnserve_' <<< "$metrics") rnnserve_ samples; rnnserve_sessions_max 4242 from the environment"

cpid=$("${podman[@]}" inspect -f '{{.State.Pid}}' "$name")
[[ $(readlink "/proc/$cpid/exe") == */rnnserve ]] || fail_run "the container's process is $(readlink "/proc/$cpid/exe")"
uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$cpid/status")
[[ $uids == "10001 10001 10001 10001" ]] || fail_run "the server runs as uid $uids, want 10001"
if write_err=$("${podman[@]}" exec "$name" /bin/sh -c 'echo x > /models/probe' 2>&1); then
  fail_run "/models is writable inside the container"
fi
[[ $write_err == *"Read-only file system"* ]] || fail_run "writing /models failed, but not as read-only: $write_err"
log "the server runs as uid 10001; a write to /models fails: Read-only file system"
# Every thread under SCHED_BATCH (FLAGS_sched_batch=true from the environment): no
# capability is needed, and the runtime's default seccomp profile must let it through. A
# thread's policy is field 41 of its stat, the 39th after the parenthesised name; 3 is
# SCHED_BATCH. A thread that ends meanwhile is skipped.
policies=$(for stat in /proc/"$cpid"/task/*/stat; do
  { sed 's/.*) //' "$stat" 2> /dev/null || true; } | awk '{print $39}'
done | sort -u | paste -sd' ')
[[ $policies == 3 ]] || fail_run "the server's threads run under policies $policies, want 3 (SCHED_BATCH)"
log "every thread of the server runs under SCHED_BATCH"
timed "checks"

# ---- 7. stop, restart -------------------------------------------------------------
stop_container 7s
grep -Eq "saved [1-9][0-9]* sessions to $snapshot" "$tmp/stopped.log" || fail_run "no session snapshot saved at SIGTERM"
log "SIGTERM: drained for at most 7s (the argument, not FLAGS_drain_timeout), saved the snapshot, exit code 0"
timed "stop"
"${prun[@]}" rm "$name" > /dev/null
start_container "$name-restart" "$tag"
grep -q "restored [1-9][0-9]* sessions from $snapshot" <("${podman[@]}" logs "$current" 2>&1) ||
  fail_run "no sessions restored from the snapshot"
answers exact "forecast, session kept, after the restart" stream --session kept --input "$tmp/next.csv" --format=jsonl
stop_container 10s
timed "restart, restore, stop"
log "logs of $current:"
container_logs 8

echo
echo "container-test: PASS  image $tag $size_mb MB"
printf '  %s\n' "${timings[@]}"
printf '  %-24s %5d s\n' total $((SECONDS - t_start))
