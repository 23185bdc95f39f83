# Fuzz targets. Every target's corpus runs as a ctest regression test (any compiler); with
# -DTDXKIT_FUZZ=ON and clang (preset "fuzz") the real libFuzzer binaries are built too, and
# `ctest --preset fuzz` runs each for TDXKIT_FUZZ_SECONDS:
#   build/fuzz/tests/fuzz_quote tests/fuzz/corpus/quote -max_total_time=60

set(TDXKIT_FUZZ_SECONDS 20 CACHE STRING "Seconds each libFuzzer target runs under ctest --preset fuzz")

file(GLOB TDXKIT_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/fuzz_*.cpp)
if(TDXKIT_FUZZ)
  add_custom_target(fuzzers)  # every libFuzzer binary: cmake --build --preset fuzz --target fuzzers
endif()
foreach(source IN LISTS TDXKIT_FUZZ_SOURCES)
  get_filename_component(name ${source} NAME_WE)
  string(REPLACE "fuzz_" "" corpus ${name})
  set(replay ${name}_replay)
  add_executable(${replay} ${source} ${CMAKE_CURRENT_LIST_DIR}/replay_main.cpp)
  target_link_libraries(${replay} PRIVATE tdxkit_static nlohmann_json::nlohmann_json tdxkit_warnings)
  target_include_directories(${replay} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  # The committed corpus, plus the real quotes, collateral and event logs of testdata/real.
  set(seed_dirs ${CMAKE_CURRENT_LIST_DIR}/corpus/${corpus})
  add_test(NAME fuzz_corpus_${corpus} COMMAND ${replay} ${seed_dirs} ${TDXKIT_REAL_TESTDATA})
  set_tests_properties(fuzz_corpus_${corpus} PROPERTIES TIMEOUT 300)
  if(TDXKIT_FUZZ)
    add_executable(${name} ${source})
    target_link_libraries(${name} PRIVATE tdxkit_static nlohmann_json::nlohmann_json)
    target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    add_dependencies(fuzzers ${name})
    # A short bounded run per target in CI (ctest --preset fuzz); new inputs go to a scratch directory,
    # never into the committed corpus.
    add_test(NAME fuzz_run_${corpus}
      COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
              sh -c "mkdir -p \"$1\" && exec \"$2\" \"$1\" \"$3\" -max_total_time=${TDXKIT_FUZZ_SECONDS} -rss_limit_mb=2048 -print_final_stats=1"
              fuzz_run ${CMAKE_CURRENT_BINARY_DIR}/fuzz-scratch/${corpus} $<TARGET_FILE:${name}> ${CMAKE_CURRENT_LIST_DIR}/corpus/${corpus})
    set_tests_properties(fuzz_run_${corpus} PROPERTIES TIMEOUT 600)
  endif()
endforeach()
