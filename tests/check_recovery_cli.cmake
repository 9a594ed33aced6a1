# Issue 15's cases end to end, on real journal files made by lockstep-loadgen, through
# lockstep-replay and the engine (lockstep-loadgen --open-only):
#
#   cmake -DREPLAY=<lockstep-replay> -DLOADGEN=<lockstep-loadgen> -DWORK=<dir>
#         -P check_recovery_cli.cmake
#
# On a journal where every command was acknowledged and the engine stopped cleanly:
#   1. one byte flipped near the end of the data (in the last frames or markers): verify
#      and the engine refuse (exit 1, naming the segment and offset), changing nothing;
#   2. the segment truncated at a frame boundary: both refuse, saying it was truncated;
#   3. a stray file of random bytes named like a segment after the journal's end: both
#      refuse, naming it, and it is still there afterwards;
#   4. salvage: the dry run says what it would keep and exits 1, changing nothing; --apply
#      sets the cut bytes aside in a file, and the journal then verifies and opens;
#   5. a journal of an older format version is refused naming both versions.
# On a journal whose loadgen was killed with SIGKILL while running:
#   6. verify and the engine open it (a crash is never corruption), and a byte flipped in
#      its last frame is refused.
cmake_minimum_required(VERSION 3.19)
include(${CMAKE_CURRENT_LIST_DIR}/check_helpers.cmake)

foreach(var REPLAY LOADGEN WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_recovery_cli.cmake: -D${var}=... is required")
  endif()
endforeach()
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

function(run prefix)
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 300)
  string(REPLACE ";" " " cmd "${ARGN}")
  set(${prefix}_status "${status}" PARENT_SCOPE)
  set(${prefix}_out "${out}" PARENT_SCOPE)
  set(${prefix}_err "${err}" PARENT_SCOPE)
  set(${prefix}_cmd "${cmd}" PARENT_SCOPE)
endfunction()

# flip_byte(<path> <offset>): XORs one byte of the file in place.
function(flip_byte path offset)
  file(READ "${path}" before OFFSET ${offset} LIMIT 1 HEX)
  math(EXPR flipped "0x${before} ^ 0x04" OUTPUT_FORMAT HEXADECIMAL)
  string(REGEX REPLACE "^0x" "" flipped "${flipped}")
  execute_process(COMMAND printf "\\x${flipped}"
    COMMAND dd "of=${path}" bs=1 "seek=${offset}" count=1 conv=notrunc
    RESULT_VARIABLE status ERROR_VARIABLE err)
  file(READ "${path}" after OFFSET ${offset} LIMIT 1 HEX)
  if(NOT status STREQUAL "0" OR after STREQUAL before)
    message(FATAL_ERROR "cannot flip the byte at ${offset} of ${path}: ${status} ${err}")
  endif()
endfunction()

# The SHA-256 of every file in <dir>, as one string: to see that nothing changed.
function(digest_dir out dir)
  file(GLOB names RELATIVE "${dir}" "${dir}/*")
  list(SORT names)
  set(all "")
  foreach(n IN LISTS names)
    file(SHA256 "${dir}/${n}" h)
    string(APPEND all "${n}=${h};")
  endforeach()
  set(${out} "${all}" PARENT_SCOPE)
endfunction()

# expect_refused_everywhere(<dir> <regex> <what>): verify exits 1 and the engine refuses to
# open, each saying <regex>; no file in <dir> changes.
function(expect_refused_everywhere dir regex what)
  digest_dir(before "${dir}")
  run(v "${REPLAY}" verify "${dir}")
  if(NOT v_status STREQUAL "1" OR NOT v_err MATCHES "${regex}")
    fail("${what}: '${v_cmd}' exit '${v_status}', expected 1 and '${regex}'; stderr:\n${v_err}")
  endif()
  run(o "${LOADGEN}" ledger --open-only --journal "${dir}" --segment-bytes 8388608)
  if(o_status STREQUAL "0" OR NOT o_err MATCHES "${regex}")
    fail("${what}: '${o_cmd}' exit '${o_status}', expected a refusal saying '${regex}'; "
      "stderr:\n${o_err}")
  endif()
  digest_dir(after "${dir}")
  if(NOT before STREQUAL after)
    fail("${what}: the directory changed:\n  before ${before}\n  after  ${after}")
  endif()
endfunction()

function(copy_journal from to)
  file(REMOVE_RECURSE "${to}")
  file(COPY "${from}/" DESTINATION "${to}")
endfunction()

set(segment_name "00000000000000000000.lsj")

# ---- The journal: every command acknowledged, then a clean stop ---------------------------
set(base "${WORK}/base")
run(g "${LOADGEN}" ledger --journal "${base}" --accounts 300 --transfers 20000 --seed 5
  --window 256 --segment-bytes 8388608 --json)
if(NOT g_status STREQUAL "0")
  message(FATAL_ERROR "lockstep-loadgen could not make the journal (${g_status}):\n${g_err}")
endif()
run(s "${REPLAY}" stats "${base}" --json)
json_object(s "${s_out}" "${s_cmd}")
json_get(end "${s_json}" "${s_cmd}" end offset)
json_get(entries "${s_json}" "${s_cmd}" entries)
json_get(closed "${s_json}" "${s_cmd}" closed_cleanly)
if(NOT closed)
  fail("'${s_cmd}': a journal stopped cleanly is not marked closed: ${s_out}")
endif()
run(v0 "${REPLAY}" verify "${base}")
if(NOT v0_status STREQUAL "0" OR NOT v0_out MATCHES "closed cleanly")
  fail("'${v0_cmd}' on a clean journal: exit '${v0_status}':\n${v0_out}${v0_err}")
endif()

# ---- 1. One flipped byte near the end of the data ----------------------------------------
foreach(back 1 60 200 700 3000)
  set(j "${WORK}/flip_${back}")
  copy_journal("${base}" "${j}")
  math(EXPR at "${end} - ${back}")
  flip_byte("${j}/${segment_name}" ${at})
  expect_refused_everywhere("${j}" "corrupt journal: ${segment_name} at offset [0-9]+"
    "a byte flipped ${back} bytes before the end of the data")
endforeach()

# ---- 2. The segment truncated at a frame boundary ----------------------------------------
set(j "${WORK}/truncated")
copy_journal("${base}" "${j}")
file(SIZE "${j}/${segment_name}" size)
execute_process(COMMAND truncate -s 8192 "${j}/${segment_name}" RESULT_VARIABLE t)
expect_refused_everywhere("${j}" "${segment_name}[^\n]*the file is 8192 bytes[^\n]*truncated"
  "the segment truncated to 8192 bytes")

# ---- 3. A stray file named like a segment after the journal's end ------------------------
set(j "${WORK}/stray")
copy_journal("${base}" "${j}")
set(stray "00000000000000099999.lsj")
execute_process(COMMAND head -c 102400 /dev/urandom OUTPUT_FILE "${j}/${stray}")
expect_refused_everywhere("${j}" "${stray}[^\n]*not one" "a stray file named ${stray}")
if(NOT EXISTS "${j}/${stray}")
  fail("the stray file ${stray} was removed")
endif()

# ---- 4. Salvage ---------------------------------------------------------------------------
set(j "${WORK}/salvage")
copy_journal("${base}" "${j}")
math(EXPR at "${end} - 3000")
flip_byte("${j}/${segment_name}" ${at})
digest_dir(before "${j}")
run(sd "${REPLAY}" salvage "${j}")
if(NOT sd_status STREQUAL "1" OR NOT sd_out MATCHES "a salvage would keep the journal up to sequence ([0-9]+)")
  fail("'${sd_cmd}': exit '${sd_status}', expected 1 and a plan:\n${sd_out}${sd_err}")
endif()
set(kept "${CMAKE_MATCH_1}")
digest_dir(after "${j}")
if(NOT before STREQUAL after)
  fail("'${sd_cmd}' (a dry run) changed the directory")
endif()
run(sa "${REPLAY}" salvage "${j}" --apply --json)
json_object(sa "${sa_out}" "${sa_cmd}")
if(NOT sa_status STREQUAL "0")
  fail("'${sa_cmd}': exit '${sa_status}':\n${sa_out}${sa_err}")
else()
  expect_json_eq("${sa_json}" "${sa_cmd}" ON applied)
  expect_json_eq("${sa_json}" "${sa_cmd}" ${kept} kept_through)
  json_get(aside "${sa_json}" "${sa_cmd}" set_aside 0)
  if(NOT EXISTS "${j}/${aside}")
    fail("'${sa_cmd}': the bytes set aside are not in ${j}/${aside}")
  endif()
endif()
run(va "${REPLAY}" verify "${j}" --json)
json_object(va "${va_out}" "${va_cmd}")
if(NOT va_status STREQUAL "0")
  fail("'${va_cmd}' after the salvage: exit '${va_status}':\n${va_err}")
else()
  expect_json_eq("${va_json}" "${va_cmd}" ${kept} next_sequence)
endif()
run(oa "${LOADGEN}" ledger --open-only --journal "${j}" --segment-bytes 8388608)
if(NOT oa_status STREQUAL "0")
  fail("'${oa_cmd}' after the salvage: exit '${oa_status}':\n${oa_err}")
endif()

# ---- 5. An older format version ----------------------------------------------------------
set(j "${WORK}/old_version")
copy_journal("${base}" "${j}")
execute_process(COMMAND printf "\\x01"
  COMMAND dd "of=${j}/${segment_name}" bs=1 seek=8 count=1 conv=notrunc ERROR_QUIET)
expect_refused_everywhere("${j}" "journal format version 1; this build reads version 2"
  "a version 1 segment")

# ---- 6. kill -9 while running --------------------------------------------------------------
set(j "${WORK}/killed")
# Killed 2 s after its first segment is durable (named *.lsj), however long the start
# takes (a sanitizer build starts slowly): then thousands of commands are acknowledged.
# The segment (64 MiB) holds all of them: the flip below is in the last frame of the
# segment the journal ends in.
run(k sh -c "\"$0\" ledger --journal \"$1\" --accounts 1000 --transfers 1000000 \
--rate 20000 --segment-bytes 67108864 >/dev/null &
pid=$!
for i in $(seq 600)
do
  if [ -f \"$1/${segment_name}\" ]
  then break
  fi
  sleep 0.1
done
sleep 2
kill -9 $pid
wait $pid" "${LOADGEN}" "${j}")
if(NOT k_status MATCHES "^(137|Subprocess killed|Killed)$")
  fail("'${k_cmd}': expected to be killed, exit '${k_status}':\n${k_err}")
endif()
run(kv "${REPLAY}" verify "${j}")
if(NOT kv_status STREQUAL "0")
  fail("'${kv_cmd}' after kill -9: a crash refused as corruption: exit '${kv_status}':\n${kv_err}")
endif()
if(kv_err MATCHES "torn tail" AND NOT kv_err MATCHES "none was acknowledged")
  fail("'${kv_cmd}': a torn tail that does not say none of it was acknowledged:\n${kv_err}")
endif()
run(ks "${REPLAY}" stats "${j}" --json)
json_object(ks "${ks_out}" "${ks_cmd}")
json_get(kend "${ks_json}" "${ks_cmd}" end offset)
json_get(kendseg "${ks_json}" "${ks_cmd}" end segment)
json_get(kentries "${ks_json}" "${ks_cmd}" entries)
if(kentries LESS 1000)
  fail("'${ks_cmd}': only ${kentries} entries after 2 s at 20,000 commands/s")
endif()
set(jc "${WORK}/killed_copy")
copy_journal("${j}" "${jc}")
run(ko "${LOADGEN}" ledger --open-only --journal "${j}" --segment-bytes 67108864)
if(NOT ko_status STREQUAL "0")
  fail("'${ko_cmd}' after kill -9: exit '${ko_status}':\n${ko_err}")
endif()
# A byte of the killed journal's last frame flipped: a whole frame whose bytes changed.
math(EXPR at "${kend} - 700")
flip_byte("${jc}/${kendseg}" ${at})
run(kf "${REPLAY}" verify "${jc}")
if(NOT kf_status STREQUAL "1" OR NOT kf_err MATCHES "corrupt journal: ${kendseg}")
  fail("'${kf_cmd}' with a byte of the last frame flipped: exit '${kf_status}':\n${kf_err}")
endif()

check_failures(failures)
if(failures)
  message(FATAL_ERROR "recovery on real files: ${failures} check(s) failed (above)")
endif()
file(REMOVE_RECURSE "${WORK}")
