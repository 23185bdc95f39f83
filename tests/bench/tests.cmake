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
