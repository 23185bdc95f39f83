# Install tree, downstream consumers and the Debian package.
set(consumer_flags "")
if(TDXKIT_SANITIZE)
  set(consumer_flags "-fsanitize=address,undefined")
endif()
add_test(NAME install_consumers
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/install_check.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR} "${consumer_flags}")
add_test(NAME install_deb_reproducible COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/deb_check.sh ${CMAKE_BINARY_DIR})
set_tests_properties(install_consumers install_deb_reproducible PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77
  RUN_SERIAL TRUE)
