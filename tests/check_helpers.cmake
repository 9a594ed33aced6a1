# Helpers shared by the command-line test scripts (check_loadgen.cmake,
# check_replay.cmake): failures counted and listed at the end, and checks of one-line JSON
# output. include() it after cmake_minimum_required(VERSION 3.19) (string(JSON)).

# fail(TEXT...): reports the concatenated TEXT (';' kept) and counts a failure;
# check_failures(<out>) reads the count.
function(fail)
  set(what "")
  math(EXPR last "${ARGC} - 1")
  foreach(i RANGE ${last})
    string(APPEND what "${ARGV${i}}")
  endforeach()
  message("FAIL: ${what}")
  get_property(count GLOBAL PROPERTY CHECK_FAILURES)
  if(NOT count)
    set(count 0)
  endif()
  math(EXPR count "${count} + 1")
  set_property(GLOBAL PROPERTY CHECK_FAILURES ${count})
endfunction()

function(check_failures out)
  get_property(count GLOBAL PROPERTY CHECK_FAILURES)
  set(${out} "${count}" PARENT_SCOPE)
endfunction()

# json_object(<prefix> <text> <context>): <text> (a run's stdout) is exactly one JSON
# object on one line. Sets <prefix>_json (the object, or "").
function(json_object prefix text context)
  set(${prefix}_json "" PARENT_SCOPE)
  string(REGEX REPLACE "\n$" "" line "${text}")
  if(line MATCHES "\n" OR NOT line MATCHES "^{.*}$")
    fail("${context}: stdout is not one JSON object on one line:\n${text}")
    return()
  endif()
  string(JSON type ERROR_VARIABLE error TYPE "${line}")
  if(error OR NOT type STREQUAL "OBJECT")
    fail("${context}: stdout is not a JSON object (${error}):\n${text}")
    return()
  endif()
  set(${prefix}_json "${line}" PARENT_SCOPE)
endfunction()

# json_get(<out> <json> <context> KEY...): the value at the path KEY..., or a failure
# (and <out> set to "MISSING").
function(json_get out json context)
  string(JSON value ERROR_VARIABLE error GET "${json}" ${ARGN})
  if(error)
    string(REPLACE ";" "." path "${ARGN}")
    fail("${context}: no '${path}' in the JSON output (${error}):\n${json}")
    set(value MISSING)
  endif()
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

# expect_json_eq(<json> <context> <expected> KEY...): the value at KEY... is <expected>
# (as a string).
function(expect_json_eq json context expected)
  json_get(value "${json}" "${context}" ${ARGN})
  if(NOT value STREQUAL "MISSING" AND NOT value STREQUAL "${expected}")
    string(REPLACE ";" "." path "${ARGN}")
    fail("${context}: ${path} is '${value}', expected '${expected}'")
  endif()
endfunction()

# expect_json_null(<json> <context> KEY...): the value at KEY... is null.
function(expect_json_null json context)
  string(JSON type ERROR_VARIABLE error TYPE "${json}" ${ARGN})
  if(error OR NOT type STREQUAL "NULL")
    string(REPLACE ";" "." path "${ARGN}")
    fail("${context}: ${path} is not null (${type}${error}):\n${json}")
  endif()
endfunction()
