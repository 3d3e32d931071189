aa_fuzzer(prometheus_parser_fuzzer SOURCES ${CMAKE_CURRENT_LIST_DIR}/prometheus_parser_fuzzer.cc LIBS aa_prometheus)
aa_fuzzer(prometheus_sliced_fuzzer SOURCES ${CMAKE_CURRENT_LIST_DIR}/prometheus_sliced_fuzzer.cc LIBS aa_prometheus)
