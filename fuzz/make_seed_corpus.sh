#!/usr/bin/env bash
# Writes the fuzzers' seed corpora into OUT/<fuzzer>/ from the checked-in
# fixtures (nothing large is committed twice): tests/testdata/model*, keras*,
# tests/testdata/onnx*, models/*/1, the regression inputs in
# tests/testdata/fuzz_regressions/<fuzzer>/, for onnx_text_fuzzer those ONNX
# models decoded to text and for step_request_fuzzer the requests of
# fuzz/step_requests.txtpb encoded (both with protoc).
# Usage: fuzz/make_seed_corpus.sh OUT [MAX_BYTES]  (seeds above MAX_BYTES,
# default 65536, are left out: libFuzzer would only truncate them).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$1"
max_bytes="${2:-65536}"
cd "$root"

# copy FUZZER FILE...: each file under a name unique across fixtures.
copy() {
  local fuzzer="$1"
  shift
  mkdir -p "$out/$fuzzer"
  local f
  for f in "$@"; do
    [[ -f "$f" ]] || continue
    (( $(stat -c %s "$f") <= max_bytes )) || continue
    cp "$f" "$out/$fuzzer/$(echo "$f" | tr '/' '_')"
  done
}

shopt -s nullglob
rm -rf "$out"
copy npy_fuzzer tests/testdata/model/*/*.npy tests/testdata/model_bad/*.npy \
  tests/testdata/onnx/*/input_0.npy models/*/1/*.npy
copy config_fuzzer tests/testdata/model/*/config.json tests/testdata/model_bad*/*/config.json \
  models/*/1/config.json
copy safetensors_fuzzer tests/testdata/model/*/model.safetensors \
  tests/testdata/model_bad/*/model.safetensors models/*/1/model.safetensors
copy checkpoint_codec_fuzzer tests/testdata/checkpoints/*.bin
copy keras_fuzzer tests/testdata/keras/*/model.{h5,keras} \
  tests/testdata/keras_bad/*/model.{h5,keras} tests/testdata/fuzz_regressions/keras_fuzzer/*
# keras_fuzzer's TF.js inputs: model.json, a NUL, then its shards
# (fuzz/keras_fuzzer.cc).
for json in tests/testdata/keras/*/model.json tests/testdata/keras_bad/*/model.json; do
  dir="$(dirname "$json")"
  seed="$out/keras_fuzzer/$(echo "$dir" | tr '/' '_')_tfjs"
  { cat "$json"; printf '\0'; cat "$dir"/*.bin 2> /dev/null || true; } > "$seed"
  (( $(stat -c %s "$seed") <= max_bytes )) || rm "$seed"
done
copy onnx_fuzzer tests/testdata/onnx/*/model.onnx tests/testdata/onnx_bad/*/model.onnx \
  models/*/1/model.onnx

# native_model_fuzzer: a 2-byte little-endian config length, the config,
# the weights (fuzz/native_model_fuzzer.cc).
mkdir -p "$out/native_model_fuzzer"
for dir in tests/testdata/model/* tests/testdata/model_bad/* models/*/1; do
  [[ -f "$dir/config.json" && -f "$dir/model.safetensors" ]] || continue
  seed="$out/native_model_fuzzer/$(echo "$dir" | tr '/' '_')"
  size=$(stat -c %s "$dir/config.json")
  (( size < 65536 )) || continue
  printf '%b' "\\x$(printf %02x $((size & 255)))\\x$(printf %02x $((size >> 8)))" > "$seed"
  cat "$dir/config.json" "$dir/model.safetensors" >> "$seed"
  (( $(stat -c %s "$seed") <= max_bytes )) || rm "$seed"
done

# step_request_fuzzer: one seed per text-format request, blank-line separated.
mkdir -p "$out/step_request_fuzzer"
n=0
while IFS= read -r -d '' request; do
  [[ "$request" =~ [^[:space:]] ]] || continue
  n=$((n + 1))
  printf '%s' "$request" |
    protoc -I proto --encode=rnnserve.v1.StepRequest rnnserve/v1/inference.proto \
      > "$out/step_request_fuzzer/request_$n"
done < <(grep -v '^#' fuzz/step_requests.txtpb | awk 'BEGIN{RS=""; ORS="\0"} {print}')

# v2_infer_request_fuzzer: one seed per text-format request, blank-line separated.
mkdir -p "$out/v2_infer_request_fuzzer"
n=0
while IFS= read -r -d '' request; do
  [[ "$request" =~ [^[:space:]] ]] || continue
  n=$((n + 1))
  printf '%s' "$request" |
    protoc -I proto --encode=inference.ModelInferRequest inference/grpc_service.proto \
      > "$out/v2_infer_request_fuzzer/request_$n"
done < <(grep -v '^#' fuzz/v2_infer_requests.txtpb | awk 'BEGIN{RS=""; ORS="\0"} {print}')

# json_infer_request_fuzzer: the REST bodies as they are.
copy json_infer_request_fuzzer fuzz/json_infer_requests/*.json

for dir in tests/testdata/fuzz_regressions/*/; do
  fuzzer="$(basename "$dir")"
  copy "$fuzzer" "$dir"*
done

# onnx_text_fuzzer: the same models in ModelProto text format.
mkdir -p "$out/onnx_text_fuzzer"
for f in "$out"/onnx_fuzzer/*; do
  text="$out/onnx_text_fuzzer/$(basename "$f").txtpb"
  protoc -I /usr/include --decode=onnx.ModelProto onnx/onnx.proto < "$f" > "$text" 2> /dev/null ||
    rm -f "$text"
done
find "$out/onnx_text_fuzzer" -type f -size +"$max_bytes"c -delete

for dir in "$out"/*/; do
  echo "$(basename "$dir"): $(find "$dir" -type f | wc -l) seeds"
done
