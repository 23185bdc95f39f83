# The compose corpus's expected hashes come from the real dstack SDK (generate.js); when node and
# @phala/dstack-sdk are available this re-runs the SDK and compares with the committed values.
# tests/unit/measure_test.cpp checks tdxkit's --normalize against the same committed values.
add_test(NAME compose_sdk_expected COMMAND bash "${CMAKE_CURRENT_LIST_DIR}/run_generator.sh")
set_tests_properties(compose_sdk_expected PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 60)
