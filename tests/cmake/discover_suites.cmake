# Run after a test binary is linked (custos_test_suite, tests/CMakeLists.txt):
# lists its GoogleTest suites and writes CTEST_FILE with one ctest entry per
# suite, which runs that suite's tests in one process. A fixture's
# SetUpTestSuite (a shared server, a seed archive) is then made once per
# suite, as it was written to be, instead of once per test.
#
# Inputs (-D): TEST_EXECUTABLE, CTEST_FILE, WORKING_DIRECTORY, PG_STATE,
# TIMEOUT.
execute_process(
  COMMAND "${TEST_EXECUTABLE}" --gtest_list_tests
  WORKING_DIRECTORY "${WORKING_DIRECTORY}"
  TIMEOUT 60
  OUTPUT_VARIABLE listing
  ERROR_VARIABLE errors
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${TEST_EXECUTABLE} --gtest_list_tests failed (${result}): ${errors}")
endif()

string(REPLACE ";" "\\;" listing "${listing}")
string(REPLACE "\n" ";" lines "${listing}")
set(content "")
set(count 0)
foreach(line IN LISTS lines)
  # A suite line starts in column 0 and ends its name with a dot; a
  # parameterised one is followed by "  # TypeParam = …".
  if(line MATCHES "^([A-Za-z0-9_/]+)\\.( .*)?$")
    set(suite "${CMAKE_MATCH_1}")
    string(APPEND content
      "add_test([==[${suite}]==] [==[${TEST_EXECUTABLE}]==] [==[--gtest_filter=${suite}.*]==])\n"
      "set_tests_properties([==[${suite}]==] PROPERTIES WORKING_DIRECTORY [==[${WORKING_DIRECTORY}]==] "
      "TIMEOUT ${TIMEOUT} FIXTURES_REQUIRED postgres "
      "ENVIRONMENT [==[CUSTOS_TEST_PG_STATE=${PG_STATE}]==])\n")
    math(EXPR count "${count} + 1")
  endif()
endforeach()
if(count EQUAL 0)
  message(FATAL_ERROR "${TEST_EXECUTABLE} lists no test suite")
endif()
file(WRITE "${CTEST_FILE}" "${content}")
