#!/usr/bin/env bash
# CI's extra checks: builds with clang, AddressSanitizer and UndefinedBehaviorSanitizer (any report fails), runs
# the unit tests under them, then runs each libFuzzer target for a bounded time on a copy of its seed corpus,
# then builds the unit tests that run threads with ThreadSanitizer (build-tsan/) and runs them (any report
# fails; scripts/tsan.supp lists what is suppressed and why).
# Usage: scripts/sanitize.sh [seconds per fuzzer, default 30]
#        scripts/sanitize.sh --build-only   (builds both folders, runs nothing: .ci/run compiles them while the
#                                            tests of scripts/test.sh run)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_only=false
[ "${1:-}" = --build-only ] && { build_only=true; shift; }
fuzz_seconds=${1:-30}
"$root/scripts/deps.sh"

# configure DIR CMAKE_OPTIONS...: a clang Debug build folder, once. Line tables are all the debug information a
# sanitizer report needs (file:line in its stacks); full -g costs ~10 % more compile time. The adapter links its
# libraries shared here (AA_STATIC_LINK is about the shipped binary's memory; the static link takes a minute).
configure() {
  local dir=$1
  shift
  [ -f "$dir/build.ninja" ] && return 0
  local launcher=()
  if command -v ccache >/dev/null; then  # as in build.sh: developers' machines only
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  fi
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_FLAGS_DEBUG=-gline-tables-only \
    -DCMAKE_C_FLAGS_DEBUG=-gline-tables-only -DAA_BENCH=OFF -DAA_STATIC_LINK=OFF "${launcher[@]}" "$@" >/dev/null
}

# ThreadSanitizer: the unit tests of the components that run threads (sampler, discovery, pod watch, HTTP
# servers and clients, auth caches, the Kubernetes APIs). Debian's Abseil is not built with TSan: in this build
# tests/testutil/tsan_absl_mutex.cc annotates absl::Mutex and absl::Notification for it. Not here: the
# single-threaded ones (config, selector, scaling, common, wire formats, the simulator) and the two over gRPC
# (keda_test, frontends_test): gRPC's own synchronization is uninstrumented too, and TSan reports its internals
# (grpcpp's inline call code, absl::Status' reference count) as races.
tsan_tests=(pipeline_test net_test apiserver_test auth_test auth_kube_test kube_test http_test queryapi_test
            prometheus_test)
build=$root/build-sanitize
tsan_build=$root/build-tsan
configure "$build" -DAA_SANITIZE=ON -DAA_FUZZ=ON
configure "$tsan_build" -DAA_TSAN=ON
# Only what runs here (ctest -L unit and the fuzzers), not the integration suites, benchmarks and tools.
ninja -C "$build" aa_unit_tests aa_fuzzers
ninja -C "$tsan_build" "${tsan_tests[@]}"
$build_only && exit 0

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd "$build" && ctest --output-on-failure -L unit -j2 --timeout 600)

# Each fuzzer for fuzz_seconds on a core of its own, as many at a time as there are cores; each prints its
# report when it ends (a crash: the tail of its log) and any crash fails the step.
corpus_tmp=$(mktemp -d)
trap 'rm -rf "$corpus_tmp"' EXIT
fuzz_one() {
  local fuzzer=$1 name seeds dict=() d
  name=$(basename "$fuzzer" _fuzzer)
  seeds=$(ls -d "$root"/tests/testdata/*/corpus 2>/dev/null | grep -E "/(${name%%_*})[^/]*/corpus$" | head -n 1 || true)
  mkdir -p "$corpus_tmp/$name"
  [ -n "$seeds" ] && cp -r "$seeds"/. "$corpus_tmp/$name/"
  for d in "$(dirname "${seeds:-/nonexistent}")"/*.dict; do [ -f "$d" ] && dict=(-dict="$d"); done
  if ! "$fuzzer" "${dict[@]}" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 "$corpus_tmp/$name" 2>"$corpus_tmp/$name.log"; then
    echo "fuzzing $name for ${fuzz_seconds}s: FAILED"
    tail -n 60 "$corpus_tmp/$name.log"
    return 1
  fi
  echo "fuzzing $name for ${fuzz_seconds}s: $(grep -E '^stat::number_of_executed_units' "$corpus_tmp/$name.log" || true)"
}
export -f fuzz_one
export root fuzz_seconds corpus_tmp
printf '%s\0' "$build"/fuzz/*_fuzzer | xargs -0 -n 1 -P "$(nproc)" bash -c 'fuzz_one "$1"' _

export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/scripts/tsan.supp"
for t in "${tsan_tests[@]}"; do
  bin=$(find "$tsan_build/tests" -name "$t" -type f -perm -u+x | head -n 1)
  echo "ThreadSanitizer: $t"
  (cd "$(dirname "$bin")" && "$bin" --gtest_brief=1) || { echo "ThreadSanitizer: $t failed"; exit 1; }
done
echo "sanitizers, fuzzers and ThreadSanitizer: clean"
