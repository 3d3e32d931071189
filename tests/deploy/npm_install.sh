#!/usr/bin/env bash
# Installs the pinned npm packages of tests/deploy/package-lock.json into DEST/node_modules with `npm ci`
# (the npm registry is reachable here and in CI). Skips the install when DEST already holds exactly that
# lock file. node_modules stays in the build folder, never in the source tree.
# Usage: tests/deploy/npm_install.sh DEST
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:?usage: npm_install.sh DEST}
command -v npm >/dev/null || { echo "npm_install.sh: npm not found (Node.js >= 14 is needed)" >&2; exit 1; }
mkdir -p "$dest"
if [ -d "$dest/node_modules" ] && cmp -s "$here/package-lock.json" "$dest/node_modules/.installed-lock.json"; then
  exit 0
fi
cp "$here/package.json" "$here/package-lock.json" "$dest/"
cd "$dest"
# Retried once: a registry hiccup should not fail the suite.
npm ci --no-audit --no-fund --loglevel=error || { sleep 5; npm ci --no-audit --no-fund --loglevel=error; }
cp "$here/package-lock.json" node_modules/.installed-lock.json
