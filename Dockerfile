# autoscale-adapter image: `docker build -t autoscale-adapter:0.1.0 .` (deploy/ runs this tag).
# Multi-stage on Debian bookworm. The build stage installs exactly the packages the scripts use
# (scripts/deps.sh) and builds the adapter; the runtime stage has only the shared libraries it links (the
# Debian runtime packages listed below; tests/deploy/check_image.py verifies the list against `ldd` of the
# built binary on every test run), runs as a non-root user and needs no shell: ENTRYPOINT is the binary.

FROM debian:bookworm AS build
COPY scripts/deps.sh /src/scripts/deps.sh
RUN /src/scripts/deps.sh && rm -rf /var/lib/apt/lists/*
COPY . /src
# .git stays out of the build context: pass the revision, e.g. --build-arg REVISION=$(git rev-parse --short=12 HEAD)
ARG REVISION=unknown
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAA_BENCH=OFF -DAA_REVISION="$REVISION" \
 && ninja -C /build -j"$(nproc)" autoscale-adapter \
 && strip --strip-debug -o /autoscale-adapter /build/bin/autoscale-adapter

# Runtime. Packages: one per shared library of the binary (libc6, libgcc-s1 and libstdc++6 are part of
# every bookworm-slim image), plus ca-certificates for TLS to Prometheus. gRPC, protobuf, Abseil, RE2,
# c-ares and yaml-cpp are linked in from their static archives (AA_STATIC_LINK, scripts/static_link.sh).
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      libbrotli1 \
      libcpp-httplib0.11 \
      libprometheus-cpp-core1.0 \
      libsimdjson14 \
      libssl3 \
      zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 autoscale-adapter \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin autoscale-adapter
COPY --from=build /autoscale-adapter /usr/local/bin/autoscale-adapter
# The uid/gid deploy/ runs as (runAsUser 65532): no home, no login shell.
USER 65532:65532
# 6443 HTTPS (Kubernetes metrics APIs), 9500 gRPC (KEDA), 8080 HTTP (query API, /metrics, health).
EXPOSE 6443 9500 8080
ENTRYPOINT ["/usr/local/bin/autoscale-adapter"]
