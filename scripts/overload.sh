#!/usr/bin/env bash
# Overload test (issue 8): offers 3x the measured capacity for 30 s and shows
# that rnnserve keeps answering (or refusing fast) with bounded memory, then
# returns to its normal latency. Opt-in (about 1.5 minutes); not part of CI.
#   scripts/overload.sh [BIN_DIR]        default build/bin
# Prints one table; exits non-zero if the server dies or its RSS passes
# RSS_LIMIT_MB (default 1024).
set -euo pipefail
bin=${1:-build/bin}
model=${MODEL:-forecast}
streams=${STREAMS:-256}   # a stream has one request in flight: the concurrency offered
rss_limit_mb=${RSS_LIMIT_MB:-1024}
work=$(mktemp -d)
trap 'kill "$server_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

"$bin/rnnserve" --models=models --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  2>"$work/server.log" &
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
rss_mb() {
  curl -s "http://$metrics/metrics" |
    awk '/^process_resident_memory_bytes/ {printf "%d", $2 / 1048576}'
}
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

printf '\n%-10s %12s %12s %10s %10s %10s %s\n' run offered/s answered/s p50_us p99_us errors by_code
for run in capacity baseline overload recovery; do
  printf '%-10s %12s %12s %10s %10s %10s %s\n' "$run" \
    "$(field $run "r.get('rate') or r.get('settings', {}).get('rate') or '-'")" \
    "$(field $run "int(r['steps_per_second'])")" \
    "$(field $run "int(r['latency_us']['p50'])")" \
    "$(field $run "int(r['latency_us']['p99'])")" \
    "$(field $run "r['errors']")" \
    "$(field $run "r.get('errors_by_code', {})")"
done
echo "server RSS: max $max_rss MiB during overload (limit $rss_limit_mb MiB)"
(( max_rss <= rss_limit_mb )) || { echo "RSS over the limit" >&2; exit 1; }
