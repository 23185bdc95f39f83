# Benchmarks (Google Benchmark from Debian's libbenchmark-dev). Built but never run by ctest as a
# timed test: numbers go into notes and the README, not into pass/fail.
find_package(benchmark QUIET)
if(benchmark_FOUND)
  add_executable(tdxkit_bench ${CMAKE_CURRENT_LIST_DIR}/verify_bench.cpp)
  target_link_libraries(tdxkit_bench PRIVATE tdxkit::tdxkit benchmark::benchmark)
  target_compile_definitions(tdxkit_bench PRIVATE TDXKIT_REAL_TESTDATA="${TDXKIT_REAL_TESTDATA}")
  add_executable(tdxkit_measure_bench ${CMAKE_CURRENT_LIST_DIR}/measure_bench.cpp)
  target_link_libraries(tdxkit_measure_bench PRIVATE tdxkit::tdxkit benchmark::benchmark)
else()
  message(STATUS "Google Benchmark not found: tdxkit_bench is not built (apt-get install libbenchmark-dev)")
endif()

# `tdxkit serve` over loopback (no Google Benchmark needed): requests/s, latency, server CPU and RSS.
# ctest runs it only as a small smoke run that every answer is the expected one; numbers come from a
# full run by hand (BENCH-serve.md), never from a test.
add_executable(tdxkit_serve_bench ${CMAKE_CURRENT_LIST_DIR}/serve_bench.cpp)
target_link_libraries(tdxkit_serve_bench PRIVATE tdxkit_test_serve tdxkit_warnings)
target_compile_definitions(tdxkit_serve_bench PRIVATE
  TDXKIT_REAL_TESTDATA="${TDXKIT_REAL_TESTDATA}"
  TDXKIT_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
  TDXKIT_BINARY="$<TARGET_FILE:tdxkit_cli>")
add_dependencies(tdxkit_serve_bench tdxkit_cli)
foreach(_mode appraise verify)
  add_test(NAME serve_bench_smoke_${_mode}
           COMMAND tdxkit_serve_bench --mode ${_mode} --requests 200 --connections 8 --warmup 16)
  set_tests_properties(serve_bench_smoke_${_mode} PROPERTIES TIMEOUT 120)
endforeach()
