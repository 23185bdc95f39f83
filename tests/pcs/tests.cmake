# The local PCS/PCCS look-alike used by tests/unit/pcs_resolve_test.cpp and
# tests/cli/collateral_fetch_test.cpp (started by them through tests/pcs/pcs_server.hpp).
# Checked here on its own so a syntax error shows up as this test, not as a server that never starts.
add_test(NAME pcs_server_compiles
         COMMAND python3 -c "import ast, sys; ast.parse(open(sys.argv[1]).read())" ${CMAKE_CURRENT_LIST_DIR}/pcs_server.py)
set_tests_properties(pcs_server_compiles PROPERTIES TIMEOUT 30)
