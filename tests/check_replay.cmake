# Command-line tests of lockstep-replay (tools/replay/replay_main.cc, docs/replay.md), on a
# ledger journal made by lockstep-loadgen.
#
#   cmake -DREPLAY=<lockstep-replay> -DLOADGEN=<lockstep-loadgen> -DDATA=<tests/data>
#         -DWORK=<scratch dir> [-DPART=main|errors|matching] -P check_replay.cmake
#
# PART=main (the default):
#   1. verify: exit 0; the text names the state hashes reproduced and the loadgen's final
#      state hash.
#   2. verify --reexecute: --json says the same, and "diverged":false with every result
#      compared; the text says every TxResult is identical.
#   3. dump --from 10 --to 12: exactly 3 JSON lines, sequences 10, 11, 12; the whole dump
#      has one line per command and the loadgen's refusals.
#   4. history: every transaction that wrote an account, in order, each naming it; a
#      transfer (u128 key given in hex) written once.
#   5. state --at N --export F: F has one line per record the output counts.
#   6. stats --json: the journal's counts.
#   7. snapshot, then more commands appended (loadgen --input): state --at a late sequence
#      uses the snapshot and gives the hash a full replay gives; a corrupted snapshot is
#      skipped with a note; snapshot --keep 1 keeps only the newest.
# PART=errors: exit status and message of: a missing directory, an empty directory, an
#   unknown table, bad keys, --at and --from past the end, usage errors (exit 2), and a
#   corrupt frame in the middle of the segment (exit 1 naming segment, offset, sequence).
# PART=matching, on matching journals (tests/data/matching_commands.jsonl, and a generated
#   order flow): verify --reexecute reproduces every TxResult, the
#   state hash is the loadgen's, and history on an order shows its life: the command
#   that placed it, every fill with its Trade event, the replace that kept its priority,
#   and the replace that filled it; and another order's expiry.
#
# Within a part every check runs; the failures are listed together at the end. WORK is
# removed first and, when everything passed, at the end.
cmake_minimum_required(VERSION 3.19)  # string(JSON)

foreach(var REPLAY LOADGEN DATA WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_replay.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT DEFINED PART)
  set(PART main)
endif()

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

# ---- Helpers ----------------------------------------------------------------------------

include(${CMAKE_CURRENT_LIST_DIR}/check_helpers.cmake)

# replay(<prefix> ARGS...): runs lockstep-replay with ARGS; sets <prefix>_status, _out,
# _err and _cmd.
function(replay prefix)
  execute_process(COMMAND "${REPLAY}" ${ARGN}
    RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
  string(REPLACE ";" " " cmd "lockstep-replay ${ARGN}")
  set(${prefix}_status "${status}" PARENT_SCOPE)
  set(${prefix}_out "${out}" PARENT_SCOPE)
  set(${prefix}_err "${err}" PARENT_SCOPE)
  set(${prefix}_cmd "${cmd}" PARENT_SCOPE)
endfunction()

# replay_ok(<prefix> ARGS...): replay(), a failure unless it exited 0; sets <prefix>_ok.
function(replay_ok prefix)
  replay(r ${ARGN})
  foreach(s status out err cmd)
    set(${prefix}_${s} "${r_${s}}" PARENT_SCOPE)
  endforeach()
  if(r_status STREQUAL "0")
    set(${prefix}_ok TRUE PARENT_SCOPE)
  else()
    fail("'${r_cmd}' exited with '${r_status}', not 0; stderr:\n${r_err}")
    set(${prefix}_ok FALSE PARENT_SCOPE)
  endif()
endfunction()

# expect_refused(<status> <stderr regex> ARGS...): lockstep-replay ARGS exits with
# <status>, prints nothing on stdout, and stderr starts with "lockstep-replay: " and then
# matches <stderr regex>.
function(expect_refused status regex)
  replay(r ${ARGN})
  set(context "'${r_cmd}'")
  if(NOT r_status STREQUAL "${status}")
    fail("${context}: exit status '${r_status}', expected ${status}; stderr:\n${r_err}")
  endif()
  if(NOT r_err MATCHES "^lockstep-replay: ${regex}")
    fail("${context}: stderr does not match 'lockstep-replay: ${regex}':\n${r_err}")
  endif()
  if(status STREQUAL "2" AND NOT r_err MATCHES "\nusage: lockstep-replay COMMAND DIR")
    fail("${context}: a usage error without the usage on stderr:\n${r_err}")
  endif()
  if(NOT r_out STREQUAL "")
    fail("${context}: printed on stdout:\n${r_out}")
  endif()
endfunction()

# lines(<out> <text>): the non-empty lines of <text> as a list (';' in them escaped).
function(lines out text)
  string(REPLACE ";" "\\;" text "${text}")
  string(REGEX REPLACE "\n$" "" text "${text}")
  if(text STREQUAL "")
    set(${out} "" PARENT_SCOPE)
    return()
  endif()
  string(REPLACE "\n" ";" list "${text}")
  set(${out} "${list}" PARENT_SCOPE)
endfunction()

# flip_byte(<file> <offset>): XORs one bit of the byte at <offset> in place (dd
# conv=notrunc: the rest of the file, sparse or not, is untouched).
function(flip_byte path offset)
  file(READ "${path}" before OFFSET ${offset} LIMIT 1 HEX)
  math(EXPR flipped "0x${before} ^ 0x10" OUTPUT_FORMAT HEXADECIMAL)
  string(REGEX REPLACE "^0x" "" flipped "${flipped}")
  execute_process(COMMAND printf "\\x${flipped}"
    COMMAND dd "of=${path}" bs=1 "seek=${offset}" count=1 conv=notrunc
    RESULT_VARIABLE status ERROR_VARIABLE err)
  file(READ "${path}" after OFFSET ${offset} LIMIT 1 HEX)
  if(NOT status STREQUAL "0" OR after STREQUAL before)
    message(FATAL_ERROR "cannot flip the byte at ${offset} of ${path} "
      "(${before} -> ${after}): ${status} ${err}")
  endif()
endfunction()

# ---- PART=matching ------------------------------------------------------------------------

if(PART STREQUAL "matching")
  # verify --reexecute on a generated flow: four books, sixteen accounts (so self-trade
  # prevention happens), 20,000 commands.
  set(mflow "${WORK}/matching_flow")
  execute_process(COMMAND "${LOADGEN}" matching --journal "${mflow}" --instruments 4
      --accounts 16 --orders 20000 --seed 3 --window 64 --durability none
      --segment-bytes 8388608 --json
    RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
  if(NOT status STREQUAL "0")
    message(FATAL_ERROR "lockstep-loadgen matching could not make the journal (${status}):\n${err}")
  endif()
  json_object(gen "${out}" "lockstep-loadgen matching")
  json_get(gen_hash "${gen_json}" loadgen state_hash)
  replay_ok(fv verify "${mflow}" --reexecute --json)
  if(fv_ok)
    json_object(fv "${fv_out}" "${fv_cmd}")
    if(NOT fv_json STREQUAL "")
      expect_json_eq("${fv_json}" "${fv_cmd}" matching domain)
      expect_json_eq("${fv_json}" "${fv_cmd}" ON ok)  # string(JSON) gives ON/OFF
      expect_json_eq("${fv_json}" "${fv_cmd}" 20004 entries)
      expect_json_eq("${fv_json}" "${fv_cmd}" 20004 reexecuted results)
      expect_json_eq("${fv_json}" "${fv_cmd}" OFF reexecuted diverged)
      expect_json_eq("${fv_json}" "${fv_cmd}" "${gen_hash}" state_hash)
    endif()
  endif()

  # The worked file: order 3 (a buy of 7 at 100) rests at sequence 6, is filled 3 by a
  # market sell at 14, is reduced to 2 keeping its priority at 17, and is replaced to 103
  # at 18, where it takes 2 from order 2 and is gone.
  set(mfile "${WORK}/matching_file")
  execute_process(COMMAND "${LOADGEN}" matching --input "${DATA}/matching_commands.jsonl"
      --journal "${mfile}" --json --clock sequence
    RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
  if(NOT status STREQUAL "0")
    message(FATAL_ERROR "lockstep-loadgen matching --input failed (${status}):\n${err}")
  endif()
  replay_ok(mv verify "${mfile}" --reexecute --json)
  if(mv_ok)
    json_object(mv "${mv_out}" "${mv_cmd}")
    if(NOT mv_json STREQUAL "")
      expect_json_eq("${mv_json}" "${mv_cmd}" 26 reexecuted results)
      expect_json_eq("${mv_json}" "${mv_cmd}" OFF reexecuted diverged)
    endif()
  endif()
  replay_ok(mh history "${mfile}" --table Order --key 3 --json)
  if(mh_ok)
    lines(mh_lines "${mh_out}")
    list(LENGTH mh_lines n)
    if(NOT n EQUAL 4)
      fail("'${mh_cmd}': ${n} transactions, expected 4:\n${mh_out}")
    else()
      set(c "${mh_cmd}")
      list(GET mh_lines 0 l0)
      list(GET mh_lines 1 l1)
      list(GET mh_lines 2 l2)
      list(GET mh_lines 3 l3)
      expect_json_eq("${l0}" "${c}" 6 sequence)
      expect_json_eq("${l0}" "${c}" PlaceOrder kind)
      expect_json_null("${l0}" "${c}" before)
      expect_json_eq("${l0}" "${c}" OrderRested events 1 kind)
      expect_json_eq("${l0}" "${c}" 7 events 1 event quantity)
      expect_json_eq("${l1}" "${c}" 14 sequence)
      expect_json_eq("${l1}" "${c}" 4 after quantity)
      expect_json_eq("${l1}" "${c}" Trade events 1 kind)
      expect_json_eq("${l1}" "${c}" 3 events 1 event maker_order)
      expect_json_eq("${l1}" "${c}" 3 events 1 event quantity)
      expect_json_eq("${l1}" "${c}" 100 events 1 event price)
      expect_json_eq("${l2}" "${c}" 17 sequence)
      expect_json_eq("${l2}" "${c}" OrderReplaced events 0 kind)
      expect_json_eq("${l2}" "${c}" ON events 0 event kept_priority)
      expect_json_eq("${l2}" "${c}" 2 after priority)
      expect_json_eq("${l3}" "${c}" 18 sequence)
      expect_json_null("${l3}" "${c}" after)
      expect_json_eq("${l3}" "${c}" OFF events 0 event kept_priority)
      expect_json_eq("${l3}" "${c}" Trade events 1 kind)
      expect_json_eq("${l3}" "${c}" 3 events 1 event taker_order)
      expect_json_eq("${l3}" "${c}" 102 events 1 event price)
    endif()
  endif()
  # Order 7 rests at sequence 21 until logical time 25; the ExpireOrders at 26 expires it.
  replay_ok(me history "${mfile}" --table Order --key 7 --json)
  if(me_ok)
    lines(me_lines "${me_out}")
    list(LENGTH me_lines n)
    if(NOT n EQUAL 2)
      fail("'${me_cmd}': ${n} transactions, expected 2:\n${me_out}")
    else()
      list(GET me_lines 1 l1)
      expect_json_eq("${l1}" "${me_cmd}" 25 sequence)
      expect_json_eq("${l1}" "${me_cmd}" ExpireOrders kind)
      expect_json_null("${l1}" "${me_cmd}" after)
      expect_json_eq("${l1}" "${me_cmd}" OrderExpired events 0 kind)
      expect_json_eq("${l1}" "${me_cmd}" 5 events 0 event quantity)
    endif()
  endif()
  replay_ok(mt history "${mfile}" --table Order --key 3)
  if(mt_ok AND NOT mt_out MATCHES "\n  event  Trade {\"maker_order\":3,[^\n]*\n")
    fail("'${mt_cmd}': the text form does not list the Trade event:\n${mt_out}")
  endif()

  check_failures(failures)
  if(failures)
    message(FATAL_ERROR "lockstep-replay (matching): ${failures} check(s) failed (above)")
  endif()
  file(REMOVE_RECURSE "${WORK}")
  return()
endif()

# The journal: 200 accounts, then 3,000 transfers, every 10th account limited so some are
# refused; --clock sequence makes its state the same every time, and --window 64 keeps
# every frame at 64 commands or fewer, so the journal has dozens of frames whichever way
# the timing falls (a damaged frame followed by fewer than writes_in_flight good ones is
# a torn tail, not corruption). Sets journal, gen_state_hash, gen_committed and
# gen_rejected (of the transfers).
set(journal "${WORK}/journal")
set(accounts 200)
set(transfers 3000)
math(EXPR entries "${accounts} + ${transfers}")
math(EXPR last_sequence "${entries} - 1")
execute_process(COMMAND "${LOADGEN}" ledger --journal "${journal}" --accounts ${accounts}
    --transfers ${transfers} --seed 7 --clock sequence --limit-every 10 --window 64
    --durability none --segment-bytes 8388608 --json
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
if(NOT status STREQUAL "0")
  message(FATAL_ERROR "lockstep-loadgen could not make the journal (${status}):\n${err}")
endif()
json_object(gen "${out}" "lockstep-loadgen")
json_get(gen_state_hash "${gen_json}" loadgen state_hash)
json_get(gen_committed "${gen_json}" loadgen committed)
json_get(gen_rejected "${gen_json}" loadgen rejected)
math(EXPR committed "${accounts} + ${gen_committed}")
if(NOT gen_rejected GREATER 0)
  fail("lockstep-loadgen --limit-every 10 refused no transfer: the journal has no refusal")
endif()
set(segment "${journal}/00000000000000000000.lsj")
if(NOT EXISTS "${segment}")
  message(FATAL_ERROR "no segment ${segment}")
endif()

# ---- PART=errors --------------------------------------------------------------------------

if(PART STREQUAL "errors")
  # Directories that hold no journal.
  expect_refused(1 "cannot open journal directory [^\n]*nonexistent: [^\n]*No such file"
    verify "${WORK}/nonexistent")
  file(MAKE_DIRECTORY "${WORK}/empty")
  expect_refused(1 "[^\n]*empty: empty journal: the directory has no segment \\(\\*\\.lsj\\)"
    verify "${WORK}/empty")
  expect_refused(1 "[^\n]*empty: empty journal" dump "${WORK}/empty")
  expect_refused(1 "[^\n]*empty: empty journal" stats "${WORK}/empty")

  # Tables, keys and sequences the journal does not have.
  expect_refused(1 "no table 'Acount' in domain ledger \\(it has: Account, Transfer\\)"
    history "${journal}" --table Acount --key 5)
  expect_refused(1 "--key: Account\\.id[^\n]*abc"
    history "${journal}" --table Account --key "\"abc\"")
  expect_refused(1 "--key: Account[^\n]*unknown field \"idd\""
    history "${journal}" --table Account --key "{\"idd\":1}")
  expect_refused(1 "--key: Account\\.id: missing"
    history "${journal}" --table Account --key "{}")
  expect_refused(1 "sequence 5000 is past the journal's end \\(its last is ${last_sequence}\\)"
    state "${journal}" --at 5000)
  expect_refused(1 "sequence ${entries} is past the journal's end"
    state "${journal}" --at ${entries})
  expect_refused(1 "sequence 5000 is not in the journal" dump "${journal}" --from 5000)

  # Usage errors: exit status 2 and the usage.
  expect_refused(2 "unknown command 'frobnicate'" frobnicate "${journal}")
  expect_refused(2 "verify: unknown option --frobnicate" verify "${journal}" --frobnicate)
  expect_refused(2 "dump: unknown option --at" dump "${journal}" --at 3)
  expect_refused(2 "state needs --at SEQ" state "${journal}")
  expect_refused(2 "history needs --table T and --key K [^\n]*: --key is missing" history
    "${journal}" --table Account)
  # (An empty argument, which a CMake list cannot carry: execute_process directly.)
  execute_process(COMMAND "${REPLAY}" history "${journal}" --table Account --key ""
    RESULT_VARIABLE ek_status ERROR_VARIABLE ek_err OUTPUT_QUIET TIMEOUT 60)
  if(NOT ek_status STREQUAL "2" OR NOT ek_err MATCHES "--key is empty")
    fail("'lockstep-replay history --key \"\"': exit '${ek_status}', stderr:\n${ek_err}")
  endif()
  # --help: the usage on stdout, exit 0.
  replay(h --help)
  if(NOT h_status STREQUAL "0" OR NOT h_out MATCHES "^usage: lockstep-replay COMMAND DIR")
    fail("'${h_cmd}': exit '${h_status}', stdout:\n${h_out}")
  endif()
  replay(hv verify "${journal}" --help)
  if(NOT hv_status STREQUAL "0" OR NOT hv_out MATCHES "salvage")
    fail("'${hv_cmd}': exit '${hv_status}', stdout:\n${hv_out}")
  endif()
  # state --export to a directory: says so.
  expect_refused(1 "cannot write [^\n]*: it is a directory" state "${journal}" --at 3
    --export "${WORK}")
  expect_refused(2 "--from: expected a non-negative integer, got 'x'" dump "${journal}" --from x)
  expect_refused(2 "--from is after --to" dump "${journal}" --from 5 --to 3)
  expect_refused(2 "--at needs a value" state "${journal}" --at)
  expect_refused(2 "verify: missing DIR" verify)
  expect_refused(2 "missing COMMAND")

  # A corrupt frame in the middle of the segment: one bit flipped halfway through the
  # entries' bytes, with many good frames after it (not a torn tail).
  replay_ok(st stats "${journal}" --json)
  json_object(st "${st_out}" "${st_cmd}")
  json_get(entry_bytes "${st_json}" "${st_cmd}" entry_bytes)
  math(EXPR at "${entry_bytes} / 2")
  flip_byte("${segment}" ${at})
  set(corrupt "corrupt journal: 00000000000000000000\\.lsj at offset ([0-9]+) \\(sequence ([0-9]+)\\): ")
  foreach(args "verify" "dump" "stats" "verify;--reexecute" "snapshot")
    list(POP_FRONT args command)
    replay(c ${command} "${journal}" ${args})
    if(NOT c_status STREQUAL "1" OR NOT c_err MATCHES "lockstep-replay: ${corrupt}")
      fail("'${c_cmd}' on a journal with a corrupt frame: exit '${c_status}', stderr:\n${c_err}")
    else()
      set(offset "${CMAKE_MATCH_1}")
      set(sequence "${CMAKE_MATCH_2}")
      if(offset GREATER at OR offset LESS 4096)
        fail("'${c_cmd}': the bad frame is said to start at ${offset}; the bit flipped is at ${at}")
      endif()
      if(sequence LESS 1 OR sequence GREATER last_sequence)
        fail("'${c_cmd}': the bad frame's sequence ${sequence} is not in the journal")
      endif()
    endif()
  endforeach()
  file(GLOB snaps "${journal}/snapshot-*")
  if(snaps)
    fail("snapshot wrote a snapshot of a corrupt journal: ${snaps}")
  endif()
  # What lies before the bad frame still reads.
  replay_ok(early state "${journal}" --at 5 --json)

  check_failures(failures)
  if(failures)
    message(FATAL_ERROR "lockstep-replay: ${failures} error path check(s) failed (above)")
  endif()
  file(REMOVE_RECURSE "${WORK}")
  return()
endif()

# ---- 1. verify ----------------------------------------------------------------------------
replay_ok(v verify "${journal}")
if(v_ok)
  if(NOT v_out MATCHES "entries +${entries} \\(sequences 0 to ${last_sequence}\\)")
    fail("'${v_cmd}': no 'entries ${entries} (sequences 0 to ${last_sequence})':\n${v_out}")
  endif()
  if(NOT v_out MATCHES "committed, refused +${committed}, ${gen_rejected}\n")
    fail("'${v_cmd}': not '${committed}, ${gen_rejected}' committed and refused:\n${v_out}")
  endif()
  if(NOT v_out MATCHES "state hashes +([0-9]+) recorded, all reproduced from the deltas"
      OR CMAKE_MATCH_1 EQUAL 0)
    fail("'${v_cmd}': does not say it reproduced the recorded state hashes:\n${v_out}")
  endif()
  set(hashes_checked "${CMAKE_MATCH_1}")
  if(NOT v_out MATCHES "final state +${gen_state_hash}, ${committed} records")
    fail("'${v_cmd}': the final state is not the loadgen's ${gen_state_hash}:\n${v_out}")
  endif()
endif()
# ---- 2. verify --reexecute ----------------------------------------------------------------
# (--json with --reexecute: the same object as verify --json, and "reexecuted".)
replay_ok(rx verify "${journal}" --reexecute --json)
if(rx_ok)
  json_object(rx "${rx_out}" "${rx_cmd}")
  if(NOT rx_json STREQUAL "")
    expect_json_eq("${rx_json}" "${rx_cmd}" ON ok)
    expect_json_eq("${rx_json}" "${rx_cmd}" ledger domain)
    expect_json_eq("${rx_json}" "${rx_cmd}" ${entries} entries)
    expect_json_eq("${rx_json}" "${rx_cmd}" ${entries} next_sequence)
    expect_json_eq("${rx_json}" "${rx_cmd}" ${gen_rejected} refused)
    expect_json_eq("${rx_json}" "${rx_cmd}" "${hashes_checked}" state_hashes_checked)
    expect_json_eq("${rx_json}" "${rx_cmd}" "${gen_state_hash}" state_hash)
    expect_json_null("${rx_json}" "${rx_cmd}" snapshot)
    expect_json_null("${rx_json}" "${rx_cmd}" torn_tail)
    if(NOT rx_out MATCHES "\"diverged\":false")
      fail("'${rx_cmd}': no \"diverged\":false in\n${rx_out}")
    endif()
    expect_json_eq("${rx_json}" "${rx_cmd}" ${entries} reexecuted commands)
    expect_json_eq("${rx_json}" "${rx_cmd}" ${entries} reexecuted results)
  endif()
endif()
replay_ok(rt verify "${journal}" --reexecute)
if(rt_ok AND NOT rt_out MATCHES
    "re-executed +${entries} commands, ${entries} results compared: every TxResult identical")
  fail("'${rt_cmd}': does not report every result identical:\n${rt_out}")
endif()

# ---- 3. dump ------------------------------------------------------------------------------
replay_ok(d dump "${journal}" --from 10 --to 12)
if(d_ok)
  lines(d_lines "${d_out}")
  list(LENGTH d_lines n)
  if(NOT n EQUAL 3)
    fail("'${d_cmd}': ${n} lines, expected 3:\n${d_out}")
  else()
    set(want 10)
    foreach(line IN LISTS d_lines)
      json_object(l "${line}" "${d_cmd}")
      if(NOT l_json STREQUAL "")
        expect_json_eq("${l_json}" "${d_cmd}" ${want} sequence)
        expect_json_eq("${l_json}" "${d_cmd}" CreateAccount kind)
        expect_json_eq("${l_json}" "${d_cmd}" ok outcome)
        math(EXPR id "${want} + 1")
        expect_json_eq("${l_json}" "${d_cmd}" ${id} command id)
        expect_json_eq("${l_json}" "${d_cmd}" Account writes 0 table)
      endif()
      math(EXPR want "${want} + 1")
    endforeach()
  endif()
endif()
replay_ok(da dump "${journal}")
if(da_ok)
  string(REGEX MATCHALL "\n" newlines "${da_out}")
  list(LENGTH newlines n)
  if(NOT n EQUAL entries)
    fail("'${da_cmd}': ${n} lines, expected one per command (${entries})")
  endif()
  string(REGEX MATCHALL "\"outcome\":\"[a-z_]+\"" outcomes "${da_out}")
  list(FILTER outcomes EXCLUDE REGEX "\"ok\"")
  list(LENGTH outcomes n)
  if(NOT n EQUAL gen_rejected)
    fail("'${da_cmd}': ${n} refused outcomes, the loadgen reported ${gen_rejected}")
  endif()
  string(REGEX MATCH "[^\n]*\n$" last "${da_out}")
  json_object(l "${last}" "${da_cmd} (its last line)")
  if(NOT l_json STREQUAL "")
    expect_json_eq("${l_json}" "${da_cmd} (its last line)" ${last_sequence} sequence)
  endif()
endif()

# ---- 4. history ---------------------------------------------------------------------------
replay_ok(h history "${journal}" --table Account --key 5)
replay_ok(hj history "${journal}" --table Account --key "{\"id\":\"5\"}" --json)
if(h_ok AND hj_ok)
  if(NOT h_out MATCHES "\n([0-9]+) transactions wrote it\n$")
    fail("'${h_cmd}': no 'N transactions wrote it' at the end:\n${h_out}")
  endif()
  set(count "${CMAKE_MATCH_1}")
  string(REGEX MATCHALL "\nsequence [0-9]+ \\(tx " listed "${h_out}")
  list(LENGTH listed n)
  if(NOT n EQUAL count OR count LESS 2)
    fail("'${h_cmd}': ${n} transactions listed, ${count} counted (at least 2 expected)")
  endif()
  lines(hj_lines "${hj_out}")
  list(LENGTH hj_lines n)
  if(NOT n EQUAL count)
    fail("'${hj_cmd}': ${n} lines, the text form counts ${count}")
  endif()
  set(previous -1)
  set(index 0)
  foreach(line IN LISTS hj_lines)
    json_object(l "${line}" "${hj_cmd}")
    if(l_json STREQUAL "")
      continue()
    endif()
    json_get(seq "${l_json}" "${hj_cmd}" sequence)
    json_get(kind "${l_json}" "${hj_cmd}" kind)
    if(NOT seq GREATER previous)
      fail("'${hj_cmd}': sequence ${seq} after ${previous}: not in order")
    endif()
    set(previous "${seq}")
    if(index EQUAL 0)
      expect_json_eq("${l_json}" "${hj_cmd}" CreateAccount kind)
      expect_json_null("${l_json}" "${hj_cmd}" before)
    elseif(NOT kind STREQUAL "CreateTransfer" OR NOT line MATCHES
        "\"command\":{[^}]*\"(debit|credit)_account_id\":\"5\"")
      fail("'${hj_cmd}': a transaction that does not name account 5:\n${line}")
    endif()
    expect_json_eq("${l_json}" "${hj_cmd}" 5 after id)
    math(EXPR index "${index} + 1")
  endforeach()
endif()
# A transfer is written once: by the command that created it (id 0x10 = 16).
replay_ok(ht history "${journal}" --table Transfer --key "\"0x10\"" --json)
if(ht_ok)
  lines(ht_lines "${ht_out}")
  list(LENGTH ht_lines n)
  if(NOT n EQUAL 1)
    fail("'${ht_cmd}': ${n} transactions, expected 1:\n${ht_out}")
  else()
    json_object(l "${ht_out}" "${ht_cmd}")
    if(NOT l_json STREQUAL "")
      expect_json_eq("${l_json}" "${ht_cmd}" 16 command id)
      expect_json_eq("${l_json}" "${ht_cmd}" 16 after id)
      expect_json_null("${l_json}" "${ht_cmd}" before)
    endif()
  endif()
endif()

# ---- 5. state --at --export ---------------------------------------------------------------
set(export "${WORK}/state_1500.jsonl")
replay_ok(s state "${journal}" --at 1500 --export "${export}" --json)
if(s_ok)
  json_object(s "${s_out}" "${s_cmd}")
  if(NOT s_json STREQUAL "")
    json_get(records "${s_json}" "${s_cmd}" records)
    expect_json_eq("${s_json}" "${s_cmd}" 1500 sequence)
    expect_json_eq("${s_json}" "${s_cmd}" 1501 replayed)
    if(NOT EXISTS "${export}")
      fail("'${s_cmd}': no ${export}")
    else()
      file(READ "${export}" text)
      string(REGEX MATCHALL "\n" newlines "${text}")
      list(LENGTH newlines n)
      if(NOT n EQUAL records OR records LESS accounts)
        fail("'${s_cmd}': ${n} lines exported, ${records} records in the output")
      endif()
      string(REGEX MATCHALL "\n{\"table\":\"Account\",\"record\":{\"id\":\"[0-9]+\"" a "\n${text}")
      list(LENGTH a n)
      if(NOT n EQUAL accounts)
        fail("'${s_cmd}': ${n} Account lines exported, expected ${accounts}")
      endif()
      string(REGEX MATCHALL "\n{\"table\":\"Transfer\",\"record\":{\"id\":\"[0-9]+\"" t "\n${text}")
      list(LENGTH t m)
      math(EXPR both "${n} + ${m}")
      if(NOT both EQUAL records)
        fail("'${s_cmd}': ${both} Account and Transfer lines, ${records} records")
      endif()
      if(NOT text MATCHES "^{\"table\":\"Account\",\"record\":{\"id\":\"1\",")
        fail("'${s_cmd}': the export does not start with account 1 (key order)")
      endif()
    endif()
  endif()
endif()
replay_ok(st state "${journal}" --at 1500)
if(st_ok AND NOT st_out MATCHES "^state after sequence 1500: [0-9a-f]+, ${records} records \\(1501 entries replayed\\)\n")
  fail("'${st_cmd}': ${st_out}")
endif()
replay_ok(sl state "${journal}" --at ${last_sequence} --json)
if(sl_ok)
  json_object(sl "${sl_out}" "${sl_cmd}")
  if(NOT sl_json STREQUAL "")
    expect_json_eq("${sl_json}" "${sl_cmd}" "${gen_state_hash}" state_hash)
  endif()
endif()

# ---- 6. stats -----------------------------------------------------------------------------
replay_ok(sj stats "${journal}" --json)
if(sj_ok)
  json_object(sj "${sj_out}" "${sj_cmd}")
  if(NOT sj_json STREQUAL "")
    expect_json_eq("${sj_json}" "${sj_cmd}" ledger domain)
    expect_json_eq("${sj_json}" "${sj_cmd}" 1 segments)
    expect_json_eq("${sj_json}" "${sj_cmd}" ${entries} entries)
    expect_json_eq("${sj_json}" "${sj_cmd}" ${committed} committed)
    expect_json_eq("${sj_json}" "${sj_cmd}" ${gen_rejected} refused)
    expect_json_eq("${sj_json}" "${sj_cmd}" 0 first_sequence)
    expect_json_eq("${sj_json}" "${sj_cmd}" ${last_sequence} last_sequence)
    expect_json_eq("${sj_json}" "${sj_cmd}" OFF torn_tail)
    json_get(frames "${sj_json}" "${sj_cmd}" frames)
    if(frames LESS 47 OR frames GREATER entries)
      fail("'${sj_cmd}': ${frames} frames for ${entries} entries")
    endif()
    string(JSON n ERROR_VARIABLE e LENGTH "${sj_json}" snapshots)
    if(NOT n EQUAL 0)
      fail("'${sj_cmd}': ${n} snapshots before any was written")
    endif()
  endif()
endif()

# ---- 7. Snapshots -------------------------------------------------------------------------
set(snap "snapshot-00000000000000003200.lsnap")
replay_ok(sn snapshot "${journal}" --json)
if(sn_ok)
  json_object(sn "${sn_out}" "${sn_cmd}")
  if(NOT sn_json STREQUAL "")
    expect_json_eq("${sn_json}" "${sn_cmd}" "${snap}" file)
    expect_json_eq("${sn_json}" "${sn_cmd}" ${entries} next_sequence)
    expect_json_eq("${sn_json}" "${sn_cmd}" "${gen_state_hash}" state_hash)
  endif()
  if(NOT EXISTS "${journal}/${snap}")
    fail("'${sn_cmd}': no ${journal}/${snap}")
  endif()
endif()
# More commands after the snapshot: 23 from a file (client 0, so never duplicates).
execute_process(COMMAND "${LOADGEN}" ledger --input "${DATA}/ledger_commands.jsonl"
    --journal "${journal}" --durability none --segment-bytes 8388608 --json
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
if(NOT status STREQUAL "0")
  fail("lockstep-loadgen --input on the journal with a snapshot: exit ${status}:\n${err}")
endif()
math(EXPR late "${entries} + 10")
math(EXPR all "${entries} + 23")
replay_ok(sa state "${journal}" --at ${late} --json)
set(late_hash "")
if(sa_ok)
  json_object(sa "${sa_out}" "${sa_cmd}")
  if(NOT sa_json STREQUAL "")
    expect_json_eq("${sa_json}" "${sa_cmd}" "${snap}" snapshot)
    expect_json_eq("${sa_json}" "${sa_cmd}" 11 replayed)
    json_get(late_hash "${sa_json}" "${sa_cmd}" state_hash)
  endif()
endif()
replay_ok(sat state "${journal}" --at ${late})
if(sat_ok AND NOT sat_out MATCHES "\\(snapshot ${snap} \\+ 11 entries\\)")
  fail("'${sat_cmd}' does not say it used the snapshot: ${sat_out}")
endif()
# Before the snapshot's sequence: not used.
replay_ok(sb state "${journal}" --at 3000 --json)
if(sb_ok AND NOT sb_out MATCHES "\"snapshot\":null,\"replayed\":3001")
  fail("'${sb_cmd}' used a snapshot of a later state: ${sb_out}")
endif()
replay_ok(vx verify "${journal}" --reexecute --json)
if(vx_ok AND NOT vx_out MATCHES "\"entries\":${all},.*\"diverged\":false")
  fail("'${vx_cmd}' after the append: ${vx_out}")
endif()
# The snapshot corrupted: skipped with a note, and the same state from the journal alone.
flip_byte("${journal}/${snap}" 200000)
replay_ok(sc state "${journal}" --at ${late} --json)
if(sc_ok)
  if(NOT sc_err MATCHES "lockstep-replay: skipped [^\n]*${snap}")
    fail("'${sc_cmd}' with ${snap} corrupted: no note that it was skipped:\n${sc_err}")
  endif()
  json_object(sc "${sc_out}" "${sc_cmd}")
  if(NOT sc_json STREQUAL "")
    expect_json_null("${sc_json}" "${sc_cmd}" snapshot)
    math(EXPR replayed "${late} + 1")
    expect_json_eq("${sc_json}" "${sc_cmd}" ${replayed} replayed)
    expect_json_eq("${sc_json}" "${sc_cmd}" "${late_hash}" state_hash)
  endif()
endif()
# verify and stats check every snapshot: the corrupted one makes them exit 1, naming it.
replay(vc verify "${journal}")
if(NOT vc_status STREQUAL "1" OR NOT vc_err MATCHES "snapshot does not verify: [^\n]*${snap}")
  fail("'${vc_cmd}' with ${snap} corrupted: exit '${vc_status}', stderr:\n${vc_err}")
endif()
replay(stc stats "${journal}")
if(NOT stc_status STREQUAL "1" OR NOT stc_out MATCHES "${snap}  DOES NOT VERIFY: ")
  fail("'${stc_cmd}' with ${snap} corrupted: exit '${stc_status}', stdout:\n${stc_out}")
endif()
# A new snapshot at the end, keeping only it.
set(snap2 "snapshot-00000000000000003223.lsnap")
replay_ok(sk snapshot "${journal}" --keep 1)
if(sk_ok AND NOT sk_out MATCHES "^wrote ${snap2}: ")
  fail("'${sk_cmd}': ${sk_out}")
endif()
file(GLOB snaps RELATIVE "${journal}" "${journal}/snapshot-*")
if(NOT snaps STREQUAL snap2)
  fail("after snapshot --keep 1 the journal holds snapshots '${snaps}', expected ${snap2}")
endif()
replay_ok(ss stats "${journal}" --json)
if(ss_ok AND NOT ss_out MATCHES
    "\"snapshots\":\\[{\"file\":\"${snap2}\",\"next_sequence\":${all},\"ok\":true,\"error\":null}\\]")
  fail("'${ss_cmd}': ${ss_out}")
endif()

# ---- Result -------------------------------------------------------------------------------
check_failures(failures)
if(failures)
  message(FATAL_ERROR "lockstep-replay: ${failures} check(s) failed (above)")
endif()
file(REMOVE_RECURSE "${WORK}")
