#!/usr/bin/env bash
# deploy/check.sh [--no-live]: every offline check of the deployment files; exit 1 if any fails.
#
#   promtool check config / check rules / test rules      deploy/prometheus
#   dashboard + rule queries against real expositions      deploy/grafana/check-dashboard.py:
#       the saved deploy/grafana/testdata/rnnserve-metrics.txt, and (unless --no-live, when
#       ${BIN_DIR:-build/bin}/rnnserve exists) a fresh capture from the built server, which
#       also gets promtool check metrics
#   kubectl kustomize deploy/k8s | k8s-validate            also with exec-probes-patch.yaml
#   the ConfigMap's FLAGS_* match --tryfromenv and are real rnnserve flags
#   nginx -t on deploy/proxy/nginx.conf (temporary prefix), envoy.yaml parses (only that)
#   yamllint, docker-compose config, bash -n / shellcheck on the scripts
#
# Required: promtool (Debian prometheus), python3, kubectl, node/npm for k8s-validate
# (../shared/tools/k8s-validate, or K8S_VALIDATE=path/to/run.sh). nginx, yamllint,
# docker-compose and shellcheck are used when installed and reported SKIP otherwise.
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
# A metric the files need before the server exports it goes here: (--allow NAME ...).
allow=()
rules=(--rules deploy/prometheus/rules/rnnserve.rules.yml)
check "dashboard + rules vs saved exposition" \
  deploy/grafana/check-dashboard.py "${rules[@]}" ${allow[@]+"${allow[@]}"} deploy/grafana/testdata/rnnserve-metrics.txt
if [[ $live == 1 && -x $bin/rnnserve ]]; then
  if BIN_DIR=$bin deploy/grafana/capture-exposition.sh "$tmp/live-metrics.txt" > "$tmp/capture.log" 2>&1; then
    check "promtool check metrics (live $bin/rnnserve)" promtool check metrics < "$tmp/live-metrics.txt"
    check "dashboard + rules vs live exposition" \
      deploy/grafana/check-dashboard.py "${rules[@]}" ${allow[@]+"${allow[@]}"} "$tmp/live-metrics.txt"
  else
    failed+=("capture live exposition"); echo "FAIL  capture live exposition"; sed 's/^/      /' "$tmp/capture.log"
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
else
  failed+=("k8s-validate missing ($k8s_validate)"); echo "FAIL  k8s-validate missing: $k8s_validate"
fi

# Every FLAGS_ variable of the ConfigMap is read (absl --tryfromenv ignores names it is not
# given, silently) and names a real flag of the built server.
flags_match() {
  local env_names from_env
  env_names=$(sed -n 's/^FLAGS_\([a-z_]*\)=.*/\1/p' deploy/k8s/configmap.env | sort)
  from_env=$(sed -n 's/.*--tryfromenv=\([a-z_,]*\).*/\1/p' deploy/k8s/deployment.yaml | tr ',' '\n' | sort)
  diff <(echo "$env_names") <(echo "$from_env") || { echo "configmap.env FLAGS_* != --tryfromenv list"; return 1; }
  if [[ -x $bin/rnnserve ]]; then
    local help; help=$("$bin/rnnserve" --helpfull 2>&1)
    for flag in $env_names; do
      grep -q -- "--$flag " <<< "$help" || { echo "rnnserve has no flag --$flag"; return 1; }
    done
  fi
}
check "ConfigMap flags = --tryfromenv list = rnnserve flags" flags_match

# The built server starts with the ConfigMap's values (listen addresses moved to loopback).
starts_with_configmap() {
  local args pid port=""
  args=$(sed -n 's/.*\(--tryfromenv=[a-z_,]*\).*/\1/p' deploy/k8s/deployment.yaml)
  (
    set -a
    # shellcheck source=/dev/null
    . deploy/k8s/configmap.env
    set +a
    export FLAGS_listen=127.0.0.1:0 FLAGS_metrics_listen=127.0.0.1:0 FLAGS_models="$root/models"
    exec "$bin/rnnserve" "$args"
  ) > "$tmp/configmap-server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    port=$(sed -n 's/.*serving \/metrics on port \([0-9]*\).*/\1/p' "$tmp/configmap-server.log")
    [[ -n $port ]] || ! kill -0 "$pid" 2> /dev/null && break
    sleep 0.1
  done
  local ok=1
  [[ -n $port ]] && curl -sf --max-time 5 "http://127.0.0.1:$port/metrics" | grep -q '^rnnserve_sessions_max ' && ok=0
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
