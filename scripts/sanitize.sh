#!/usr/bin/env bash
# CI's extra checks: builds with clang, AddressSanitizer and UndefinedBehaviorSanitizer (any report fails), runs
# the unit tests under them, then runs each libFuzzer target for a bounded time on a copy of its seed corpus,
# then builds the unit tests that run threads with ThreadSanitizer (build-tsan/) and runs them (any report
# fails; scripts/tsan.supp lists what is suppressed and why).
# Usage: scripts/sanitize.sh [seconds per fuzzer, default 30]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fuzz_seconds=${1:-30}
"$root/scripts/deps.sh"
build=$root/build-sanitize
if [ ! -f "$build/build.ninja" ]; then
  launcher=()
  if command -v ccache >/dev/null; then  # as in build.sh: developers' machines only
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  fi
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DAA_SANITIZE=ON -DAA_FUZZ=ON -DAA_BENCH=OFF "${launcher[@]}" >/dev/null
fi
# Only what runs here (ctest -L unit and the fuzzers), not the integration suites, benchmarks and tools.
ninja -C "$build" aa_unit_tests aa_fuzzers
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd "$build" && ctest --output-on-failure -L unit -j2 --timeout 600)

corpus_tmp=$(mktemp -d)
trap 'rm -rf "$corpus_tmp"' EXIT
for fuzzer in "$build"/fuzz/*_fuzzer; do
  name=$(basename "$fuzzer" _fuzzer)
  seeds=$(ls -d "$root"/tests/testdata/*/corpus 2>/dev/null | grep -E "/(${name%%_*})[^/]*/corpus$" | head -n 1 || true)
  mkdir -p "$corpus_tmp/$name"
  [ -n "$seeds" ] && cp -r "$seeds"/. "$corpus_tmp/$name/"
  dict=()
  for d in "$(dirname "${seeds:-/nonexistent}")"/*.dict; do [ -f "$d" ] && dict=(-dict="$d"); done
  echo "fuzzing $name for ${fuzz_seconds}s"
  "$fuzzer" "${dict[@]}" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    "$corpus_tmp/$name" 2>"$corpus_tmp/$name.log" || { tail -n 60 "$corpus_tmp/$name.log"; exit 1; }
  grep -E '^stat::number_of_executed_units' "$corpus_tmp/$name.log" || true
done

# ThreadSanitizer: the unit tests of the components that run threads (sampler, discovery, pod watch, HTTP
# servers and clients, auth caches, the Kubernetes APIs). Debian's Abseil is not built with TSan: in this build
# tests/testutil/tsan_absl_mutex.cc annotates absl::Mutex and absl::Notification for it. Not here: the
# single-threaded ones (config, selector, scaling, common, wire formats, the simulator) and the two over gRPC
# (keda_test, frontends_test): gRPC's own synchronization is uninstrumented too, and TSan reports its internals
# (grpcpp's inline call code, absl::Status' reference count) as races.
tsan_build=$root/build-tsan
tsan_tests=(pipeline_test net_test apiserver_test auth_test auth_kube_test kube_test http_test queryapi_test
            prometheus_test)
if [ ! -f "$tsan_build/build.ninja" ]; then
  launcher=()
  if command -v ccache >/dev/null; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  fi
  cmake -S "$root" -B "$tsan_build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DAA_TSAN=ON -DAA_BENCH=OFF "${launcher[@]}" >/dev/null
fi
ninja -C "$tsan_build" "${tsan_tests[@]}"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/scripts/tsan.supp"
for t in "${tsan_tests[@]}"; do
  bin=$(find "$tsan_build/tests" -name "$t" -type f -perm -u+x | head -n 1)
  echo "ThreadSanitizer: $t"
  (cd "$(dirname "$bin")" && "$bin" --gtest_brief=1) || { echo "ThreadSanitizer: $t failed"; exit 1; }
done
echo "sanitizers, fuzzers and ThreadSanitizer: clean"
