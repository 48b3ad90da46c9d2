#!/usr/bin/env bash
# deploy/check.sh [--no-live]: every offline check of the deployment files; exit 1 if any fails.
#
#   promtool check config / check rules / test rules      deploy/prometheus
#   dashboard queries parse                                 promtool check rules on them
#   dashboard + rule queries against real expositions      deploy/grafana/check-dashboard.py:
#       the saved deploy/grafana/testdata/rnnserve-metrics.txt (and -store.txt, a server with
#       a Redis session store), and (unless --no-live, when
#       ${BIN_DIR:-build/bin}/rnnserve exists) a fresh capture from the built server, which
#       also gets promtool check metrics; the session store's metrics are allowed to be
#       missing from those without a store, and checked in the saved capture with one and
#       in a live one with a real redis-server when the built server has --session_store
#   kubectl kustomize deploy/k8s | k8s-validate            also with exec-probes-patch.yaml,
#                                                           and deploy/k8s-redis (session store)
#   deploy/kserve/check.py                                  the KServe example (its docstring)
#   the ConfigMap's FLAGS_* are read by the image's --tryfromenv (the Deployment keeps its
#   ENTRYPOINT) and are real rnnserve flags, as are the session-store component's args
#   deploy/k8s/redis/redis.conf loads in a real redis-server (with a password include)
#   nginx -t on deploy/proxy/nginx.conf (temporary prefix), envoy.yaml parses (only that)
#   yamllint, docker-compose config, bash -n / shellcheck on the scripts
#
# Required: promtool (Debian prometheus), python3, kubectl, node/npm for k8s-validate
# (../shared/tools/k8s-validate, or K8S_VALIDATE=path/to/run.sh), redis-server and
# redis-cli (Debian redis-server). nginx, yamllint, docker-compose and shellcheck are used
# when installed and reported SKIP otherwise.
# Everything it starts listens on 127.0.0.1 and is stopped before it exits.
set -uo pipefail
deploy=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$deploy")
bin=${BIN_DIR:-$root/build/bin}
k8s_validate=${K8S_VALIDATE:-$root/../shared/tools/k8s-validate/run.sh}
live=1
[[ ${1:-} == --no-live ]] && live=0

tmp=$(mktemp -d /tmp/rnnserve-deploy-check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=() failed=() skipped=()

# check NAME COMMAND...: runs it, output kept in $tmp/log; prints it only on failure.
check() {
  local name=$1; shift
  if "$@" > "$tmp/log" 2>&1; then
    passed+=("$name"); printf 'PASS  %s\n' "$name"
  else
    failed+=("$name"); printf 'FAIL  %s\n' "$name"; sed 's/^/      /' "$tmp/log" | tail -40
  fi
}
skip() { skipped+=("$1 ($2)"); printf 'SKIP  %s: %s\n' "$1" "$2"; }
have() { command -v "$1" > /dev/null 2>&1; }

cd "$root" || exit 2

# --- Prometheus
if have promtool; then
  check "promtool check config" promtool check config deploy/prometheus/prometheus.yml
  check "promtool check rules" promtool check rules deploy/prometheus/rules/*.yml
  check "promtool test rules" promtool test rules deploy/prometheus/tests/*.yml
else
  failed+=("promtool missing (apt-get install prometheus)"); echo "FAIL  promtool missing"
fi

# --- Grafana dashboard and rule queries against real expositions
# Every dashboard query parses: each becomes a recording rule for promtool (Grafana's
# variables replaced by plain values).
dashboard_queries_parse() {
  /usr/bin/python3 - deploy/grafana/dashboards/*.json > "$tmp/dashboard-rules.yml" << 'EOF_PY' || return 1
import json, re, sys
def panels(ps):
    for p in ps:
        yield p
        yield from panels(p.get("panels", []))
print("groups:")
for i, path in enumerate(sys.argv[1:]):
    print(f"  - name: dashboard{i}\n    rules:")
    for p in panels(json.load(open(path))["panels"]):
        for t in p.get("targets", []):
            expr = re.sub(r"\$__(rate_interval|interval|range)", "5m", t["expr"])
            expr = re.sub(r"\$\{?\w+\}?", ".*", expr)
            print(f"      - record: dashboard:panel{p['id']}:{t['refId']}\n        expr: {json.dumps(expr)}")
EOF_PY
  promtool check rules "$tmp/dashboard-rules.yml"
}
check "dashboard queries parse (promtool)" dashboard_queries_parse

# A metric the files need before the server exports it goes here: (--allow NAME ...).
allow=()
# The session store's series (issue 13), as the dashboard and rules select them: exported
# only by a server with --session_store, so missing from a capture without a store (the
# saved one, the plain live one); checked below in a capture with a store.
store_only=(rnnserve_session_store_up rnnserve_session_store_errors_total rnnserve_checkpoint_lag_seconds
            rnnserve_session_pulls_total rnnserve_sessions_fenced_total
            rnnserve_checkpoint_seconds_bucket rnnserve_checkpoint_seconds_sum rnnserve_checkpoint_seconds_count
            rnnserve_checkpoint_batch_sessions_bucket rnnserve_checkpoint_batch_sessions_sum
            rnnserve_checkpoint_batch_sessions_count)
no_store_allow=("${allow[@]}")
for name in "${store_only[@]}"; do no_store_allow+=(--allow "$name"); done
rules=(--rules deploy/prometheus/rules/rnnserve.rules.yml)
check "dashboard + rules vs saved exposition (no store)" \
  deploy/grafana/check-dashboard.py "${rules[@]}" "${no_store_allow[@]}" deploy/grafana/testdata/rnnserve-metrics.txt
check "dashboard + rules vs saved exposition (with a Redis session store)" \
  deploy/grafana/check-dashboard.py "${rules[@]}" ${allow[@]+"${allow[@]}"} deploy/grafana/testdata/rnnserve-metrics-store.txt
# (--helpfull exits 1, and under pipefail a pipe into grep would fail with it.)
has_store_flags() { local help; help=$("$bin/rnnserve" --helpfull 2>&1); grep -q -- '--session_store ' <<< "$help"; }
if [[ $live == 1 && -x $bin/rnnserve ]]; then
  if BIN_DIR=$bin deploy/grafana/capture-exposition.sh "$tmp/live-metrics.txt" > "$tmp/capture.log" 2>&1; then
    check "promtool check metrics (live $bin/rnnserve)" promtool check metrics < "$tmp/live-metrics.txt"
    check "dashboard + rules vs live exposition (no store)" \
      deploy/grafana/check-dashboard.py "${rules[@]}" "${no_store_allow[@]}" "$tmp/live-metrics.txt"
  else
    failed+=("capture live exposition"); echo "FAIL  capture live exposition"; sed 's/^/      /' "$tmp/capture.log"
  fi
  if has_store_flags; then
    if BIN_DIR=$bin deploy/grafana/capture-exposition.sh --session-store "$tmp/store-metrics.txt" > "$tmp/capture.log" 2>&1; then
      check "promtool check metrics (live, with a Redis session store)" promtool check metrics < "$tmp/store-metrics.txt"
      check "rnnserve_session_store_up 1 (live, with a Redis session store)" grep -q '^rnnserve_session_store_up 1' "$tmp/store-metrics.txt"
      check "dashboard + rules vs live exposition (with a Redis session store)" \
        deploy/grafana/check-dashboard.py "${rules[@]}" ${allow[@]+"${allow[@]}"} "$tmp/store-metrics.txt"
    else
      failed+=("capture live exposition with a session store"); echo "FAIL  capture live exposition with a session store"
      sed 's/^/      /' "$tmp/capture.log"
    fi
  else
    skip "dashboard vs live exposition with a session store" "$bin/rnnserve has no --session_store (built before issue 13)"
  fi
else
  skip "dashboard vs live exposition" "--no-live or no $bin/rnnserve"
fi

# --- Kubernetes
check "kubectl kustomize deploy/k8s" sh -c "kubectl kustomize deploy/k8s > '$tmp/k8s.yaml'"
if [[ -x $k8s_validate ]]; then
  check "k8s-validate (rendered deploy/k8s)" "$k8s_validate" "$tmp/k8s.yaml"
  # The exec-probe variant, through a throwaway overlay (kustomize wants relative bases).
  mkdir -p "$tmp/overlay" && cp deploy/k8s/exec-probes-patch.yaml "$tmp/overlay/"
  printf 'resources:\n  - %s\npatches:\n  - path: exec-probes-patch.yaml\n' \
    "$(realpath --relative-to="$tmp/overlay" deploy/k8s)" > "$tmp/overlay/kustomization.yaml"
  check "k8s-validate (with exec-probes-patch.yaml)" \
    sh -c "kubectl kustomize '$tmp/overlay' > '$tmp/k8s-exec.yaml' && grep -q rnnserve-cli '$tmp/k8s-exec.yaml' && ! grep -q 'grpc:' '$tmp/k8s-exec.yaml' && '$k8s_validate' '$tmp/k8s-exec.yaml'"
  # The session store overlay: rnnserve's extra args, the Redis StatefulSet and Service.
  check "k8s-validate (deploy/k8s-redis: session store)" \
    sh -c "kubectl kustomize deploy/k8s-redis > '$tmp/k8s-redis.yaml' && '$k8s_validate' '$tmp/k8s-redis.yaml'"
else
  failed+=("k8s-validate missing ($k8s_validate)"); echo "FAIL  k8s-validate missing: $k8s_validate"
fi

# KServe: the ServingRuntime and InferenceServices (deploy/kserve/check.py: documented fields,
# cross references, the container through k8s-validate, the server run with the runtime's
# args answering both protocols).
if [[ -x $k8s_validate ]]; then
  kserve_args=(--k8s-validate "$k8s_validate")
else
  kserve_args=()
fi
if [[ -x $bin/rnnserve ]]; then
  kserve_args+=(--rnnserve "$bin/rnnserve" --cli "$bin/rnnserve-cli")
fi
check "KServe ServingRuntime + InferenceService (deploy/kserve)" \
  /usr/bin/python3 deploy/kserve/check.py "${kserve_args[@]}"

# The session-store component's args name real flags of the built server, and its
# --session_store host is the Redis Service of the redis component.
store_args_match() {
  local args; args=$(sed -n 's/^ *- --\(session_store\|advertise\|checkpoint_interval\)/--\1/p' "$tmp/k8s-redis.yaml")
  grep -q -- '--session_store=redis://rnnserve-redis:6379$' <<< "$args" || { echo "no --session_store=redis://rnnserve-redis:6379 in: $args"; return 1; }
  grep -q '^  name: rnnserve-redis$' "$tmp/k8s-redis.yaml" || { echo "no Service rnnserve-redis"; return 1; }
  local help; help=$("$bin/rnnserve" --helpfull 2>&1)
  local arg flag
  while IFS= read -r arg; do
    flag=${arg%%=*}
    grep -q -- "$flag " <<< "$help" || { echo "rnnserve has no flag $flag"; return 1; }
  done <<< "$args"
}
if [[ -x $bin/rnnserve ]] && has_store_flags && [[ -s $tmp/k8s-redis.yaml ]]; then
  check "session-store component args = rnnserve flags" store_args_match
else
  skip "session-store component args = rnnserve flags" "no rendered deploy/k8s-redis or $bin/rnnserve without --session_store"
fi

# redis.conf (the k8s ConfigMap and compose's) loads into a real redis-server as the
# containers start it: the password from an include, persistence and eviction as chosen.
redis_conf_loads() {
  local port pid ok=1
  port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$tmp/redis"
  printf 'requirepass "%s"\n' check-password > "$tmp/redis/auth.conf"
  redis-server deploy/k8s/redis/redis.conf --include "$tmp/redis/auth.conf" --bind 127.0.0.1 \
    --port "$port" --dir "$tmp/redis" > "$tmp/redis/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do
    [[ $(REDISCLI_AUTH=check-password redis-cli -p "$port" ping 2> /dev/null) == PONG ]] && { ok=0; break; }
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.1
  done
  if [[ $ok == 0 ]]; then
    local name want got
    for name in appendonly=yes appendfsync=everysec save= maxmemory-policy=noeviction; do
      want=${name#*=} name=${name%%=*}
      got=$(REDISCLI_AUTH=check-password redis-cli -p "$port" config get "$name" | sed -n 2p)
      [[ $got == "$want" ]] || { echo "$name is '$got', want '$want'"; ok=1; }
    done
    [[ $(redis-cli -p "$port" ping 2>&1) == *NOAUTH* ]] || { echo "answers without the password"; ok=1; }
  fi
  kill -TERM "$pid" 2> /dev/null; wait "$pid" 2> /dev/null
  [[ $ok == 0 ]] || cat "$tmp/redis/log"
  return $ok
}
if have redis-server && have redis-cli; then
  check "redis.conf loads in redis-server (password, AOF, noeviction)" redis_conf_loads
else
  failed+=("redis-server missing (apt-get install redis-server)"); echo "FAIL  redis-server missing"
fi

# Every FLAGS_ variable of the ConfigMap is read: the Deployment keeps the image's ENTRYPOINT
# (no command of its own), whose --tryfromenv lists every flag (absl ignores names it is not
# given, silently), and each names a real flag of the built server.
flags_match() {
  local env_names entry
  env_names=$(sed -n 's/^FLAGS_\([a-z_]*\)=.*/\1/p' deploy/k8s/configmap.env | sort)
  entry=$(sed -n 's/.*--tryfromenv=\([a-z_,]*\).*/\1/p' Dockerfile | tr ',' '\n' | sort)
  if ! /usr/bin/python3 -c '
import sys, yaml
container = yaml.safe_load(open(sys.argv[1]))["spec"]["template"]["spec"]["containers"][0]
sys.exit("command" in container)' deploy/k8s/deployment.yaml; then
    echo "deployment.yaml sets a command: the image's ENTRYPOINT (its --tryfromenv) would not run"
    return 1
  fi
  local missing; missing=$(comm -23 <(echo "$env_names") <(echo "$entry"))
  [[ -z $missing ]] || { echo "configmap.env FLAGS_* not in the image's --tryfromenv: $missing"; return 1; }
  if [[ -x $bin/rnnserve ]]; then
    local help; help=$("$bin/rnnserve" --helpfull 2>&1)
    for flag in $env_names; do
      grep -q -- "--$flag " <<< "$help" || { echo "rnnserve has no flag --$flag"; return 1; }
    done
  fi
}
check "ConfigMap flags read by the image's --tryfromenv, all rnnserve flags" flags_match

# The image's ENTRYPOINT lists every flag of server/main.cc in --tryfromenv, so that any
# FLAGS_ variable given to the container is read (deploy/container-test.sh checks the
# built image the same way). A flag's --helpfull line is indented by 4 spaces; its help's
# continuation lines, which may name other flags, by 6.
dockerfile_flags_match() {
  local entry server
  entry=$(sed -n 's/.*--tryfromenv=\([a-z_,]*\).*/\1/p' Dockerfile | tr ',' '\n' | sort)
  server=$("$bin/rnnserve" --helpfull 2>&1 |
    sed -n '/Flags from .*server\/main\.cc:/,/Flags from/s/^    --\([a-z_]*\) .*/\1/p' | sort)
  if [[ -z $server ]] || ! diff <(echo "$entry") <(echo "$server"); then
    echo "Dockerfile --tryfromenv list != rnnserve's flags (< Dockerfile, > rnnserve)"
    return 1
  fi
}
if [[ -x $bin/rnnserve ]]; then
  check "Dockerfile --tryfromenv list = rnnserve flags" dockerfile_flags_match
else
  skip "Dockerfile --tryfromenv list" "no $bin/rnnserve"
fi

# The built server starts with the ConfigMap's values (listen addresses moved to loopback).
starts_with_configmap() {
  local args pid port=""
  args=$(sed -n 's/.*\(--tryfromenv=[a-z_,]*\).*/\1/p' Dockerfile)
  (
    set -a
    # shellcheck source=/dev/null
    . deploy/k8s/configmap.env
    set +a
    export FLAGS_listen=127.0.0.1:0 FLAGS_metrics_listen=127.0.0.1:0 FLAGS_http_listen=127.0.0.1:0
    export FLAGS_models="$root/models"
    exec "$bin/rnnserve" "$args"
  ) > "$tmp/configmap-server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    port=$(sed -n 's/.*serving \/metrics on port \([0-9]*\).*/\1/p' "$tmp/configmap-server.log")
    [[ -n $port ]] || ! kill -0 "$pid" 2> /dev/null && break
    sleep 0.1
  done
  local ok=1
  # To a file, not piped into grep -q: under pipefail, grep exiting at the first match
  # can fail curl's write (exit 23) and with it the check, now and then.
  [[ -n $port ]] && curl -sf --max-time 5 -o "$tmp/configmap-metrics.txt" "http://127.0.0.1:$port/metrics" &&
    grep -q '^rnnserve_sessions_max ' "$tmp/configmap-metrics.txt" && ok=0
  kill -TERM "$pid" 2> /dev/null; wait "$pid" 2> /dev/null
  [[ $ok == 0 ]] || cat "$tmp/configmap-server.log"
  return $ok
}
if [[ -x $bin/rnnserve ]]; then
  check "rnnserve starts with the ConfigMap's flags" starts_with_configmap
else
  skip "rnnserve with the ConfigMap's flags" "no $bin/rnnserve"
fi

# --- Proxies
if have nginx; then
  mkdir -p "$tmp/nginx"
  check "nginx -t deploy/proxy/nginx.conf" nginx -t -p "$tmp/nginx" -c "$deploy/proxy/nginx.conf"
else
  skip "nginx -t" "nginx not installed (apt-get install nginx)"
fi
check "envoy.yaml parses (not validated: no Envoy here)" /usr/bin/python3 -c '
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
c = d["static_resources"]["clusters"][0]
assert c["lb_policy"] == "RING_HASH", c["lb_policy"]
hcm = d["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
route = hcm["route_config"]["virtual_hosts"][0]["routes"][0]["route"]
assert route["hash_policy"] == [{"header": {"header_name": "x-session-id"}}], route["hash_policy"]
' deploy/proxy/envoy.yaml

# --- YAML, compose, scripts
if have yamllint; then
  check "yamllint deploy" yamllint -s -c deploy/.yamllint deploy
else
  skip "yamllint" "not installed (apt-get install yamllint)"
fi
if have docker-compose; then
  check "docker-compose config deploy/compose.yaml" docker-compose -f deploy/compose.yaml config -q
else
  skip "compose schema" "docker-compose not installed (Debian docker-compose)"
fi
scripts=()
for s in deploy/*.sh deploy/grafana/capture-exposition.sh; do
  [[ -f $s ]] && scripts+=("$s") && check "bash -n $s" bash -n "$s"
done
if have shellcheck; then
  check "shellcheck" shellcheck "${scripts[@]}"
else
  skip "shellcheck" "not installed"
fi

echo
echo "${#passed[@]} passed, ${#failed[@]} failed, ${#skipped[@]} skipped"
for f in "${failed[@]}"; do echo "  failed: $f"; done
[[ ${#failed[@]} == 0 ]]
