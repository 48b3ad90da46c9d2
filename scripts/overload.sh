#!/usr/bin/env bash
# Overload test (issue 8): offers 3x the measured capacity for 30 s and shows
# that rnnserve keeps answering (or refusing fast) with bounded memory, then
# returns to its normal latency. Then (issue 20) 32 streams of the largest
# chunks charlm answers (40 000 steps, 15.7 MB answers) for 10 s against a
# --max_inflight_bytes budget of INFLIGHT_MB (default 256): the excess is
# refused RESOURCE_EXHAUSTED and rnnserve_inflight_bytes stays under it.
# Opt-in (about 2 minutes); not part of CI.
#   scripts/overload.sh [BIN_DIR]        default build/bin
# Prints one table; exits non-zero if the server dies, its RSS passes
# RSS_LIMIT_MB (default 1024) or the bytes in flight pass the budget.
set -euo pipefail
bin=${1:-build/bin}
model=${MODEL:-forecast}
streams=${STREAMS:-256}   # a stream has one request in flight: the concurrency offered
rss_limit_mb=${RSS_LIMIT_MB:-1024}
inflight_mb=${INFLIGHT_MB:-256}
work=$(mktemp -d)
trap 'kill "$server_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

"$bin/rnnserve" --models=models --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  --max_inflight_bytes=$((inflight_mb << 20)) 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 300); do
  grpc_port=$(grep -o '(port [0-9]*)' "$work/server.log" | grep -o '[0-9]*' || true)
  metrics_port=$(grep -o 'serving /metrics on port [0-9]*' "$work/server.log" | grep -o '[0-9]*$' || true)
  [[ -n "$grpc_port" && -n "$metrics_port" ]] && break
  sleep 0.1
done
[[ -n "$grpc_port" ]] || { cat "$work/server.log"; exit 1; }
server=127.0.0.1:$grpc_port
metrics=127.0.0.1:$metrics_port

bench() {  # bench NAME FLAGS...: one JSON report in $work/NAME.json
  local name=$1; shift
  "$bin/rnnserve-cli" bench --server="$server" --metrics="$metrics" --model="$model" \
    --sessions="$streams" --streams="$streams" --channels=4 --steps=0 --json "$@" \
    >"$work/$name.json"
}
gauge_mb() {  # gauge_mb NAME: a gauge of the server's /metrics, in MiB
  curl -s "http://$metrics/metrics" | awk -v name="$1" '$1 == name {printf "%d", $2 / 1048576}'
}
rss_mb() { gauge_mb process_resident_memory_bytes; }
field() {  # field NAME PYTHON-EXPRESSION over the report r
  /usr/bin/python3 -c "import json,sys; r=json.load(open('$work/$1.json')); print($2)"
}

echo "capacity: closed loop, $streams streams, 10 s ..." >&2
bench capacity --duration=10s --warmup=2s
capacity=$(field capacity "int(r['steps_per_second'])")
echo "baseline: open loop at capacity/4 for 10 s ..." >&2
bench baseline --rate=$((capacity / 4)) --duration=10s --warmup=1s

echo "overload: open loop at 3 x $capacity = $((3 * capacity)) requests/s for 30 s ..." >&2
max_rss=0
( while kill -0 "$server_pid" 2>/dev/null; do rss_mb; echo; sleep 1; done ) >"$work/rss.txt" &
sampler=$!
bench overload --rate=$((3 * capacity)) --duration=30s --timeout=2s || true
kill "$sampler" 2>/dev/null || true
max_rss=$(sort -n "$work/rss.txt" | tail -1)

echo "recovery: open loop at capacity/4 for 10 s ..." >&2
bench recovery --rate=$((capacity / 4)) --duration=10s --warmup=1s
kill -0 "$server_pid" || { echo "the server died" >&2; exit 1; }

echo "large: closed loop, 32 streams of 40 000-step charlm chunks for 10 s ..." >&2
( while kill -0 "$server_pid" 2>/dev/null; do
    echo "$(rss_mb) $(gauge_mb rnnserve_inflight_bytes)"; sleep 0.2
  done ) >"$work/large.txt" &
sampler=$!
model=charlm streams=32 bench large --chunk=40000 --duration=10s --timeout=30s || true
kill "$sampler" 2>/dev/null || true
large_rss=$(awk '{print $1}' "$work/large.txt" | sort -n | tail -1)
large_inflight=$(awk '{print $2}' "$work/large.txt" | sort -n | tail -1)
kill -0 "$server_pid" || { echo "the server died" >&2; exit 1; }

printf '\n%-10s %12s %12s %10s %10s %10s %s\n' run offered/s answered/s p50_us p99_us errors by_code
for run in capacity baseline overload recovery large; do
  printf '%-10s %12s %12s %10s %10s %10s %s\n' "$run" \
    "$(field $run "r.get('rate') or r.get('settings', {}).get('rate') or '-'")" \
    "$(field $run "int(r['steps_per_second'])")" \
    "$(field $run "int(r['latency_us']['p50'])")" \
    "$(field $run "int(r['latency_us']['p99'])")" \
    "$(field $run "r['errors']")" \
    "$(field $run "r.get('errors_by_code', {})")"
done
echo "server RSS: max $max_rss MiB during overload (limit $rss_limit_mb MiB)"
echo "large chunks: server RSS max $large_rss MiB, bytes in flight max $large_inflight MiB" \
  "(--max_inflight_bytes $inflight_mb MiB)"
(( max_rss <= rss_limit_mb && large_rss <= rss_limit_mb )) ||
  { echo "RSS over the limit" >&2; exit 1; }
(( large_inflight <= inflight_mb )) || { echo "bytes in flight over the budget" >&2; exit 1; }
