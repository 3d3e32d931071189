aa_fuzzer(kube_answers_fuzzer SOURCES ${CMAKE_CURRENT_LIST_DIR}/kube_answers_fuzzer.cc LIBS aa_auth_kube aa_kube)
