# tdxkit-testgen regenerates the simulated TEST data in testdata/ (scripts/gen-testdata.sh).
add_executable(tdxkit-testgen ${CMAKE_CURRENT_LIST_DIR}/tdxkit-testgen.cpp)
target_link_libraries(tdxkit-testgen PRIVATE tdxkit_testing fmt::fmt tdxkit_warnings)

# The committed files must be exactly what the generator produces (deterministic signatures).
add_test(NAME tools_testgen_reproducible COMMAND tdxkit-testgen --check ${CMAKE_SOURCE_DIR}/testdata)
