# Fuzz targets. Every target's corpus runs as a ctest regression test (any compiler); with
# -DTDXKIT_FUZZ=ON and clang (preset "fuzz") the real libFuzzer binaries are built too:
#   build/fuzz/tests/fuzz_quote tests/fuzz/corpus/quote -max_total_time=60

file(GLOB TDXKIT_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/fuzz_*.cpp)
foreach(source IN LISTS TDXKIT_FUZZ_SOURCES)
  get_filename_component(name ${source} NAME_WE)
  string(REPLACE "fuzz_" "" corpus ${name})
  set(replay ${name}_replay)
  add_executable(${replay} ${source} ${CMAKE_CURRENT_LIST_DIR}/replay_main.cpp)
  target_link_libraries(${replay} PRIVATE tdxkit_static nlohmann_json::nlohmann_json tdxkit_warnings)
  target_include_directories(${replay} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  # The committed corpus, plus the real data in ../shared when it is there.
  set(seed_dirs ${CMAKE_CURRENT_LIST_DIR}/corpus/${corpus})
  add_test(NAME fuzz_corpus_${corpus} COMMAND ${replay} ${seed_dirs} ${TDXKIT_SHARED_TESTDATA})
  set_tests_properties(fuzz_corpus_${corpus} PROPERTIES TIMEOUT 300)
  if(TDXKIT_FUZZ)
    add_executable(${name} ${source})
    target_link_libraries(${name} PRIVATE tdxkit_static nlohmann_json::nlohmann_json)
    target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  endif()
endforeach()
