# http_server_bench: cpp-httplib 0.11.4 (the adapter's server before) against net::HttpServer under
# slow-loris sockets, stalled TLS handshakes, 10,000 idle connections and a 300 MiB header line, each
# server in a child process of its own. Prints one table.
add_executable(http_server_bench ${CMAKE_CURRENT_LIST_DIR}/http_server_bench.cc)
target_include_directories(http_server_bench PRIVATE ${CMAKE_SOURCE_DIR}/tests)
target_link_libraries(http_server_bench PRIVATE aa_net aa_testutil PkgConfig::HTTPLIB absl::flags
                      absl::flags_parse OpenSSL::SSL OpenSSL::Crypto)
