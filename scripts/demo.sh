#!/usr/bin/env bash
# The main job: builds, then runs the closed loop on one machine: the simulator, a real Prometheus and
# the adapter, with HPA and KEDA emulators (and Knative's KPA as the reference) scaling the simulated
# services through the adapter's APIs while a scenario runs (idle, ramp, 5x burst, steady, drop).
# About 4.5 minutes; --long runs the 16-minute version with the upstream 5-minute stabilization.
# Writes CSV files, a summary and PNG plots to build/demo-output (--out-dir=DIR elsewhere).
# Ctrl-C stops it; everything it started is cleaned up.
# Usage: scripts/demo.sh [--long] [--scenario=FILE] [--modes=a,b] [--out-dir=DIR] [--work-dir=DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# Build progress and any compile error go to the terminal (the first build takes many minutes on 2 cores).
echo "demo.sh: installing what is missing and building (ninja prints its progress)" >&2
"$root/scripts/build.sh" "$root/build" autoscale-demo autoscale-sim autoscale-adapter >&2
exec "$root/build/bin/autoscale-demo" "--out-dir=$root/build/demo-output" "$@"
