# keda_bench: GetMetrics under 100 concurrent clients and 1,000 open StreamIsActive streams, against
# keda_test_server (tests/keda) in its own process. Prints a table.
add_executable(keda_bench ${CMAKE_CURRENT_LIST_DIR}/keda_bench.cc)
target_link_libraries(keda_bench PRIVATE aa_keda_proto gRPC::grpc++ Threads::Threads)
target_compile_definitions(keda_bench PRIVATE KEDA_TEST_SERVER="$<TARGET_FILE:keda_test_server>")
add_dependencies(keda_bench keda_test_server)
