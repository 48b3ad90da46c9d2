# rnnserve container image: the server, its CLI and the offline tool, with the demo
# model repository at /models (README "Container").
#
#   docker build -t rnnserve .        # or: podman build --format docker -t rnnserve .
#   docker run --rm -p 127.0.0.1:50051:50051 -p 127.0.0.1:9464:9464 rnnserve
#
# Build stage: Debian bookworm with the build packages, installed by the project's own
# script. Runtime stage: bookworm-slim with only the shared libraries the binaries load.
# Nothing but Debian packages is downloaded. deploy/container-test.sh builds and checks it.

FROM debian:bookworm AS build
WORKDIR /src
# Before the sources, so editing code does not re-install the packages.
COPY scripts/install_deps.sh scripts/
RUN scripts/install_deps.sh --build-only
COPY CMakeLists.txt ./
COPY proto/ proto/
COPY util/ util/
COPY model/ model/
COPY server/ server/
COPY client/ client/
COPY tools/ tools/
COPY cmake/ cmake/
COPY scripts/build.sh scripts/
# -march target (README "Building"): x86-64-v3 runs on any x86 server of the last decade
# and still uses AVX-512 kernels where the CPU has them; x86-64 for older machines.
ARG RNNSERVE_CPU=x86-64-v3
# Parallel compile jobs (build.sh reads JOBS): --build-arg JOBS=8 on a bigger builder.
ARG JOBS=2
RUN scripts/build.sh -DBUILD_TESTING=OFF -DRNNSERVE_CPU="$RNNSERVE_CPU"

FROM debian:bookworm-slim
# What `ldd` lists for rnnserve, rnnserve-cli and rnnserve-model, mapped to packages with
# `dpkg -S`; libc6, libstdc++6, libgcc-s1, zlib1g and liblzma5 are already in the base.
# apt's package caches (*.bin, 80 MB) go too: Docker Hub's debian images are configured
# not to write them, a debootstrap-made base is not.
# The uid/gid 10001 user is the one deploy/k8s runs as (runAsUser, runAsGroup, fsGroup): a
# system account (no subordinate ids), with SYS_UID_MAX raised so useradd accepts 10001.
# /var/lib/rnnserve is the one place it may write, for --snapshot (README "Reliability"):
# a named volume mounted there starts with its owner, so it is writable on a read-only root.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libabsl20220623 libc-ares2 libcivetweb1 libgflags2.2 libgoogle-glog0v6 libhiredis0.14 \
      libgrpc++1.51 libgrpc29 libonnx1 libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 \
      libprotobuf32 libre2-9 libssl3 libunwind8 \
      libhdf5-103-1 libzip4 libzstd1 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb \
 && groupadd --system --gid 10001 rnnserve \
 && useradd --system -K SYS_UID_MAX=10001 --uid 10001 --gid 10001 --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin rnnserve \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/rnnserve
COPY --from=build /src/build/bin/rnnserve /src/build/bin/rnnserve-cli \
     /src/build/bin/rnnserve-model /usr/local/bin/
# HTTPS on --http_listen with --tls_cert: civetweb's OpenSSL 3 compatibility
# libraries, found in lib/rnnserve beside bin/ (server/v2/https_setup.h).
COPY --from=build /src/build/lib/rnnserve/ /usr/local/lib/rnnserve/
# Owned by root and not writable by the server's user, even when no volume is mounted.
COPY models/ /models/

# absl reads FLAGS_<name> for every name --tryfromenv lists (ENTRYPOINT), so each server
# flag can come from the environment (-e FLAGS_workers=2, a Kubernetes ConfigMap) or from
# arguments after the image name, which come later on the command line and so win.
# Inside a container the server must listen on all interfaces to be reachable.
ENV FLAGS_listen=0.0.0.0:50051 \
    FLAGS_http_listen=0.0.0.0:8000 \
    FLAGS_metrics_listen=0.0.0.0:9464 \
    FLAGS_models=/models
USER 10001:10001
# gRPC, the Open Inference Protocol over HTTP (REST), Prometheus /metrics.
EXPOSE 50051/tcp 8000/tcp 9464/tcp
VOLUME ["/models"]
# NOT_SERVING while draining, so a stopping container turns unhealthy. Exit code 1 on any
# failure (Docker reserves 2). Assumes plaintext on port 50051: with TLS or another port,
# replace it (docker run --health-cmd, compose healthcheck).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/rnnserve-cli", "health", "--server=127.0.0.1:50051", "--timeout=2s"]
# Every flag of server/main.cc. --tryfromenv skips a listed name whose variable is unset
# without a word, so a misspelt or missing name would silently ignore the user's
# FLAGS_ variable: deploy/container-test.sh checks the list against --helpfull.
ENTRYPOINT ["/usr/local/bin/rnnserve", "--tryfromenv=advertise,checkpoint_interval,drain_timeout,full_policy,handoff_to,http_infer_timeout,http_listen,http_threads,idle_timeout,inline_max_steps,keepalive_time,keepalive_timeout,listen,log_level,max_batch,max_inflight_bytes,max_message_bytes,max_queue,max_queue_delay,max_sessions,max_steps_per_request,metrics_listen,model_poll_interval,model_versions,models,sched_batch,session_store,session_store_password_file,session_store_prefix,session_store_record_ttl,snapshot,snapshot_interval,tls_cert,tls_client_ca,tls_key,token_file,verbosity,weights,workers"]
CMD []
