aa_fuzzer(apiserver_fuzzer SOURCES ${CMAKE_CURRENT_LIST_DIR}/apiserver_fuzzer.cc LIBS aa_apiserver nlohmann_json::nlohmann_json)
if(AA_FUZZ)
  target_include_directories(apiserver_fuzzer PRIVATE ${CMAKE_SOURCE_DIR}/tests)
endif()
