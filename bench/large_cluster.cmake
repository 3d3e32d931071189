# large_cluster_bench: 10,000 and 100,000 pods x 3 metrics served by a real Prometheus (a static
# exposition in the bench process), 10,000 HPA-like clients and 10,000 KEDA streams; prints the
# figures side by side with their ratio (run by bench/run.sh, about 5 minutes, not by CTest at full
# size). CTest runs a small smoke version (2 sizes, 200 clients and streams, about 25 s) that fails
# when a read fails or a stream gets no state.
find_program(AA_BENCH_PROMETHEUS prometheus)
add_executable(large_cluster_bench ${CMAKE_CURRENT_LIST_DIR}/large_cluster_bench.cc)
target_link_libraries(large_cluster_bench PRIVATE aa_demo aa_net aa_proc aa_keda_proto gRPC::grpc++
                      nlohmann_json::nlohmann_json PkgConfig::HTTPLIB absl::flags absl::flags_parse
                      absl::strings absl::time)
target_include_directories(large_cluster_bench PRIVATE ${CMAKE_SOURCE_DIR})
target_compile_definitions(large_cluster_bench PRIVATE AA_BIN_DIR="${CMAKE_BINARY_DIR}/bin"
                           AA_PROMETHEUS_BIN="${AA_BENCH_PROMETHEUS}")
add_dependencies(large_cluster_bench autoscale-adapter)
add_test(NAME large_cluster_smoke
         COMMAND large_cluster_bench --sizes=10x20,20x20 --clients=200 --streams=200 --sync=2s
                 --load=3s --rounds=2 --scrape_interval=1s --sampling_interval=1s --deadline=55s)
set_tests_properties(large_cluster_smoke PROPERTIES TIMEOUT 60)
