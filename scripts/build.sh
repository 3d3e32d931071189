#!/usr/bin/env bash
# Installs the Debian packages (if missing), configures and builds. Idempotent.
# Usage: scripts/build.sh [BUILD_DIR [ninja targets...]]   (default: build/, everything)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh"
build=${1:-$root/build}
shift || true
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
ninja -C "$build" "$@"
