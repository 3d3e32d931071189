#!/usr/bin/env bash
# Builds and runs every benchmark, printing each one's figures. Run it on an otherwise idle machine.
# Usage: bench/run.sh [--quick]   (--quick shortens the Prometheus load run to 30 s and the soak to 2 min)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh" "$root/build" parse_bench keda_bench query_api_bench prometheus_load_bench memory_bench large_cluster_bench apiserver_bench auth_bench http_server_bench soak_bench parallel_round_bench >/dev/null
cd "$root/build"
echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(. /etc/os-release; echo "$PRETTY_NAME")"
echo "== Prometheus answer parsing (10,000 series)"
./bench/parse_bench --benchmark_min_time=2 2>/dev/null | grep -E 'Benchmark|---|parse'
echo "== query API and custom.metrics over TLS vs direct Prometheus (100 pods)"
./bench/query_api_bench 2>/dev/null | grep -v '^{'
echo "== Prometheus load from many pollers"
if [ "${1:-}" = "--quick" ]; then
  ./bench/prometheus_load_bench --duration=30s 2>/dev/null | grep -v '^{'
else
  ./bench/prometheus_load_bench 2>/dev/null | grep -v '^{'
fi
echo "== memory with 10,000 pods x 3 metrics"
./bench/memory_bench 2>/dev/null | grep -v '^{'
echo "== a large cluster: 10,000 and 100,000 pods x 3 metrics, real Prometheus, 10,000 HPA-like clients and KEDA streams"
./bench/large_cluster_bench 2>/dev/null
echo "== a sampling round with one slow query: maxConcurrentQueries 1 vs the default"
./bench/parallel_round_bench 2>/dev/null
echo "== Kubernetes API discovery (1,000 definitions) and PodMetricsList (1,000 pods)"
./bench/apiserver_bench 2>/dev/null | grep -v '^{'
echo "== KEDA gRPC"
./bench/keda_bench 2>/dev/null | grep -v '^{'
echo "== HTTPS authentication and authorization per request (cached reviews)"
./bench/auth_bench 2>/dev/null | grep -v '^{'
echo "== HTTP server under slow, idle and oversized clients: cpp-httplib 0.11.4 vs net::HttpServer"
./bench/http_server_bench 2>/dev/null | grep -v '^{'
echo "== soak: 1,000 requests/s across every API, Prometheus restarted every 2 minutes"
if [ "${1:-}" = "--quick" ]; then
  ./bench/soak_bench --duration=2m --restart_every=40s 2>/dev/null | grep -v '^{'
else
  ./bench/soak_bench 2>/dev/null | grep -v '^{'
fi
