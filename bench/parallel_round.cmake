# The sampling round with one slow query: maxConcurrentQueries 1 against the default (run by
# bench/run.sh, not by CTest).
add_executable(parallel_round_bench ${CMAKE_CURRENT_LIST_DIR}/parallel_round_bench.cc)
target_link_libraries(parallel_round_bench PRIVATE aa_pipeline aa_prometheus PkgConfig::HTTPLIB absl::flags
                      absl::flags_parse absl::strings absl::time)
