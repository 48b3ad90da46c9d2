# rnnserve container image. Build stage: Debian bookworm with the build
# packages; runtime stage: bookworm-slim with only the shared libraries.
# Until the gRPC server lands (issue 4) the image carries the offline tool;
# issue 7 completes it (server, health check, ports) and verifies it with podman.
FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/install_deps.sh scripts/
RUN scripts/install_deps.sh
COPY . .
RUN rm -rf build && scripts/build.sh -DBUILD_TESTING=OFF

FROM debian:bookworm-slim
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libabsl20220623 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home rnnserve
COPY --from=build /src/build/bin/rnnserve-model /usr/local/bin/
USER rnnserve
ENTRYPOINT ["/usr/local/bin/rnnserve-model"]
CMD ["--help"]
