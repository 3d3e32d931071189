# auth_bench: per-request cost of the HTTPS port's authentication and authorization (cached
# reviews), over one keep-alive TLS connection and with a handshake per request. Prints a table.
add_executable(auth_bench ${CMAKE_CURRENT_LIST_DIR}/auth_bench.cc)
target_include_directories(auth_bench PRIVATE ${CMAKE_SOURCE_DIR}/tests)
target_link_libraries(auth_bench PRIVATE aa_auth aa_testutil PkgConfig::HTTPLIB)
