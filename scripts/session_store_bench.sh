#!/usr/bin/env bash
# The session tier's cost (issue 13, README Performance "Session store"):
# rnnserve with --session_store (a real redis-server on a free loopback port,
# --checkpoint_interval=1s) against the same server without, in alternating
# rounds of the same run, driven by `rnnserve-cli bench` (closed loop):
#   1. throughput at 64 streams x 64 sessions, T=1: the ratio store / plain
#      (goal >= 0.95);
#   2. step latency p99 with --big_sessions (default 100 000) live sessions,
#      all stepped in turn so every checkpoint pass has work, at a fixed
#      offered load (open loop, --big_rate steps/s, default 4 000: about
#      two thirds of the server's one core, whose steps cost about 170 µs of
#      CPU each at this spread of requests; at 8 000/s the core is full, and
#      a full core measures its queue, i.e. throughput, which 1. covers; on a
#      full core checkpoints fall behind, the lag says by how much): the ratio
#      store / plain (goal <= 1.10), with the checkpoint metrics. Twice: with
#      Redis on CPU time the client leaves (SCHED_IDLE: as when Redis has a
#      machine of its own, the deployment the goal is about; the lag shows
#      whether it kept up), and with Redis at normal priority, competing
#      with the client for its core;
#   3. Redis memory per session (used_memory growth / keys) against the
#      model's raw state bytes (goal <= 1.2x).
# Server on core 0 (--workers=1), client on core 1, Redis on core 1 too (it
# is the client's neighbour in a real deployment as little as the server's;
# see 2. for its priority).
# Opt-in, not part of CI.
#   scripts/session_store_bench.sh [--rounds N] [--duration SECONDS]
#                                  [--big_sessions N] [--big_rate R] [--model NAME]
#                                  [--build DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
duration=3
big=100000
big_rate=4000
model=charlm
build=build
while (($#)); do
  case $1 in
    --rounds) rounds=$2; shift ;;
    --duration) duration=$2; shift ;;
    --big_sessions) big=$2; shift ;;
    --big_rate) big_rate=$2; shift ;;
    --model) model=$2; shift ;;
    --build) build=$2; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "session_store_bench: unknown option $1 (--help)" >&2; exit 2 ;;
  esac
  shift
done
for binary in rnnserve rnnserve-cli rnnserve-model; do
  [[ -x $build/bin/$binary ]] || { echo "session_store_bench: build $build/bin/$binary first" >&2; exit 1; }
done
command -v redis-server > /dev/null || { echo "session_store_bench: run scripts/install_deps.sh" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  wait 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

redis_port=$(free_port)
taskset -c 1 redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$work" > "$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$redis_port" ping > /dev/null 2>&1 && break; sleep 0.1; done
rcli() { redis-cli -p "$redis_port" "$@"; }
redis_pid=${pids[-1]}
# Redis's scheduling class for the rounds that follow: idle or other.
redis_priority() { chrt -a -p "--$1" 0 "$redis_pid" > /dev/null; }

# Starts rnnserve (with the store when $1 is "store") and sets port/metrics.
start_server() {
  local flags=(--models=models --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 --http_listen= --workers=1
               --max_sessions=$((big * 2)) --idle_timeout=1h)
  [[ $1 == store ]] && flags+=(--session_store="redis://127.0.0.1:$redis_port"
                               --checkpoint_interval=1s)
  : > "$work/server.log"  # so that the port lookup below never reads a missing file
  taskset -c 0 "$build/bin/rnnserve" "${flags[@]}" > "$work/server.log" 2>&1 &
  server_pid=$!
  pids+=($server_pid)
  for _ in $(seq 100); do
    port=$(sed -n 's/.*serving gRPC on .* (port \([0-9]*\)).*/\1/p' "$work/server.log")
    metrics=$(sed -n 's/.*serving \/metrics on port \([0-9]*\).*/\1/p' "$work/server.log")
    [[ -n $port && -n $metrics ]] && return 0
    sleep 0.1
  done
  cat "$work/server.log" >&2
  exit 1
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2> /dev/null || true; }

# bench JSON -> one field (a dotted path).
field() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin)
for k in sys.argv[1].split('.'): d=d[k]
print(d)" "$1"; }

bench() {  # sessions streams warmup [rate] -> JSON; the sessions stay (measured in 3.)
  taskset -c 1 "$build/bin/rnnserve-cli" bench --server="127.0.0.1:$port" --model="$model" \
    --sessions="$1" --streams="$2" --steps=0 --duration="${duration}s" --warmup="$3" \
    --rate="${4:-0}" --end_sessions=false --json --metrics="127.0.0.1:$metrics"
}
# Server CPU µs per step of a bench JSON file (the Redis round trips and the
# checkpoint encoding are the server's CPU; Redis's own is not).
cpu_per_step() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1]))
print(1e6*d['server_cpu_seconds']/d['steps'])" "$1"; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
metric() { curl -s "127.0.0.1:$metrics/metrics" | awk -v m="$1" '$1==m {print $2}'; }

echo "## Session store benchmark: $model, $rounds rounds of ${duration}s, $(nproc) cores"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. Throughput, 64 x 64, T=1.
for r in $(seq "$rounds"); do
  for mode in plain store; do
    start_server $mode
    bench 64 64 0.5s > "$work/t_${mode}_$r.json"
    field steps_per_second < "$work/t_${mode}_$r.json" >> "$work/throughput_$mode"
    cpu_per_step "$work/t_${mode}_$r.json" >> "$work/cpu_$mode"
    stop_server
  done
done
plain=$(median < "$work/throughput_plain")
store=$(median < "$work/throughput_store")
echo
cpu_plain=$(median < "$work/cpu_plain")
cpu_store=$(median < "$work/cpu_store")
echo "| 64 streams x 64 sessions, T=1 | steps/s (median) | server CPU µs/step |"
echo "|---|---|---|"
echo "| without store | $plain | $cpu_plain |"
echo "| --session_store, 1 s interval | $store | $cpu_store |"
echo "| ratio store / plain | $(awk -v a="$store" -v b="$plain" 'BEGIN {printf "%.3f", a/b}') \
| $(awk -v a="$cpu_store" -v b="$cpu_plain" 'BEGIN {printf "%.3f", a/b}') |"

# 2. p99 with $big live sessions, all stepped in turn.
rcli flushall > /dev/null
base_memory=$(rcli info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
for r in $(seq "$rounds"); do
  for mode in plain store shared; do
    if [[ $mode == shared ]]; then redis_priority other; else redis_priority idle; fi
    start_server "${mode/shared/store}"
    # The bench starts a session with its first step, and the streams step
    # their sessions in turn: the warmup lasts until every session has had
    # one, so that each step measured is a live session's next (not a start),
    # whose change the next checkpoint pass writes.
    bench "$big" 64 "$(( (big + big_rate - 1) / big_rate + 2 ))s" "$big_rate" \
      > "$work/b_${mode}_$r.json"
    field latency_us.p99 < "$work/b_${mode}_$r.json" >> "$work/p99_$mode"
    field steps_per_second < "$work/b_${mode}_$r.json" >> "$work/bigrate_$mode"
    cpu_per_step "$work/b_${mode}_$r.json" >> "$work/bigcpu_$mode"
    if [[ $mode != plain ]]; then
      echo "$(metric rnnserve_checkpoint_seconds_sum) $(metric rnnserve_checkpoint_seconds_count) \
$(metric rnnserve_checkpoint_batch_sessions_sum) $(metric rnnserve_checkpoint_lag_seconds)" \
        >> "$work/checkpoints_$mode"
    fi
    stop_server
    if [[ $mode != plain ]]; then
      # A graceful stop writes every session's final checkpoint: each record
      # now holds a whole state.
      keys=$(rcli dbsize)
      used=$(rcli info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
      echo "$(( (used - base_memory) / keys ))" >> "$work/bytes_per_session"
    fi
    rcli flushall > /dev/null
  done
done
redis_priority other
p99_plain=$(median < "$work/p99_plain")
echo
echo "| $big live sessions, 64 streams, T=1, open loop at $big_rate steps/s | step p99 µs (median) | ratio to plain | steps/s (median) | server CPU µs/step | checkpoint lag at the end (last round) |"
echo "|---|---|---|---|---|---|"
for mode in plain store shared; do
  case $mode in
    plain) label="without store" ;;
    store) label="--session_store, 1 s interval, Redis on idle CPU" ;;
    shared) label="the same, Redis sharing the client's core" ;;
  esac
  p99=$(median < "$work/p99_$mode")
  lag=-
  [[ $mode != plain ]] && lag="$(tail -1 "$work/checkpoints_$mode" | cut -d' ' -f4)s"
  echo "| $label | $p99 | $(awk -v a="$p99" -v b="$p99_plain" 'BEGIN {printf "%.3f", a/b}') \
| $(median < "$work/bigrate_$mode") | $(median < "$work/bigcpu_$mode") | $lag |"
done
echo
for mode in plain store shared; do
  echo "step p99 µs per round, $mode: $(tr '\n' ' ' < "$work/p99_$mode")"
done
for mode in store shared; do
  read -r sum count batched _ < <(tail -1 "$work/checkpoints_$mode")
  echo
  echo "last $mode round: $count checkpoint batches, mean $(awk -v s="$sum" -v c="$count" 'BEGIN {printf "%.2f", 1000*s/c}') ms each, \
$(awk -v b="$batched" -v c="$count" 'BEGIN {printf "%.0f", b/c}') sessions per batch"
done

# 3. Redis memory per session.
state_bytes=$("$build/bin/rnnserve-model" inspect --model "models/$model" \
  | sed -n 's/^state: .*(\([0-9]*\) bytes).*/\1/p')
bytes=$(median < "$work/bytes_per_session")
echo
echo "Redis memory per session: $bytes bytes for $state_bytes bytes of state \
($(awk -v a="$bytes" -v b="$state_bytes" 'BEGIN {printf "%.2f", a/b}')x)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
