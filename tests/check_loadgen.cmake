# Command-line tests of lockstep-loadgen (tools/loadgen/loadgen.cc, docs/loadgen.md).
#
#   cmake -DLOADGEN=<lockstep-loadgen> -DDATA=<tests/data> -DWORK=<scratch dir>
#         [-DPART=main|rerun|timing|matching] -P check_loadgen.cmake
#
# PART=main (the default):
#   1. --input FILE --results OUT: OUT is exactly tests/data/ledger_commands.expected
#      (one {"seq":N,"outcome":NAME} line per command, in input order, ledger.lss names).
#   2. Bad input files (the bad line is never the first): a non-zero exit status, stderr
#      names FILE:LINE: and the reason, no report, no results, and nothing executed; a
#      directory or a missing file as --input: exit status 1, the path and why.
#   3. --json on a small generated run: one JSON object with the documented keys.
#   4. Determinism: --clock sequence and the same seed give the same state hash.
#   5. Usage errors: exit status 2 and a message.
#   6. --hgrm DIR: ack.hgrm and one .hgrm per stage; --hgrm naming a file and --results
#      naming a directory: exit status 1, the path and why.
#   7. Open loop (--rate): completes, and takes as long as the rate says.
# PART=rerun:
#   8. A second --input run on a --journal directory that already holds commands must
#      either run its commands or refuse; it must not drop them as duplicates.
# PART=timing:
#   9. "seconds" spans the first submission to the last acknowledgement: no less than the
#      slowest acknowledgement, and not much more.
# PART=matching (lockstep-loadgen matching):
#  10. --input tests/data/matching_commands.jsonl (every reject code of matching.lss, and
#      an order that expires) --results: exactly tests/data/matching_commands.expected.
#  11. A generated run's --json: the documented keys, every command accounted for, and
#      the refusals by name.
#  12. --clock sequence and the same seed give the same state hash, another seed another,
#      and --executor-only (no pipeline) the same hash as the pipeline.
#  13. Usage errors: one domain's options given to the other, and bad flow options.
#
# Parts rerun, timing and matching are separate ctests, so that a failure names one
# problem. Within a part every check runs; the failures are listed together at the end.
# Journals go under WORK, which is removed first and, when everything passed, at the end.
cmake_minimum_required(VERSION 3.19)  # string(JSON)

foreach(var LOADGEN DATA WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_loadgen.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT DEFINED PART)
  set(PART main)
endif()

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

# ---- Helpers ----------------------------------------------------------------------------

include(${CMAKE_CURRENT_LIST_DIR}/check_helpers.cmake)

# run(<prefix> ARGS...): runs the loadgen with ARGS; sets <prefix>_status, _out, _err and
# _cmd (for messages).
function(run prefix)
  execute_process(COMMAND "${LOADGEN}" ${ARGN}
    RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
  string(REPLACE ";" " " cmd "lockstep-loadgen ${ARGN}")
  set(${prefix}_status "${status}" PARENT_SCOPE)
  set(${prefix}_out "${out}" PARENT_SCOPE)
  set(${prefix}_err "${err}" PARENT_SCOPE)
  set(${prefix}_cmd "${cmd}" PARENT_SCOPE)
endfunction()

# run_ok(<prefix> ARGS...): run(), and a failure unless it exited with status 0.
# Sets <prefix>_ok to TRUE or FALSE.
function(run_ok prefix)
  run(r ${ARGN})
  set(${prefix}_status "${r_status}" PARENT_SCOPE)
  set(${prefix}_out "${r_out}" PARENT_SCOPE)
  set(${prefix}_err "${r_err}" PARENT_SCOPE)
  set(${prefix}_cmd "${r_cmd}" PARENT_SCOPE)
  if(r_status STREQUAL "0")
    set(${prefix}_ok TRUE PARENT_SCOPE)
  else()
    fail("'${r_cmd}' exited with '${r_status}', not 0; stderr:\n${r_err}")
    set(${prefix}_ok FALSE PARENT_SCOPE)
  endif()
endfunction()

# expect_json_uint(<out> <json> <context> KEY...): the value at KEY... is a non-negative
# integer; sets <out> to it (or -1).
function(expect_json_uint out json context)
  json_get(value "${json}" "${context}" ${ARGN})
  if(NOT value MATCHES "^[0-9]+$")
    if(NOT value STREQUAL "MISSING")
      string(REPLACE ";" "." path "${ARGN}")
      fail("${context}: ${path} is '${value}', not a non-negative integer")
    endif()
    set(value -1)
  endif()
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

# expect_percentiles(<json> <context> KEY...): the object at KEY... has integer p50, p99,
# p999 and max, in non-decreasing order. Sets max_out in the caller to its max.
function(expect_percentiles json context)
  set(last 0)
  foreach(p p50 p99 p999 max)
    expect_json_uint(v "${json}" "${context}" ${ARGN} ${p})
    if(v LESS last)
      string(REPLACE ";" "." path "${ARGN}")
      fail("${context}: ${path}.${p} = ${v} is below the previous percentile ${last}")
    endif()
    set(last "${v}")
  endforeach()
  set(max_out "${last}" PARENT_SCOPE)
endfunction()

# journal_entries(<out> <dir>): the names of what <dir> holds ("" if it does not exist).
function(journal_entries out dir)
  file(GLOB entries RELATIVE "${dir}" "${dir}/*")
  set(${out} "${entries}" PARENT_SCOPE)
endfunction()

# The keys and sanity of a generated run's --json output. Sets gen_json (the object),
# gen_state_hash and gen_last_sequence in the caller.
function(check_generated_json out context transfers accounts durability)
  json_object(g "${out}" "${context}")
  set(gen_json "${g_json}" PARENT_SCOPE)
  if(g_json STREQUAL "")
    return()
  endif()
  set(j "${g_json}")
  expect_json_eq("${j}" "${context}" ledger domain)
  expect_json_eq("${j}" "${context}" "${durability}" durability)
  expect_json_eq("${j}" "${context}" "${transfers}" commands)
  expect_json_uint(committed "${j}" "${context}" committed)
  expect_json_uint(rejected "${j}" "${context}" rejected)
  math(EXPR sum "${committed} + ${rejected}")
  if(NOT sum EQUAL transfers)
    fail("${context}: committed ${committed} + rejected ${rejected} != ${transfers}")
  endif()
  # Transfers of 1 to 1,000 units between accounts without balance limits: none can be
  # refused.
  if(NOT committed EQUAL transfers)
    fail("${context}: ${committed} of ${transfers} generated transfers committed")
  endif()
  expect_json_eq("${j}" "${context}" 0 not_executed)
  foreach(key seconds commands_per_s)
    json_get(v "${j}" "${context}" ${key})
    if(NOT v MATCHES "^[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?$" OR NOT v GREATER 0)
      fail("${context}: ${key} is '${v}', not a positive number")
    endif()
  endforeach()
  expect_percentiles("${j}" "${context}" ack_latency_ns)
  if(NOT max_out GREATER 0)
    fail("${context}: ack_latency_ns.max is ${max_out}: no acknowledgement was timed")
  endif()
  string(JSON type ERROR_VARIABLE error TYPE "${j}" stages)
  if(error OR NOT type STREQUAL "ARRAY")
    fail("${context}: stages is not an array (${error})")
  else()
    string(JSON stage_count LENGTH "${j}" stages)
    set(names "")
    if(stage_count GREATER 0)
      math(EXPR last "${stage_count} - 1")
      foreach(i RANGE ${last})
        json_get(name "${j}" "${context}" stages ${i} name)
        list(APPEND names "${name}")
        expect_percentiles("${j}" "${context}" stages ${i})
        if(NOT name STREQUAL "ingest" AND NOT max_out GREATER 0)
          fail("${context}: stage ${name} recorded no latency")
        endif()
      endforeach()
    endif()
    foreach(stage sequence execute journal publish)
      if(NOT stage IN_LIST names)
        fail("${context}: no stage '${stage}' in stages (${names})")
      endif()
    endforeach()
  endif()
  math(EXPR last_sequence "${accounts} + ${transfers} - 1")
  expect_json_eq("${j}" "${context}" "${last_sequence}" last_sequence)
  math(EXPR records "${accounts} + ${transfers}")
  expect_json_eq("${j}" "${context}" "${records}" state_records)
  json_get(state_hash "${j}" "${context}" state_hash)
  if(NOT state_hash MATCHES "^[0-9a-f]+$")
    fail("${context}: state_hash '${state_hash}' is not hex")
  endif()
  json_get(chain_hash "${j}" "${context}" chain_hash)
  if(NOT chain_hash MATCHES "^[0-9a-f]+$")
    fail("${context}: chain_hash '${chain_hash}' is not hex")
  endif()
  json_get(last "${j}" "${context}" last_sequence)
  set(gen_state_hash "${state_hash}" PARENT_SCOPE)
  set(gen_last_sequence "${last}" PARENT_SCOPE)
endfunction()

# A generated run: ARGN are extra options; a fresh journal that is removed afterwards.
function(run_generated prefix name)
  set(journal "${WORK}/journal_${name}")
  run_ok(r ledger --journal "${journal}" ${ARGN})
  file(REMOVE_RECURSE "${journal}")
  set(${prefix}_ok "${r_ok}" PARENT_SCOPE)
  set(${prefix}_out "${r_out}" PARENT_SCOPE)
  set(${prefix}_cmd "${r_cmd}" PARENT_SCOPE)
endfunction()

# ---- PART=matching ----------------------------------------------------------------------

if(PART STREQUAL "matching")
  # expect_rejects_sum(<json> <context>): the rejects object's counts add up to "rejected".
  function(expect_rejects_sum j context)
    expect_json_uint(rejected "${j}" "${context}" rejected)
    string(JSON n ERROR_VARIABLE error LENGTH "${j}" rejects)
    if(error)
      fail("${context}: no rejects object (${error})")
      return()
    endif()
    set(sum 0)
    if(n GREATER 0)
      math(EXPR last "${n} - 1")
      foreach(i RANGE ${last})
        string(JSON name MEMBER "${j}" rejects ${i})
        expect_json_uint(count "${j}" "${context}" rejects "${name}")
        math(EXPR sum "${sum} + ${count}")
      endforeach()
    endif()
    if(NOT sum EQUAL rejected)
      fail("${context}: the rejects add up to ${sum}, but rejected is ${rejected}")
    endif()
  endfunction()
  # check_flow_json(<out> <context> <commands>): a generated matching run's --json: every
  # command committed or refused, and the refusals by name adding up. Sets flow_json.
  function(check_flow_json out context commands)
    json_object(g "${out}" "${context}")
    set(flow_json "${g_json}" PARENT_SCOPE)
    if(g_json STREQUAL "")
      return()
    endif()
    expect_json_eq("${g_json}" "${context}" matching domain)
    expect_json_uint(committed "${g_json}" "${context}" committed)
    expect_json_uint(rejected "${g_json}" "${context}" rejected)
    math(EXPR sum "${committed} + ${rejected}")
    if(NOT "${commands}" STREQUAL "" AND NOT sum EQUAL commands)
      fail("${context}: committed ${committed} + rejected ${rejected} != ${commands}")
    endif()
    expect_rejects_sum("${g_json}" "${context}")
  endfunction()

  # 10. --input and --results.
  set(journal "${WORK}/journal_input")
  set(results "${WORK}/matching_commands.results")
  # --clock sequence: command N runs at logical time N + 1, which the file's good-till-time
  # orders are written for (order 7 expires at 25: a cancel at 25 is too late).
  run_ok(mi matching --input "${DATA}/matching_commands.jsonl" --results "${results}"
    --journal "${journal}" --json --clock sequence)
  if(mi_ok)
    file(READ "${DATA}/matching_commands.expected" want)
    file(READ "${results}" got)
    if(NOT got STREQUAL want)
      fail("matching --input: the results\n${got}\ndiffer from "
        "tests/data/matching_commands.expected\n${want}")
    endif()
    json_object(g "${mi_out}" "matching --input --json")
    if(NOT g_json STREQUAL "")
      expect_json_eq("${g_json}" "matching --input" matching domain)
      expect_json_eq("${g_json}" "matching --input" 26 commands)
      expect_json_eq("${g_json}" "matching --input" 14 committed)
      expect_json_eq("${g_json}" "matching --input" 12 rejected)
      foreach(name unknown_instrument instrument_exists bad_price bad_quantity order_id_in_use
          post_only_would_cross fok_not_fillable unknown_order not_owner bad_instrument
          bad_expiry order_expired)
        expect_json_eq("${g_json}" "matching --input" 1 rejects ${name})
      endforeach()
      # The two instruments: every order was filled, cancelled or expired.
      expect_json_eq("${g_json}" "matching --input" 2 state_records)
      expect_rejects_sum("${g_json}" "matching --input")
    endif()
  endif()
  file(REMOVE_RECURSE "${journal}")

  # 11 and 12. Generated runs.
  set(flow --instruments 3 --accounts 20 --orders 5000 --durability none --json
    --clock sequence)
  set(hashes "")
  foreach(run_seed 7 7 8)
    set(journal "${WORK}/journal_seed${run_seed}")
    run_ok(mg matching --journal "${journal}" ${flow} --seed ${run_seed})
    file(REMOVE_RECURSE "${journal}")
    set(hash "run_failed_${run_seed}_${mg_status}")
    if(mg_ok)
      json_object(g "${mg_out}" "${mg_cmd}")
      if(NOT g_json STREQUAL "")
        set(j "${g_json}")
        expect_json_eq("${j}" "${mg_cmd}" matching domain)
        expect_json_eq("${j}" "${mg_cmd}" 5000 commands)
        expect_json_eq("${j}" "${mg_cmd}" 0 not_executed)
        expect_json_uint(committed "${j}" "${mg_cmd}" committed)
        expect_json_uint(rejected "${j}" "${mg_cmd}" rejected)
        # The setup's three instruments are not counted.
        math(EXPR sum "${committed} + ${rejected}")
        if(NOT sum EQUAL 5000)
          fail("${mg_cmd}: committed ${committed} + rejected ${rejected} != 5000")
        endif()
        # Cancels of orders that were filled meanwhile are refused as unknown_order.
        expect_json_uint(unknown "${j}" "${mg_cmd}" rejects unknown_order)
        if(NOT unknown GREATER 0 OR NOT committed GREATER 2500)
          fail("${mg_cmd}: ${committed} committed and ${unknown} unknown_order: not the flow "
            "docs/loadgen.md describes")
        endif()
        expect_json_eq("${j}" "${mg_cmd}" 5002 last_sequence)
        expect_percentiles("${j}" "${mg_cmd}" ack_latency_ns)
        expect_rejects_sum("${j}" "${mg_cmd}")
        json_get(hash "${j}" "${mg_cmd}" state_hash)
      endif()
    endif()
    list(APPEND hashes "${hash}")
  endforeach()
  list(GET hashes 0 h7a)
  list(GET hashes 1 h7b)
  list(GET hashes 2 h8)
  if(NOT h7a STREQUAL h7b)
    fail("matching determinism: --seed 7 twice gave state hashes ${h7a} and ${h7b}")
  endif()
  if(h7a STREQUAL h8)
    fail("matching determinism: --seed 7 and --seed 8 gave the same state hash ${h8}")
  endif()
  run_ok(me matching --instruments 3 --accounts 20 --orders 5000 --json --seed 7
    --executor-only)
  if(me_ok)
    json_object(g "${me_out}" "${me_cmd}")
    if(NOT g_json STREQUAL "")
      json_get(hash "${g_json}" "${me_cmd}" state_hash)
      if(NOT hash STREQUAL h7a)
        fail("${me_cmd}: state hash ${hash}, but the pipeline's was ${h7a}")
      endif()
      expect_json_eq("${g_json}" "${me_cmd}" 5000 commands)
      expect_rejects_sum("${g_json}" "${me_cmd}")
    endif()
  endif()

  # Two producers: disjoint order ids (no order_id_in_use), every command accounted for.
  run_ok(mp matching --instruments 2 --accounts 50 --orders 6000 --producers 2
    --durability none --json)
  if(mp_ok)
    check_flow_json("${mp_out}" "${mp_cmd}" 6000)
    if(NOT flow_json STREQUAL "")
      string(JSON in_use ERROR_VARIABLE missing GET "${flow_json}" rejects order_id_in_use)
      if(NOT missing)
        fail("${mp_cmd}: ${in_use} order_id_in_use: the producers' order ids overlap")
      endif()
    endif()
  endif()
  # --duration: runs for about that long, and everything submitted is accounted for.
  run_ok(md matching --duration 0.3 --durability none --json)
  if(md_ok)
    check_flow_json("${md_out}" "${md_cmd}" "")
    if(NOT flow_json STREQUAL "")
      expect_json_uint(n "${flow_json}" "${md_cmd}" commands)
      json_get(seconds "${flow_json}" "${md_cmd}" seconds)
      if(NOT n GREATER 0 OR seconds LESS 0.3)
        fail("${md_cmd}: ${n} commands in ${seconds} s")
      endif()
    endif()
  endif()
  # Open loop: 2,000 commands at 20,000/s take at least 1999 / 20000 s.
  run_ok(mr matching --rate 20000 --orders 2000 --durability none --json)
  if(mr_ok)
    check_flow_json("${mr_out}" "${mr_cmd}" 2000)
    if(NOT flow_json STREQUAL "")
      json_get(seconds "${flow_json}" "${mr_cmd}" seconds)
      if(seconds LESS 0.09995)
        fail("${mr_cmd}: took ${seconds} s, less than the rate allows")
      endif()
    endif()
  endif()
  # --resting-max 0: every order the flow could cancel is cancelled by the next command.
  run_ok(mz matching --resting-max 0 --orders 3000 --durability none --json)
  if(mz_ok)
    check_flow_json("${mz_out}" "${mz_cmd}" 3000)
  endif()
  # --open-only on a matching journal: the state the run ended with.
  set(journal "${WORK}/journal_open")
  run_ok(mo1 matching --journal "${journal}" --orders 4000 --resting-max 20000 --producers 3
    --durability none --json)
  run_ok(mo2 matching --journal "${journal}" --open-only --json)
  if(mo1_ok AND mo2_ok)
    json_object(a "${mo1_out}" "${mo1_cmd}")
    json_object(b "${mo2_out}" "${mo2_cmd}")
    if(NOT a_json STREQUAL "" AND NOT b_json STREQUAL "")
      json_get(ha "${a_json}" "${mo1_cmd}" state_hash)
      json_get(hb "${b_json}" "${mo2_cmd}" state_hash)
      if(NOT ha STREQUAL hb)
        fail("${mo2_cmd}: state hash ${hb}, but the run ended with ${ha}")
      endif()
      expect_json_eq("${b_json}" "${mo2_cmd}" 4001 next_sequence)
    endif()
  endif()
  file(REMOVE_RECURSE "${journal}")

  # 13. Usage errors: exit status 2, the message, nothing on stdout.
  function(expect_matching_usage message_regex)
    run(u ${ARGN})
    if(NOT u_status STREQUAL "2" OR NOT u_err MATCHES "^lockstep-loadgen: ${message_regex}"
        OR NOT u_out STREQUAL "")
      fail("'${u_cmd}': exit '${u_status}' (expected 2), stderr:\n${u_err}\nstdout:\n${u_out}")
    endif()
  endfunction()
  foreach(flag --transfers --distribution --zipf-s --limit-every --emit-workload --balances
      --expire-every)
    expect_matching_usage("${flag} is an option of the ledger workload, not of matching"
      matching ${flag} 1)
  endforeach()
  foreach(flag --orders --instruments --mix --cancel-percent --replace-percent --spread
      --max-quantity --resting-max)
    expect_matching_usage("${flag} is an option of the matching workload, not of ledger"
      ledger ${flag} 1)
  endforeach()
  expect_matching_usage("--spread shapes the generated order flow: it has no effect with --input"
    matching --input "${DATA}/matching_commands.jsonl" --spread 5)
  foreach(flag --duration --journal --rate --hgrm --plot --snapshot-every)
    expect_matching_usage("${flag} does not apply to --executor-only"
      matching --executor-only ${flag} 1)
  endforeach()
  expect_matching_usage("--input does not apply to --executor-only"
    matching --executor-only --input "${DATA}/matching_commands.jsonl")
  expect_matching_usage("--open-only does not apply to --executor-only"
    matching --executor-only --open-only --journal "${WORK}/nothing")
  expect_matching_usage("--executor-only runs one producer's commands"
    matching --executor-only --producers 2)
  expect_matching_usage("give --orders or --duration, not both"
    matching --orders 10 --duration 1)
  expect_matching_usage("--mix: '1,2,3' is not five parts" matching --mix 1,2,3)
  expect_matching_usage("--mix: '1,2,3,4,5,6' is not five parts" matching --mix 1,2,3,4,5,6)
  expect_matching_usage("--mix: 'x' is not a valid number" matching --mix 1,x,3,4,5)
  expect_matching_usage("matching: the order-type mix has no parts" matching --mix 0,0,0,0,0)
  expect_matching_usage("matching: cancel \\+ replace percent is over 100"
    matching --cancel-percent 80 --replace-percent 30)
  expect_matching_usage("matching: cancel \\+ replace percent is over 100"
    matching --replace-percent 101)
  expect_matching_usage("matching: cancel \\+ replace percent is over 100"
    matching --cancel-percent 4294967295 --replace-percent 1)
  expect_matching_usage("matching: each part of the order-type mix must be at most 1000000"
    matching --mix 4294967295,2,0,0,0)
  expect_matching_usage("matching: instruments must be in \\[1, 1048576\\]"
    matching --instruments 0)
  expect_matching_usage("matching: instruments must be in \\[1, 1048576\\]"
    matching --instruments 4000000000)
  expect_matching_usage("matching: accounts must be at least 1" matching --accounts 0)
  expect_matching_usage("matching: max quantity must be at least 1" matching --max-quantity 0)
  expect_matching_usage("matching: spread must be in \\[0, 49999\\]" matching --spread 50000)
  expect_matching_usage("matching: spread must be in \\[0, 49999\\]" matching --spread -1)
  expect_matching_usage("matching: resting max must be at most 4194304"
    matching --resting-max 18446744073709551615)

  check_failures(failures)
  if(failures)
    message(FATAL_ERROR "lockstep-loadgen matching: ${failures} check(s) failed (above)")
  endif()
  file(REMOVE_RECURSE "${WORK}")
  return()
endif()

# ---- PART=timing ------------------------------------------------------------------------

if(PART STREQUAL "timing")
  # 9. One batch of 64 transfers (closed loop): the run lasts from the first submission to
  # the last acknowledgement (docs/loadgen.md), so "seconds" is at least the slowest
  # acknowledgement and exceeds it only by starting a thread and one submit (50 ms of
  # slack for a loaded machine).
  run_generated(t timing --accounts 100 --transfers 64 --batch-max 64 --durability none
    --json)
  if(t_ok)
    check_generated_json("${t_out}" "${t_cmd}" 64 100 none)
    set(six "[0-9][0-9][0-9][0-9][0-9][0-9]")
    if(NOT gen_json STREQUAL "" AND t_out MATCHES "\"seconds\":([0-9]+)\\.(${six})[,}]")
      # seconds is printed with %.6f: whole seconds and microseconds (leading zeros kept
      # out of math() by the 1 in front).
      set(whole "${CMAKE_MATCH_1}")
      set(frac "${CMAKE_MATCH_2}")
      math(EXPR seconds_ns "${whole} * 1000000000 + (1${frac} - 1000000) * 1000")
      json_get(ack_max "${gen_json}" "${t_cmd}" ack_latency_ns max)
      math(EXPR bound_ns "${ack_max} + 50000000")
      if(seconds_ns LESS ack_max)
        fail("${t_cmd}: seconds ${whole}.${frac} is shorter than the slowest "
          "acknowledgement (${ack_max} ns)")
      elseif(seconds_ns GREATER bound_ns)
        fail("${t_cmd}: seconds ${whole}.${frac} exceeds the slowest "
          "acknowledgement (${ack_max} ns) by more than 50 ms: the run's end is not the "
          "last acknowledgement. stdout:\n${t_out}")
      endif()
    elseif(NOT gen_json STREQUAL "")
      fail("${t_cmd}: no \"seconds\":N.NNNNNN in\n${t_out}")
    endif()
  endif()
  check_failures(failures)
  if(failures)
    message(FATAL_ERROR "lockstep-loadgen: the run's duration is wrong (above)")
  endif()
  file(REMOVE_RECURSE "${WORK}")
  return()
endif()

# ---- PART=rerun -------------------------------------------------------------------------

if(PART STREQUAL "rerun")
  # 8. The loadgen accepts --input on a journal that already holds commands (it replays
  # it, then submits). The second file's commands are new: they must run after the first
  # file's (sequences 3, 4, 5) or the run must be refused; reporting them as "duplicate"
  # (not executed) with exit status 0 loses them silently.
  set(journal "${WORK}/journal_rerun")
  run_ok(first ledger --input "${DATA}/ledger_rerun_first.jsonl"
    --results "${WORK}/rerun_first.results" --journal "${journal}" --durability none)
  if(first_ok)
    file(READ "${WORK}/rerun_first.results" got)
    set(want "{\"seq\":0,\"outcome\":\"ok\"}\n{\"seq\":1,\"outcome\":\"ok\"}\n{\"seq\":2,\"outcome\":\"ok\"}\n")
    if(NOT got STREQUAL want)
      fail("the first run on an empty journal: results\n${got}\nexpected\n${want}")
    endif()
    run(second ledger --input "${DATA}/ledger_rerun_second.jsonl"
      --results "${WORK}/rerun_second.results" --journal "${journal}" --durability none --json)
    if(second_status STREQUAL "0")
      file(READ "${WORK}/rerun_second.results" got)
      set(want "{\"seq\":3,\"outcome\":\"ok\"}\n{\"seq\":4,\"outcome\":\"ok\"}\n{\"seq\":5,\"outcome\":\"ok\"}\n")
      if(NOT got STREQUAL want)
        fail("a second --input file on a journal holding 3 commands (${second_cmd}) "
          "exited 0 with results\n${got}\nexpected (its commands run after the journal's)\n"
          "${want}or a refusal with a non-zero exit status. stdout:\n${second_out}")
      endif()
    elseif(NOT second_status MATCHES "^[0-9]+$" OR second_err STREQUAL "")
      fail("${second_cmd}: exit '${second_status}' with stderr '${second_err}'")
    endif()
  endif()
  file(REMOVE_RECURSE "${journal}")
  check_failures(failures)
  if(failures)
    message(FATAL_ERROR "lockstep-loadgen: a rerun on a journal was mishandled (above)")
  endif()
  file(REMOVE_RECURSE "${WORK}")
  return()
endif()

# ---- 2. Bad input files -----------------------------------------------------------------
# Every bad file is given the same --journal directory, created empty beforehand; the
# good file then runs on that directory in check 1, whose exact expected results (from
# seq 0, no "duplicate") show that no bad run executed or journaled anything.
set(shared_journal "${WORK}/journal_input")
file(MAKE_DIRECTORY "${shared_journal}")
# file|bad line|reason (a regular expression). ledger_bad_missing.jsonl has a blank line
# 3: line numbers count every line of the file.
set(bad_cases
  "ledger_bad_kind.jsonl|3|unknown command \"CreateAcount\""
  "ledger_bad_missing.jsonl|4|CreateTransfer\\.amount: missing"
  "ledger_bad_type.jsonl|2|CreateAccount\\.ledger \\(byte [0-9]+\\): expected a number for u32, got a string"
  "ledger_bad_json.jsonl|3|JSON syntax error at byte [0-9]+"
  "ledger_bad_range.jsonl|5|CreateAccount\\.code \\(byte [0-9]+\\): \"65536\" is out of range for u16")
foreach(case IN LISTS bad_cases)
  string(REPLACE "|" ";" parts "${case}")
  list(GET parts 0 file)
  list(GET parts 1 line)
  list(GET parts 2 reason)
  set(results "${WORK}/${file}.results")
  run(bad ledger --input "${DATA}/${file}" --results "${results}" --journal "${shared_journal}")
  set(context "${file} (bad line ${line})")
  if(bad_status STREQUAL "0" OR NOT bad_status MATCHES "^[0-9]+$")
    fail("${context}: exit status '${bad_status}', expected a non-zero status")
  endif()
  string(FIND "${bad_err}" "${DATA}/${file}:${line}: " at)
  if(at EQUAL -1)
    fail("${context}: stderr does not name '${DATA}/${file}:${line}: ':\n${bad_err}")
  elseif(NOT bad_err MATCHES ":${line}: [^\n]*${reason}")
    fail("${context}: stderr does not give the reason '${reason}':\n${bad_err}")
  endif()
  if(NOT bad_out STREQUAL "")
    fail("${context}: a report was printed:\n${bad_out}")
  endif()
  if(EXISTS "${results}")
    fail("${context}: a results file was written")
  endif()
  journal_entries(entries "${shared_journal}")
  if(entries)
    fail("${context}: the --journal directory is no longer empty: ${entries}")
  endif()
endforeach()

# expect_file_error(<message> ARGS...): the loadgen run with ARGS exits with status 1 (an
# operating error, not a usage error) and stderr holds "lockstep-loadgen: <message>".
function(expect_file_error message)
  run(f ${ARGN})
  string(FIND "${f_err}" "lockstep-loadgen: ${message}" at)
  if(NOT f_status STREQUAL "1" OR at EQUAL -1)
    fail("'${f_cmd}': exit status '${f_status}' (expected 1), stderr (expected to hold "
      "'lockstep-loadgen: ${message}'):\n${f_err}")
  endif()
endfunction()
# A directory or a missing file as --input: the path and why, and nothing executed.
expect_file_error("${DATA}: cannot read: Is a directory"
  ledger --input "${DATA}" --journal "${shared_journal}")
expect_file_error("${DATA}/missing.jsonl: cannot read: No such file or directory"
  ledger --input "${DATA}/missing.jsonl" --journal "${shared_journal}")
journal_entries(entries "${shared_journal}")
if(entries)
  fail("--input naming a directory or a missing file: the --journal directory is no longer "
    "empty: ${entries}")
endif()

# ---- 1. --input and --results -----------------------------------------------------------
set(results "${WORK}/ledger_commands.results")
run_ok(good ledger --input "${DATA}/ledger_commands.jsonl" --results "${results}"
  --journal "${shared_journal}" --json)
if(good_ok)
  file(READ "${DATA}/ledger_commands.expected" want)
  if(NOT EXISTS "${results}")
    fail("--input: no results file ${results}")
  else()
    file(READ "${results}" got)
    if(NOT got STREQUAL want)
      fail("--input: the results (run on the journal directory the bad files were given: "
        "'duplicate' or a first seq above 0 means a bad run executed something)\n${got}\n"
        "differ from tests/data/ledger_commands.expected\n${want}")
    endif()
  endif()
  json_object(g "${good_out}" "--input --json")
  if(NOT g_json STREQUAL "")
    expect_json_eq("${g_json}" "--input --json" 23 commands)
    expect_json_eq("${g_json}" "--input --json" 10 committed)
    expect_json_eq("${g_json}" "--input --json" 13 rejected)
    expect_json_eq("${g_json}" "--input --json" 0 not_executed)
    expect_json_eq("${g_json}" "--input --json" 22 last_sequence)
    expect_json_eq("${g_json}" "--input --json" fsync durability)
    # 3 accounts and 6 transfers; no refused command left a record behind.
    expect_json_eq("${g_json}" "--input --json" 9 state_records)
  endif()
  file(GLOB segments "${shared_journal}/*.lsj")
  if(NOT segments)
    fail("--input: no .lsj segment in ${shared_journal} after a good run, so the bad runs' "
      "empty directory proves nothing")
  endif()
endif()
file(REMOVE_RECURSE "${shared_journal}")

# ---- 3. --json --------------------------------------------------------------------------
run_generated(j json --accounts 100 --transfers 2000 --durability none --json)
if(j_ok)
  check_generated_json("${j_out}" "${j_cmd}" 2000 100 none)
endif()

# ---- 4. Determinism ---------------------------------------------------------------------
# Ledger records hold their logical timestamps, which come from the wall clock by default
# (docs/loadgen.md, "Reproducibility"): with --clock sequence the same workload must end
# in the same state hash, and another seed in another. The chain hash is not compared
# (frame boundaries depend on timing).
set(hashes "")
foreach(run_seed 7 7 8)
  run_generated(d "seed${run_seed}" --accounts 100
    --transfers 2000 --durability none --json --clock sequence --seed ${run_seed})
  list(LENGTH hashes k)
  if(d_ok)
    check_generated_json("${d_out}" "${d_cmd}" 2000 100 none)
    list(APPEND hashes "${gen_state_hash}")
    list(APPEND sequences "${gen_last_sequence}")
  else()
    list(APPEND hashes "run${k}failed")
    list(APPEND sequences "run${k}failed")
  endif()
endforeach()
list(GET hashes 0 h7a)
list(GET hashes 1 h7b)
list(GET hashes 2 h8)
list(GET sequences 0 s7a)
list(GET sequences 1 s7b)
if(NOT h7a STREQUAL h7b)
  fail("determinism: --seed 7 --clock sequence twice gave state hashes ${h7a} and ${h7b}")
endif()
if(NOT s7a STREQUAL s7b)
  fail("determinism: --seed 7 twice gave last sequences ${s7a} and ${s7b}")
endif()
if(h7a STREQUAL h8)
  fail("determinism: --seed 7 and --seed 8 gave the same state hash ${h8}")
endif()
# The default (wall) clock: the same counts and last sequence, hashes not compared.
foreach(i 1 2)
  run_generated(w "wall${i}" --accounts 100 --transfers 2000 --durability none --json
    --seed 7)
  if(w_ok)
    check_generated_json("${w_out}" "${w_cmd}" 2000 100 none)
  endif()
endforeach()

# ---- 5. Usage errors --------------------------------------------------------------------
# Exit status 2, "lockstep-loadgen: <message>" and the usage on stderr, nothing on stdout,
# and the --journal directory not created.
set(usage_journal "${WORK}/journal_usage")
function(expect_usage_error message_regex)
  run(u ${ARGN})
  set(context "'${u_cmd}'")
  if(NOT u_status STREQUAL "2")
    fail("${context}: exit status '${u_status}', expected 2; stderr:\n${u_err}")
  endif()
  if(NOT u_err MATCHES "^lockstep-loadgen: ${message_regex}")
    fail("${context}: stderr does not start with 'lockstep-loadgen: ${message_regex}':\n${u_err}")
  endif()
  if(NOT u_err MATCHES "\nusage: lockstep-loadgen ledger")
    fail("${context}: no usage on stderr:\n${u_err}")
  endif()
  if(NOT u_out STREQUAL "")
    fail("${context}: printed on stdout:\n${u_out}")
  endif()
  if(EXISTS "${usage_journal}")
    fail("${context}: the --journal directory was created")
    file(REMOVE_RECURSE "${usage_journal}")
  endif()
endfunction()
expect_usage_error("unknown option --frobnicate"
  ledger --journal "${usage_journal}" --frobnicate 3)
expect_usage_error("--results needs --input"
  ledger --journal "${usage_journal}" --results "${WORK}/usage.results")
expect_usage_error("--distribution is uniform or zipf"
  ledger --journal "${usage_journal}" --distribution foo)
expect_usage_error("give --transfers or --duration, not both"
  ledger --journal "${usage_journal}" --transfers 10 --duration 1)
expect_usage_error("give --transfers or --duration, not both"
  ledger --journal "${usage_journal}" --duration 1 --transfers 10)
expect_usage_error("--transfers: 'ten' is not a valid number"
  ledger --journal "${usage_journal}" --transfers ten)
expect_usage_error("--accounts must be at least 2"
  ledger --journal "${usage_journal}" --accounts 1)
expect_usage_error("--rate must be positive"
  ledger --journal "${usage_journal}" --rate 0)
expect_usage_error("[^\n]*--frobnicate" ledger --journal "${usage_journal}" --frobnicate)
expect_usage_error("unknown domain 'bank'" bank --journal "${usage_journal}")
expect_usage_error("which domain")
if(EXISTS "${WORK}/usage.results")
  fail("--results without --input: the results file was written")
endif()
run(h ledger --help)
if(NOT h_status STREQUAL "0" OR NOT h_out MATCHES "^usage: lockstep-loadgen ledger"
    OR NOT h_err STREQUAL "")
  fail("'lockstep-loadgen ledger --help': exit '${h_status}', stdout:\n${h_out}\nstderr:\n${h_err}")
endif()

# ---- 6. --hgrm ----------------------------------------------------------------------------
set(hgrm "${WORK}/hgrm")
run_generated(hg hgrm --accounts 100 --transfers 2000 --durability none --json
  --hgrm "${hgrm}")
if(hg_ok)
  foreach(name ack sequence execute journal publish)
    set(f "${hgrm}/${name}.hgrm")
    if(NOT EXISTS "${f}")
      fail("--hgrm: no ${name}.hgrm in ${hgrm}")
      continue()
    endif()
    file(READ "${f}" text)
    if(NOT text MATCHES "^ *Value +Percentile +TotalCount +1/\\(1-Percentile\\)\n"
        OR NOT text MATCHES "\n#\\[Max += *[0-9.]+, Total count += *([0-9]+)\\]")
      fail("--hgrm: ${name}.hgrm is not in the .hgrm format:\n${text}")
      continue()
    endif()
    set(total "${CMAKE_MATCH_1}")
    if(name STREQUAL "ack")
      if(NOT total EQUAL 2000)
        fail("--hgrm: ack.hgrm counts ${total} acknowledgements, expected the 2000 transfers")
      endif()
    elseif(total LESS 2000)
      fail("--hgrm: ${name}.hgrm counts ${total} commands, fewer than the 2000 transfers")
    endif()
  endforeach()
endif()

# Output paths that cannot be written: the path and why (the run itself completes first).
file(WRITE "${WORK}/not_a_directory" "")
expect_file_error("cannot create the directory ${WORK}/not_a_directory: Not a directory"
  ledger --journal "${WORK}/journal_bad_hgrm" --accounts 10 --transfers 100 --durability none
  --hgrm "${WORK}/not_a_directory")
file(REMOVE_RECURSE "${WORK}/journal_bad_hgrm")
expect_file_error("cannot write ${WORK}: Is a directory"
  ledger --journal "${WORK}/journal_bad_results" --input "${DATA}/ledger_commands.jsonl"
  --results "${WORK}" --durability none)
file(REMOVE_RECURSE "${WORK}/journal_bad_results")

# ---- 7. Open loop -------------------------------------------------------------------------
run_generated(o open --rate 20000 --transfers 4000 --accounts 100 --durability none --json)
if(o_ok)
  check_generated_json("${o_out}" "${o_cmd}" 4000 100 none)
  if(NOT gen_json STREQUAL "")
    json_get(workload "${gen_json}" "${o_cmd}" workload)
    if(NOT workload MATCHES "open loop at 20000/s")
      fail("${o_cmd}: workload '${workload}' does not say 'open loop at 20000/s'")
    endif()
    # The last of 4,000 commands is due 3999 / 20000 s = 0.19995 s after the first.
    json_get(seconds "${gen_json}" "${o_cmd}" seconds)
    if(seconds LESS 0.1999)
      fail("${o_cmd}: took ${seconds} s, less than the 0.19995 s the rate allows")
    endif()
  endif()
endif()

# ---- Result -------------------------------------------------------------------------------
check_failures(failures)
if(failures)
  message(FATAL_ERROR "lockstep-loadgen: ${failures} check(s) failed (above)")
endif()
file(REMOVE_RECURSE "${WORK}")
