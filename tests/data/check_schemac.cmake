# Runs lockstep-schemac on a bad schema: it must exit with status 1, print EXPECT (a
# regular expression) on stderr, and write no header.
file(REMOVE "${OUT}")
execute_process(COMMAND "${SCHEMAC}" "${SCHEMA}" -o "${OUT}"
  RESULT_VARIABLE status ERROR_VARIABLE err OUTPUT_VARIABLE out)
if(NOT status EQUAL 1)
  message(FATAL_ERROR "lockstep-schemac exited with '${status}', not 1; stderr:\n${err}")
endif()
if(NOT err MATCHES "${EXPECT}")
  message(FATAL_ERROR "stderr does not match '${EXPECT}':\n${err}")
endif()
if(EXISTS "${OUT}")
  message(FATAL_ERROR "a header was written for a bad schema: ${OUT}")
endif()
