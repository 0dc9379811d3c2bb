# cmake -DEXE=... -DARGS=a;b -DEXPECT_RC=n -DPATTERN=regex -P run_expect.cmake
# Fails unless EXE exits with EXPECT_RC and its stdout+stderr match PATTERN.
execute_process(COMMAND ${EXE} ${ARGS} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 300)
string(REPLACE "\n" " " all "${out} ${err}")
if(NOT rc STREQUAL "${EXPECT_RC}")
  message(FATAL_ERROR "${EXE} ${ARGS}: exit code ${rc}, expected ${EXPECT_RC}\n${out}\n${err}")
endif()
if(NOT all MATCHES "${PATTERN}")
  message(FATAL_ERROR "${EXE} ${ARGS}: output does not match '${PATTERN}'\n${out}\n${err}")
endif()
message(STATUS "exit code ${rc} as expected; output matches")
