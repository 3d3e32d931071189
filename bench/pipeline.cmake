# Whole-system benchmarks (programs that print their figures; run by bench/run.sh, not by CTest).
find_program(AA_BENCH_PROMETHEUS prometheus)
foreach(b query_api_bench prometheus_load_bench memory_bench apiserver_bench)
  add_executable(${b} ${CMAKE_CURRENT_LIST_DIR}/${b}.cc)
  target_link_libraries(${b} PRIVATE aa_demo aa_net aa_proc nlohmann_json::nlohmann_json PkgConfig::HTTPLIB
                        absl::flags absl::flags_parse absl::strings absl::time)
  target_include_directories(${b} PRIVATE ${CMAKE_SOURCE_DIR})
  target_compile_definitions(${b} PRIVATE AA_BIN_DIR="${CMAKE_BINARY_DIR}/bin" AA_PROMETHEUS_BIN="${AA_BENCH_PROMETHEUS}"
                             AA_BENCH_DIR="${CMAKE_CURRENT_LIST_DIR}")
  add_dependencies(${b} autoscale-adapter autoscale-sim)
endforeach()
