# lockstep_add_schema(<target> <schema file>)
#
# Runs lockstep-schemac on the schema and makes the generated header
# <stem>.schema.h (for bank.lss: bank.schema.h) available to <target>, which links the
# engine. The header is regenerated when the schema or the compiler changes.
function(lockstep_add_schema target schema)
  get_filename_component(abs "${schema}" ABSOLUTE)
  get_filename_component(stem "${schema}" NAME_WE)
  set(dir "${CMAKE_CURRENT_BINARY_DIR}/lockstep_schema/${target}")
  set(header "${dir}/${stem}.schema.h")
  add_custom_command(
    OUTPUT "${header}"
    COMMAND ${CMAKE_COMMAND} -E make_directory "${dir}"
    COMMAND lockstep-schemac "${abs}" -o "${header}"
    DEPENDS "${abs}" lockstep-schemac
    COMMENT "lockstep-schemac ${schema}"
    VERBATIM)
  add_custom_target(${target}_schema DEPENDS "${header}")
  add_dependencies(${target} ${target}_schema)
  target_sources(${target} PRIVATE "${header}")
  target_include_directories(${target} PUBLIC "${dir}")
  target_link_libraries(${target} PUBLIC lockstep::engine)
endfunction()
