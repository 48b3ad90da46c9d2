#!/usr/bin/env bash
# The session-affinity test (issue 7) in one command: nginx with
# deploy/proxy/nginx.conf in front of three rnnserve replicas, 300 sessions
# through it, one replica stopped with SIGTERM mid-load and its sessions moved
# (--handoff_to). See deploy/README.md "The affinity test". Also part of the
# ctest suite (deploy.*) whenever nginx is installed.
#   deploy/affinity-test.sh [gtest flags]
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -x /usr/sbin/nginx ]]; then
  echo "affinity-test: installing nginx"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nginx
  # The package starts the system's nginx where an init system runs; the test
  # starts its own on free loopback ports and needs no other.
  invoke-rc.d nginx stop > /dev/null 2>&1 || true
fi
scripts/install_deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j"${JOBS:-2}" --target deploy_test rnnserve
exec build/bin/deploy_test "$@"
