#!/usr/bin/env bash
# capture-exposition.sh [--session-store] [OUT]: a real rnnserve /metrics exposition with
# traffic in it.
#
# Starts ${BIN_DIR:-build/bin}/rnnserve on 127.0.0.1 free ports with the demo models,
# makes a few gRPC calls with curl (HTTP/2 prior knowledge, messages encoded by protoc
# from proto/), so that the series created on first use (rnnserve_requests_total by
# method and code) exist too, scrapes /metrics into OUT (default stdout) and stops the
# server. check.sh checks the dashboard and the rules against it; the saved
# deploy/grafana/testdata/rnnserve-metrics.txt was made by it.
#
# --session-store: the server runs with a session store, a real redis-server (Debian
# redis-server) on a free 127.0.0.1 port with deploy/k8s/redis/redis.conf and a password
# file, so the store's series (rnnserve_session_store_up, rnnserve_checkpoint_*, ...),
# which a server without a store does not export, are in the capture too; the saved
# deploy/grafana/testdata/rnnserve-metrics-store.txt was made so.
# Needs curl with HTTP/2 (Debian's has it), protoc, python3. Exit 0 on success.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${BIN_DIR:-$root/build/bin}
store=0
[[ ${1:-} == --session-store ]] && { store=1; shift; }
out=${1:-/dev/stdout}
[[ -x $bin/rnnserve ]] || { echo "no $bin/rnnserve: build it first (scripts/build.sh)" >&2; exit 2; }

tmp=$(mktemp -d /tmp/rnnserve-capture.XXXXXX)
pid="" redis_pid=""
cleanup() {
  if [[ -n $pid ]]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [[ -n $redis_pid ]]; then kill -TERM "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
# Interrupted: exit through cleanup too (it stops Redis as well as the server).
trap 'exit 1' HUP INT TERM

store_flags=()
if [[ $store == 1 ]]; then
  redis_port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$tmp/redis-password"
  printf 'requirepass "%s"\n' "$(cat "$tmp/redis-password")" > "$tmp/redis-auth.conf"
  redis-server "$root/deploy/k8s/redis/redis.conf" --include "$tmp/redis-auth.conf" \
    --bind 127.0.0.1 --port "$redis_port" --dir "$tmp" > "$tmp/redis.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 1 100); do
    [[ $(REDISCLI_AUTH=$(cat "$tmp/redis-password") redis-cli -p "$redis_port" ping 2>/dev/null) == PONG ]] && break
    kill -0 "$redis_pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ $(REDISCLI_AUTH=$(cat "$tmp/redis-password") redis-cli -p "$redis_port" ping 2>/dev/null) == PONG ]] ||
    { cat "$tmp/redis.log" >&2; exit 1; }
  store_flags=(--session_store="redis://127.0.0.1:$redis_port" --session_store_password_file="$tmp/redis-password"
               --checkpoint_interval=1s)
fi

# The log exists before the loop below reads it: the background job's redirection runs in
# the forked shell, maybe after the first sed, which would fail (exit 2 under set -e).
: > "$tmp/server.log"
"$bin/rnnserve" --models="$root/models" --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
  --drain_timeout=1s ${store_flags[@]+"${store_flags[@]}"} >> "$tmp/server.log" 2>&1 &
pid=$!
grpc_port="" metrics_port=""
for _ in $(seq 1 100); do
  grpc_port=$(sed -n 's/.*serving gRPC on .*(port \([0-9]*\)).*/\1/p' "$tmp/server.log")
  metrics_port=$(sed -n 's/.*serving \/metrics on port \([0-9]*\).*/\1/p' "$tmp/server.log")
  [[ -n $grpc_port && -n $metrics_port ]] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[[ -n $grpc_port && -n $metrics_port ]] || { cat "$tmp/server.log" >&2; exit 1; }

# call METHOD MESSAGE_TYPE TEXT_PROTO: one unary gRPC call; prints its grpc-status.
call() {
  printf '%s' "$3" | protoc -I "$root/proto" --encode="rnnserve.v1.$2" \
    "$root"/proto/rnnserve/v1/{inference,sessions,models}.proto > "$tmp/msg.pb"
  /usr/bin/python3 -c 'import struct, sys
body = open(sys.argv[1], "rb").read()
sys.stdout.buffer.write(b"\0" + struct.pack(">I", len(body)) + body)' "$tmp/msg.pb" > "$tmp/msg.grpc"
  curl -s --max-time 5 --http2-prior-knowledge -H 'content-type: application/grpc' -H 'te: trailers' \
    --data-binary @"$tmp/msg.grpc" -o /dev/null -D - "http://127.0.0.1:$grpc_port/rnnserve.v1.$1" |
    sed -n 's/^grpc-status: *\([0-9]*\).*/\1/p' | tr -d '\r'
}
expect() {  # expect CODE METHOD TYPE TEXT
  local got; got=$(call "$2" "$3" "$4")
  [[ $got == "$1" ]] || { echo "$2 answered grpc-status '$got', want $1" >&2; exit 1; }
}
forecast='model { name: "forecast" }'
expect 0 InferenceService/Step StepRequest "session_id: \"a\" $forecast floats { values: 0.5 } start: true"
expect 0 InferenceService/Step StepRequest "session_id: \"b\" $forecast floats { values: 0.1 values: -0.2 } start: true"
expect 0 InferenceService/Step StepRequest "session_id: \"a\" $forecast floats { values: 0.7 }"
expect 0 InferenceService/Step StepRequest 'session_id: "c" model { name: "charlm" } tokens { ids: 5 ids: 6 } start: true'
expect 5 InferenceService/Step StepRequest "session_id: \"gone\" $forecast floats { values: 0.1 }"
expect 3 InferenceService/Step StepRequest "session_id: \"a\" $forecast floats { values: 0.1 values: 0.2 steps: 1 }"
expect 0 SessionService/EndSession SessionRef 'session_id: "b"'
expect 0 ModelService/ListModels ListModelsRequest ''
# rnnserve_active_sessions is refreshed by the idle sweeper, at most every 5 s (and with a
# store, a few checkpoint intervals pass: the checkpoint histograms have observations).
sleep 5.5
curl -sf --max-time 10 "http://127.0.0.1:$metrics_port/metrics" > "$tmp/metrics.txt"
cat "$tmp/metrics.txt" > "$out"
