#!/usr/bin/env bash
# deploy/prometheus-demo.sh: rnnserve's metrics end to end, with a real Prometheus.
#
#   1. starts ${BIN_DIR:-build/bin}/rnnserve with the demo models on free 127.0.0.1 ports;
#   2. starts a throwaway Prometheus (Debian package prometheus) on a free 127.0.0.1 port,
#      storage in a temp dir, scraping rnnserve every ${SCRAPE_INTERVAL:-1s} and evaluating
#      deploy/prometheus/rules;
#   3. drives load for ${DURATION:-60s} with ${CLI:-$BIN_DIR/rnnserve-cli}
#        bench --model forecast --sessions 64 --streams 8 --steps 0 --duration 60s
#      (LOAD_CMD='...' replaces it: a shell command run with GRPC_ADDR and METRICS_ADDR set);
#   4. queries through Prometheus' HTTP API, among others
#        histogram_quantile(0.99, sum by (le) (rate(rnnserve_step_latency_seconds_bucket[30s])))
#      and prints the results;
#   5. stops everything it started (trap), also on error or Ctrl-C.
#
# Bounded: each wait has a deadline and the load runs under timeout(1). Exit 0 when the
# target was up and the p99 query returned a number; 1 otherwise; 2 when a binary is missing.
# shellcheck disable=SC2317  # (functions called through trap and wait_for)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN_DIR:-$root/build/bin}
cli=${CLI:-$bin/rnnserve-cli}
duration=${DURATION:-60s}
scrape_interval=${SCRAPE_INTERVAL:-1s}
p99_query='histogram_quantile(0.99, sum by (le) (rate(rnnserve_step_latency_seconds_bucket[30s])))'

for tool in "$bin/rnnserve" prometheus promtool curl /usr/bin/python3; do
  command -v "$tool" > /dev/null || { echo "missing $tool" >&2; exit 2; }
done
if [[ -z ${LOAD_CMD:-} && ! -x $cli ]]; then
  echo "missing $cli (set BIN_DIR or CLI, or LOAD_CMD to drive load another way)" >&2
  exit 2
fi

tmp=$(mktemp -d /tmp/rnnserve-prometheus-demo.XXXXXX)
server_pid="" prom_pid="" load_pid=""
stop() {  # stop PID: SIGTERM, up to 15 s to exit, then SIGKILL.
  local pid=$1
  [[ -n $pid ]] && kill -0 "$pid" 2> /dev/null || return 0
  kill -TERM "$pid" 2> /dev/null || true
  for _ in $(seq 1 150); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
}
cleanup() {
  stop "$load_pid"; stop "$prom_pid"; stop "$server_pid"
  if [[ -n ${KEEP_LOGS:-} ]]; then echo "logs kept in $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for SECONDS COMMAND...: polls COMMAND every 0.2 s until it succeeds or time runs out.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" > /dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}
free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
log_port() {  # log_port PATTERN: the port the server logged on a line matching PATTERN.
  sed -n "s/.*$1.*port \([0-9]*\).*/\1/p" "$tmp/rnnserve.log" | head -1
}

echo "== rnnserve ($bin/rnnserve, models $root/models)"
"$bin/rnnserve" --models="$root/models" --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  > "$tmp/rnnserve.log" 2>&1 &
server_pid=$!
server_listening() {
  kill -0 "$server_pid" && [[ -n $(log_port 'serving \/metrics on') ]]
}
wait_for 30 server_listening || { cat "$tmp/rnnserve.log" >&2; exit 1; }
grpc_port=$(log_port 'serving gRPC on')
metrics_port=$(log_port 'serving \/metrics on')
echo "   gRPC 127.0.0.1:$grpc_port, metrics http://127.0.0.1:$metrics_port/metrics (pid $server_pid)"

echo "== promtool check metrics"
curl -sf --max-time 10 "http://127.0.0.1:$metrics_port/metrics" | promtool check metrics
echo "   ok"

prom_port=$(free_port)
cat > "$tmp/prometheus.yml" << EOF
global:
  scrape_interval: $scrape_interval
  evaluation_interval: $scrape_interval
rule_files:
  - $root/deploy/prometheus/rules/*.rules.yml
scrape_configs:
  - job_name: rnnserve
    static_configs:
      - targets: ["127.0.0.1:$metrics_port"]
EOF
promtool check config "$tmp/prometheus.yml" > /dev/null
echo "== prometheus on 127.0.0.1:$prom_port, scraping every $scrape_interval"
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
  --web.listen-address="127.0.0.1:$prom_port" > "$tmp/prometheus.log" 2>&1 &
prom_pid=$!
wait_for 30 curl -sf "http://127.0.0.1:$prom_port/-/ready" || { tail -20 "$tmp/prometheus.log" >&2; exit 1; }

load_seconds=$(/usr/bin/python3 -c '
import re, sys
total = 0.0
for n, unit in re.findall(r"([0-9.]+)(ms|s|m|h)", sys.argv[1]):
    total += float(n) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
print(int(total + 0.999))' "$duration")
export GRPC_ADDR=127.0.0.1:$grpc_port METRICS_ADDR=127.0.0.1:$metrics_port
if [[ -n ${LOAD_CMD:-} ]]; then
  load=(bash -c "$LOAD_CMD")
else
  load=("$cli" bench --server="$GRPC_ADDR" --model forecast --sessions 64 --streams 8
        --steps 0 --duration "$duration" --metrics "$METRICS_ADDR")
fi
echo "== load for $duration: ${load[*]}"
timeout --kill-after=5 $((load_seconds + 60)) "${load[@]}" > "$tmp/load.log" 2>&1 &
load_pid=$!
load_status=0
wait "$load_pid" || load_status=$?
load_pid=""
sed 's/^/   /' "$tmp/load.log" | tail -25
[[ $load_status == 0 ]] || echo "   (load command exited $load_status)"
sleep 3  # two more scrapes, so the 30 s windows end with the load

# query PROMQL: prints each series of the result as "labels => value".
query() {
  curl -s --max-time 10 --get "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=$1" |
    /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
if d.get("status") != "success":
    print("   ERROR", d.get("errorType"), d.get("error")); sys.exit(1)
result = d["data"]["result"]
if not result:
    print("   (empty)"); sys.exit(1)
ok = False
for s in result:
    labels = ", ".join(f"{k}={v}" for k, v in sorted(s["metric"].items()) if k != "__name__")
    value = s["value"][1]
    print(f"   {{{labels}}} => {value}")
    ok = ok or value not in ("NaN", "+Inf", "-Inf")
sys.exit(0 if ok else 1)'
}

status=0
echo "== target health"
curl -s "http://127.0.0.1:$prom_port/api/v1/targets" | /usr/bin/python3 -c '
import json, sys
for t in json.load(sys.stdin)["data"]["activeTargets"]:
    print("  ", t["scrapeUrl"] + ":", t["health"], t["lastError"])
    if t["health"] != "up": sys.exit(1)' || status=1
echo "== $p99_query"
query "$p99_query" || status=1
for q in \
  'histogram_quantile(0.5, sum by (le) (rate(rnnserve_step_latency_seconds_bucket[30s])))' \
  'sum by (model) (rate(rnnserve_steps_total[30s]))' \
  'sum(rate(rnnserve_batch_size_sum[30s])) / sum(rate(rnnserve_batch_size_count[30s]))' \
  'histogram_quantile(0.99, sum by (le) (rate(rnnserve_queue_wait_seconds_bucket[30s])))' \
  'histogram_quantile(0.99, sum by (le) (rate(rnnserve_compute_seconds_bucket[30s])))' \
  'sum by (method, code) (increase(rnnserve_requests_total[2m]))' \
  'sum by (model) (rnnserve_sessions_created_total)' \
  'job_model:rnnserve_step_latency_seconds:p99_5m' \
  'process_resident_memory_bytes'; do
  echo "== $q"
  query "$q" || true
done
echo "== alerts (deploy/prometheus/rules)"
curl -s "http://127.0.0.1:$prom_port/api/v1/alerts" | /usr/bin/python3 -c '
import json, sys
alerts = json.load(sys.stdin)["data"]["alerts"]
for a in alerts:
    print("  ", a["labels"]["alertname"], a["state"])
if not alerts:
    print("   none pending or firing")'
exit $status
