#!/usr/bin/env bash
# The main job: builds, then runs the simulator, a real Prometheus and the adapter on the embedded default config,
# and shows live per-pod figures for both tutorial models. Ctrl-C stops it (everything it started is cleaned up).
# Usage: scripts/demo.sh [--duration=60s] [--refresh=2s] [--scrape_interval=2s] [--work_dir=DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh" "$root/build" autoscale-demo autoscale-sim autoscale-adapter >/dev/null
exec "$root/build/bin/autoscale-demo" "$@"
