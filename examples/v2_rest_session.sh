#!/usr/bin/env bash
# A sequence over the Open Inference Protocol's HTTP/REST API with curl, as a
# KServe or Triton user talks to rnnserve: health, metadata, then a session
# (Triton's sequence extension) stepped two requests long, with the id echoed
# and the session's steps in the answer's parameters, then ended.
#   examples/v2_rest_session.sh [BASE_URL (http://127.0.0.1:8000)] [MODEL (forecast)]
#                               [CURL_FLAG...]
# CURL_FLAGs go to every curl: for HTTPS (rnnserve started with --tls_cert),
# https://... --cacert ca.pem, and --cert client.pem --key client.key with
# --tls_client_ca; -H "Authorization: Bearer $(cat token)" with --token_file.
# Prints each answer; exits non-zero when one is not what it should be.
set -euo pipefail
base="${1:-http://127.0.0.1:8000}"
model="${2:-forecast}"
extra=("${@:3}")
call() {  # METHOD PATH [BODY]: prints the body; fails unless the status is 200
  local method="$1" path="$2" body="${3:-}"
  curl "${extra[@]}" --silent --show-error --fail-with-body --max-time 30 -X "$method" \
    -H 'Content-Type: application/json' ${body:+--data "$body"} "$base$path"
  echo
}
call GET /v2/health/ready
call GET /v2
call GET "/v2/models/$model"
# The model takes FP32 [T, 1] here (forecast: one feature a step).
first=$(call POST "/v2/models/$model/infer" \
  '{"id": "step-1", "parameters": {"sequence_id": "curl-demo", "sequence_start": true},
    "inputs": [{"name": "input", "shape": [2, 1], "datatype": "FP32", "data": [[0.5], [0.25]]}]}')
echo "$first"
grep -q '"id":"step-1"' <<< "$first"
grep -q '"session_steps":2' <<< "$first"
last=$(call POST "/v2/models/$model/infer" \
  '{"id": "step-2", "parameters": {"sequence_id": "curl-demo", "sequence_end": true},
    "inputs": [{"name": "input", "shape": [1, 1], "datatype": "FP32", "data": [0.75]}]}')
echo "$last"
grep -q '"session_steps":3' <<< "$last"
# Ended: a further step of the sequence is 404, with the hint to start it.
status=$(curl "${extra[@]}" --silent --output /dev/null --write-out '%{http_code}' -X POST "$base/v2/models/$model/infer" \
  --data '{"parameters": {"sequence_id": "curl-demo"}, "inputs": [{"name": "input", "shape": [1, 1], "datatype": "FP32", "data": [0.1]}]}')
[[ "$status" == 404 ]]
echo "session curl-demo: 3 steps over REST, ended"
