aa_fuzzer(config_fuzzer SOURCES ${CMAKE_CURRENT_LIST_DIR}/config_fuzzer.cc LIBS aa_config)
