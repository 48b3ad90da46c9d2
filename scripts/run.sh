#!/usr/bin/env bash
# The README's run command: install what is missing, build, and serve the
# bundled demo models (models/) over gRPC on 127.0.0.1:50051 until Ctrl-C.
# Extra arguments go to the server, e.g. --listen=0.0.0.0:50051.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
build/bin/rnnserve-model inspect models
exec build/bin/rnnserve --models=models "$@"
