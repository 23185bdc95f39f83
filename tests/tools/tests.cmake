# tdxkit-testgen regenerates the simulated TEST data in testdata/ (scripts/gen-testdata.sh).
# synthetic_image.cpp makes testdata/measure/synthetic/, the inputs of the `tdxkit measure` tests.
add_executable(tdxkit-testgen ${CMAKE_CURRENT_LIST_DIR}/tdxkit-testgen.cpp ${CMAKE_CURRENT_LIST_DIR}/synthetic_image.cpp)
target_link_libraries(tdxkit-testgen PRIVATE tdxkit_testing fmt::fmt nlohmann_json::nlohmann_json tdxkit_warnings)

# The committed files must be exactly what the generator produces (deterministic signatures).
add_test(NAME tools_testgen_reproducible COMMAND tdxkit-testgen --check ${CMAKE_SOURCE_DIR}/testdata)
