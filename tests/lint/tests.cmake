# Lint checks for the man pages, shell completions and scripts (included by tests/CMakeLists.txt).
# Each is its own ctest test; a missing optional tool makes it "Skipped" (exit 77), visibly.
# The content checks (every subcommand and option documented and completed) are in
# tests/cli/docs_test.cpp.

set(_lint "${CMAKE_CURRENT_LIST_DIR}/lint.sh")

file(GLOB _man_pages CONFIGURE_DEPENDS "${CMAKE_SOURCE_DIR}/man/*.1")
foreach(_page IN LISTS _man_pages)
  get_filename_component(_name "${_page}" NAME)
  add_test(NAME lint_groff_${_name} COMMAND bash "${_lint}" groff "${_page}")
  add_test(NAME lint_mandoc_${_name} COMMAND bash "${_lint}" mandoc "${_page}")
endforeach()

add_test(NAME lint_bash_completion_syntax COMMAND bash "${_lint}" bash-syntax "${CMAKE_SOURCE_DIR}/completions/tdxkit.bash")
add_test(NAME lint_zsh_completion_syntax COMMAND bash "${_lint}" zsh-syntax "${CMAKE_SOURCE_DIR}/completions/_tdxkit")
add_test(NAME lint_fish_completion_syntax COMMAND bash "${_lint}" fish-syntax "${CMAKE_SOURCE_DIR}/completions/tdxkit.fish")
add_test(NAME lint_shellcheck COMMAND bash "${_lint}" shellcheck
  "${CMAKE_SOURCE_DIR}/completions/tdxkit.bash" "${CMAKE_SOURCE_DIR}/scripts/setup.sh"
  "${CMAKE_SOURCE_DIR}/scripts/test.sh" "${CMAKE_SOURCE_DIR}/scripts/install-packages.sh"
  "${CMAKE_SOURCE_DIR}/tests/bench/batch_bench.sh" "${CMAKE_SOURCE_DIR}/tests/bench/serve_ratio.sh"
  "${CMAKE_SOURCE_DIR}/tests/bench/ratio.sh" "${CMAKE_SOURCE_DIR}/tests/bench/side_by_side.sh"
  "${CMAKE_SOURCE_DIR}/scripts/fresh-machine-check.sh" "${CMAKE_SOURCE_DIR}/.ci/run" "${_lint}")
add_test(NAME lint_clang_format_config COMMAND bash "${_lint}" clang-format-config "${CMAKE_SOURCE_DIR}")
# Every C++ source follows .clang-format (tables that read better one row per line opt out with
# "// clang-format off").
file(GLOB_RECURSE _cxx_sources CONFIGURE_DEPENDS
  "${CMAKE_SOURCE_DIR}/lib/*.cpp" "${CMAKE_SOURCE_DIR}/lib/*.hpp"
  "${CMAKE_SOURCE_DIR}/apps/*.cpp" "${CMAKE_SOURCE_DIR}/apps/*.hpp"
  "${CMAKE_SOURCE_DIR}/tests/*.cpp" "${CMAKE_SOURCE_DIR}/tests/*.hpp")
add_test(NAME lint_clang_format COMMAND bash "${_lint}" clang-format ${_cxx_sources})

# Modules include only modules below them (lib/docs/architecture.md).
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND)
  add_test(NAME lint_layers COMMAND ${Python3_EXECUTABLE} "${CMAKE_CURRENT_LIST_DIR}/layers.py" "${CMAKE_SOURCE_DIR}")
endif()

# The curated clang-tidy checks (.clang-tidy) over the library, tdxkit-testing and the CLI, with this
# build's compile database. Not in the sanitized or fuzz builds: the same sources and findings, for
# twice the time. Registered even without clang-tidy, to show as skipped.
if(NOT TDXKIT_SANITIZE AND NOT TDXKIT_FUZZ)
  add_test(NAME lint_clang_tidy COMMAND bash "${_lint}" clang-tidy "${CMAKE_BINARY_DIR}" "${CMAKE_SOURCE_DIR}")
endif()

get_property(_lint_tests DIRECTORY PROPERTY TESTS)
list(FILTER _lint_tests INCLUDE REGEX "^lint_")
set_tests_properties(${_lint_tests} PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 60)
# About two minutes on two idle cores (parsing the headers is most of it).
if(TEST lint_clang_tidy)
  set_tests_properties(lint_clang_tidy PROPERTIES TIMEOUT 600)
endif()
