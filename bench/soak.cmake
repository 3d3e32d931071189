# soak_bench: 10 minutes of 1,000 requests/s mixed across every API, Prometheus restarted every
# 2 minutes; prints resident memory minute by minute and the wrong values served (none allowed).
add_executable(soak_bench ${CMAKE_CURRENT_LIST_DIR}/soak_bench.cc)
target_link_libraries(soak_bench PRIVATE aa_demo aa_net aa_proc aa_keda_proto gRPC::grpc++
                      nlohmann_json::nlohmann_json absl::flags absl::flags_parse absl::strings absl::time)
target_include_directories(soak_bench PRIVATE ${CMAKE_SOURCE_DIR}/tests)
target_compile_definitions(soak_bench PRIVATE AA_BIN_DIR="${CMAKE_BINARY_DIR}/bin"
                           AA_PROMETHEUS_BIN="${AA_BENCH_PROMETHEUS}")
add_dependencies(soak_bench autoscale-adapter autoscale-sim)
