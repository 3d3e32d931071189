add_executable(parse_bench ${CMAKE_CURRENT_LIST_DIR}/parse_bench.cc)
target_link_libraries(parse_bench PRIVATE aa_prometheus benchmark::benchmark)
