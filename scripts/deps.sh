#!/usr/bin/env bash
# Installs the Debian bookworm packages needed to build, test, benchmark and demo autoscale-adapter.
# Idempotent: packages already present are skipped without touching the network.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl openssl
  clang libclang-rt-14-dev libfuzzer-14-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libre2-dev prometheus-cpp-dev libcpp-httplib-dev libyaml-cpp-dev
  libsimdjson-dev nlohmann-json3-dev libssl-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  prometheus python3 python3-grpcio wrk gnuplot-nox
  python3-yaml python3-jsonschema
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
