#!/usr/bin/env bash
# The README's run command: install what is missing, build, then show the
# bundled demo model repository and run the trained character-level LSTM on a
# held-out sentence with the offline tool. (Once the gRPC server lands, this
# serves the demo models instead.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
build/bin/rnnserve-model inspect models
model=models/charlm/1
build/bin/rnnserve-model run --model "$model" --input "$model/sample_input.npy" \
  --output build/charlm_output.npy
echo "wrote build/charlm_output.npy: for each of the 43 characters of"
echo "  'In Oz, never say \"krizzle kroo\" to a Woozy.'"
echo "the model's probabilities of the next character (98 of them)"
