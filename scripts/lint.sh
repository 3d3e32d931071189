#!/usr/bin/env bash
# CI's style and static checks, run after scripts/test.sh (which builds BUILD_DIR):
# 1. clang-format: every tracked C++ file (src/, tests/, bench/, fuzz/) formatted per .clang-format.
# 2. clang-tidy: the checks of .clang-tidy on every translation unit of src/ in BUILD_DIR's
#    compile_commands.json, and on the headers of src/ they include (generated protobuf/gRPC code
#    under the build folder is left out). Tests, benchmarks and fuzzers are not linted: clang-tidy
#    costs about 10 s of CPU a file, and src/ alone keeps this step near 5 minutes on 2 cores.
#    Any finding fails.
# Usage: scripts/lint.sh [BUILD_DIR, default build/]   (AA_LINT_JOBS: parallel clang-tidy runs, default
# the number of cores). Prints the time each part took.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
jobs=${AA_LINT_JOBS:-$(nproc)}
"$root/scripts/deps.sh"
cd "$root"

start=$SECONDS
git ls-files -z -- '*.cc' '*.h' | xargs -0 clang-format --dry-run --Werror
echo "clang-format: clean ($((SECONDS - start)) s)"

[ -f "$build/compile_commands.json" ] || { echo "no $build/compile_commands.json: build first" >&2; exit 1; }
start=$SECONDS
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Our translation units: under src/ of the source tree, not under a build folder inside it.
python3 - "$build/compile_commands.json" "$root" > "$out/files" <<'EOF'
import json, os, sys
root = sys.argv[2] + "/"
seen = set()
for e in json.load(open(sys.argv[1])):
    f = os.path.normpath(os.path.join(e["directory"], e["file"]))
    rel = f[len(root):] if f.startswith(root) else None
    if rel and rel.startswith("src/") and f not in seen:
        seen.add(f)
        print(f)
EOF
# One clang-tidy per file, in parallel; each writes its findings to its own file. The compile commands
# are GCC's: options clang does not know are not findings.
export build out header_filter="^$root/src/"
xargs -a "$out/files" -P "$jobs" -I{} sh -c \
  'clang-tidy -p "$build" --quiet --header-filter="$header_filter" \
     --extra-arg=-Wno-unknown-warning-option "$1" > "$out/$(echo "$1" | tr / _).log" 2>/dev/null || true' _ {}
# A header's finding is reported once per file including it: print each finding once.
findings=$(cat "$out"/*.log 2>/dev/null | grep -E '^/.*: (warning|error): ' | sort -u || true)
if [ -n "$findings" ]; then
  cat "$out"/*.log | awk '/^\/.*: (warning|error): /{key=$0; if (seen[key]++) skip=1; else skip=0} !skip' >&2
  echo "clang-tidy: $(echo "$findings" | wc -l) finding(s) in $(wc -l < "$out/files") files" \
    "($((SECONDS - start)) s)" >&2
  exit 1
fi
echo "clang-tidy: clean, $(wc -l < "$out/files") files ($((SECONDS - start)) s, $jobs jobs)"
