#!/usr/bin/env bash
# Builds everything and runs every test (unit, integration with a real Prometheus, the Python gRPC client),
# printing CTest's summary. Exit code: CTest's.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh" "$root/build"
cd "$root/build"
ctest --output-on-failure --timeout 900 -j2
