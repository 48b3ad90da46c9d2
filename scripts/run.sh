#!/usr/bin/env bash
# The README's run command: install what is missing, build, and run the
# bundled character-level LSTM on a bundled sequence with the offline tool.
# (Once the gRPC server lands, this serves the bundled demo models instead.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
model=tests/testdata/model/charlm
build/bin/rnnserve-model inspect "$model"
build/bin/rnnserve-model run --model "$model" --input "$model/input_1.npy" \
  --output build/charlm_output.npy
echo "wrote build/charlm_output.npy: 7 steps x 11 next-character probabilities"
