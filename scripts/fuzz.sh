#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ in build-fuzz/ (clang, ASan + UBSan)
# and runs each for a bounded time, one after the other, on a corpus that
# grows across runs (build-fuzz/corpus/<target>, seeded from the fixtures by
# fuzz/make_seed_corpus.sh). Prints executions and findings per target; a
# finding's input lands in build-fuzz/findings/<target>/ and the script exits 1.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET (60)] [TARGET...] (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift $(( $# > 0 ? 1 : 0 ))
targets=("$@")
if (( ${#targets[@]} == 0 )); then
  targets=(npy_fuzzer config_fuzzer safetensors_fuzzer native_model_fuzzer onnx_fuzzer
           onnx_text_fuzzer step_request_fuzzer v2_infer_request_fuzzer keras_fuzzer
           json_infer_request_fuzzer checkpoint_codec_fuzzer)
fi

# -O1 keeps the fuzzers fast while Eigen's and glog's debug checks stay on.
CC="${CC:-clang}" CXX="${CXX:-clang++}" cmake -S . -B build-fuzz -DRNNSERVE_FUZZ=ON \
  -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" > /dev/null
cmake --build build-fuzz -j"${JOBS:-2}" --target "${targets[@]}"
fuzz/make_seed_corpus.sh build-fuzz/seeds > /dev/null

dict_of() {
  case "$1" in
    npy_fuzzer) echo fuzz/dicts/npy.dict ;;
    config_fuzzer | safetensors_fuzzer | native_model_fuzzer | keras_fuzzer)
      echo fuzz/dicts/json.dict ;;
    onnx_fuzzer | onnx_text_fuzzer) echo fuzz/dicts/onnx.dict ;;
    step_request_fuzzer) echo fuzz/dicts/step_request.dict ;;
    v2_infer_request_fuzzer) echo fuzz/dicts/v2_infer_request.dict ;;
    json_infer_request_fuzzer) echo fuzz/dicts/json_infer_request.dict ;;
  esac
}

findings=0
mkdir -p build-fuzz/logs
for target in "${targets[@]}"; do
  corpus="build-fuzz/corpus/$target"
  found="build-fuzz/findings/$target"
  log="build-fuzz/logs/$target.log"
  mkdir -p "$corpus" "$found"
  status=0
  started=$SECONDS
  # One process (-jobs=1 in effect): the machine is shared. A finding stops
  # the target; the next one still runs.
  # keras_fuzzer runs libhdf5, which allocates sizes read from the file: an
  # absurd one fails (malloc returns NULL and libhdf5 refuses the file), as it
  # does without sanitizers, instead of stopping the run; its leaks on a failed
  # H5Fopen are libhdf5's (fuzz/libhdf5_lsan.supp).
  extra=()
  run_env=()
  # A target without a dictionary (checkpoint_codec_fuzzer) gets no -dict at
  # all: libFuzzer exits at once on an empty -dict=.
  dict="$(dict_of "$target")"
  [[ -z $dict ]] || extra+=(-dict="$dict")
  if [[ "$target" == keras_fuzzer ]]; then
    extra+=(-malloc_limit_mb=2147483647)
    run_env=(ASAN_OPTIONS=allocator_may_return_null=1
             LSAN_OPTIONS=suppressions="$PWD/fuzz/libhdf5_lsan.supp")
  fi
  env "${run_env[@]}" build-fuzz/bin/"$target" "$corpus" "build-fuzz/seeds/$target" \
    -max_total_time="$seconds" -max_len=65536 \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${extra[@]}" \
    -artifact_prefix="$found/" > "$log" 2>&1 || status=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  # libFuzzer's last status line: coverage and the corpus it kept in memory.
  last="$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE '(cov|ft|corp): [^ ]+' | paste -sd' ')"
  if (( status != 0 )); then
    findings=$((findings + 1))
    artifact="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)"
    echo "$target: FINDING after ${runs:-?} executions in $((SECONDS - started)) s: ${artifact:-see $log}"
    grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|Check failed' \
      "$log" || true
  else
    echo "$target: ${runs:-?} executions in $((SECONDS - started)) s, no findings;" \
         "$last; corpus folder $(find "$corpus" -type f | wc -l) inputs"
  fi
done
exit $(( findings > 0 ))
