# The independent Python model of dstack-mr (tests/measure/model.py): its own checks against the
# notes' constants and the real captures, and that the committed expected values of the synthetic
# image (testdata/measure/synthetic/expected.json, which the C++ tests assert) are still what it computes.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND)
  set(TDXKIT_MEASURE_MODEL ${CMAKE_CURRENT_LIST_DIR}/model.py)
  add_test(NAME measure_model_selftest COMMAND ${Python3_EXECUTABLE} ${TDXKIT_MEASURE_MODEL} selftest)
  add_test(NAME measure_model_lite_fixture COMMAND ${Python3_EXECUTABLE} ${TDXKIT_MEASURE_MODEL} lite
           ${CMAKE_SOURCE_DIR}/testdata/real/eventlogs/dstack-verifier-tdx-lite-getquote.json)
  add_test(NAME measure_model_expected COMMAND ${Python3_EXECUTABLE} ${TDXKIT_MEASURE_MODEL} check
           ${CMAKE_SOURCE_DIR}/testdata/measure/synthetic)
endif()
