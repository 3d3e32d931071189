aa_fuzzer(selector_fuzzer SOURCES ${CMAKE_CURRENT_LIST_DIR}/selector_fuzzer.cc LIBS aa_selector)
