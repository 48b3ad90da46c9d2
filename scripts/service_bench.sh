#!/usr/bin/env bash
# Service benchmark (issue 6): rnnserve against the floor and against the
# peer a user would write, on loopback, same model, same load generator.
#   echo      build/bin/echo_server: C++ gRPC callback API, the same calls,
#             responses of rnnserve's size, computing nothing
#   echo-weights  the echo that also reads as many bytes as the model's
#             weights for every step (--read_bytes_per_step): the floor of a
#             server whose core's caches must hold the weights too; meaningful
#             for lone steps (1 x 1, T=1), since a batch reads the weights once
#             for many. Its log's average time of one read is printed last.
#   peer      tests/bench/peer_server.py: Python grpcio + PyTorch, the same
#             calls and weights, sessions in a dict, one forward per request
#   rnnserve  build/bin/rnnserve --workers=1
#   rnnserve-v2  the same process through the Open Inference Protocol:
#             `bench --protocol=v2` (ModelStreamInfer with Triton's sequence
#             parameters); its ratio to rnnserve (StreamSteps) is the v2 path's
#             cost (issue 14's goal: server CPU per step <= 1.15x at 64 x 64, T=1)
#   rnnserve-bf16  a second rnnserve process with --weights=bf16 (issue 17)
#   baseline  a second rnnserve process from another binary (--baseline PATH,
#             e.g. one built before a change): before/after in one run
# By default echo, peer, rnnserve and rnnserve-v2 run; name the others in
# --servers. --sched_batch runs echo, echo-weights, rnnserve and
# rnnserve-bf16 with their --sched_batch (every thread under SCHED_BATCH;
# the baseline binary as it is).
# Each is driven by `rnnserve-cli bench` (closed loop) at 1 stream x 1 session
# and 64 streams x 64 sessions, with one step (T=1) and 32 steps (T=32) per
# request; servers on core 0, the client on core 1. Then the unary
# per-request cost on rnnserve, one client, T=1: native Step, v2 ModelInfer
# and v2 REST POST .../infer (tests/bench/rest_vs_grpc_unary.py): round trip
# and server CPU per request. Opt-in, not part of CI.
#   scripts/service_bench.sh [--quick] [--rounds N] [--duration SECONDS]
#                            [--model NAME] [--build DIR] [--records FILE]
#                            [--rnnserve PATH] [--loads "S,T ..."]
#                            [--servers "NAME ..."] [--unary N]
#                            [--baseline PATH] [--sched_batch]
#   scripts/service_bench.sh --memory N [--model NAME] [--build DIR]
# Defaults: 3 rounds of 2 s per run (about 3 minutes with the build done);
# --quick: 1 round of 0.5 s. --loads picks loads (default "1,1 1,32 64,1
# 64,32": streams,T), --servers the servers (default the four above; e.g.
# "rnnserve rnnserve-v2" for the v2 path's ratio alone), --unary the unary
# requests per protocol (default 2000; 0 skips them). Prints Markdown tables (medians over rounds,
# rnnserve's paired ratios) and the machine's load before and after.
# --memory N instead starts N sessions (one step each, left open) on
# rnnserve and on the peer and prints each server's RSS growth per session.
# Needs root only when python3-grpcio or python3-torch must be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
duration=2
warmup=0.5
model=charlm  # the demo LSTM: the kind of model this server is for
build=build
records=""
memory=""
rnnserve=""
loads="1,1 1,32 64,1 64,32"
servers="echo peer rnnserve rnnserve-v2"
unary=2000
baseline=""
sched=()  # --sched_batch's server flag
while (($#)); do
  case $1 in
    --quick) rounds=1 duration=0.5 warmup=0.2 ;;
    --rounds) rounds=$2; shift ;;
    --duration) duration=$2; shift ;;
    --model) model=$2; shift ;;
    --build) build=$2; shift ;;
    --records) records=$2; shift ;;
    --memory) memory=$2; shift ;;
    --rnnserve) rnnserve=$2; shift ;;
    --loads) loads=$2; shift ;;
    --servers) servers=$2; shift ;;
    --unary) unary=$2; shift ;;
    --baseline) baseline=$2; shift ;;
    --sched_batch) sched=(--sched_batch) ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "service_bench: unknown option $1 (--help)" >&2; exit 2 ;;
  esac
  shift
done
py=/usr/bin/python3  # Debian's grpcio and torch live here, not in a pyenv python

# Python packages of the peer and the parity check, installed like other
# opt-in scripts do: only when missing.
missing=()
$py -c 'import grpc' 2>/dev/null || missing+=(python3-grpcio)
# The peer and its parity check only; the --memory runs use the peer too.
if [[ " $servers " == *" peer "* || -n $memory ]]; then
  $py -c 'import torch, numpy' 2>/dev/null || missing+=(python3-torch python3-numpy)
fi
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "service_bench: missing ${missing[*]}; run as root to install them" >&2
    exit 1
  fi
  echo "service_bench: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; }
fi

if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j"${JOBS:-2}" --target rnnserve rnnserve-cli echo_server >/dev/null
bin=$build/bin
cli=$bin/rnnserve-cli
rnnserve=${rnnserve:-$bin/rnnserve}

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir "$work/py"
protoc -I proto --python_out="$work/py" --grpc_out="$work/py" \
  --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin proto/rnnserve/v1/*.proto

# Free loopback ports, held open together so they differ; the servers bind
# them right after (echo and peer refuse a port taken meanwhile).
read -r port_rnnserve port_echo port_peer port_metrics port_http port_bf16 port_bf16_metrics \
  port_baseline port_baseline_metrics port_echo_weights < <($py -c '
import socket
socks = [socket.socket() for _ in range(10)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))')
declare -A address=([rnnserve]=127.0.0.1:$port_rnnserve [echo]=127.0.0.1:$port_echo
  [peer]=127.0.0.1:$port_peer [rnnserve-v2]=127.0.0.1:$port_rnnserve
  [rnnserve-bf16]=127.0.0.1:$port_bf16 [baseline]=127.0.0.1:$port_baseline
  [echo-weights]=127.0.0.1:$port_echo_weights)
# The API bench loads each server through.
declare -A protocol=([rnnserve]=native [echo]=native [peer]=native [rnnserve-v2]=v2
  [rnnserve-bf16]=native [baseline]=native [echo-weights]=native)
# Where each rnnserve process counts its steps (model_metrics).
declare -A metrics_port=([rnnserve]=$port_metrics [rnnserve-v2]=$port_metrics
  [rnnserve-bf16]=$port_bf16_metrics [baseline]=$port_baseline_metrics)
declare -A pid

# start NAME COMMAND...: on core 0, logging to $work/NAME.log; waits until
# DescribeModel answers.
start() {
  local name=$1
  shift
  taskset -c 0 "$@" 2>"$work/$name.log" >&2 &
  pid[$name]=$!
  pids+=("$!")
  for _ in $(seq 600); do
    if ! kill -0 "${pid[$name]}" 2>/dev/null; then
      echo "service_bench: $name exited at start:" >&2
      cat "$work/$name.log" >&2
      exit 1
    fi
    "$cli" model "$model" --server="${address[$name]}" --timeout=1s --json \
      >"$work/$name.info.json" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "service_bench: $name did not answer within 60 s" >&2
  exit 1
}

echo "service_bench: starting the servers ..." >&2
# One step worker for the one core it gets (the default is one per core of
# the machine, two here, which would only contend on core 0).
start rnnserve "$rnnserve" --models=models --listen="${address[rnnserve]}" \
  --metrics_listen="127.0.0.1:$port_metrics" --http_listen="127.0.0.1:$port_http" --workers=1 \
  "${sched[@]}"
pid[rnnserve-v2]=${pid[rnnserve]}  # one process, two APIs
wanted() { [[ " $servers " == *" $1 "* ]]; }
if wanted rnnserve-bf16; then
  start rnnserve-bf16 "$rnnserve" --models=models --listen="${address[rnnserve-bf16]}" \
    --metrics_listen="127.0.0.1:$port_bf16_metrics" --http_listen= --workers=1 --weights=bf16 \
    "${sched[@]}"
fi
if wanted baseline; then
  [[ -n $baseline ]] || { echo "service_bench: the baseline server needs --baseline PATH" >&2; exit 2; }
  start baseline "$baseline" --models=models --listen="${address[baseline]}" \
    --metrics_listen="127.0.0.1:$port_baseline_metrics" --http_listen= --workers=1
fi
if wanted echo; then
  start echo "$bin/echo_server" --listen="${address[echo]}" \
    --model_info="$work/rnnserve.info.json" "${sched[@]}"
fi
if wanted echo-weights; then
  weight_bytes=$($py -c 'import json, sys; print(json.load(sys.stdin).get("weight_bytes", 0))' \
    <"$work/rnnserve.info.json")
  ((weight_bytes > 0)) ||
    { echo "service_bench: echo-weights: $rnnserve reports no weight_bytes for $model" >&2; exit 2; }
  start echo-weights "$bin/echo_server" --listen="${address[echo-weights]}" \
    --model_info="$work/rnnserve.info.json" --read_bytes_per_step="$weight_bytes" "${sched[@]}"
fi
# The peer loads the version rnnserve serves, with one torch thread on its
# one core (OpenBLAS and OpenMP likewise).
version=$($py -c 'import json, sys; print(json.load(sys.stdin)["model"]["version"])' \
  <"$work/rnnserve.info.json")
if wanted peer; then
  start peer env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $py tests/bench/peer_server.py \
    --model="models/$model/$version" --name="$model" --version="$version" --port="$port_peer" \
    --stubs="$work/py"
  $py tests/bench/parity_check.py --stubs="$work/py" --model="$model" \
    "${address[rnnserve]}" "${address[peer]}" >&2
fi

cpu_seconds() {  # utime + stime of process $1 (fields 14, 15 of /proc/PID/stat)
  local ticks
  # Fields counted after the ")" that ends the command name, which may hold spaces.
  ticks=$(sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}')
  awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.3f", t / hz}'
}

# An rnnserve process's own account of the model's steps (server $1) as one
# JSON object: steps, batches (and their summed sizes) and the seconds spent
# computing them.
model_metrics() {
  curl -sf "http://127.0.0.1:${metrics_port[$1]}/metrics" | awk -v label="model=\"$model\"" '
    BEGIN { printf "{" }
    index($0, label) && /^rnnserve_(steps_total|batch_size_(sum|count)|compute_seconds_sum)[{]/ {
      split($1, name, "{"); printf "%s\"%s\": %s", sep, name[1], $2; sep = ", "
    }
    END { printf "}" }'
}

# measure SERVER STREAMS CHUNK ROUND: a warm-up run (new sessions, pools,
# caches), then the counted run; the server's CPU is read around the counted
# run's whole process, so it includes connecting, DescribeModel and ending the
# sessions (tens of calls next to thousands of steps).
measure() {
  local server=$1 streams=$2 chunk=$3 round=$4 before after
  local metrics_before="{}" metrics_after="{}"
  local flags=(bench --server="${address[$server]}" --protocol="${protocol[$server]}"
    --model="$model" --sessions="$streams" --streams="$streams" --chunk="$chunk" --steps=0
    --timeout=30s --json)
  # A failed warm-up shows again in the counted run.
  taskset -c 1 "$cli" "${flags[@]}" --duration="${warmup}s" >/dev/null || true
  [[ -z ${metrics_port[$server]:-} ]] || metrics_before=$(model_metrics "$server")
  before=$(cpu_seconds "${pid[$server]}")
  local status=0
  taskset -c 1 "$cli" "${flags[@]}" --duration="${duration}s" >"$work/run.json" || status=$?
  after=$(cpu_seconds "${pid[$server]}")
  if ((status != 0)); then
    # rnnserve-cli bench has been seen to abort in its teardown, after
    # printing a whole report (glibc heap corruption, or gRPC's ref_counted.h
    # "prior > 0" assertion), about once in 40 runs; the report still counts.
    $py -c 'import json, sys; assert json.load(open(sys.argv[1]))["steps"] > 0' \
      "$work/run.json" 2>/dev/null ||
      { echo "service_bench: bench against $server failed ($status)" >&2; exit 1; }
    echo "service_bench: rnnserve-cli exited $status after its report ($server);" \
      "the report is kept" >&2
  fi
  [[ -z ${metrics_port[$server]:-} ]] || metrics_after=$(model_metrics "$server")
  local record='{"server": "%s", "streams": %d, "chunk": %d, "round": %d, '
  record+='"server_cpu_seconds": %s, "metrics_before": %s, "metrics_after": %s, "bench": %s}\n'
  # shellcheck disable=SC2059  # the format is the record above
  printf "$record" "$server" "$streams" "$chunk" "$round" \
    "$(awk -v a="$after" -v b="$before" 'BEGIN {print a - b}')" \
    "$metrics_before" "$metrics_after" "$(cat "$work/run.json")" >>"$work/records.jsonl"
}

rss_bytes() {  # resident set of process $1
  awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$1/status"
}

if [[ -n $memory ]]; then
  echo "| server | sessions | RSS growth | per session |"
  echo "|---|---|---|---|"
  for server in rnnserve peer; do
    before=$(rss_bytes "${pid[$server]}")
    # --steps N over N sessions: each session gets its one starting step.
    taskset -c 1 "$cli" bench --server="${address[$server]}" --model="$model" \
      --sessions="$memory" --streams=64 --steps="$memory" --end_sessions=false \
      --timeout=60s --json >"$work/memory.json"
    after=$(rss_bytes "${pid[$server]}")
    awk -v s="$server" -v n="$memory" -v b="$before" -v a="$after" \
      'BEGIN {printf "| %s | %d | %.1f MiB | %.0f bytes |\n", s, n, (a - b) / 1048576, (a - b) / n}'
  done
  exit 0
fi

load_before=$(uptime)
read -ra servers <<<"$servers"
for server in "${servers[@]}"; do
  [[ -n ${protocol[$server]:-} ]] || { echo "service_bench: no server $server" >&2; exit 2; }
done
for ((round = 1; round <= rounds; round++)); do
  echo "service_bench: round $round of $rounds ..." >&2
  for load in $loads; do
    IFS=, read -r streams chunk <<<"$load"
    # A different server first each round, so none always runs after the
    # same neighbour.
    for ((i = 0; i < ${#servers[@]}; i++)); do
      measure "${servers[(i + round) % ${#servers[@]}]}" "$streams" "$chunk" "$round"
    done
  done
done
if ((unary > 0)); then
  echo "service_bench: unary requests ..." >&2
  taskset -c 1 $py tests/bench/rest_vs_grpc_unary.py "$port_rnnserve" "$port_http" \
    forecast "$unary" --server_pid="${pid[rnnserve]}" >"$work/unary.md"
fi
load_after=$(uptime)

for name in "${!pid[@]}"; do
  kill -0 "${pid[$name]}" 2>/dev/null || { echo "service_bench: $name died" >&2; exit 1; }
done
[[ -z $records ]] || cp "$work/records.jsonl" "$records"
$py tests/bench/service_report.py "$work/records.jsonl" \
  --note="model $model; $rounds round(s) of ${duration}s per run after ${warmup}s warm-up;\
 server on core 0, client on core 1" \
  --note="CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores" \
  --note="load before: ${load_before#*load average: }; after: ${load_after#*load average: }"
if [[ -f $work/unary.md ]]; then
  echo
  cat "$work/unary.md"
fi
if [[ -n ${pid[echo-weights]:-} ]]; then
  kill -TERM "${pid[echo-weights]}"  # it logs its reads' average time as it exits
  wait "${pid[echo-weights]}" 2>/dev/null || true
  # Reaped: cleanup must not signal a pid the kernel may hand out again.
  for i in "${!pids[@]}"; do [[ ${pids[i]} != "${pid[echo-weights]}" ]] || unset 'pids[i]'; done
  echo
  echo "echo-weights (all loads, warm-ups included):" \
    "$(sed -n 's/^echo_server: \(.* bytes read .*\)/\1/p' "$work/echo-weights.log")"
fi
